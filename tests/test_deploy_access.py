"""`make deploy-access` and the deploy repository's `deploy_role.yaml` it deploys: the stage
policies attached to the products' use role for every project (moto's CloudFormation and IAM),
what they grant and refuse, IAM's size limit at the worst case, and the rules that keep a
created role to one project's stage."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from scripts import deploy_access, products
from tests.test_servicecatalog_support import (
    WORST_ID,
    WORST_NAME,
    allowed,
    conditions_of,
    live_resources,
    resolve,
    statements,
)

ACCOUNT = "123456789012"
PSEUDO = {"AWS::Partition": "aws-us-gov", "AWS::Region": "ap-southeast-3", "AWS::AccountId": ACCOUNT}
CLOUDFORMATION = f"arn:aws-us-gov:cloudformation:ap-southeast-3:{ACCOUNT}"
LAMBDA = f"arn:aws-us-gov:lambda:ap-southeast-3:{ACCOUNT}"
# IAM counts a managed policy document without whitespace.
MANAGED_POLICY_LIMIT = 6144
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def template() -> dict:
    return products.load_cloudformation(deploy_access.deploy_role_template().read_text(encoding="utf-8"))


def policies(template: dict, given: dict[str, str]) -> dict[str, dict]:
    """Each managed policy the stack creates for these parameters, resolved."""
    values = {**given, **PSEUDO}
    return {
        name: resolve(resource["Properties"]["PolicyDocument"], template, values, conditions_of(template, values))
        for name, resource in live_resources(template, values).items()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
    }


def shared(account: str = ACCOUNT) -> dict[str, str]:
    return deploy_access.parameters(account, deploy_access.USE_ROLE)


def one_project() -> dict[str, str]:
    return {
        "ProjectName": WORST_NAME,
        "ProjectId": WORST_ID,
        "StageName": "staging",
        "ToolingAccountId": "111122223333",
        "ArtifactBucketName": f"sagemaker-project-{WORST_ID}",
        "RoleName": f"sagemaker-{WORST_ID}-cross-account-deploy",
        "AttachToRoleName": "",
    }


@pytest.mark.parametrize("given", [shared(), one_project()], ids=["use-role", "stage-role"])
def test_each_stage_policy_fits_iam_at_the_worst_case(template, given):
    for name, document in policies(template, given).items():
        assert len(json.dumps(document, separators=(",", ":"))) <= MANAGED_POLICY_LIMIT, name


def granted(template: dict, given: dict[str, str]) -> list[dict]:
    return [statement for document in policies(template, given).values() for statement in statements(document)]


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("cloudformation:CreateStack", f"{CLOUDFORMATION}:stack/sagemaker-churn-p-1-prod-endpoint/x"),
        ("iam:CreateRole", f"arn:aws-us-gov:iam::{ACCOUNT}:role/sagemaker-p-1-staging-endpoint"),
        ("iam:PassRole", f"arn:aws-us-gov:iam::{ACCOUNT}:role/sagemaker-p-1-prod-batch"),
        ("lambda:CreateFunction", f"{LAMBDA}:function:sagemaker-p-1-staging-invoke"),
        ("sagemaker:CreateEndpoint", f"arn:aws-us-gov:sagemaker:ap-southeast-3:{ACCOUNT}:endpoint/churn-p-1-prod"),
        ("s3:GetObject", "arn:aws-us-gov:s3:::sagemaker-project-p-1/churn/code/20261122/model.tar.gz"),
        ("sts:AssumeRole", "arn:aws-us-gov:iam::222233334444:role/sagemaker-p-1-cross-account-deploy"),
    ],
)
def test_the_use_role_may_deploy_any_projects_stages(template, action, resource):
    assert allowed(granted(template, shared()), action, resource)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("iam:CreateRole", f"arn:aws-us-gov:iam::{ACCOUNT}:role/admin"),
        ("iam:PassRole", f"arn:aws-us-gov:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"),
        ("cloudformation:DeleteStack", f"{CLOUDFORMATION}:stack/network/x"),
        ("lambda:UpdateFunctionCode", f"{LAMBDA}:function:billing"),
        ("s3:GetObject", "arn:aws-us-gov:s3:::finance-reports/q3.csv"),
        ("sts:AssumeRole", "arn:aws-us-gov:iam::222233334444:role/OrganizationAccountAccessRole"),
    ],
)
def test_the_use_role_gets_nothing_outside_sagemaker_names(template, action, resource):
    assert not allowed(granted(template, shared()), action, resource)


def test_a_created_role_stays_on_its_project_and_stage(template):
    statements_of_one = granted(template, one_project())
    mine = f"arn:aws-us-gov:iam::{ACCOUNT}:role/sagemaker-{WORST_ID}-staging-endpoint"
    assert allowed(statements_of_one, "iam:CreateRole", mine)
    assert not allowed(statements_of_one, "iam:CreateRole", mine.replace("staging", "prod"))
    other_project = f"arn:aws-us-gov:iam::{ACCOUNT}:role/sagemaker-p-2-staging-x"
    assert not allowed(statements_of_one, "iam:CreateRole", other_project)
    assert "AssumeStageDeployRoles" not in policies(template, one_project())


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        ({}, False),
        ({"ProjectId": "*"}, True),
        ({"RoleName": ""}, True),
        ({"AttachToRoleName": "AmazonSageMakerServiceCatalogProductsUseRole"}, True),
    ],
    ids=["one-project-role", "role-for-every-project", "no-role-at-all", "both"],
)
def test_the_rules_refuse_a_role_for_every_project_and_an_unclear_target(template, overrides, refused):
    given = {**one_project(), **overrides, **PSEUDO}
    failed = [
        assertion["AssertDescription"]
        for rule in template["Rules"].values()
        if resolve(rule["RuleCondition"], template, given)
        for assertion in rule["Assertions"]
        if not resolve(assertion["Assert"], template, given)
    ]
    assert bool(failed) == refused, failed


# --- the command, against moto -----------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("iam")


def test_the_command_attaches_the_stage_policies_to_the_use_role(aws, capsys):
    aws.create_role(RoleName=deploy_access.USE_ROLE, AssumeRolePolicyDocument=json.dumps(TRUST), Path="/service-role/")
    assert deploy_access.main([]) == 0
    assert "created" in capsys.readouterr().out
    attached = aws.list_attached_role_policies(RoleName=deploy_access.USE_ROLE)["AttachedPolicies"]
    assert len(attached) == 3, attached
    assert deploy_access.main([]) == 0, "running it again is harmless"
    assert len(aws.list_attached_role_policies(RoleName=deploy_access.USE_ROLE)["AttachedPolicies"]) == 3


def test_a_bad_role_name_is_refused_in_one_line_and_deploys_nothing(aws, capsys):
    assert deploy_access.main(["--use-role-name", "not a role"]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("ERROR: --use-role-name")
    assert boto3.client("cloudformation").describe_stacks()["Stacks"] == []


def test_a_missing_role_fails_in_one_line(aws, capsys):
    assert deploy_access.main(["--use-role-name", "NoSuchRole"]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("ERROR: stack sagemaker-projects-deploy-access")


def test_dry_run_prints_every_parameter_and_deploys_nothing(aws, capsys):
    assert deploy_access.main(["--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert {line.split("=", 1)[0] for line in lines} == set(shared())
    assert "AttachToRoleName=AmazonSageMakerServiceCatalogProductsUseRole" in lines
    assert boto3.client("cloudformation").describe_stacks()["Stacks"] == []
