"""The ledger that asks IAM each distinct question once (authz.check) and the stack helpers it is fed
by (authz.stack): caching, grouping of denials, escalation of created policies, ForEach expansion."""

from __future__ import annotations

from authz.check import Ledger, role_key
from authz.dependencies import parameters_of
from authz.stack import ACCOUNT, Evaluation, policy_documents, pseudo_parameters, resolved_resources

CODEBUILD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole"


def test_a_question_is_decided_once_and_remembers_every_place():
    ledger = Ledger()
    first = ledger.ask("launch", "iam:CreateUser", "*", (), "a")
    second = ledger.ask("launch", "iam:CreateUser", "*", (), "b")
    assert first is second and ledger.actions_checked == 1
    (denial,) = ledger.denials()
    assert (denial.role, denial.action, denial.where) == ("launch", "iam:CreateUser", ("a", "b"))


def test_denials_of_one_call_with_different_contexts_are_one_line():
    ledger = Ledger()
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:code-repository/sagemaker-x"
    ledger.ask("launch", "sagemaker:AddTags", arn, (("aws:TagKeys", ("sagemaker:a",)),), "staging")
    ledger.ask("launch", "sagemaker:AddTags", arn, (("aws:TagKeys", ("sagemaker:b",)),), "prod")
    assert [(d.action, d.where) for d in ledger.denials()] == [("sagemaker:AddTags", ("prod", "staging"))]
    assert ledger.actions_checked == 2


def test_a_created_policy_that_lets_a_studio_reachable_role_create_roles_is_an_escalation():
    ledger = Ledger()
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*"}]}
    harmless = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    ledger.add_policy(harmless, [CODEBUILD_ROLE], "stack Harmless")
    assert ledger.escalations() == []
    ledger.add_policy(bad, [CODEBUILD_ROLE], "stack Bad")
    found = ledger.escalations()
    assert found and all(line.startswith("ESCALATION codebuild ") and line.endswith("<- stack Bad") for line in found)


def test_roles_are_named_by_their_authz_key_when_they_are_product_roles():
    assert role_key(CODEBUILD_ROLE) == "codebuild"
    assert role_key("AmazonSageMakerServiceCatalogProductsLaunchRole") == "launch"
    assert role_key("sagemaker-p-1-staging-endpoint") == "sagemaker-p-1-staging-endpoint"


def test_for_each_loops_resolve_to_one_resource_per_item():
    template = {
        "Parameters": {"Arns": {"Type": "CommaDelimitedList"}},
        "Resources": {
            "Portfolio": {"Type": "AWS::ServiceCatalog::Portfolio", "Properties": {}},
            "Fn::ForEach::Associations": [
                "Arn",
                {"Ref": "Arns"},
                {
                    "Association&{Arn}": {
                        "Type": "AWS::ServiceCatalog::PortfolioPrincipalAssociation",
                        "Properties": {"PortfolioId": {"Ref": "Portfolio"}, "PrincipalARN": {"Ref": "Arn"}},
                    }
                },
            ],
        },
    }
    values = {**pseudo_parameters("s"), "Arns": ["arn:a", "arn:b"]}
    resources = resolved_resources(template, values)
    principals = [props["PrincipalARN"] for kind, props in resources.values() if kind.endswith("Association")]
    assert principals == ["arn:a", "arn:b"]
    assert {props["PortfolioId"] for kind, props in resources.values() if kind.endswith("Association")} == {
        "s-portfolio-generated0id"
    }


def test_policy_documents_finds_inline_and_managed_policies_with_their_roles():
    document = {"Version": "2012-10-17", "Statement": []}
    template = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"RoleName": "r", "Policies": [{"PolicyName": "p", "PolicyDocument": document}]},
            },
            "Managed": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"Roles": ["x"], "PolicyDocument": document}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b"}},
        }
    }
    found = list(policy_documents(resolved_resources(template, pseudo_parameters("s"))))
    assert found == [("Role", document, ["r"]), ("Managed", document, ["x"])]


def test_a_cached_resource_is_resolved_again_when_a_parameter_it_depends_on_changes():
    template = {
        "Parameters": {"Id": {"Type": "String"}, "Mode": {"Type": "String"}, "Other": {"Type": "String"}},
        "Conditions": {"Versioned": {"Fn::Equals": [{"Ref": "Mode"}, "v"]}},
        "Resources": {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": {"Fn::Sub": "sagemaker-${Id}"},
                    "VersioningConfiguration": {
                        "Fn::If": ["Versioned", {"Status": "Enabled"}, {"Ref": "AWS::NoValue"}]
                    },
                },
            },
            "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"}}},
        },
    }
    assert parameters_of(template) == {"Bucket": {"Id", "Mode"}, "Policy": {"Id", "Mode"}}
    evaluation = Evaluation(template)
    base = {**pseudo_parameters("s"), "Id": "a", "Mode": "v", "Other": "x"}
    first = evaluation.resources(base)
    assert evaluation.resources({**base, "Other": "y"})["Bucket"] is first["Bucket"]
    unversioned = evaluation.resources({**base, "Mode": "n"})["Bucket"][1]
    assert "VersioningConfiguration" not in unversioned
    renamed = evaluation.resources({**base, "Id": "b"})
    assert renamed["Policy"][1]["Bucket"] == "sagemaker-b"
    assert renamed == resolved_resources(template, {**base, "Id": "b"})
