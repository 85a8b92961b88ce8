"""The products' lifecycle function: seed check-in and teardown, against moto and a real HTTP
endpoint standing in for CloudFormation's pre-signed response URL."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTION_FILE = REPO_ROOT / "servicecatalog" / "functions" / "project_lifecycle.py"
# The folder of the kit's naming module, which `make package` zips beside the function.
KIT_MODULES = REPO_ROOT / "packages" / "mlops-template-kit" / "src" / "mlops_template_kit"
REGION = "us-east-1"
NAME, PROJECT_ID = "churn-model", "p-abc123def456"
OTHER_NAME, OTHER_ID = "churn-model-p-abc123def456-x", "p-other0000000"
BUCKET = f"sagemaker-project-{PROJECT_ID}"
SIMPLE_STACK = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def load_function():
    """Import the function as Lambda does: its folder and the packaged naming module on the path."""
    sys.path.insert(0, str(KIT_MODULES))
    try:
        spec = importlib.util.spec_from_file_location("project_lifecycle_under_test", FUNCTION_FILE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(KIT_MODULES))
    module.sleep = lambda seconds: None
    return module


class Context:
    """The part of the Lambda context the function uses."""

    def __init__(self, remaining_ms: int = 900_000):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def response_url():
    """A local server that records the PUT bodies sent to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):  # noqa: N802 - http.server's naming
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/response", received
    server.shutdown()
    server.server_close()


def _delete_model_package(params: dict, **kwargs) -> tuple:
    """DeleteModelPackage for moto, which lacks it: remove the version from moto's registry."""
    backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]
    request = json.loads(params["body"])  # before-call sees the serialized JSON request
    arn = backend.model_package_name_mapping.pop(request["ModelPackageName"])
    package = backend.model_packages.pop(arn)
    backend.model_package_name_mapping.pop(package.model_package_name, None)
    return AWSResponse("https://sagemaker", 200, {}, None), {}


def _delete_model_package_group(params: dict, **kwargs) -> tuple:
    """DeleteModelPackageGroup for moto, which lacks it; checks the teardown emptied the group first."""
    backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]
    name = json.loads(params["body"])["ModelPackageGroupName"]
    if any(package.model_package_group_name == name for package in backend.model_packages.values()):
        raise AssertionError(f"group {name} deleted while it still has model versions")
    backend.model_package_groups.pop(name)
    return AWSResponse("https://sagemaker", 200, {}, None), {}


@pytest.fixture
def aws(monkeypatch):
    real_client = boto3.client

    def client(service: str, *args, **kwargs):
        made = real_client(service, *args, **{"region_name": REGION, **kwargs})
        if service == "sagemaker":
            made.meta.events.register("before-call.sagemaker.DeleteModelPackage", _delete_model_package)
            made.meta.events.register("before-call.sagemaker.DeleteModelPackageGroup", _delete_model_package_group)
        return made

    with mock_aws():
        monkeypatch.setattr(boto3, "client", client)
        yield


def event(kind: str, request: str, url: str, **properties) -> dict:
    return {
        "RequestType": request,
        "ResourceType": kind,
        "ResponseURL": url,
        "StackId": f"arn:aws:cloudformation:{REGION}:123456789012:stack/SC-123-pp-abc/uuid",
        "RequestId": "request-1",
        "LogicalResourceId": "ProjectTeardown" if kind == "Custom::ProjectTeardown" else "BuildRepositorySeed",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:fn", **properties},
    }


def teardown_event(request: str, url: str) -> dict:
    return event("Custom::ProjectTeardown", request, url, ProjectName=NAME, ProjectId=PROJECT_ID, ArtifactBucket=BUCKET)


