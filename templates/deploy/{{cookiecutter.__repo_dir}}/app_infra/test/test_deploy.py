"""The deploy step creates each stage's stacks in moto's CloudFormation, for the types moto creates.

moto 5.2.5 creates, of the types these templates use: KMS keys and aliases, S3 buckets, SageMaker
models, endpoint configs and endpoints, Lambda functions and permissions, API Gateway REST APIs,
resources, methods and deployments, EventBridge rules and log groups. It skips (with a warning)
bucket policies, CloudWatch alarms, autoscaling targets and policies, and the other API Gateway
types; the template tests check those. moto does not assume the service role a stack names.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from mlops_template_kit import naming
from mlops_template_kit.deploy import deploy, stacks
from mlops_template_kit.deploy.inference_config import load

CONFIG_DIR = Path(__file__).resolve().parents[2] / "inference_config"


def _deploy(settings, stage, build_dir, aws):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse")
        return deploy.deploy_stage(settings, stage, build_dir, aws)


def _stack_status(aws, name: str) -> str:
    return aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


@pytest.fixture(autouse=True)
def one_account(monkeypatch):
    """moto runs one account: a multi-account stage deploys there instead of assuming its role.
    moto 5.2.5 has no model package group policies: the accounts the group is shared with are
    kept here (test_model_registry.py checks the policy itself with stubbed calls)."""
    monkeypatch.setattr(deploy, "stage_session", lambda settings, stage, config, base: base)
    shared = []
    monkeypatch.setattr(
        deploy, "share_with_stage_account", lambda client, model, account: shared.append(account) or True
    )
    return shared


@pytest.mark.slow
@pytest.mark.parametrize("stage", naming.STAGES)
def test_every_stack_of_the_stage_is_created(built, stage, one_account):
    aws, settings, build_dir = built.session, built.settings, built.build_dir
    config = load(stage, CONFIG_DIR)
    outputs = _deploy(settings, stage, build_dir, aws)
    # A stage in its own account may read the model's group first; a single-account one needs nothing.
    assert one_account == ([config["account"]["id"]] if "account" in config else [])
    manifest = built.manifest
    service_role = _role_arn(aws, settings, stage, config, "cloudformation")
    for entry in manifest["stages"][stage]:
        assert _stack_status(aws, entry["stack_name"]) == "CREATE_COMPLETE"
        described = aws.client("cloudformation").describe_stacks(StackName=entry["stack_name"])["Stacks"][0]
        assert {"Key": "sagemaker:deployment-stage", "Value": stage} in described["Tags"]
        # CloudFormation acts with the stage-access service role, never with the deployer's permissions.
        assert described["RoleARN"] == service_role
    if "realtime" in config:
        _check_endpoint(aws, settings, stage, outputs["endpoint"])
    if "api" in config:
        _check_api(aws, settings, stage, config)
    if "batch" in config:
        _check_batch(aws, settings, stage)


def _role_arn(aws, settings, stage, config, purpose):
    account = aws.client("sts").get_caller_identity()["Account"]
    return stacks.stage_role_arn(settings, stage, config, account, purpose)


def _check_endpoint(aws, settings, stage, outputs):
    sagemaker = aws.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=outputs["EndpointName"])
    endpoint_config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    capture = endpoint_config["DataCaptureConfig"]
    assert capture["KmsKeyId"] == outputs["DataKeyArn"]
    assert capture["DestinationS3Uri"].startswith(
        f"s3://{naming.stage_bucket(settings.project_id, stage, 'datacapture')}"
    )
    variant = endpoint_config["ProductionVariants"][0]
    assert variant["InstanceType"] == load(stage, CONFIG_DIR)["realtime"]["instance_type"]
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    assert model["ExecutionRoleArn"] == _role_arn(aws, settings, stage, load(stage, CONFIG_DIR), "endpoint")
    encryption = aws.client("s3").get_bucket_encryption(Bucket=outputs["DataCaptureBucketName"])
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def _check_api(aws, settings, stage, config):
    function = aws.client("lambda").get_function(
        FunctionName=naming.lambda_function(settings.project_id, f"{stage}-invoke")
    )
    environment = function["Configuration"]["Environment"]["Variables"]
    assert environment["ENDPOINT_NAME"] == settings.endpoint_name(stage)
    assert int(environment["MAX_RECORDS"]) == config["api"]["max_records"]
    apis = aws.client("apigateway").get_rest_apis()["items"]
    api = next(
        item for item in apis if item["name"] == naming.rest_api(settings.project_name, settings.project_id, stage)
    )
    resources = aws.client("apigateway").get_resources(restApiId=api["id"])["items"]
    predict = next(resource for resource in resources if resource.get("pathPart") == "predict")
    method = predict["resourceMethods"]["POST"]
    assert method["authorizationType"] == "AWS_IAM"
    assert not method.get("apiKeyRequired")


def _check_batch(aws, settings, stage):
    name = naming.pipeline(settings.project_name, settings.project_id, f"batch-inference-{stage}")
    described = aws.client("sagemaker").describe_pipeline(PipelineName=name)
    definition = json.loads(described["PipelineDefinition"])
    parameters = {parameter["Name"]: parameter.get("DefaultValue") for parameter in definition["Parameters"]}
    # The pipeline runs the model the batch stack created, in the stage's own bucket.
    batch_stack = aws.client("cloudformation").describe_stacks(StackName=settings.stack_name(stage, "batch"))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in batch_stack["Stacks"][0]["Outputs"]}
    assert parameters["ModelName"] == outputs["ModelName"]
    assert parameters["InputDataUri"].startswith(f"s3://{outputs['BatchBucketName']}/")
    assert described["RoleArn"] == outputs["PipelineRoleArn"]
    assert outputs["PipelineRoleArn"] == _role_arn(aws, settings, stage, load(stage, CONFIG_DIR), "batch-pipeline")
    rule = aws.client("events").describe_rule(Name=naming.event_rule(settings.project_id, f"{stage}-batch-schedule"))
    assert rule["ScheduleExpression"] == load(stage, CONFIG_DIR)["batch"]["schedule"]


@pytest.mark.slow
def test_deploying_the_same_build_again_keeps_the_stacks(built):
    first = _deploy(built.settings, "staging", built.build_dir, built.session)
    second = _deploy(built.settings, "staging", built.build_dir, built.session)
    assert first == second
    for entry in built.manifest["stages"]["staging"]:
        assert _stack_status(built.session, entry["stack_name"]).endswith("_COMPLETE")


@pytest.mark.slow
def test_teardown_removes_everything_the_stage_deployed(built):
    aws, settings = built.session, built.settings
    _deploy(settings, "prod", built.build_dir, aws)
    config = load("prod", CONFIG_DIR)
    if "realtime" in config:
        bucket = naming.stage_bucket(settings.project_id, "prod", "datacapture")
        aws.client("s3").put_object(Bucket=bucket, Key="datacapture/AllTraffic/captured.jsonl", Body=b"{}")
    deleted = deploy.teardown_stage(settings, "prod", aws)
    assert deleted == [entry["stack_name"] for entry in reversed(built.manifest["stages"]["prod"])]
    cfn = aws.client("cloudformation")
    alive = [
        summary["StackName"]
        for summary in cfn.list_stacks()["StackSummaries"]
        if summary["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert not [name for name in alive if name.startswith(settings.stack_name("prod", ""))]
    if "batch" in config:
        with pytest.raises(aws.client("sagemaker").exceptions.ClientError):
            aws.client("sagemaker").describe_pipeline(
                PipelineName=naming.pipeline(settings.project_name, settings.project_id, "batch-inference-prod")
            )
    assert deploy.teardown_stage(settings, "prod", aws) == []
