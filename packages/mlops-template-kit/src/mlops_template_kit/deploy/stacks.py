"""The stacks of a deployment stage, in deployment order, and the parameters each one gets.

This is the one place that maps `inference_config/<stage>/inference_config.json`, the approved
model and the naming rules onto CloudFormation parameters. The stacks create no IAM role: they
get the ARNs of the fixed roles the stage-access stack (stage_access/stage_access.yaml) created,
and are created, updated and deleted with its CloudFormation service role. The build step writes the result as
CodePipeline template-configuration files (`{"Parameters": ..., "Tags": ...}`); the deploy step
deploys them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_template_kit import contract, naming
from mlops_template_kit.deploy import settings as settings_module
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


# --- monitoring (app_infra/monitoring/monitoring.yaml) -------------------------------------------

# Model Monitor's names for the problem types (ModelQualityAppSpecification.ProblemType) and the
# top-level key of its model-quality constraints file for each.
MONITOR_PROBLEM_TYPES = {"binary_classification": "BinaryClassification", "regression": "Regression"}
ON_DRIFT_ACTIONS = ("retrain", "notify")
# realtime.monitoring.engine: Model Monitor's schedules, or the kit's monitor in a scheduled
# pipeline (Model Monitor is closed to new customers; monitoring.yaml Engine).
MONITORING_ENGINES = ("model-monitor", "processing")
DEFAULT_MONITORING_ENGINE = "model-monitor"
# The processing engine's image: the scikit-learn framework image of the build-train pipeline
# (its FRAMEWORK_IMAGES["sklearn"]): numpy and boto3 are in it, the kit's monitor needs nothing else.
MONITOR_FRAMEWORK_IMAGE = ("sklearn", "1.4-2")


def monitoring_wanted(config: dict[str, Any]) -> bool:
    """A stage gets the monitoring stack when its realtime.monitoring is enabled with at least one check."""
    monitoring = config.get("realtime", {}).get("monitoring", {})
    checks = (monitoring.get("data_quality", {}), monitoring.get("model_quality", {}))
    return bool(monitoring.get("enabled")) and any(check.get("enabled") for check in checks)


def drift_action(config: dict[str, Any]) -> str:
    """What an alarm does: the configuration's on_drift, except that a stage in its own account only
    notifies: its rule and retrain role start pipelines of the stage's account, and the build-train
    pipeline lives in the tooling account (no cross-account role or event bus is created for it)."""
    action = config.get("on_drift", "notify")
    if action not in ON_DRIFT_ACTIONS:
        raise DeployError(f"on_drift {action!r} is not one of {', '.join(ON_DRIFT_ACTIONS)}")
    return "notify" if config.get("account") else action


def model_quality_constraints(problem_type: str, constraints: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The model-quality constraints.json Model Monitor reads, from the stage's
    realtime.monitoring.model_quality.constraints (metric -> threshold, comparison_operator)."""
    key = f"{problem_type}_constraints"
    return {
        "version": 0.0,
        key: {
            metric: {"threshold": float(rule["threshold"]), "comparison_operator": rule["comparison_operator"]}
            for metric, rule in sorted(constraints.items())
        },
    }


def monitoring_engine(config: dict[str, Any]) -> str:
    return config.get("realtime", {}).get("monitoring", {}).get("engine", DEFAULT_MONITORING_ENGINE)


def monitor_code_uri(settings: Settings) -> str:
    """Where the build uploads the kit's monitor package for the processing engine (an S3 prefix)."""
    return f"s3://{settings.artifact_bucket}/{settings.deploy_prefix()}/monitor-code/"


def monitoring_pipeline_name(settings: Settings, stage: str) -> str:
    """The processing engine's pipeline, in lower case as its ARN holds it (the schedule role's resource)."""
    return naming.pipeline(settings.project_name, settings.project_id, f"monitoring-{stage}").lower()


def monitoring_constraints_key(settings: Settings, stage: str) -> str:
    """Where the build puts a stage's model-quality constraints in the artifact bucket."""
    return f"{settings.deploy_prefix()}/monitoring/{stage}/model-quality-constraints.json"


def _data_baseline(ctx: StageContext, data_quality: dict[str, Any]) -> tuple[str, str]:
    if not data_quality.get("enabled"):
        return "", ""
    model = ctx.model
    if not (model.baseline_statistics_uri and model.baseline_constraints_uri):
        raise DeployError(
            f"stage {ctx.stage}: monitoring.data_quality is enabled but model package {model.arn} has no "
            "data-quality baseline (DriftCheckBaselines.ModelDataQuality): register one, or set "
            "data_quality.enabled to false"
        )
    if not ctx.feature_columns:
        raise DeployError(
            f"stage {ctx.stage}: monitoring.data_quality is enabled but the model's metadata.json names no "
            "raw_feature_columns to watch"
        )
    return model.baseline_statistics_uri, model.baseline_constraints_uri


