"""The stacks of a deployment stage, in deployment order, and the parameters each one gets.

This is the one place that maps `inference_config/<stage>/inference_config.json`, the approved
model and the naming rules onto CloudFormation parameters. The stacks create no IAM role: they
get the ARNs of the fixed roles the stage-access stack (stage_access/stage_access.yaml) created,
and are created, updated and deleted with its CloudFormation service role. The build step writes the result as
CodePipeline template-configuration files (`{"Parameters": ..., "Tags": ...}`); the deploy step
deploys them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_template_kit import naming
from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.deploy.model_registry import ApprovedModel
from mlops_template_kit.deploy.settings import Settings

STRATEGIES = {"all-at-once": "ALL_AT_ONCE", "canary": "CANARY", "linear": "LINEAR"}
LAMBDA_CODE_DIR = "app_infra/lambda/invoke_endpoint"


@dataclass(frozen=True)
class StageContext:
    """Everything the parameters of a stage's stacks are computed from."""

    settings: Settings
    stage: str
    config: dict[str, Any]
    model: ApprovedModel
    feature_columns: list[str] = field(default_factory=list)
    lambda_code_key: str = ""
    # The account the build runs in: the stage's account unless the configuration names one.
    account_id: str = ""

    @property
    def project_id(self) -> str:
        return self.settings.project_id

    @property
    def endpoint_name(self) -> str:
        return self.settings.endpoint_name(self.stage)

    def role_arn(self, purpose: str) -> str:
        return stage_role_arn(self.settings, self.stage, self.config, self.account_id, purpose)

    def key_alias(self, purpose: str) -> str:
        return naming.kms_alias(self.project_id, self.stage, purpose)


def stage_role_arn(settings: Settings, stage: str, config: dict[str, Any], account_id: str, purpose: str) -> str:
    """ARN of a role the stage-access stack created for `stage`: the project's own set in the
    stage's account (configurations with an `account`), else the account-wide set."""
    own_account = config.get("account", {}).get("id")
    account = own_account or account_id
    if not account:
        raise DeployError(f"the account of stage {stage} is unknown: the build needs credentials (STS)")
    if own_account:
        name = naming.stage_access_role(purpose, settings.project_id, stage)
    else:
        name = naming.stage_access_role(purpose)
    return f"arn:aws:iam::{account}:role/{name}"


def batch_pipeline_name(settings: Settings, stage: str) -> str:
    """The SageMaker pipeline that runs a stage's batch inference."""
    return naming.pipeline(settings.project_name, settings.project_id, f"batch-inference-{stage}")


def endpoint_parameters(ctx: StageContext) -> dict[str, Any]:
    realtime = ctx.config["realtime"]
    scaling, capture = realtime["autoscaling"], realtime["data_capture"]
    deployment, alarms = realtime["deployment"], realtime["alarms"]
    return {
        "StageName": ctx.stage,
        "ModelPackageArn": ctx.model.arn,
        "EndpointName": ctx.endpoint_name,
        "ExecutionRoleArn": ctx.role_arn("endpoint"),
        "DataCaptureBucketName": naming.stage_bucket(ctx.project_id, ctx.stage, "datacapture"),
        "DataKeyAliasName": ctx.key_alias("endpoint"),
        "InstanceType": realtime["instance_type"],
        "InitialInstanceCount": realtime["initial_instance_count"],
        "MinCapacity": scaling["min_capacity"],
        "MaxCapacity": scaling["max_capacity"],
        "TargetInvocationsPerInstance": scaling["target_invocations_per_instance"],
        "ScaleInCooldownSeconds": scaling.get("scale_in_cooldown_seconds", 300),
        "ScaleOutCooldownSeconds": scaling.get("scale_out_cooldown_seconds", 60),
        "DataCaptureEnabled": str(capture["enabled"]).lower(),
        "DataCapturePercentage": capture["sampling_percentage"],
        "DataCaptureRetentionDays": capture.get("retention_days", 90),
        "DeploymentStrategy": STRATEGIES[deployment["strategy"]],
        "CanarySizePercent": deployment.get("canary_size_percent", 50),
        "LinearStepPercent": deployment.get("linear_step_percent", 50),
        "WaitIntervalSeconds": deployment["wait_interval_seconds"],
        "TerminationWaitSeconds": deployment.get("termination_wait_seconds", 0),
        "MaximumExecutionTimeoutSeconds": deployment["maximum_execution_timeout_seconds"],
        "ErrorsAlarmName": naming.alarm(ctx.settings.project_name, ctx.project_id, ctx.stage, "invocation-5xx"),
        "LatencyAlarmName": naming.alarm(ctx.settings.project_name, ctx.project_id, ctx.stage, "model-latency-p99"),
        "Invocation5xxErrorsThreshold": alarms["invocation_5xx_errors_threshold"],
        # CloudWatch reports ModelLatency in microseconds.
        "ModelLatencyP99Microseconds": int(alarms["model_latency_p99_ms"] * 1000),
        "AlarmEvaluationPeriods": alarms.get("evaluation_periods", 2),
        "AlarmPeriodSeconds": alarms.get("period_seconds", 60),
    }


