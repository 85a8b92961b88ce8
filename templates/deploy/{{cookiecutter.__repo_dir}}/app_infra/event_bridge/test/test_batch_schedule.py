"""The batch schedule rule starts the stage's batch inference pipeline on the configured schedule."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from mlops_template_kit import naming
from mlops_template_kit.deploy import deploy, stacks
from mlops_template_kit.deploy.inference_config import load
from mlops_template_kit.deploy.model_registry import ApprovedModel

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIG_DIR = REPO_ROOT / "inference_config"


@pytest.mark.parametrize("stage", naming.STAGES)
def test_schedule_rule_targets_the_stage_pipeline(aws, settings, stage):
    config = load(stage, CONFIG_DIR)
    model = ApprovedModel("arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1", "g", 1, "s3://b/m", "image")
    spec = next(spec for spec in stacks.STACKS if spec.part == "batch-schedule")
    parameters = {
        k: str(v)
        for k, v in spec.parameters(
            stacks.StageContext(settings, stage, config, model, account_id="123456789012")
        ).items()
    }
    template = (REPO_ROOT / spec.template).read_text(encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deploy.deploy_stack(
            aws.client("cloudformation"),
            settings.stack_name(stage, spec.part),
            template,
            parameters,
            settings.tags(stage),
            role_arn=deploy.service_role_arn(aws, settings, stage, config),
        )
    events = aws.client("events")
    rule = events.describe_rule(Name=parameters["RuleName"])
    assert rule["ScheduleExpression"] == config["batch"]["schedule"]
    target = events.list_targets_by_rule(Rule=parameters["RuleName"])["Targets"][0]
    pipeline = naming.pipeline(settings.project_name, settings.project_id, f"batch-inference-{stage}").lower()
    assert target["Arn"].endswith(f":pipeline/{pipeline}")
    assert target["RoleArn"] == parameters["RoleArn"]
    assert target["SageMakerPipelineParameters"]["PipelineParameterList"] == [
        {"Name": "TriggeredBy", "Value": "schedule"}
    ]
