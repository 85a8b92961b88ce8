"""The deploy step's guards, the stage-access stack (moto's CloudFormation and IAM), and the
model-approval rule."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from mlops_template_kit import naming
from mlops_template_kit.deploy import deploy, stacks
from mlops_template_kit.deploy.errors import DeployError

REPO_ROOT = Path(__file__).resolve().parents[2]

TOOLING = "111122223333"
CODEBUILD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def test_deploy_without_a_build_fails_with_one_line(aws, settings, tmp_path):
    with pytest.raises(DeployError, match="run the build step"):
        deploy.deploy_stage(settings, "staging", tmp_path / "missing", aws)


def test_a_stage_account_is_entered_through_its_deploy_role(aws, settings):
    role = f"arn:aws:iam::222222222222:role/sagemaker-{settings.project_id}-cross-account-deploy"
    config = {"account": {"id": "222222222222", "deploy_role_arn": role}}
    session = deploy.stage_session(settings, "prod", config, aws)
    assert session.client("sts").get_caller_identity()["Arn"].startswith("arn:aws:sts::222222222222:assumed-role/")


def test_the_model_approval_rule_is_deployed(aws, settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outputs = deploy.deploy_trigger(settings, aws, {"DEPLOY_PIPELINE_NAME": "sagemaker-pipeline-x"})
    rule = aws.client("events").describe_rule(Name=naming.event_rule(settings.project_id, "model-approved"))
    assert outputs["RuleArn"] == rule["Arn"]
    targets = aws.client("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert targets[0]["Arn"].endswith(":sagemaker-pipeline-x")


def test_the_model_approval_rule_starts_the_pipeline_as_the_managed_events_role(aws, settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deploy.deploy_trigger(settings, aws, {})
    rule = naming.event_rule(settings.project_id, "model-approved")
    (target,) = aws.client("events").list_targets_by_rule(Rule=rule)["Targets"]
    assert target["RoleArn"].endswith(f":role/{stacks.EVENTS_ROLE}")


def _quietly(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


def test_stage_access_for_a_stage_account_creates_its_roles_and_a_conditioned_deploy_role(aws, settings):
    outputs = _quietly(deploy.deploy_stage_access, settings, "prod", TOOLING, aws)
    iam = aws.client("iam")
    role_name = naming.iam_role(settings.project_id, stacks.DEPLOY_ROLE_PURPOSE)
    assert outputs["DeployRoleArn"].endswith(f"role/{role_name}")
    (trust,) = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"]["AWS"] == f"arn:aws:iam::{TOOLING}:root"
    codebuild = f"arn:aws:iam::{TOOLING}:role/service-role/{stacks.CODEBUILD_ROLE_NAME}"
    assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": codebuild}}
    for purpose in naming.STAGE_ACCESS_ROLES:
        iam.get_role(RoleName=naming.stage_access_role(purpose, settings.project_id, "prod"))
    service_role = naming.stage_access_role("cloudformation", settings.project_id, "prod")
    assert outputs["CloudFormationRoleArn"].endswith(f"role/{service_role}")
    attached = iam.list_attached_role_policies(RoleName=service_role)["AttachedPolicies"]
    assert len(attached) == 3, "the service role's policy comes in three parts, each within IAM's size limit"
    assert len(iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]) == 1


def test_a_given_tooling_role_is_the_only_one_trusted(aws, settings):
    given = f"arn:aws:iam::{TOOLING}:role/deployer"
    _quietly(deploy.deploy_stage_access, settings, "staging", TOOLING, aws, given)
    role_name = naming.iam_role(settings.project_id, stacks.DEPLOY_ROLE_PURPOSE)
    (trust,) = aws.client("iam").get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": given}}


def test_stage_access_for_every_project_attaches_the_deploy_policy_to_the_codebuild_role(aws):
    iam = aws.client("iam")
    iam.create_role(
        RoleName=stacks.CODEBUILD_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST), Path="/service-role/"
    )
    outputs = _quietly(deploy.deploy_shared_stage_access, aws, REPO_ROOT)
    assert outputs["CloudFormationRoleArn"].endswith(f"role/{naming.stage_access_role('cloudformation')}")
    attached = iam.list_attached_role_policies(RoleName=stacks.CODEBUILD_ROLE_NAME)["AttachedPolicies"]
    assert len(attached) == 2, "the deploy policy and the right to enter stage accounts"
    for purpose in naming.STAGE_ACCESS_ROLES:
        iam.get_role(RoleName=naming.stage_access_role(purpose))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("prod", "not-an-account"), "12 digits"),
        (("prod", TOOLING, "arn:aws:iam::1:role/x"), "not an IAM role ARN"),
    ],
)
def test_stage_access_refuses_bad_accounts_and_roles(aws, settings, arguments, message):
    stage, tooling, *role = arguments
    with pytest.raises(DeployError, match=message):
        deploy.deploy_stage_access(settings, stage, tooling, aws, *role)
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []


def test_every_project_refuses_a_bad_role_name(aws):
    with pytest.raises(DeployError, match="not a role name"):
        deploy.deploy_shared_stage_access(aws, REPO_ROOT, "not a role")


def _model(settings, url: str):
    from mlops_template_kit.deploy.model_registry import ApprovedModel

    group = settings.model_package_group
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group.lower()}/1"
    return ApprovedModel(arn=arn, group=group, version=1, model_data_url=url, image="image")


def test_a_single_account_stage_shares_nothing(aws, settings):
    from botocore.stub import Stubber

    client = aws.client("sagemaker")
    model = _model(settings, "s3://elsewhere/model.tar.gz")
    with Stubber(client):  # any call would fail: nothing is stubbed
        deploy.share_with_stage(_Session(client), settings, "staging", {}, model)


def test_a_stage_account_cannot_be_given_a_model_outside_this_projects_artifacts(aws, settings):
    config = {"account": {"id": "222222222222", "deploy_role_arn": "arn:aws:iam::222222222222:role/x"}}
    model = _model(settings, f"s3://sagemaker-project-other/{settings.project_name}/model.tar.gz")
    with pytest.raises(DeployError) as raised:
        deploy.share_with_stage(aws, settings, "prod", config, model)
    assert "sagemaker-project-other" in str(raised.value) and "\n" not in str(raised.value)


def test_a_stage_account_is_let_read_the_models_group_before_its_stacks_deploy(aws, settings):
    from botocore.stub import Stubber
    from mlops_template_kit.deploy.model_registry import merged_policy, stage_read_statement

    config = {"account": {"id": "222222222222", "deploy_role_arn": "arn:aws:iam::222222222222:role/x"}}
    url = f"s3://{settings.artifact_bucket}/{naming.s3_prefix(settings.project_name)}/model.tar.gz"
    model = _model(settings, url)
    client = aws.client("sagemaker")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_model_package_group_policy", service_error_code="ResourceNotFound")
        policy = merged_policy(None, stage_read_statement(model, "222222222222"))
        expected = {"ModelPackageGroupName": model.group, "ResourcePolicy": json.dumps(policy)}
        stubber.add_response(
            "put_model_package_group_policy",
            {"ModelPackageGroupArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/x"},
            expected,
        )
        deploy.share_with_stage(_Session(client), settings, "prod", config, model)
        stubber.assert_no_pending_responses()


class _Session:
    """A session whose SageMaker client is the given (stubbed) one."""

    def __init__(self, sagemaker_client):
        self._client = sagemaker_client

    def client(self, service: str):
        assert service == "sagemaker", service
        return self._client