def lambda_function_name(settings: Settings, stage: str) -> str:
    """The function that fronts a stage's endpoint."""
    return naming.lambda_function(settings.project_id, f"{stage}-invoke")


def lambda_parameters(ctx: StageContext) -> dict[str, Any]:
    api = ctx.config["api"]
    return {
        "StageName": ctx.stage,
        "FunctionName": lambda_function_name(ctx.settings, ctx.stage),
        "RoleArn": ctx.role_arn("invoke"),
        "EndpointName": ctx.endpoint_name,
        "CodeS3Bucket": ctx.settings.artifact_bucket,
        "CodeS3Key": ctx.lambda_code_key,
        "KeyAliasName": ctx.key_alias("invoke"),
        "MaxPayloadBytes": api["max_payload_bytes"],
        "MaxRecords": api["max_records"],
        "FeatureColumns": ",".join(ctx.feature_columns),
        "LogRetentionDays": api.get("log_retention_days", 90),
    }


def api_parameters(ctx: StageContext) -> dict[str, Any]:
    api = ctx.config["api"]
    return {
        "StageName": ctx.stage,
        "ApiName": naming.rest_api(ctx.settings.project_name, ctx.project_id, ctx.stage),
        "FunctionName": lambda_function_name(ctx.settings, ctx.stage),
        "ThrottlingRateLimit": api["throttling_rate_limit"],
        "ThrottlingBurstLimit": api["throttling_burst_limit"],
        "MaxRecords": api["max_records"],
        "AccessLogs": str(api.get("access_logs", False)).lower(),
        "AccessLogKeyAliasName": ctx.key_alias("api-logs"),
        "LogRetentionDays": api.get("log_retention_days", 90),
    }


def batch_parameters(ctx: StageContext) -> dict[str, Any]:
    return {
        "StageName": ctx.stage,
        "ModelPackageArn": ctx.model.arn,
        "BatchBucketName": naming.stage_bucket(ctx.project_id, ctx.stage, "batch"),
        "KeyAliasName": ctx.key_alias("batch"),
        "PipelineRoleArn": ctx.role_arn("batch-pipeline"),
    }


def batch_schedule_parameters(ctx: StageContext) -> dict[str, Any]:
    return {
        "StageName": ctx.stage,
        "RuleName": naming.event_rule(ctx.project_id, f"{ctx.stage}-batch-schedule"),
        "RoleArn": ctx.role_arn("batch-schedule"),
        "PipelineArnName": batch_pipeline_name(ctx.settings, ctx.stage).lower(),
        "ScheduleExpression": ctx.config["batch"]["schedule"],
    }


@dataclass(frozen=True)
class StackSpec:
    """One stack of a stage: its template, the config section that switches it on, its parameters."""

    part: str
    template: str
    section: str
    parameters: Callable[[StageContext], dict[str, Any]]

    def template_path(self, repo_root: Path) -> Path:
        return repo_root / self.template


