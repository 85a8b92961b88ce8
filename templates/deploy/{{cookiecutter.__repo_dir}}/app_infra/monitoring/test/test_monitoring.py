"""The monitoring stack: what each stage's configuration turns into, checked against the APIs it becomes.

- The job definitions and schedules, resolved with the parameters the build computes
  (stacks.monitoring_parameters), are valid CreateDataQualityJobDefinition /
  CreateModelQualityJobDefinition / CreateMonitoringSchedule requests for botocore's shapes.
- Every option value declares what it should: each check on or off, retrain or notify, a stage in
  its own account (notify only).
- The alarm rule, created in moto's CloudFormation, matches an alarm of this stage going into ALARM
  and nothing else (moto's EventBridge delivers to an SQS queue put in the target's place).
"""

from __future__ import annotations

import copy
import functools
import json
import re
import warnings
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidator
from mlops_template_kit import contract, naming
from mlops_template_kit.deploy import deploy, inference_config, stacks
from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.deploy.model_registry import ApprovedModel
from mlops_template_kit.deploy.settings import Settings, config_dir

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "app_infra" / "monitoring" / "monitoring.yaml"
ACCOUNT = "123456789012"
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}
BASELINE = "s3://sagemaker-project-p-localdemo001/diabetes-progression/ml-pipeline-outputs/b1/DataQualityBaseline"
FEATURES = ["age", "sex", "bmi", "bp"]
SHIPPED = {stage: inference_config.load(stage, config_dir(REPO_ROOT)) for stage in naming.STAGES}


def _on_model_monitor(config: dict) -> dict:
    """The configuration with Model Monitor as its engine (the tests of the Model Monitor stack)."""
    config = copy.deepcopy(config)
    if "monitoring" in config.get("realtime", {}):
        config["realtime"]["monitoring"]["engine"] = "model-monitor"
    return config


CONFIGS = {stage: _on_model_monitor(config) for stage, config in SHIPPED.items()}
MONITORED = [stage for stage, config in CONFIGS.items() if "realtime" in config]

pytestmark = pytest.mark.skipif(not MONITORED, reason="a batch-only repository has no endpoint to monitor")


def _model(
    statistics: str = f"{BASELINE}/statistics.json",
    constraints: str = f"{BASELINE}/constraints.json",
    metadata: dict[str, str] | None = None,
):
    return ApprovedModel(
        arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/diabetes-progression-p-localdemo001/3",
        group="diabetes-progression-p-localdemo001",
        version=3,
        model_data_url="s3://sagemaker-project-p-localdemo001/model.tar.gz",
        image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
        baseline_statistics_uri=statistics,
        baseline_constraints_uri=constraints,
        metadata=metadata if metadata is not None else contract.model_metadata("b1", data_source="s3"),
    )


def _parameters(stage: str, config: dict | None = None, model: ApprovedModel | None = None) -> dict[str, str]:
    ctx = stacks.StageContext(
        settings=Settings.from_env(REPO_ROOT),
        stage=stage,
        config=config if config is not None else CONFIGS[stage],
        model=model or _model(),
        feature_columns=FEATURES,
        account_id=ACCOUNT,
    )
    return {key: str(value) for key, value in stacks.monitoring_parameters(ctx).items()}


def _with(stage: str, **changes: Any) -> dict:
    """The stage's configuration with realtime.monitoring keys (dotted paths) changed."""
    config = copy.deepcopy(CONFIGS[stage])
    for path, value in changes.items():
        node = config
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return config


# --- a small resolver: the template as CloudFormation would create it for these parameters ---------