def make_project_resources():
    """What CI would have created for the project, and look-alikes that belong to others."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    for stack, tags in [
        (f"sagemaker-{NAME}-{PROJECT_ID}-staging-endpoint", [{"Key": "sagemaker:project-id", "Value": PROJECT_ID}]),
        (f"sagemaker-{NAME}-{PROJECT_ID}-prod-endpoint", []),
        # Same name prefix, but tagged as another project's: must survive.
        (f"sagemaker-{NAME}-{PROJECT_ID}-x-endpoint", [{"Key": "sagemaker:project-id", "Value": OTHER_ID}]),
        ("sagemaker-unrelated-stack", []),
    ]:
        cloudformation.create_stack(StackName=stack, TemplateBody=SIMPLE_STACK, Tags=tags)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    definition = json.dumps({"Version": "2020-12-01", "Steps": []})
    role = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole"
    for pipeline in (f"{NAME}-{PROJECT_ID}-training", f"{NAME}-{PROJECT_ID}-training-feature-x", "other-pipeline"):
        sagemaker.create_pipeline(PipelineName=pipeline, PipelineDefinition=definition, RoleArn=role)
    for group in (f"{NAME}-{PROJECT_ID}", f"{NAME}-{PROJECT_ID}-feature-x", "other-group"):
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
        for _ in range(2):
            sagemaker.create_model_package(
                ModelPackageGroupName=group,
                InferenceSpecification={
                    "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )
    s3 = boto3.client("s3", region_name=REGION)
    # Unversioned, as the product creates it (the managed launch role cannot enable versioning).
    s3.create_bucket(Bucket=BUCKET)
    for number in range(3):
        s3.put_object(Bucket=BUCKET, Key=f"{NAME}/branches/b{number}/data.csv", Body=f"v{number}".encode())


def live_stacks() -> set[str]:
    stacks = boto3.client("cloudformation", region_name=REGION).describe_stacks()["Stacks"]
    return {stack["StackName"] for stack in stacks if stack["StackStatus"] != "DELETE_COMPLETE"}


def test_teardown_removes_what_ci_created_and_nothing_else(aws, response_url):
    url, received = response_url
    make_project_resources()
    load_function().handler(teardown_event("Delete", url), Context())

    assert received[-1]["Status"] == "SUCCESS", received[-1]["Reason"]
    assert live_stacks() == {f"sagemaker-{NAME}-{PROJECT_ID}-x-endpoint", "sagemaker-unrelated-stack"}
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    pipelines = {item["PipelineName"] for item in sagemaker.list_pipelines()["PipelineSummaries"]}
    assert pipelines == {"other-pipeline"}
    groups = {
        item["ModelPackageGroupName"] for item in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    }
    # CI creates every group of the project, the main one too: the teardown deletes them all.
    assert groups == {"other-group"}
    assert len(sagemaker.list_model_packages(ModelPackageGroupName="other-group")["ModelPackageSummaryList"]) == 2
    assert "Contents" not in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)


def test_teardown_twice_is_harmless(aws, response_url):
    url, received = response_url
    make_project_resources()
    function = load_function()
    function.handler(teardown_event("Delete", url), Context())
    function.handler(teardown_event("Delete", url), Context())
    assert [answer["Status"] for answer in received] == ["SUCCESS", "SUCCESS"]


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_teardown_does_nothing_until_delete(aws, response_url, request_type):
    url, received = response_url
    make_project_resources()
    load_function().handler(teardown_event(request_type, url), Context())
    assert received[-1]["Status"] == "SUCCESS"
    assert f"sagemaker-{NAME}-{PROJECT_ID}-staging-endpoint" in live_stacks()
    assert boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)["KeyCount"] == 3


def test_teardown_reports_stacks_still_deleting_when_time_runs_out(aws, response_url, monkeypatch):
    url, received = response_url
    make_project_resources()
    function = load_function()
    monkeypatch.setattr(function, "_stack_status", lambda client, name: "DELETE_IN_PROGRESS")
    function.handler(teardown_event("Delete", url), Context(remaining_ms=35_000))
    assert received[-1]["Status"] == "FAILED"
    assert "still deleting" in received[-1]["Reason"] and "delete the project again" in received[-1]["Reason"]


def test_teardown_reports_a_stack_that_cannot_be_deleted(aws, response_url, monkeypatch):
    url, received = response_url
    make_project_resources()
    function = load_function()
    monkeypatch.setattr(function, "_stack_status", lambda client, name: "DELETE_FAILED")
    function.handler(teardown_event("Delete", url), Context())
    assert received[-1]["Status"] == "FAILED"
    assert "could not delete stack" in received[-1]["Reason"]


def test_failures_are_reported_not_raised(aws, response_url):
    """A missing bucket (an AWS error) still answers CloudFormation, with the reason."""
    url, received = response_url
    load_function().handler(teardown_event("Delete", url), Context())
    assert received[-1]["Status"] == "FAILED"
    assert "NoSuchBucket" in received[-1]["Reason"]


def test_unknown_resource_type_fails_clearly(response_url):
    url, received = response_url
    load_function().handler(event("Custom::Something", "Create", url), Context())
    assert received[-1]["Status"] == "FAILED"
    assert "unknown custom resource type Custom::Something" in received[-1]["Reason"]
    assert received[-1]["PhysicalResourceId"].startswith("BuildRepositorySeed-")


def seed_event(request: str, url: str) -> dict:
    return event(
        "Custom::SeedRepository",
        request,
        url,
        SeedProject=f"sagemaker-{NAME}-{PROJECT_ID}-seed",
        RepositoryUrl="https://codeconnections.us-east-1.amazonaws.com/git-http/123456789012/us-east-1/abc/org/repo.git",
        Branch="main",
        SeedBucket="mlops-project-templates-123456789012-us-east-1",
        SeedKey="1.0.0/seeds/build-train-regression-xgboost.zip",
    )


def test_seed_runs_the_seed_build_with_the_repository_settings(aws, response_url):
    url, received = response_url
    codebuild = boto3.client("codebuild", region_name=REGION)
    codebuild.create_project(
        name=f"sagemaker-{NAME}-{PROJECT_ID}-seed",
        source={"type": "NO_SOURCE", "location": "none", "buildspec": "version: 0.2"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "img", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole",
    )
    load_function().handler(seed_event("Create", url), Context())
    assert received[-1]["Status"] == "SUCCESS", received[-1]["Reason"]
    assert received[-1]["Data"]["RepositoryUrl"].endswith("/org/repo.git")
    (build_id,) = codebuild.list_builds()["ids"]
    assert build_id.startswith(f"sagemaker-{NAME}-{PROJECT_ID}-seed")


def test_seed_failure_reports_the_build_and_the_likely_cause(response_url, monkeypatch):
    url, received = response_url
    function = load_function()
    codebuild = boto3.client("codebuild", region_name=REGION)
    stubber = Stubber(codebuild)
    # A build id as CodeBuild forms it (<project>:<uuid>): the recorded calls are checked on that project.
    build = f"sagemaker-{NAME}-{PROJECT_ID}-seed:1"
    stubber.add_response("start_build", {"build": {"id": build, "buildStatus": "IN_PROGRESS"}})
    stubber.add_response("batch_get_builds", {"builds": [{"id": build, "buildStatus": "IN_PROGRESS"}]})
    stubber.add_response("batch_get_builds", {"builds": [{"id": build, "buildStatus": "FAILED"}]})
    monkeypatch.setattr(function.boto3, "client", lambda service: codebuild)
    with stubber:
        function.handler(seed_event("Create", url), Context())
    stubber.assert_no_pending_responses()
    assert received[-1]["Status"] == "FAILED"
    assert f"{build} ended FAILED" in received[-1]["Reason"] and "SeedRepositories=no" in received[-1]["Reason"]


@pytest.mark.parametrize("request_type", ["Update", "Delete"])
def test_seed_never_touches_repository_content_after_create(response_url, monkeypatch, request_type):
    url, received = response_url
    function = load_function()
    monkeypatch.setattr(function.boto3, "client", lambda service: pytest.fail("no AWS call expected"))
    function.handler({**seed_event(request_type, url), "PhysicalResourceId": "kept-id"}, Context())
    assert received[-1]["Status"] == "SUCCESS"
    assert received[-1]["PhysicalResourceId"] == "kept-id"


# --- feature-branch builds started for the CodeCommit rules ------------------------------------

BRANCH_PROJECT = f"sagemaker-{NAME}-{PROJECT_ID}-modelbuild-branches"


def branch_request(**changes) -> dict:
    request = {
        "projectName": BRANCH_PROJECT,
        "sourceVersion": "3f786850e387550fdab836ed7e6dc881de23001b",
        "environmentVariablesOverride": [
            {"name": "BRANCH_NAME", "value": "feature/x", "type": "PLAINTEXT"},
            {"name": "APPROVE_ON_MERGE", "value": "false", "type": "PLAINTEXT"},
        ],
    }
    return {**request, **changes}


def test_a_branch_event_starts_the_feature_branch_build_it_names(aws):
    codebuild = boto3.client("codebuild", region_name=REGION)
    codebuild.create_project(
        name=BRANCH_PROJECT,
        source={"type": "CODECOMMIT", "location": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/r"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "img", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole",
    )
    started = load_function().handler({"FeatureBranchBuild": branch_request()}, Context())
    (build_id,) = codebuild.list_builds_for_project(projectName=BRANCH_PROJECT)["ids"]
    assert started == {"id": build_id}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"projectName": f"sagemaker-{NAME}-{PROJECT_ID}-seed"}, "not a feature-branch build project"),
        ({"projectName": "other-modelbuild-branches"}, "not a feature-branch build project"),
        ({"serviceRoleOverride": "arn:aws:iam::123456789012:role/admin"}, "may only set"),
        ({"buildspecOverride": "version: 0.2"}, "may only set"),
        (
            {"environmentVariablesOverride": [{"name": "AWS_ACCESS_KEY_ID", "value": "x", "type": "PLAINTEXT"}]},
            "'AWS_ACCESS_KEY_ID' is not allowed",
        ),
        (
            {"environmentVariablesOverride": [{"name": "APPROVE_ON_MERGE", "value": "true", "type": "PLAINTEXT"}]},
            "'APPROVE_ON_MERGE' is not allowed",
        ),
        (
            {"environmentVariablesOverride": [{"name": "BRANCH_NAME", "value": "x", "type": "PARAMETER_STORE"}]},
            "'BRANCH_NAME' is not allowed",
        ),
    ],
    ids=["seed-project", "not-sagemaker", "role", "buildspec", "credentials", "approval", "parameter-store"],
)
def test_a_branch_event_cannot_start_anything_else(monkeypatch, changes, message):
    """Anyone allowed to invoke the function gets no more than the rules' own requests."""
    function = load_function()
    monkeypatch.setattr(function.boto3, "client", lambda service: pytest.fail("no AWS call expected"))
    with pytest.raises(function.LifecycleError, match=message):
        function.handler({"FeatureBranchBuild": branch_request(**changes)}, Context())