def monitoring_parameters(ctx: StageContext) -> dict[str, Any]:
    realtime = ctx.config["realtime"]
    monitoring = realtime["monitoring"]
    data_quality, model_quality = monitoring["data_quality"], monitoring["model_quality"]
    if not realtime["data_capture"]["enabled"]:
        raise DeployError(
            f"stage {ctx.stage}: monitoring reads the endpoint's captured data: set realtime.data_capture.enabled "
            "to true, or monitoring.enabled to false"
        )
    statistics, constraints = _data_baseline(ctx, data_quality)
    action = drift_action(ctx.config)
    problem_type = settings_module.problem_type(ctx.settings.repo_root)
    settings, stage = ctx.settings, ctx.stage
    pipeline = naming.pipeline(settings.project_name, settings.project_id, "training")
    return {
        "Engine": monitoring_engine(ctx.config),
        "StageName": stage,
        "EndpointName": ctx.endpoint_name,
        "MonitoringRoleArn": ctx.role_arn("monitoring"),
        "ResourcePrefix": f"{ctx.project_id}-{stage}",
        "DataCaptureBucketName": naming.stage_bucket(ctx.project_id, stage, "datacapture"),
        "DataKeyAliasName": ctx.key_alias("endpoint"),
        "MonitorImageUri": monitor_image_uri(settings.region),
        "ScheduleExpression": monitoring["schedule_expression"],
        "InstanceType": monitoring["instance_type"],
        "InstanceCount": monitoring["instance_count"],
        "MaxRuntimeSeconds": monitoring["max_runtime_seconds"],
        "DataQualityEnabled": str(bool(data_quality["enabled"])).lower(),
        "BaselineStatisticsUri": statistics,
        "BaselineConstraintsUri": constraints,
        "FeatureColumns": ",".join(ctx.feature_columns),
        "DriftThreshold": data_quality["drift_threshold"],
        "ModelQualityEnabled": str(bool(model_quality["enabled"])).lower(),
        "ProblemType": MONITOR_PROBLEM_TYPES[problem_type],
        "GroundTruthPrefix": model_quality["ground_truth_prefix"],
        "ModelQualityConstraintsUri": (
            f"s3://{settings.artifact_bucket}/{monitoring_constraints_key(settings, stage)}"
            if model_quality["enabled"]
            else ""
        ),
        "QualityAlarms": ",".join(
            f"{metric}:{rule['comparison_operator']}:{rule['threshold']}"
            for metric, rule in sorted(model_quality["constraints"].items())
        ),
        "AlarmNamePrefix": naming.alarm(settings.project_name, ctx.project_id, stage, "monitor") + "-",
        "OnDrift": action,
        "RuleName": naming.event_rule(ctx.project_id, f"{stage}-drift"),
        "RetrainRoleArn": ctx.role_arn("drift-retrain") if action == "retrain" else "",
        "TrainingPipelineArnName": pipeline.lower(),
        "RetrainInputDataUrl": retrain_input_data_url(ctx) if action == "retrain" else "",
        "TopicName": naming.event_rule(ctx.project_id, f"{stage}-drift"),
        "TopicKeyAliasName": ctx.key_alias("drift-topic"),
        # Engine=processing (given for both engines: the template's parameters are all required).
        "ProcessingImageUri": framework_image_uri(settings.region, *MONITOR_FRAMEWORK_IMAGE),
        "MonitorCodeUri": monitor_code_uri(settings),
        "MetricNamespace": f"sagemaker-{ctx.project_id}/monitoring",
        "MonitoringPipelineName": monitoring_pipeline_name(settings, stage),
        "ScheduleRuleName": naming.event_rule(ctx.project_id, f"{stage}-monitor-schedule"),
        "ScheduleRoleArn": ctx.role_arn("monitoring-schedule"),
    }


def retrain_input_data_url(ctx: StageContext) -> str:
    """The InputDataUrl the retraining run passes: the newest data prefix (the project's shared
    `input/`) when the approved model's pipeline reads S3, "" when it declares no InputDataUrl
    (an Athena query, or a model registered before its data source was recorded): the template
    then leaves the parameter out (contract.retraining_parameters says why)."""
    try:
        source = contract.data_source_of(ctx.model.metadata)
    except ValueError as problem:
        raise DeployError(f"model package {ctx.model.arn}: {problem}") from None
    settings = ctx.settings
    newest = contract.area_uri(settings.artifact_bucket, naming.s3_prefix(settings.project_name), contract.INPUT_AREA)
    return contract.retraining_parameters(source, newest + "/").get(contract.INPUT_DATA_PARAMETER, "")


@functools.cache
def monitor_image_uri(region: str) -> str:
    """Model Monitor's analyzer image in `region`, as the SageMaker SDK knows it (imported only here:
    the SDK takes seconds to import)."""
    from sagemaker.core import image_uris

    try:
        return image_uris.retrieve("model-monitor", region)
    except ValueError:
        raise DeployError(f"Model Monitor has no analyzer image in region {region}") from None


@functools.cache
def framework_image_uri(region: str, framework: str, version: str) -> str:
    """A SageMaker framework image in `region`, as the SageMaker SDK knows it (as the build-train
    pipeline resolves its images)."""
    from sagemaker.core import image_uris

    try:
        return image_uris.retrieve(framework, region, version=version, instance_type="ml.m5.large")
    except ValueError:
        raise DeployError(f"SageMaker has no {framework} {version} image in region {region}") from None


@dataclass(frozen=True)
class StackSpec:
    """One stack of a stage: its template, the config section that switches it on, its parameters
    (and, for a stack a section switches on only in part, when it is wanted)."""

    part: str
    template: str
    section: str
    parameters: Callable[[StageContext], dict[str, Any]]
    wanted: Callable[[dict[str, Any]], bool] = lambda config: True

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
    # After the endpoint: the schedules name it and read its captured data.
    StackSpec(
        "monitoring", "app_infra/monitoring/monitoring.yaml", "realtime", monitoring_parameters, monitoring_wanted
    ),
)


def stage_stacks(config: dict[str, Any], repo_root: Path) -> list[StackSpec]:
    """The stacks the configuration switches on; DeployError if one's template is missing from the repository."""
    chosen = [spec for spec in STACKS if spec.section in config and spec.wanted(config)]
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
