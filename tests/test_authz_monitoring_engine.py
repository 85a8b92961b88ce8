"""authz.monitoring_engine: every run-time call of the processing monitoring engine is allowed to the
stage-access role that makes it, and each needed statement is load-bearing (removing it denies)."""

from __future__ import annotations

import pytest

from authz import monitoring_engine
from authz.evaluate import decide
from authz.roles import EVERY_PROJECT_STAGE_ACCESS, Role, stage_access_roles, without_statement

ACCOUNT = "123456789012"
PROJECT_ID = "p-abc123def456"
# The monitoring stack's parameters as the kit's deploy code gives them in the account-wide form
# (mlops_template_kit/deploy/stacks.py monitoring_parameters; the authz harness uses the real ones).
PARAMETERS = {
    "Engine": "processing",
    "EndpointName": f"churn-{PROJECT_ID}-staging",
    "MonitoringRoleArn": f"arn:aws:iam::{ACCOUNT}:role/sagemaker-all-projects-monitoring",
    "DataCaptureBucketName": f"sagemaker-{PROJECT_ID}-staging-datacapture",
    "ProcessingImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
    "MonitorCodeUri": f"s3://sagemaker-project-{PROJECT_ID}/churn/deploy/b1/monitor-code/",
    "BaselineStatisticsUri": f"s3://sagemaker-project-{PROJECT_ID}/churn/baseline/statistics.json",
    "BaselineConstraintsUri": f"s3://sagemaker-project-{PROJECT_ID}/churn/baseline/constraints.json",
    "ModelQualityConstraintsUri": f"s3://sagemaker-project-{PROJECT_ID}/churn/deploy/b1/monitoring/staging/mq.json",
    "MetricNamespace": f"sagemaker-{PROJECT_ID}/monitoring",
    "MonitoringPipelineName": f"churn-{PROJECT_ID}-monitoring-staging",
}


@pytest.fixture(scope="module")
def roles() -> dict[str, Role]:
    return stage_access_roles(EVERY_PROJECT_STAGE_ACCESS)


def _answers(roles: dict[str, Role], parameters: dict[str, str] = PARAMETERS) -> dict[tuple[str, str, str], bool]:
    answers = {}
    for key, request in monitoring_engine.runtime_requests(parameters, PROJECT_ID):
        role = roles[key]
        answers[(key, request.action, request.resource)] = decide(role.policies, request, role.boundary).allowed
    return answers


def test_every_call_of_a_monitoring_run_is_allowed(roles):
    answers = _answers(roles)
    assert len(answers) >= 15
    assert all(answers.values()), [call for call, allowed in answers.items() if not allowed]


@pytest.mark.parametrize(
    ("sid", "action"),
    [
        ("StartMonitoringPipeline", "sagemaker:StartPipelineExecution"),
        ("RunMonitoringJobs", "sagemaker:CreateProcessingJob"),
        ("PassOwnRoleToJobs", "iam:PassRole"),
        ("PullMonitorImage", "ecr:BatchGetImage"),
        ("ListMonitorCode", "s3:ListBucket"),
        ("WriteReports", "s3:PutObject"),
        ("PublishMonitorMetrics", "cloudwatch:PutMetricData"),
    ],
)
def test_removing_a_needed_statement_denies_its_call(roles, sid, action):
    denied = [call for call, allowed in _answers(without_statement(roles, sid)).items() if not allowed]
    assert action in {asked for _role, asked, _resource in denied}
    assert len(denied) < len(_answers(roles)) / 2  # that statement's calls, not the run's


def test_metrics_in_another_namespace_are_denied(roles):
    # The account-wide form allows every project's sagemaker-<id>/monitoring, nothing else.
    answers = _answers(roles, {**PARAMETERS, "MetricNamespace": "Custom/monitoring"})
    assert [call for call, allowed in answers.items() if not allowed] == [
        ("stage-monitoring", "cloudwatch:PutMetricData", "*")
    ]
