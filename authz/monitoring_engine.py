"""Run-time calls of the processing monitoring engine (the deploy repository's
app_infra/monitoring/monitoring.yaml with Engine=processing), each against the stage-access role
that makes it in AWS:

- the schedule rule starts the monitoring pipeline as the monitoring-schedule role;
- SageMaker Pipelines creates the processing step's job as the pipeline's role (the monitoring
  role), passing that same role to the job;
- the job (mlops_template_kit.monitor.processing) pulls the scikit-learn image, reads its code,
  the capture window, the baseline and the model-quality constraints, writes its reports and
  publishes its metrics in the stack's namespace, all as the monitoring role.

The calls are derived from the stack's parameters the kit's deploy code computes (authz/stage_params.py),
so a renamed bucket, prefix, pipeline or namespace is asked as it would be made. A stage in its own
account reads the tooling account's baseline through authz.crossaccount (as Model Monitor did);
here only its same-account calls are asked.
"""

from __future__ import annotations

from collections.abc import Iterator

from authz.evaluate import Request
from authz.stack import ACCOUNT

REGION = "us-east-1"
SCHEDULE_ROLE, JOB_ROLE = "stage-monitoring-schedule", "stage-monitoring"
# A job SageMaker Pipelines starts is named pipelines-<execution id>-<step>-<suffix>.
JOB_NAME = "pipelines-0a1b2c3d4e5f-Monitor-6a7b8c9d0e"
CAPTURE_OBJECT = "2026/12/03/06/capture-0.jsonl"


def _s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _object(uri: str) -> str:
    return "arn:aws:s3:::" + uri.removeprefix("s3://")


def runtime_requests(parameters: dict[str, str], project_id: str) -> Iterator[tuple[str, Request]]:
    """(role key, request) of every call one monitoring run makes."""
    pipeline = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{parameters['MonitoringPipelineName']}"
    yield SCHEDULE_ROLE, Request("sagemaker:StartPipelineExecution", pipeline)
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{JOB_NAME.lower()}"
    yield JOB_ROLE, Request("sagemaker:CreateProcessingJob", job)
    yield JOB_ROLE, Request("sagemaker:AddTags", job)
    passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    yield JOB_ROLE, Request("iam:PassRole", parameters["MonitoringRoleArn"], passed)
    registry, _, repository = parameters["ProcessingImageUri"].partition("/")
    image = f"arn:aws:ecr:{REGION}:{registry.split('.')[0]}:repository/{repository.split(':')[0]}"
    yield JOB_ROLE, Request("ecr:GetAuthorizationToken", "*")
    yield JOB_ROLE, Request("ecr:BatchGetImage", image)
    yield JOB_ROLE, Request("ecr:GetDownloadUrlForLayer", image)
    code_bucket, code_prefix = _s3(parameters["MonitorCodeUri"])
    yield JOB_ROLE, Request("s3:ListBucket", f"arn:aws:s3:::{code_bucket}", {"s3:prefix": code_prefix})
    yield JOB_ROLE, Request("s3:GetObject", _object(parameters["MonitorCodeUri"] + "mlops_template_kit/__init__.py"))
    capture = f"{parameters['DataCaptureBucketName']}/datacapture/{parameters['EndpointName']}/AllTraffic"
    yield (
        JOB_ROLE,
        Request(
            "s3:ListBucket",
            f"arn:aws:s3:::{parameters['DataCaptureBucketName']}",
            {"s3:prefix": capture.split("/", 1)[1]},
        ),
    )
    yield JOB_ROLE, Request("s3:GetObject", f"arn:aws:s3:::{capture}/{CAPTURE_OBJECT}")
    for name in ("BaselineStatisticsUri", "BaselineConstraintsUri", "ModelQualityConstraintsUri"):
        if parameters.get(name):
            yield JOB_ROLE, Request("s3:GetObject", _object(parameters[name]))
    reports = f"arn:aws:s3:::{parameters['DataCaptureBucketName']}/monitoring/data-quality/2026/12/03/06"
    yield JOB_ROLE, Request("s3:PutObject", f"{reports}/constraint_violations.json")
    # The capture bucket's data key, used through S3 for the reads and the report writes.
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0a1b2c3d-0000-4000-8000-000000000001"
    through_s3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com", "aws:ResourceTag/sagemaker:project-id": project_id}
    yield JOB_ROLE, Request("kms:Decrypt", key, through_s3)
    yield JOB_ROLE, Request("kms:GenerateDataKey", key, through_s3)
    # PutMetricData has no resource; the namespace is its condition key
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html).
    namespace = {"cloudwatch:namespace": parameters["MetricNamespace"]}
    yield JOB_ROLE, Request("cloudwatch:PutMetricData", "*", namespace)


def uses_processing(entry: dict) -> bool:
    return entry["part"] == "monitoring" and entry["Parameters"].get("Engine") == "processing"


def check(ledger, entry: dict) -> None:
    """Ask every run-time call of a processing-engine monitoring stack (entry: authz/stage_params.py's)
    of the role that makes it: the account-wide stage access's, or that stage's own access."""
    from authz.roles import stage_access_roles

    tags = entry["Tags"]
    project_id = (
        tags["sagemaker:project-id"]
        if isinstance(tags, dict)
        else next(tag["Value"] for tag in tags if tag["Key"] == "sagemaker:project-id")
    )
    for role, request in runtime_requests(entry["Parameters"], project_id):
        key = role
        if entry.get("access"):
            key = f"{role}@{entry['stage']}-account"
            ledger.roles.setdefault(key, stage_access_roles(entry["access"])[role])
        context = tuple(sorted(request.context.items()))
        ledger.ask(key, request.action, request.resource, context, f"stage monitoring run ({entry['stage']})")
