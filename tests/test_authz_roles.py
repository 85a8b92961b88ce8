"""authz.roles: the product roles, their managed policies, and the facts behind studio_reachable."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from authz.evaluate import Request, decide
from authz.policies import managed, names
from authz.roles import ROLES, with_platform
from authz.template import CfnLoader, managed_policies

ACCOUNT = "123456789012"
FULL = [managed("AmazonSageMakerFullAccess")]


def test_every_role_has_its_managed_policy_and_service_role_path():
    assert set(ROLES) == {
        "launch",
        "codebuild",
        "codepipeline",
        "events",
        "cloudformation",
        "lambda",
        "apigateway",
        "execution",
    }
    for key, role in ROLES.items():
        assert role.arn(ACCOUNT) == f"arn:aws:iam::{ACCOUNT}:role/service-role/{role.name}", key
        assert role.trusted_service.endswith(".amazonaws.com")
        assert len(role.policies) == 1 and role.policies[0]["Statement"], key
        assert role.boundary is None
    assert ROLES["execution"].policies == FULL
    assert ROLES["launch"].trusted_service == "servicecatalog.amazonaws.com"


def test_snapshots_are_loaded_fresh_and_unknown_names_refused():
    assert "AmazonSageMakerFullAccess" in names()
    copy = managed("AmazonSageMakerFullAccess")
    copy["Statement"].clear()
    assert managed("AmazonSageMakerFullAccess")["Statement"]
    with pytest.raises(KeyError):
        managed("NoSuchPolicy")


def test_studio_reachable_roles_are_the_ones_a_studio_user_can_steer():
    assert {key for key, role in ROLES.items() if role.studio_reachable} == {"codebuild", "execution", "cloudformation"}


def full_access(action: str, resource: str, **context) -> bool:
    return decide(FULL, Request(action, resource, context)).allowed


def test_facts_behind_studio_reachable_hold_in_the_full_access_snapshot():
    # codebuild: StartBuild (with a buildspec override) on the products' sagemaker-* projects.
    assert full_access("codebuild:StartBuild", f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/sagemaker-p-1-build")
    # execution: any role may be passed to SageMaker jobs...
    assert full_access(
        "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole",
        **{"iam:PassedToService": "sagemaker.amazonaws.com"},
    )
    # ...but not to CodeBuild (no serviceRoleOverride with another role).
    assert not full_access(
        "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole",
        **{"iam:PassedToService": "codebuild.amazonaws.com"},
    )
    # Not reachable: no new products or artifacts, no pipeline or rule edits, no function code.
    assert not full_access("servicecatalog:CreateProduct", "*")
    assert not full_access(
        "servicecatalog:CreateProvisioningArtifact", f"arn:aws:catalog:us-east-1:{ACCOUNT}:product/prod-x"
    )
    assert not full_access("codepipeline:UpdatePipeline", f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:sagemaker-p")
    assert not full_access("events:PutTargets", f"arn:aws:events:us-east-1:{ACCOUNT}:rule/sagemaker-p")
    assert not full_access("lambda:UpdateFunctionCode", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sagemaker-p")
    assert full_access("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sagemaker-p")


def test_codebuild_role_writes_the_buckets_pipelines_deploy_from():
    # Why cloudformation is reachable: the deploy templates live in sagemaker-* buckets.
    codebuild = ROLES["codebuild"].policies
    assert decide(
        codebuild, Request("s3:PutObject", "arn:aws:s3:::sagemaker-project-p-1/deploy/template.yaml", {})
    ).allowed


PLATFORM = textwrap.dedent(
    """
    Parameters:
      BuildRoleName: {Type: String}
      Bucket: {Type: String}
      WithExtra: {Type: String, Default: "no"}
    Conditions:
      Extra: !Equals [!Ref WithExtra, "yes"]
    Resources:
      BuildReports:
        Type: AWS::IAM::ManagedPolicy
        Properties:
          Roles: [!Ref BuildRoleName]
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: codebuild:CreateReportGroup
                Resource: !Sub "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:report-group/*"
      BuildBucket:
        Type: AWS::IAM::ManagedPolicy
        Properties:
          Roles: [!Sub "arn:aws:iam::${AWS::AccountId}:role/service-role/${BuildRoleName}"]
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Action: s3:GetObject, Resource: !Sub "arn:aws:s3:::${Bucket}/*"}
      SwitchedOff:
        Type: AWS::IAM::ManagedPolicy
        Condition: Extra
        Properties:
          Roles: [!Ref BuildRoleName]
          PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}
      ForLambda:
        Type: AWS::IAM::ManagedPolicy
        Properties:
          Roles: [AmazonSageMakerServiceCatalogProductsLambdaRole]
          PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}
    """
)


def test_with_platform_adds_the_template_policies_attached_to_that_role(tmp_path):
    template = tmp_path / "platform.yaml"
    template.write_text(PLATFORM)
    parameters = {"BuildRoleName": ROLES["codebuild"].name, "Bucket": "mlops-project-templates-1-us-east-1"}
    role = with_platform("codebuild", template, parameters)
    assert len(role.policies) == 3
    assert ROLES["codebuild"].policies == role.policies[:1]  # the shared role is not changed
    report_group = f"arn:aws:codebuild:us-east-1:{ACCOUNT}:report-group/sagemaker-p-1"
    assert decide(role.policies, Request("codebuild:CreateReportGroup", report_group, {})).allowed
    assert not decide(ROLES["codebuild"].policies, Request("codebuild:CreateReportGroup", report_group, {})).allowed
    seed = "arn:aws:s3:::mlops-project-templates-1-us-east-1/seed.zip"
    assert decide(role.policies, Request("s3:GetObject", seed, {})).allowed
    assert not decide(role.policies, Request("iam:CreateRole", "*", {})).allowed  # condition off, other role's
    switched_on = with_platform("codebuild", template, {**parameters, "WithExtra": "yes"})
    assert decide(switched_on.policies, Request("iam:CreateRole", "*", {})).allowed


def test_with_platform_refuses_unknown_roles_and_missing_parameters(tmp_path):
    template = tmp_path / "platform.yaml"
    template.write_text(PLATFORM)
    with pytest.raises(KeyError):
        with_platform("use", template, {"BuildRoleName": "x", "Bucket": "b"})
    with pytest.raises(ValueError, match="no value for Ref Bucket"):
        with_platform("codebuild", template, {"BuildRoleName": ROLES["codebuild"].name})


def test_managed_policies_lists_live_policies_with_their_roles_resolved():
    template = yaml.load(PLATFORM, Loader=CfnLoader)
    found = {p.logical_id: p.roles for p in managed_policies(template, {"BuildRoleName": "r", "Bucket": "b"})}
    assert found == {
        "BuildReports": ["r"],
        "BuildBucket": ["arn:aws:iam::123456789012:role/service-role/r"],
        "ForLambda": ["AmazonSageMakerServiceCatalogProductsLambdaRole"],
    }


def test_deployed_roles_carry_the_platform_and_account_wide_stage_access_policies():
    from authz.roles import deployed_roles

    roles = deployed_roles()
    assert set(roles) == set(ROLES) | {
        "stage-cloudformation",
        "stage-endpoint",
        "stage-invoke",
        "stage-batch-pipeline",
        "stage-batch-schedule",
        "stage-monitoring",
        "stage-drift-retrain",
        "stage-monitoring-schedule",
    }
    service_role = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-all-projects-cloudformation"
    assert roles["stage-cloudformation"].arn(ACCOUNT) == service_role
    stack = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/sagemaker-a-p-1-prod-endpoint/x"
    codebuild = roles["codebuild"]
    # The deploy policy (stage_access.yaml, AttachToRoleName): stacks only through the service role.
    assert decide(
        codebuild.policies, Request("cloudformation:CreateStack", stack, {"cloudformation:RoleArn": service_role})
    ).allowed
    assert not decide(codebuild.policies, Request("cloudformation:CreateStack", stack, {})).allowed
    assert not decide(
        ROLES["codebuild"].policies,
        Request("cloudformation:CreateStack", stack, {"cloudformation:RoleArn": service_role}),
    ).allowed
    # The platform stack's policies, with its own resources' ARNs resolved.
    release = f"arn:aws:s3:::mlops-project-templates-{ACCOUNT}-us-east-1/1.0.0"
    assert decide(codebuild.policies, Request("s3:GetObject", f"{release}/seeds/build-train-a.zip", {})).allowed
    assert not decide(codebuild.policies, Request("s3:GetObject", f"{release}/products/deploy.yaml", {})).allowed
    assert decide(roles["lambda"].policies, Request("cloudformation:ListStacks", "*", {})).allowed
    # The service role passes the endpoint role to SageMaker only.
    endpoint = roles["stage-endpoint"].arn(ACCOUNT)
    passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    assert decide(roles["stage-cloudformation"].policies, Request("iam:PassRole", endpoint, passed)).allowed
    assert not decide(
        roles["stage-cloudformation"].policies,
        Request("iam:PassRole", endpoint, {"iam:PassedToService": "lambda.amazonaws.com"}),
    ).allowed
    assert roles["stage-invoke"].trusted_service == "lambda.amazonaws.com"
    deployed_roles()["codebuild"] = None  # a copy: the next caller gets its own
    assert deployed_roles()["codebuild"] == codebuild