# Deployment order: the Lambda function calls the endpoint, the API calls the function, the
# schedule starts the pipeline that the batch stack's role and model run.
STACKS = (
    StackSpec("endpoint", "app_infra/endpoint/endpoint.yaml", "realtime", endpoint_parameters),
    StackSpec("lambda", "app_infra/lambda/lambda.yaml", "api", lambda_parameters),
    StackSpec("api", "app_infra/api_gateway/api_gateway.yaml", "api", api_parameters),
    StackSpec("batch", "app_infra/batch_inference/batch_inference.yaml", "batch", batch_parameters),
    StackSpec("batch-schedule", "app_infra/event_bridge/batch_schedule.yaml", "batch", batch_schedule_parameters),
)


def stage_stacks(config: dict[str, Any], repo_root: Path) -> list[StackSpec]:
    """The stacks the configuration switches on; DeployError if one's template is missing from the repository."""
    chosen = [spec for spec in STACKS if spec.section in config]
    for spec in chosen:
        if not spec.template_path(repo_root).is_file():
            raise DeployError(f"the configuration has a {spec.section!r} section but {spec.template} does not exist")
    return chosen


def template_configuration(ctx: StageContext, spec: StackSpec) -> dict[str, Any]:
    """A CodePipeline template-configuration document: string parameters plus the stage tags."""
    parameters = {key: str(value) for key, value in spec.parameters(ctx).items()}
    return {"Parameters": parameters, "Tags": ctx.settings.tags(ctx.stage)}


MODEL_APPROVAL_TEMPLATE = "app_infra/event_bridge/model_approval.yaml"


def deploy_pipeline_name(settings: Settings, environ: dict[str, str]) -> str:
    """The CodePipeline that deploys this repository (set by the project's product, or the default)."""
    return environ.get("DEPLOY_PIPELINE_NAME") or naming.repository(
        settings.project_name, settings.project_id, "modeldeploy"
    )


# The SageMaker projects' managed events role: its AWS managed policy
# (AmazonSageMakerServiceCatalogProductsEventsServiceRolePolicy) may start sagemaker-* pipelines.
EVENTS_ROLE = "service-role/AmazonSageMakerServiceCatalogProductsEventsRole"


def model_approval_parameters(settings: Settings, pipeline: str, account_id: str) -> dict[str, str]:
    """Parameters of the rule that starts the deploy pipeline when a model is approved."""
    return {
        "ModelPackageGroupName": settings.model_package_group,
        "DeployPipelineName": pipeline,
        "RuleName": naming.event_rule(settings.project_id, "model-approved"),
        "RoleArn": f"arn:aws:iam::{account_id}:role/{EVENTS_ROLE}",
    }


STAGE_ACCESS_TEMPLATE = "app_infra/stage_access/stage_access.yaml"
DEPLOY_ROLE_PURPOSE = "cross-account-deploy"
# The role the deploy CodeBuild project runs as (D2): trusted by created deploy roles, given the
# account-wide deploy policy.
CODEBUILD_ROLE_NAME = "AmazonSageMakerServiceCatalogProductsCodeBuildRole"
EVERY = "*"


def stage_access_parameters(
    settings: Settings, stage: str, tooling_account_id: str, tooling_deploy_role_arn: str = ""
) -> dict[str, str]:
    """Parameters of one project stage's access in the stage's own account (multi-account)."""
    return {
        "ProjectName": settings.project_name,
        "ProjectId": settings.project_id,
        "StageName": stage,
        "ToolingAccountId": tooling_account_id,
        "ToolingDeployRoleArn": tooling_deploy_role_arn,
        "ArtifactBucketName": settings.artifact_bucket,
        "ArtifactKmsKeyArn": settings.artifact_kms_key_arn,
        "DeployRoleName": naming.iam_role(settings.project_id, DEPLOY_ROLE_PURPOSE),
        "AttachToRoleName": "",
    }


def shared_stage_access_parameters(account_id: str, attach_to: str = CODEBUILD_ROLE_NAME) -> dict[str, str]:
    """Parameters of the account-wide access: every project's stages, deployed by `attach_to`."""
    return {
        "ProjectName": EVERY,
        "ProjectId": EVERY,
        "StageName": EVERY,
        "ToolingAccountId": account_id,
        # Artifact buckets are sagemaker-project-<id> (naming.artifact_bucket).
        "ArtifactBucketName": f"sagemaker-project-{EVERY}",
        "DeployRoleName": "",
        "AttachToRoleName": attach_to,
    }
