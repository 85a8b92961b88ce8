"""The pipeline's AWS side against moto and Stubber: the code upload, upsert, the model package
group, start and wait; and the generic SDK helpers a step graph uses."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from mlops_template_kit.pipeline import aws, repo, settings

BUILD_ID = "20261122T133000Z-1a2b3c4"
ROLE_ARN = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"


@pytest.fixture
def project(build_train_repo, monkeypatch) -> settings.Settings:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return repo.settings_of(build_train_repo, {"BUILD_ID": BUILD_ID, "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE_ARN})


@pytest.fixture
def definition(build_train_repo, project) -> str:
    return repo.build(build_train_repo, project)[2]


def test_upload_code_ships_the_step_code_and_config_under_the_build_id(build_train_repo, project):
    with mock_aws():
        s3 = boto3.client("s3", region_name=project.region)
        s3.create_bucket(Bucket=project.bucket)
        uploaded = aws.upload_code(project, build_train_repo, s3)
        keys = {item["Key"] for item in s3.list_objects_v2(Bucket=project.bucket)["Contents"]}
        prefix = f"{project.project_name}/code/{BUILD_ID}/"
        assert keys == {uri.removeprefix(f"s3://{project.bucket}/") for uri in uploaded}
        assert keys == {
            f"{prefix}algorithms/training/train/__main__.py",
            f"{prefix}algorithms/shared/__init__.py",
            f"{prefix}sourcedir.tar.gz",
            f"{prefix}input.json",
        }
        config = s3.get_object(Bucket=project.bucket, Key=f"{prefix}input.json")["Body"].read()
        assert config == (build_train_repo / aws.CONFIG).read_bytes()
        archive = s3.get_object(Bucket=project.bucket, Key=f"{prefix}sourcedir.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert set(tar.getnames()) == {"shared/__init__.py", "training/train/__main__.py"}


def test_source_dir_archive_is_reproducible(build_train_repo):
    algorithms = build_train_repo / aws.ALGORITHMS
    first = aws.source_dir_archive(algorithms)
    (algorithms / "shared" / "__init__.py").touch()  # a newer mtime changes nothing
    assert aws.source_dir_archive(algorithms) == first


def test_upsert_creates_then_updates_the_tagged_pipeline(project, definition):
    with mock_aws():
        client = boto3.client("sagemaker", region_name=project.region)
        arn = aws.upsert(project, definition, client)
        assert aws.upsert(project, definition, client) == arn
        described = client.describe_pipeline(PipelineName=project.pipeline_name)
        assert json.loads(described["PipelineDefinition"]) == json.loads(definition)
        assert described["RoleArn"] == ROLE_ARN
        tags = {(tag["Key"], tag["Value"]) for tag in client.list_tags(ResourceArn=arn)["Tags"]}
    assert tags == {("sagemaker:project-name", project.project_name), ("sagemaker:project-id", project.project_id)}


def test_upsert_refuses_the_local_role_when_talking_to_aws(build_train_repo, definition):
    local = repo.settings_of(build_train_repo, {})
    with pytest.raises(settings.SettingsError, match="SAGEMAKER_PIPELINE_ROLE_ARN"):
        aws.upsert(local, definition, sagemaker_client=object())


def test_the_build_creates_the_tagged_model_package_group_once(project):
    """Products cannot create the group (the launch role lacks CreateModelPackageGroup): the build does."""
    with mock_aws():
        client = boto3.client("sagemaker", region_name=project.region)
        assert aws.ensure_model_package_group(project, client) is True
        assert aws.ensure_model_package_group(project, client) is False
        group = client.describe_model_package_group(ModelPackageGroupName=project.model_package_group)
        listed = client.list_tags(ResourceArn=group["ModelPackageGroupArn"])["Tags"]
    tags = {(tag["Key"], tag["Value"]) for tag in listed}
    assert tags == {("sagemaker:project-name", project.project_name), ("sagemaker:project-id", project.project_id)}


def test_a_group_created_concurrently_is_not_an_error_but_access_denied_is(project):
    client = boto3.client("sagemaker", region_name=project.region)
    missing = f"ModelPackageGroup {project.model_package_group} does not exist."
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_model_package_group", "ValidationException", missing)
        stubber.add_client_error("create_model_package_group", "ValidationException", "Group already exists")
        assert aws.ensure_model_package_group(project, client) is False
        stubber.add_client_error("describe_model_package_group", "AccessDeniedException", "not authorized")
        with pytest.raises(ClientError, match="not authorized"):
            aws.ensure_model_package_group(project, client)


def test_an_upsert_failing_for_another_reason_is_raised(project, definition):
    client = boto3.client("sagemaker", region_name=project.region)
    with Stubber(client) as stubber:
        stubber.add_client_error("create_pipeline", "AccessDeniedException", "not authorized to create")
        with pytest.raises(ClientError, match="not authorized to create"):
            aws.upsert(project, definition, client)


def test_start_names_the_execution_after_the_build(project, definition):
    with mock_aws():
        client = boto3.client("sagemaker", region_name=project.region)
        aws.upsert(project, definition, client)
        execution = aws.start(project, {"CodeUrl": "s3://elsewhere/"}, client)
        described = client.describe_pipeline_execution(PipelineExecutionArn=execution)
        parameters = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution)
    assert described["PipelineExecutionDisplayName"] == BUILD_ID
    assert {"Name": "CodeUrl", "Value": "s3://elsewhere/"} in parameters["PipelineParameters"]


TRACKING_SERVER = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/sagemaker-p-abc123-mlflow"


def tracking_defaults(build_train_repo, **variables: str) -> dict[str, str]:
    """The parameter defaults of the definition a CI build with these variables upserts (moto)."""
    from conftest import PIPELINE_MODULE

    module = build_train_repo / "ml_pipelines" / "training" / "ml-pipeline-training.py"
    tracked = PIPELINE_MODULE.replace(
        "    stop = ", '    tracking = ParameterString(name="MlflowTrackingUri", default_value="")\n    stop = '
    ).replace("[code, group]", "[code, group, tracking]")
    module.write_text(tracked, encoding="utf-8")
    ci = repo.settings_of(
        build_train_repo, {"BUILD_ID": BUILD_ID, "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE_ARN, **variables}
    )
    definition = repo.build(build_train_repo, ci)[2]
    with mock_aws():
        client = boto3.client("sagemaker", region_name=ci.region)
        aws.upsert(ci, definition, client)
        upserted = json.loads(client.describe_pipeline(PipelineName=ci.pipeline_name)["PipelineDefinition"])
    return {parameter["Name"]: parameter["DefaultValue"] for parameter in upserted["Parameters"]}


def test_the_pipeline_is_upserted_with_the_tracking_server_ci_names(build_train_repo, project):
    """An execution started without parameters (CI's `start`, a schedule, Studio) tracks into it."""
    tracked = tracking_defaults(build_train_repo, PIPELINE_MLFLOW_TRACKING_URI=TRACKING_SERVER)
    assert tracked["MlflowTrackingUri"] == TRACKING_SERVER
    untracked = tracking_defaults(build_train_repo)
    assert untracked["MlflowTrackingUri"] == ""
    assert {**tracked, "MlflowTrackingUri": ""} == untracked


def test_a_pipeline_without_the_tracking_parameter_is_built_unchanged(project, definition):
    from mlops_template_kit.pipeline import sdk

    ci = settings.Settings(**{**project.__dict__, "mlflow_tracking_uri": TRACKING_SERVER})
    assert sdk_defaults(definition) == sdk_defaults(sdk.with_parameter_defaults(definition, ci.parameter_defaults()))
    assert sdk.with_parameter_defaults(definition, {}) is definition


def sdk_defaults(definition: str) -> dict[str, str]:
    return {parameter["Name"]: parameter["DefaultValue"] for parameter in json.loads(definition)["Parameters"]}


def test_wait_polls_until_the_execution_ends(project):
    client = boto3.client("sagemaker", region_name=project.region)
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{project.pipeline_name}/execution/e"
    with Stubber(client) as stubber:
        for status in ("Executing", "Stopping", "Failed"):
            stubber.add_response(
                "describe_pipeline_execution", {"PipelineExecutionStatus": status}, {"PipelineExecutionArn": arn}
            )
        assert aws.wait(arn, client, poll_seconds=0) == "Failed"


def test_hyperparameters_decode_the_same_under_both_container_toolkits(build_train_repo):
    repo.load(build_train_repo)  # the SDK's region
    from mlops_template_kit.pipeline import sdk

    encoded = sdk.encode_hyperparameters({"sagemaker_program": "a/b.py", "max_depth": 3, "eta": 0.1})
    # sagemaker-training decodes each value; sagemaker-containers all of them or none.
    assert {name: json.loads(value) for name, value in encoded.items()} == {
        "sagemaker_program": "a/b.py",
        "max_depth": 3,
        "eta": 0.1,
    }
    assert sdk.parameter_range({"type": "Integer", "min": 1, "max": 3}).scaling_type == "Auto"
