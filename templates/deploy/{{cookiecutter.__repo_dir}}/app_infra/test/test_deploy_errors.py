"""The deploy step's guards, the cross-account role, and the model-approval rule."""

from __future__ import annotations

import warnings

import pytest

from app_infra import deploy, naming
from app_infra.errors import DeployError


def test_deploy_without_a_build_fails_with_one_line(aws, settings, tmp_path):
    with pytest.raises(DeployError, match="run the build step"):
        deploy.deploy_stage(settings, "staging", tmp_path / "missing", aws)


def test_a_stage_account_is_entered_through_its_deploy_role(aws, settings):
    config = {"account": {"id": "222222222222", "deploy_role_arn": "arn:aws:iam::222222222222:role/deployer"}}
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


def test_the_deploy_role_is_created_with_its_stage_scoped_policy(aws, settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outputs = deploy.deploy_role(settings, "prod", "111122223333", aws)
    role_name = naming.iam_role(settings.project_id, "cross-account-deploy")
    assert outputs["DeployRoleArn"].endswith(f"role/{role_name}")
    trust = aws.client("iam").get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"]["AWS"] == "arn:aws:iam::111122223333:root"
    attached = aws.client("iam").list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    assert len(attached) == 2, "the stage policy comes in two parts, each within IAM's size limit"


def test_the_deploy_role_needs_a_tooling_account_id(aws, settings):
    with pytest.raises(DeployError, match="12 digits"):
        deploy.deploy_role(settings, "prod", "not-an-account", aws)