class Resolved:
    def __init__(self, template: dict, parameters: dict[str, str]):
        self.template = template
        defaults = {name: str(spec["Default"]) for name, spec in template["Parameters"].items() if "Default" in spec}
        self.values = {**PSEUDO, **defaults, **parameters}
        # In template order: a condition may name an earlier one (Fn::Condition).
        self.conditions: dict[str, bool] = {}
        for name, node in template.get("Conditions", {}).items():
            self.conditions[name] = self.run(node)

    def run(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(self.run, node) if item is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, argument), *_ = node.items()
            function = getattr(self, "fn_" + key.replace("Fn::", "").replace("::", "_"), None)
            if function is not None:
                return function(argument)
        return {key: value for key, value in ((k, self.run(v)) for k, v in node.items()) if value is not None}

    def fn_Ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return None
        return self.values.get(name, f"<{name}>")

    def fn_Sub(self, argument: str | list) -> str:
        # Fn::Sub [text, {name: value}] substitutes the map's values first, then parameters.
        text, names = (argument, {}) if isinstance(argument, str) else (argument[0], self.run(argument[1]))
        return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lambda m: str(names.get(m.group(1), self.fn_Ref(m.group(1)))), text)

    def fn_GetAtt(self, argument: list) -> str:
        # A job definition's name is its JobDefinitionName; other attributes stay symbolic.
        props = self.template["Resources"][argument[0]].get("Properties", {})
        if argument[1] == "JobDefinitionName" and "JobDefinitionName" in props:
            return self.run(props["JobDefinitionName"])
        return f"<{argument[0]}.{argument[1]}>"

    def fn_If(self, argument: list) -> Any:
        return self.run(argument[1] if self.conditions[argument[0]] else argument[2])

    def fn_Equals(self, argument: list) -> bool:
        return str(self.run(argument[0])) == str(self.run(argument[1]))

    def fn_Condition(self, name: str) -> bool:
        return self.conditions[name]

    def fn_Not(self, argument: list) -> bool:
        return not self.run(argument[0])

    def fn_And(self, argument: list) -> bool:
        return all(self.run(item) for item in argument)

    def fn_Select(self, argument: list) -> Any:
        return self.run(argument[1])[int(argument[0])]

    def fn_Split(self, argument: list) -> list:
        return str(self.run(argument[1])).split(argument[0])

    def fn_Join(self, argument: list) -> str:
        return argument[0].join(str(item) for item in self.run(argument[1]))

    def resources(self) -> dict[str, tuple[str, dict]]:
        return {
            name: (resource["Type"], self.run(resource.get("Properties", {})))
            for name, resource in self.template["Resources"].items()
            if self.conditions.get(resource.get("Condition", ""), True)
        }


def _resources(parameters: dict[str, str]) -> dict[str, tuple[str, dict]]:
    """The template's resources for these parameters, its Fn::ForEach loops expanded (conftest)."""
    from app_infra.conftest import expand_for_each

    expanded = json.loads(expand_for_each(TEMPLATE.read_text(encoding="utf-8"), parameters))
    return Resolved(expanded, parameters).resources()


def _of_type(resources: dict, kind: str) -> dict[str, dict]:
    return {name: props for name, (type_, props) in resources.items() if type_ == kind}


# --- the API requests the job definitions and schedules become ------------------------------------

TAGS = [{"Key": "sagemaker:project-id", "Value": "p-localdemo001"}]
# CloudFormation-only properties of AWS::SageMaker::MonitoringSchedule (not in the API request).
SCHEDULE_CFN_ONLY = {"EndpointName", "FailingStepName", "LastMonitoringExecutionSummary", "MonitoringScheduleStatus"}


