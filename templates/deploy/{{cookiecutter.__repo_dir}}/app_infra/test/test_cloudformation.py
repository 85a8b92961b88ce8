"""Every CloudFormation template: cfn-lint clean, secure by default, and in step with stacks.py.

The stage stacks create no IAM role or policy (they pass the fixed roles of the administrator's
stage-access stack), so a Studio user who can deploy them cannot make a role of their own."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file
from cfnlint.decode import cfn_yaml
from mlops_template_kit import naming
from mlops_template_kit.deploy import inference_config, stacks
from mlops_template_kit.deploy.model_registry import ApprovedModel

REPO_ROOT = Path(__file__).resolve().parents[2]

TEMPLATES = sorted((REPO_ROOT / "app_infra").glob("*/*.yaml"))
STAGE_ACCESS = REPO_ROOT / stacks.STAGE_ACCESS_TEMPLATE
IAM_RESOURCE_TYPES = {
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::User",
    "AWS::IAM::Group",
}


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    """A template, parsed once per run (the tests read a few templates about 160 times). Read only."""
    return cfn_yaml.load(str(path))


def _declared(template: dict[str, Any]) -> dict[str, dict]:
    """Resources by logical id, the bodies of Fn::ForEach loops (monitoring.yaml's alarms) included."""
    declared = {}
    for name, resource in template.get("Resources", {}).items():
        if name.startswith("Fn::ForEach::"):
            declared.update(resource[2])
        else:
            declared[name] = resource
    return declared


def _resources(kind: str) -> list[tuple[Path, str, dict]]:
    found = []
    for path in TEMPLATES:
        for name, resource in _declared(_load(path)).items():
            if resource["Type"] == kind:
                found.append((path, name, resource.get("Properties", {})))
    return found


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _statements(document: dict) -> list[dict]:
    statements = []
    for statement in _as_list(document.get("Statement", [])):
        # Conditional statements: `!If [condition, statement, AWS::NoValue]`.
        if isinstance(statement, dict) and "Fn::If" in statement:
            statements += [
                branch for branch in statement["Fn::If"][1:] if isinstance(branch, dict) and "Effect" in branch
            ]
        else:
            statements.append(statement)
    return statements


def _policy_documents() -> list[tuple[str, dict]]:
    documents = []
    for path, name, properties in _resources("AWS::IAM::Role"):
        for policy in properties.get("Policies", []):
            documents.append((f"{path.name}:{name}", policy["PolicyDocument"]))
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for path, name, properties in _resources(kind):
            documents.append((f"{path.name}:{name}", properties["PolicyDocument"]))
    return documents


def test_stage_and_trigger_stacks_create_no_iam_resources():
    """Only the administrator's stage-access stack may create roles and policies."""
    for path in TEMPLATES:
        if path == STAGE_ACCESS:
            continue
        kinds = {resource["Type"] for resource in _declared(_load(path)).values()}
        assert not kinds & IAM_RESOURCE_TYPES, f"{path.name} creates {kinds & IAM_RESOURCE_TYPES}"


def test_the_checker_sees_iam_resources():
    assert _resources("AWS::IAM::Role"), "the stage-access stack's roles are not found"


# IAM actions that create or change roles and policies: none may be granted anywhere.
ROLE_CHANGING = ("iam:Create", "iam:Put", "iam:Attach", "iam:Update", "iam:Delete", "iam:Detach", "iam:Tag")


def test_no_policy_lets_anyone_create_change_or_freely_pass_roles():
    for where, document in _policy_documents():
        for statement in _statements(document):
            for action in _as_list(statement["Action"]):
                assert not action.startswith(ROLE_CHANGING), f"{where}: {action}"
                if action == "iam:PassRole":
                    assert "*" not in str(statement["Resource"]), f"{where}: PassRole on a pattern"
                    assert "iam:PassedToService" in statement["Condition"]["StringEquals"], f"{where}: {statement}"


def test_stage_stacks_are_changed_only_through_the_service_role():
    (deploy_policy,) = [document for where, document in _policy_documents() if where.endswith(":StageDeployPolicy")]
    for statement in _statements(deploy_policy):
        mutating = [action for action in _as_list(statement["Action"]) if action.startswith("cloudformation:")]
        if any(not action.split(":")[1].startswith(("Describe", "Get")) for action in mutating):
            assert statement["Condition"]["ArnEquals"]["cloudformation:RoleArn"] == {
                "Fn::GetAtt": ["CloudFormationRole", "Arn"]
            }


def test_the_deploy_role_trusts_only_the_tooling_deploy_role():
    trust = _load(STAGE_ACCESS)["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]
    for statement in _statements(trust):
        assert "aws:PrincipalArn" in statement["Condition"]["ArnEquals"], statement


@pytest.mark.parametrize("purpose", naming.STAGE_ACCESS_ROLES)
def test_stage_access_role_names_follow_naming(purpose):
    """stacks.py computes the ARNs the stage stacks get from naming.py: the template must agree."""
    resources = _load(STAGE_ACCESS)["Resources"]
    names = {
        resource["Properties"]["RoleName"]["Fn::If"][1]: resource["Properties"]["RoleName"]["Fn::If"][2]["Fn::Sub"]
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Role" and "Fn::If" in resource["Properties"]["RoleName"]
    }
    shared = naming.stage_access_role(purpose)
    assert shared in names
    one = naming.stage_access_role(purpose, "p-x", "prod")
    assert names[shared].replace("${ProjectId}", "p-x").replace("${StageName}", "prod") == one


def test_templates_are_found():
    assert TEMPLATES, "no CloudFormation templates under app_infra/"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_cfn_lint_reports_no_errors_or_warnings(template):
    problems = [f"{match.rule.id} line {match.linenumber}: {match.message}" for match in lint_file(template)]
    assert not problems, "\n".join(problems)


def test_no_statement_allows_every_action_on_every_resource():
    for where, document in _policy_documents():
        for statement in _statements(document):
            actions, resources = _as_list(statement.get("Action", [])), _as_list(statement.get("Resource", []))
            wildcard_action = any(action == "*" or str(action).endswith(":*") for action in actions)
            assert not (wildcard_action and "*" in resources), f"{where}: {statement}"


def test_roles_only_grant_named_actions():
    for where, document in _policy_documents():
        for statement in _statements(document):
            for action in _as_list(statement["Action"]):
                assert "*" not in action, f"{where}: wildcard action {action}"


# APIs without resource-level permissions (see the Service Authorization Reference): the only
# ones a statement may grant on every resource.
UNSCOPED_APIS = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "kms:CreateKey",
    "kms:ListAliases",
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:DeleteScalingPolicy",
    "application-autoscaling:DescribeScalingPolicies",
}


def test_role_statements_on_every_resource_are_the_unscoped_apis_only():
    for where, document in _policy_documents():
        for statement in _statements(document):
            if "*" in _as_list(statement["Resource"]):
                assert set(_as_list(statement["Action"])) <= UNSCOPED_APIS, f"{where}: {statement}"


def test_every_bucket_is_kms_encrypted_private_and_tls_only():
    buckets = _resources("AWS::S3::Bucket")
    policies = {
        properties["Bucket"]["Ref"]: properties["PolicyDocument"]
        for _, _, properties in _resources("AWS::S3::BucketPolicy")
    }
    for path, name, properties in buckets:
        encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", name
        assert "KMSMasterKeyID" in encryption["ServerSideEncryptionByDefault"], name
        assert all(properties["PublicAccessBlockConfiguration"].values()), name
        assert len(properties["PublicAccessBlockConfiguration"]) == 4, name
        denies = [
            statement
            for statement in _statements(policies[name])
            if statement["Effect"] == "Deny" and statement["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        ]
        assert denies, f"{path.name}:{name} has no TLS-only bucket policy"


def test_kms_keys_rotate():
    for path, name, properties in _resources("AWS::KMS::Key"):
        assert properties["EnableKeyRotation"] is True, f"{path.name}:{name}"


def test_data_capture_and_endpoint_storage_are_encrypted():
    for _, name, properties in _resources("AWS::SageMaker::EndpointConfig"):
        assert properties["DataCaptureConfig"]["KmsKeyId"], name
        assert properties["KmsKeyId"], name


def test_log_groups_are_encrypted_and_expire():
    for _, name, properties in _resources("AWS::Logs::LogGroup"):
        assert properties["KmsKeyId"] and properties["RetentionInDays"], name


def test_endpoint_rolls_back_on_its_alarms():
    for _, _, properties in _resources("AWS::SageMaker::Endpoint"):
        alarms = properties["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
        assert {alarm["AlarmName"]["Ref"] for alarm in alarms} == {"ErrorsAlarm", "LatencyAlarm"}


# An approved model with a registered data-quality baseline (the monitoring stack compares against it).
MODEL = ApprovedModel(
    "arn:aws:sagemaker:us-east-1:111111111111:model-package/g/1",
    "g",
    1,
    "s3://b/m.tar.gz",
    "i",
    baseline_statistics_uri="s3://baseline-bucket/baseline/statistics.json",
    baseline_constraints_uri="s3://baseline-bucket/baseline/constraints.json",
)

# A configuration with every section, so every stack's parameters can be rendered.
COMPLETE_CONFIG = {
    "stage": "staging",
    "on_drift": "retrain",
    "realtime": {
        "instance_type": "ml.m5.large",
        "initial_instance_count": 2,
        "autoscaling": {"min_capacity": 2, "max_capacity": 4, "target_invocations_per_instance": 100},
        "data_capture": {"enabled": True, "sampling_percentage": 50},
        "monitoring": {
            "enabled": True,
            "schedule_expression": "cron(0 * ? * * *)",
            "instance_type": "ml.m5.large",
            "instance_count": 1,
            "max_runtime_seconds": 1800,
            "data_quality": {"enabled": True, "drift_threshold": 0.1},
            "model_quality": {
                "enabled": True,
                "ground_truth_prefix": "ground-truth/",
                "constraints": {"rmse": {"threshold": 75.0, "comparison_operator": "GreaterThanThreshold"}},
            },
        },
        "deployment": {
            "strategy": "linear",
            "linear_step_percent": 25,
            "wait_interval_seconds": 60,
            "maximum_execution_timeout_seconds": 1800,
        },
        "alarms": {"invocation_5xx_errors_threshold": 1, "model_latency_p99_ms": 250},
    },
    "api": {
        "throttling_rate_limit": 10,
        "throttling_burst_limit": 20,
        "max_payload_bytes": 100000,
        "max_records": 50,
    },
    "batch": {
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "processing_instance_type": "ml.m5.large",
        "schedule": "rate(1 day)",
        "input_prefix": "in/",
        "output_prefix": "out/",
    },
}


def test_the_complete_configuration_is_valid():
    inference_config.validate(COMPLETE_CONFIG, "staging", REPO_ROOT / "inference_config")


@pytest.mark.parametrize("spec", stacks.STACKS, ids=lambda spec: spec.part)
def test_rendered_parameters_match_the_template(spec, settings):
    if not spec.template_path(REPO_ROOT).is_file():
        pytest.skip(f"{spec.template} is not part of this repository")
    declared = _load(spec.template_path(REPO_ROOT))["Parameters"]
    model = MODEL
    context = stacks.StageContext(settings, "staging", COMPLETE_CONFIG, model, ["age"], account_id="123456789012")
    rendered = spec.parameters(context)
    required = {name for name, parameter in declared.items() if "Default" not in parameter}
    assert set(rendered) <= set(declared), f"{spec.template} lacks {set(rendered) - set(declared)}"
    assert required <= set(rendered), f"stacks.py does not set {required - set(rendered)}"


@pytest.mark.parametrize("spec", stacks.STACKS, ids=lambda spec: spec.part)
@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_rendered_values_meet_the_template_constraints(spec, stage, settings):
    """CloudFormation would refuse a value outside AllowedPattern, AllowedValues or the bounds."""
    if not spec.template_path(REPO_ROOT).is_file():
        pytest.skip(f"{spec.template} is not part of this repository")
    declared = _load(spec.template_path(REPO_ROOT))["Parameters"]
    model = MODEL
    config = {**COMPLETE_CONFIG, "stage": stage}
    context = stacks.StageContext(
        settings, stage, config, model, ["age", "sex"], "project/deploy/x/lambda.zip", "123456789012"
    )
    for name, value in stacks.template_configuration(context, spec)["Parameters"].items():
        _check_constraints(f"{spec.template}:{name}", declared[name], value)


def _check_constraints(where: str, parameter: dict, value: str) -> None:
    if "AllowedPattern" in parameter:
        assert re.fullmatch(parameter["AllowedPattern"], value), f"{where}: {value!r} !~ {parameter['AllowedPattern']}"
    if "AllowedValues" in parameter:
        assert value in [str(allowed) for allowed in parameter["AllowedValues"]], f"{where}: {value!r}"
    if parameter["Type"] == "Number":
        number = float(value)
        assert number >= float(parameter.get("MinValue", number)), f"{where}: {value} below MinValue"
        assert number <= float(parameter.get("MaxValue", number)), f"{where}: {value} above MaxValue"


def test_model_approval_parameters_match_the_template(settings):
    declared = _load(REPO_ROOT / stacks.MODEL_APPROVAL_TEMPLATE)["Parameters"]
    rendered = stacks.model_approval_parameters(settings, "sagemaker-pipeline", "111122223333")
    assert set(rendered) == set(declared)
    for name, value in rendered.items():
        _check_constraints(name, declared[name], value)


def _stage_access_parameters(settings, stage) -> list[dict[str, str]]:
    return [
        stacks.stage_access_parameters(settings, stage, "111122223333"),
        stacks.stage_access_parameters(settings, stage, "111122223333", "arn:aws:iam::111122223333:role/deployer"),
        stacks.shared_stage_access_parameters("111122223333"),
    ]


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_stage_access_parameters_match_the_template(settings, stage):
    declared = _load(STAGE_ACCESS)["Parameters"]
    required = {name for name, parameter in declared.items() if "Default" not in parameter}
    for rendered in _stage_access_parameters(settings, stage):
        assert required <= set(rendered) <= set(declared), set(rendered) ^ set(declared)
        for name, value in rendered.items():
            _check_constraints(name, declared[name], value)
