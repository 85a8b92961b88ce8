"""servicecatalog/mlflow-access.yaml: what the pipeline role needs to track runs in one SageMaker
managed MLflow server (the calls of the build-train seed's shared_libraries/tracking.py), granted on
that server and its artifact store and nothing else, as the support module's IAM evaluator decides.
cfn-lint, checkov and the authorization harness cover the stack as one of products.ACCOUNT_TEMPLATES."""

from __future__ import annotations

import re

import pytest

from authz.evaluate import Request, decide
from authz.roles import ROLES, with_platform
from scripts import products
from tests.bakery import payload_dir
from tests.test_servicecatalog_support import allowed, parameter_errors, resolve, statements, wildcard_grants

ACCOUNT = "123456789012"
REGION = "eu-west-1"
SERVER = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/team-tracking"
GIVEN = {
    "UseRoleName": "AmazonSageMakerServiceCatalogProductsExecutionRole",
    "MlflowResourceArn": SERVER,
    "ArtifactBucket": "acme-mlflow",
    "ArtifactPrefix": "",
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
}
ARTIFACT = "arn:aws:s3:::acme-mlflow/3/8c6ec7/artifacts/evaluation.json"
# The MLflow REST calls each MlflowClient method of tracking.py makes, as IAM actions.
CLIENT_CALLS = {
    "get_experiment_by_name": "GetExperimentByName",
    "create_experiment": "CreateExperiment",
    "create_run": "CreateRun",
    "log_batch": "LogBatch",
    "set_terminated": "UpdateRun",
    "get_run": "GetRun",
    "search_runs": "SearchRuns",
}


@pytest.fixture(scope="module")
def template() -> dict:
    return products.load_cloudformation(products.MLFLOW_ACCESS_FILE.read_text(encoding="utf-8"))


def policy_for(template: dict, given: dict) -> list[dict]:
    resource = template["Resources"]["MlflowTrackingPolicy"]
    return list(statements(resolve(resource["Properties"]["PolicyDocument"], template, given)))


@pytest.fixture(scope="module")
def policy(template) -> list[dict]:
    return policy_for(template, GIVEN)


def test_every_mlflow_call_of_the_steps_has_its_action_on_the_server(policy):
    source = (payload_dir("build-train") / "algorithms" / "shared_libraries" / "tracking.py").read_text()
    called = set(re.findall(r"self\.client\.(\w+)\(", source)) | set(re.findall(r"client\.(\w+)\(", source))
    called -= {"log_artifact", "log_artifacts"}  # S3 writes, checked below
    assert called <= set(CLIENT_CALLS), f"add the IAM action of {called - set(CLIENT_CALLS)}"
    for method in called:
        assert allowed(policy, f"sagemaker-mlflow:{CLIENT_CALLS[method]}", SERVER), method
    assert allowed(policy, "s3:PutObject", ARTIFACT)


def test_an_artifact_prefix_narrows_the_writes_to_it(template):
    narrowed = policy_for(template, {**GIVEN, "ArtifactPrefix": "mlflow/team"})
    assert allowed(narrowed, "s3:PutObject", "arn:aws:s3:::acme-mlflow/mlflow/team/3/r/artifacts/model/x.json")
    assert not allowed(narrowed, "s3:PutObject", ARTIFACT)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("sagemaker-mlflow:CreateRun", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/other"),
        ("sagemaker-mlflow:DeleteExperiment", SERVER),
        ("sagemaker-mlflow:DeleteRun", SERVER),
        ("sagemaker-mlflow:AccessUI", SERVER),
        ("sagemaker:DeleteMlflowTrackingServer", SERVER),
        ("s3:GetObject", ARTIFACT),
        ("s3:DeleteObject", ARTIFACT),
        ("s3:PutObject", "arn:aws:s3:::another-bucket/x"),
    ],
)
def test_nothing_beyond_tracking_runs_in_the_named_server(policy, action, resource):
    assert not allowed(policy, action, resource)


def test_no_wildcard_actions_and_no_star_resource(template, policy):
    assert wildcard_grants(template) == []
    assert not [action for statement in policy for action in statement["Action"] if "*" in action]
    assert all(statement["Resource"] != "*" for statement in policy)


def test_the_policy_is_attached_to_the_role_pipelines_run_as(template):
    resource = template["Resources"]["MlflowTrackingPolicy"]
    assert resource["Type"] == "AWS::IAM::ManagedPolicy"
    assert resolve(resource["Properties"]["Roles"], template, GIVEN) == [GIVEN["UseRoleName"]]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MlflowResourceArn", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-app/app-abc123"),
        ("MlflowResourceArn", SERVER),
        ("ArtifactPrefix", "mlflow/team"),
    ],
)
def test_valid_parameters_are_accepted(template, name, value):
    assert parameter_errors(template, {**stack_parameters(), name: value}) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MlflowResourceArn", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/nb"),
        ("MlflowResourceArn", "*"),
        ("ArtifactPrefix", "/leading-slash"),
        ("ArtifactBucket", "Not_A_Bucket"),
    ],
)
def test_a_parameter_that_could_widen_the_grant_is_refused(template, name, value):
    assert parameter_errors(template, {**stack_parameters(), name: value})


def stack_parameters() -> dict:
    return {key: value for key, value in GIVEN.items() if not key.startswith("AWS::")}


def test_the_seed_readme_points_at_this_stack():
    readme = (payload_dir("build-train") / "ml_pipelines" / "README.md").read_text(encoding="utf-8")
    assert "servicecatalog/mlflow-access.yaml" in readme


def test_the_harness_finds_the_execution_role_needs_this_stack_and_gets_every_call_with_it():
    """The authorization harness's view: the pipelines' role (AmazonSageMakerFullAccess snapshot)
    has no MLflow data-plane action; with the stack attached, every call of the steps is allowed."""
    needed = [Request(f"sagemaker-mlflow:{action}", SERVER, {}) for action in CLIENT_CALLS.values()]
    needed.append(Request("s3:PutObject", ARTIFACT, {}))
    alone = ROLES["execution"].policies
    assert not any(decide(alone, request).allowed for request in needed[:-1])
    role = with_platform("execution", products.MLFLOW_ACCESS_FILE, stack_parameters())
    denied = [request.action for request in needed if not decide(role.policies, request).allowed]
    assert denied == []


def test_the_launch_role_cannot_create_a_tracking_server_so_no_product_creates_one():
    """Why the products use an existing server (this stack) and create none per project: the
    managed launch role's policy snapshot has no sagemaker:CreateMlflowTrackingServer."""
    server = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/sagemaker-p-1"
    launch = ROLES["launch"].policies
    assert not decide(launch, Request("sagemaker:CreateMlflowTrackingServer", server, {})).allowed