def _typed(value: Any, shape: Any) -> Any:
    """A resolved value in the type the API shape says: CloudFormation passes Number parameters
    as strings and converts them to the property's schema type."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _typed(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_typed(item, shape.member) for item in value]
    if isinstance(value, str) and shape.type_name in ("integer", "long", "float", "double"):
        try:
            return int(value) if shape.type_name in ("integer", "long") else float(value)
        except ValueError:
            return value
    if isinstance(value, str) and shape.type_name == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


@functools.cache
def _sagemaker_model() -> Any:
    return boto3.client("sagemaker", region_name="us-east-1").meta.service_model


def _validate(operation: str, request: dict) -> None:
    shape = _sagemaker_model().operation_model(operation).input_shape
    report = ParamValidator().validate(_typed(request, shape), shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


def _requests(resources: dict) -> list[tuple[str, dict]]:
    requests = []
    for props in _of_type(resources, "AWS::SageMaker::DataQualityJobDefinition").values():
        requests.append(("CreateDataQualityJobDefinition", {**props, "Tags": TAGS}))
    for props in _of_type(resources, "AWS::SageMaker::ModelQualityJobDefinition").values():
        requests.append(("CreateModelQualityJobDefinition", {**props, "Tags": TAGS}))
    for props in _of_type(resources, "AWS::SageMaker::MonitoringSchedule").values():
        api = {key: value for key, value in props.items() if key not in SCHEDULE_CFN_ONLY}
        requests.append(("CreateMonitoringSchedule", {**api, "Tags": TAGS}))
    return requests


@pytest.mark.parametrize("stage", MONITORED)
def test_job_definitions_and_schedules_are_valid_api_requests(stage):
    resources = _resources(_parameters(stage))
    requests = _requests(resources)
    assert sorted(operation for operation, _ in requests) == [
        "CreateDataQualityJobDefinition",
        "CreateModelQualityJobDefinition",
        "CreateMonitoringSchedule",
        "CreateMonitoringSchedule",
    ]
    for operation, request in requests:
        _validate(operation, request)


def test_a_wrong_property_fails_the_shape_check():
    resources = _resources(_parameters(MONITORED[0]))
    (definition,) = _of_type(resources, "AWS::SageMaker::DataQualityJobDefinition").values()
    misspelt = {**definition, "StoppingCondition": {"MaxRuntimeInSecond": 60}, "Tags": TAGS}
    with pytest.raises(ParamValidationError):
        _validate("CreateDataQualityJobDefinition", misspelt)
    not_a_number = {
        **definition,
        "JobResources": {"ClusterConfig": {**definition["JobResources"]["ClusterConfig"], "InstanceCount": "one"}},
    }
    with pytest.raises(ParamValidationError):
        _validate("CreateDataQualityJobDefinition", not_a_number)


@pytest.mark.parametrize("stage", MONITORED)
def test_data_quality_compares_capture_with_the_approved_models_baseline(stage):
    resources = _resources(_parameters(stage))
    (definition,) = _of_type(resources, "AWS::SageMaker::DataQualityJobDefinition").values()
    baseline = definition["DataQualityBaselineConfig"]
    assert baseline["StatisticsResource"]["S3Uri"] == f"{BASELINE}/statistics.json"
    assert baseline["ConstraintsResource"]["S3Uri"] == f"{BASELINE}/constraints.json"
    endpoint = definition["DataQualityJobInput"]["EndpointInput"]["EndpointName"]
    assert endpoint == naming.endpoint("diabetes-progression", "p-localdemo001", stage)
    # Encrypted at rest with the stage's data key; no network of its own.
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/sagemaker-p-localdemo001-{stage}-endpoint"
    assert definition["DataQualityJobOutputConfig"]["KmsKeyId"] == key
    assert definition["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert definition["NetworkConfig"]["EnableNetworkIsolation"] is True
    monitoring = CONFIGS[stage]["realtime"]["monitoring"]
    assert definition["JobResources"]["ClusterConfig"]["InstanceType"] == monitoring["instance_type"]
    schedules = _of_type(resources, "AWS::SageMaker::MonitoringSchedule")
    expression = schedules["DataQualitySchedule"]["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"]
    assert expression == monitoring["schedule_expression"]


@pytest.mark.parametrize("stage", MONITORED)
def test_model_quality_merges_ground_truth_from_the_configured_prefix(stage):
    resources = _resources(_parameters(stage))
    (definition,) = _of_type(resources, "AWS::SageMaker::ModelQualityJobDefinition").values()
    prefix = CONFIGS[stage]["realtime"]["monitoring"]["model_quality"]["ground_truth_prefix"]
    bucket = naming.stage_bucket("p-localdemo001", stage, "datacapture")
    assert definition["ModelQualityJobInput"]["GroundTruthS3Input"]["S3Uri"] == f"s3://{bucket}/{prefix}"
    constraints = definition["ModelQualityBaselineConfig"]["ConstraintsResource"]["S3Uri"]
    settings = Settings.from_env(REPO_ROOT)
    assert constraints == f"s3://{settings.artifact_bucket}/{stacks.monitoring_constraints_key(settings, stage)}"


def test_the_constraints_file_is_model_monitors_and_follows_the_configuration():
    stage = MONITORED[0]
    rules = CONFIGS[stage]["realtime"]["monitoring"]["model_quality"]["constraints"]
    document = stacks.model_quality_constraints("regression", rules)
    assert document["version"] == 0.0
    assert set(document["regression_constraints"]) == set(rules)
    for metric, rule in rules.items():
        assert document["regression_constraints"][metric]["comparison_operator"] == rule["comparison_operator"]


# --- every option value -----------------------------------------------------------------------


@pytest.mark.parametrize("stage", MONITORED)
def test_an_alarm_per_feature_and_per_quality_constraint(stage):
    resources = _resources(_parameters(stage))
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    drift = [props for props in alarms.values() if props["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"]
    assert sorted(props["MetricName"] for props in drift) == sorted(f"feature_baseline_drift_{f}" for f in FEATURES)
    threshold = CONFIGS[stage]["realtime"]["monitoring"]["data_quality"]["drift_threshold"]
    assert {float(props["Threshold"]) for props in drift} == {threshold}
    quality = [props for props in alarms.values() if props["Namespace"] == "aws/sagemaker/Endpoints/model-metrics"]
    rules = CONFIGS[stage]["realtime"]["monitoring"]["model_quality"]["constraints"]
    assert {(p["MetricName"], p["ComparisonOperator"], float(p["Threshold"])) for p in quality} == {
        (metric, rule["comparison_operator"], float(rule["threshold"])) for metric, rule in rules.items()
    }
    prefix = _parameters(stage)["AlarmNamePrefix"]
    assert all(props["AlarmName"].startswith(prefix) for props in alarms.values())


@pytest.mark.parametrize("check", ["data_quality", "model_quality"])
def test_a_check_turned_off_creates_none_of_its_resources(check):
    stage = MONITORED[0]
    resources = _resources(_parameters(stage, _with(stage, **{f"realtime.monitoring.{check}.enabled": False})))
    kinds = {type_ for type_, _ in resources.values()}
    kept = "Model" if check == "data_quality" else "DataQuality"
    dropped = "DataQuality" if check == "data_quality" else "ModelQuality"
    assert f"AWS::SageMaker::{dropped}JobDefinition" not in kinds
    assert f"AWS::SageMaker::{kept}{'Quality' if kept == 'Model' else ''}JobDefinition" in kinds
    assert all(dropped not in name for name in resources)


def test_monitoring_disabled_leaves_the_stack_out():
    stage = MONITORED[0]
    off = _with(stage, **{"realtime.monitoring.enabled": False})
    assert "monitoring" not in [spec.part for spec in stacks.stage_stacks(off, REPO_ROOT)]
    both_off = _with(
        stage, **{"realtime.monitoring.data_quality.enabled": False, "realtime.monitoring.model_quality.enabled": False}
    )
    assert "monitoring" not in [spec.part for spec in stacks.stage_stacks(both_off, REPO_ROOT)]
    assert "monitoring" in [spec.part for spec in stacks.stage_stacks(CONFIGS[stage], REPO_ROOT)]


def _target(resources: dict) -> dict:
    (rule,) = _of_type(resources, "AWS::Events::Rule").values()
    (target,) = rule["Targets"]
    return target


def test_retrain_starts_the_training_pipeline_as_the_retrain_role_and_leaves_approval_to_a_person():
    stage = MONITORED[0]
    single = {key: value for key, value in _with(stage, on_drift="retrain").items() if key != "account"}
    parameters = _parameters(stage, single)
    resources = _resources(parameters)
    target = _target(resources)
    pipeline = naming.pipeline("diabetes-progression", "p-localdemo001", "training").lower()
    assert target["Arn"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/{pipeline}"
    assert target["RoleArn"] == parameters["RetrainRoleArn"]
    assert target["RoleArn"].endswith(f"role/{naming.stage_access_role('drift-retrain')}")
    sent = {item["Name"]: item["Value"] for item in target["SageMakerPipelineParameters"]["PipelineParameterList"]}
    assert sent["ModelApprovalStatus"] == "PendingManualApproval"
    assert sent["InputDataUrl"].endswith("/input/")
    assert not _of_type(resources, "AWS::SNS::Topic")


def _sent(data_source: str | None) -> dict[str, str]:
    """The parameters the retrain target starts the pipeline with, for an approved model whose
    pipeline reads `data_source` (None: a model registered without the key)."""
    stage = MONITORED[0]
    single = {key: value for key, value in _with(stage, on_drift="retrain").items() if key != "account"}
    model = _model(metadata=contract.model_metadata("b1", data_source=data_source))
    target = _target(_resources(_parameters(stage, single, model)))
    items = target["SageMakerPipelineParameters"]["PipelineParameterList"]
    _validate_events_target(target)
    return {item["Name"]: item["Value"] for item in items}


@functools.cache
def _events_model() -> Any:
    return boto3.client("events", region_name="us-east-1").meta.service_model


def _validate_events_target(target: dict) -> None:
    """The target as a PutTargets request (what CloudFormation makes of it), for botocore's shape."""
    shape = _events_model().operation_model("PutTargets").input_shape
    report = ParamValidator().validate({"Rule": "sagemaker-rule", "Targets": [target]}, shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


@pytest.mark.parametrize(
    ("data_source", "expected"),
    [
        ("s3", {"InputDataUrl", "ModelApprovalStatus"}),
        # An Athena pipeline declares no InputDataUrl: StartPipelineExecution would refuse it.
        ("athena", {"ModelApprovalStatus"}),
        # Registered before the model recorded it: only what every training pipeline declares.
        (None, {"ModelApprovalStatus"}),
    ],
)
def test_retrain_sends_only_the_parameters_the_models_pipeline_declares(data_source, expected):
    sent = _sent(data_source)
    assert set(sent) == expected == set(contract.retraining_parameters(data_source, "s3://b/p/input/"))
    if "InputDataUrl" in sent:
        settings = Settings.from_env(REPO_ROOT)
        newest = f"s3://{settings.artifact_bucket}/{naming.s3_prefix(settings.project_name)}/input/"
        assert sent["InputDataUrl"] == newest


def test_a_model_recording_an_unknown_data_source_is_refused_in_one_line_when_it_would_retrain():
    stage = MONITORED[0]
    model = _model(metadata={"build_id": "b1", "data_source": "delta-lake"})
    single = {key: value for key, value in _with(stage, on_drift="retrain").items() if key != "account"}
    with pytest.raises(DeployError) as refused:
        _parameters(stage, single, model)
    assert "'delta-lake' is not one of s3, athena" in str(refused.value) and "\n" not in str(refused.value)
    # A stage that only notifies starts no pipeline: the model's data source does not matter there.
    assert _parameters(stage, _with(stage, on_drift="notify"), model)["RetrainInputDataUrl"] == ""


def test_a_malformed_target_fails_the_events_shape_check():
    with pytest.raises(ParamValidationError):
        # A parameter without its Value.
        parameters = {"PipelineParameterList": [{"Name": "InputDataUrl"}]}
        _validate_events_target({"Id": "retrain", "Arn": "arn", "SageMakerPipelineParameters": parameters})


def test_notify_publishes_to_an_encrypted_topic_only_the_rule_may_publish_to():
    stage = MONITORED[0]
    parameters = _parameters(stage, _with(stage, on_drift="notify"))
    resources = _resources(parameters)
    assert _target(resources)["Arn"] == "<DriftTopic>"
    (topic,) = _of_type(resources, "AWS::SNS::Topic").values()
    assert topic["KmsMasterKeyId"] == "<TopicKey.Arn>"
    (policy,) = _of_type(resources, "AWS::SNS::TopicPolicy").values()
    allow = next(s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow")
    rule_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{parameters['RuleName']}"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    assert parameters["RetrainRoleArn"] == ""


def test_a_stage_in_its_own_account_only_notifies():
    stage = MONITORED[0]
    config = {**_with(stage, on_drift="retrain"), "account": {"id": "210987654321"}}
    assert _parameters(stage, config)["OnDrift"] == "notify"


# --- bad input: one line, nothing half-done ---------------------------------------------------


def test_data_quality_without_a_registered_baseline_is_refused_in_one_line():
    with pytest.raises(DeployError) as refused:
        _parameters(MONITORED[0], model=_model(statistics="", constraints=""))
    assert "DriftCheckBaselines" in str(refused.value) and "\n" not in str(refused.value)


def test_monitoring_without_data_capture_is_refused_in_one_line():
    stage = MONITORED[0]
    with pytest.raises(DeployError) as refused:
        _parameters(stage, _with(stage, **{"realtime.data_capture.enabled": False}))
    assert "data_capture" in str(refused.value) and "\n" not in str(refused.value)


# --- alarm -> rule: the event pattern matches in moto -------------------------------------------


@pytest.fixture
def rule_queue(aws):
    stage = MONITORED[0]
    parameters = _parameters(stage, _with(stage, on_drift="notify"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deploy.deploy_stack(
            aws.client("cloudformation"),
            "sagemaker-monitoring-under-test",
            TEMPLATE.read_text(encoding="utf-8"),
            parameters,
            {},
            capabilities=deploy.capabilities_of(TEMPLATE.read_text(encoding="utf-8")),
        )
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="drift")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = aws.client("events")
    (target,) = events.list_targets_by_rule(Rule=parameters["RuleName"])["Targets"]
    events.remove_targets(Rule=parameters["RuleName"], Ids=[target["Id"]])
    events.put_targets(Rule=parameters["RuleName"], Targets=[{"Id": "record", "Arn": queue_arn}])
    return sqs, queue_url, parameters["AlarmNamePrefix"]


def _alarm_event(name: str, state: str) -> dict:
    detail = {"alarmName": name, "state": {"value": state}, "previousState": {"value": "OK"}}
    return {"Source": "aws.cloudwatch", "DetailType": "CloudWatch Alarm State Change", "Detail": json.dumps(detail)}


def _delivered(aws, rule_queue, event: dict) -> list[dict]:
    sqs, queue_url, _ = rule_queue
    aws.client("events").put_events(Entries=[event])
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_only_an_alarm_of_this_stage_going_off_reaches_the_rule_target(aws, rule_queue):
    """One stack for every case (a deployment costs a second): recovery, no data and another
    alarm going off are sent first and must not be delivered."""
    prefix = rule_queue[2]
    ignored = [
        (f"{prefix}drift-bmi", "OK"),
        (f"{prefix}quality-auc", "INSUFFICIENT_DATA"),
        ("sagemaker-other", "ALARM"),
    ]
    for name, state in ignored:
        assert _delivered(aws, rule_queue, _alarm_event(name, state)) == [], (name, state)
    delivered = _delivered(aws, rule_queue, _alarm_event(f"{prefix}drift-bmi", "ALARM"))
    assert [message["detail"]["alarmName"] for message in delivered] == [f"{prefix}drift-bmi"]


def test_only_a_template_with_a_transform_is_created_with_auto_expand():
    assert deploy.capabilities_of(TEMPLATE.read_text(encoding="utf-8")) == ("CAPABILITY_AUTO_EXPAND",)
    endpoint = REPO_ROOT / "app_infra" / "endpoint" / "endpoint.yaml"
    assert deploy.capabilities_of(endpoint.read_text(encoding="utf-8")) == ()


# --- Engine=processing: the kit's monitor in a scheduled pipeline, the same alarms ----------------


def _processing(stage: str, **changes: Any) -> dict[str, tuple[str, dict]]:
    config = _with(stage, **{"realtime.monitoring.engine": "processing", **changes})
    return _resources(_parameters(stage, config))


def _pipeline_step(resources: dict) -> tuple[dict, dict]:
    (pipeline,) = _of_type(resources, "AWS::SageMaker::Pipeline").values()
    definition = json.loads(pipeline["PipelineDefinition"]["PipelineDefinitionBody"])
    (step,) = definition["Steps"]
    return pipeline, step


@pytest.mark.parametrize("stage", MONITORED)
def test_the_processing_engine_replaces_the_schedules_by_a_pipeline_and_keeps_the_alarms(stage):
    resources = _processing(stage)
    kinds = sorted(type_ for type_, _ in resources.values())
    assert not [kind for kind in kinds if "Quality" in kind or kind == "AWS::SageMaker::MonitoringSchedule"]
    assert kinds.count("AWS::SageMaker::Pipeline") == 1 and kinds.count("AWS::Events::Rule") == 2
    namespace = _parameters(stage)["MetricNamespace"]
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    assert alarms and {props["Namespace"] for props in alarms.values()} == {namespace}
    # The same metric names and dimensions as Model Monitor's: the job publishes exactly these.
    assert alarms.keys() == _of_type(_resources(_parameters(stage)), "AWS::CloudWatch::Alarm").keys()
    assert "AWS::SageMaker::Pipeline" not in {type_ for type_, _ in _resources(_parameters(stage)).values()}
    # The same rule: an alarm of either engine retrains or notifies alike.
    assert resources["DriftRule"] == _resources(_parameters(stage))["DriftRule"]


@pytest.mark.parametrize("stage", MONITORED)
def test_the_monitoring_pipeline_is_a_valid_create_pipeline_and_processing_job_request(stage):
    pipeline, step = _pipeline_step(_processing(stage))
    # CloudFormation's PipelineDefinition.PipelineDefinitionBody is the API's PipelineDefinition.
    request = {**pipeline, "PipelineDefinition": pipeline["PipelineDefinition"]["PipelineDefinitionBody"]}
    _validate("CreatePipeline", {**request, "ClientRequestToken": "t" * 32, "Tags": TAGS})
    assert step["Type"] == "Processing"
    _validate("CreateProcessingJob", {**step["Arguments"], "ProcessingJobName": "pipelines-x-Monitor", "Tags": TAGS})
    misspelt = {**step["Arguments"], "StoppingCondition": {"MaxRuntimeInSecond": 60}, "ProcessingJobName": "x"}
    with pytest.raises(ParamValidationError):
        _validate("CreateProcessingJob", misspelt)


@pytest.mark.parametrize("stage", MONITORED)
def test_the_step_runs_the_kits_monitor_on_this_endpoints_capture_with_what_the_job_accepts(stage):
    from mlops_template_kit.monitor import processing

    parameters = _parameters(stage, _with(stage, **{"realtime.monitoring.engine": "processing"}))
    _, step = _pipeline_step(_processing(stage))
    application = step["Arguments"]["AppSpecification"]
    assert application["ContainerEntrypoint"][-1] == "mlops_template_kit.monitor.processing"
    assert "sagemaker-scikit-learn" in application["ImageUri"]
    args = processing.parse_args(application["ContainerArguments"])
    bucket, endpoint = parameters["DataCaptureBucketName"], parameters["EndpointName"]
    assert args.capture_uri == f"s3://{bucket}/datacapture/{endpoint}/AllTraffic"
    assert args.baseline_statistics_uri == f"{BASELINE}/statistics.json"
    assert args.ground_truth_uri.startswith(f"s3://{bucket}/ground-truth")
    assert args.namespace == parameters["MetricNamespace"] and args.schedule_prefix == parameters["ResourcePrefix"]
    (code,) = step["Arguments"]["ProcessingInputs"]
    assert code["S3Input"]["S3Uri"] == parameters["MonitorCodeUri"]
    assert step["Arguments"]["Environment"]["PYTHONPATH"] == code["S3Input"]["LocalPath"]
    without_truth = _processing(stage, **{"realtime.monitoring.model_quality.enabled": False})
    args = processing.parse_args(
        _pipeline_step(without_truth)[1]["Arguments"]["AppSpecification"]["ContainerArguments"]
    )
    assert args.ground_truth_uri == "" and args.quality_constraints_uri == ""


@pytest.mark.parametrize("stage", MONITORED)
def test_the_schedule_starts_the_monitoring_pipeline_as_the_schedule_role(stage):
    parameters = _parameters(stage, _with(stage, **{"realtime.monitoring.engine": "processing"}))
    rules = _of_type(_processing(stage), "AWS::Events::Rule")
    (schedule,) = [props for props in rules.values() if "ScheduleExpression" in props]
    assert schedule["ScheduleExpression"] == CONFIGS[stage]["realtime"]["monitoring"]["schedule_expression"]
    (target,) = schedule["Targets"]
    assert target["Arn"].endswith(f":pipeline/{parameters['MonitoringPipelineName']}")
    assert target["RoleArn"] == parameters["ScheduleRoleArn"] and target["RoleArn"].endswith("-monitoring-schedule")
    shape = boto3.client("events", region_name="us-east-1").meta.service_model.operation_model("PutTargets")
    report = ParamValidator().validate({"Rule": schedule["Name"], "Targets": [target]}, shape.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_an_unknown_engine_is_refused_by_the_schema():
    stage = MONITORED[0]
    config = _with(stage, **{"realtime.monitoring.engine": "clarify"})
    with pytest.raises(DeployError, match="engine"):
        inference_config.validate(config, stage, config_dir(REPO_ROOT))
    inference_config.validate(
        _with(stage, **{"realtime.monitoring.engine": "processing"}), stage, config_dir(REPO_ROOT)
    )


def test_the_shipped_configurations_choose_the_processing_engine_and_a_missing_engine_keeps_model_monitor():
    # New accounts cannot create Model Monitor schedules; a repository configured before the option
    # existed keeps the stack it deployed.
    assert {SHIPPED[stage]["realtime"]["monitoring"]["engine"] for stage in MONITORED} == {"processing"}
    legacy = copy.deepcopy(SHIPPED[MONITORED[0]])
    del legacy["realtime"]["monitoring"]["engine"]
    assert _parameters(MONITORED[0], legacy)["Engine"] == "model-monitor"
