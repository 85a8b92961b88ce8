"""Settings of a build-train build: the CI environment first, else the repository's `.cruft.json`;
multi-branch is a run-time setting; every bad value names its variable; build ids and commits."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from conftest import RECORDED, write_build_train_repo

from mlops_template_kit import naming
from mlops_template_kit.pipeline import settings

BUILD_ID = "20261122T133000Z-1a2b3c4"
COMMIT_ID = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
ROLE_ARN = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
CI = {
    "SAGEMAKER_PROJECT_NAME": "churn",
    "SAGEMAKER_PROJECT_ID": "p-abcdefabcdef",
    "AWS_REGION": "eu-west-1",
    "ARTIFACT_BUCKET": "my-bucket",
    "MODEL_PACKAGE_GROUP_NAME": "churn-models",
    "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE_ARN,
    "BUILD_ID": BUILD_ID,
    "MULTI_BRANCH": "no",
}


def test_settings_default_to_the_answers_the_repository_records(tmp_path):
    repo = write_build_train_repo(tmp_path / "repo", region="eu-west-1")
    defaults = settings.from_env(repo, {})
    assert (defaults.project_name, defaults.project_id, defaults.region) == (
        RECORDED["project_name"],
        RECORDED["project_id"],
        "eu-west-1",
    )
    assert defaults.bucket == naming.artifact_bucket(RECORDED["project_id"])
    assert defaults.model_package_group == naming.model_package_group(RECORDED["project_name"], RECORDED["project_id"])
    assert defaults.build_id == settings.LOCAL_BUILD_ID and defaults.role_arn == settings.LOCAL_ROLE_ARN
    assert defaults.multi_branch is False


def test_settings_follow_the_ci_environment_without_reading_the_record(tmp_path):
    # No .cruft.json anywhere: CI sets everything, so nothing is read from the repository.
    resolved = settings.from_env(tmp_path, CI)
    assert resolved.pipeline_name == "churn-p-abcdefabcdef-training"
    assert resolved.input_uri() == "s3://my-bucket/churn/input/"
    assert resolved.algorithms_uri() == f"s3://my-bucket/churn/code/{BUILD_ID}/algorithms/"
    assert resolved.source_dir_uri() == f"s3://my-bucket/churn/code/{BUILD_ID}/sourcedir.tar.gz"
    assert resolved.config_uri() == f"s3://my-bucket/churn/code/{BUILD_ID}/input.json"
    assert resolved.output_uri("TrainModel", "model") == (
        f"s3://my-bucket/churn/ml-pipeline-outputs/{BUILD_ID}/TrainModel/model"
    )


def test_a_repository_without_its_record_is_named_in_one_line(tmp_path):
    with pytest.raises(settings.SettingsError, match=r"\.cruft\.json is missing.*--repo-root"):
        settings.from_env(tmp_path, {})


@pytest.mark.parametrize(
    "variable,value",
    [
        ("BUILD_ID", "2026/11/22"),
        ("BUILD_ID", "x" * 65),
        ("AWS_REGION", "Virginia"),
        ("ARTIFACT_BUCKET", "My_Bucket"),
        ("SAGEMAKER_PIPELINE_ROLE_ARN", "admin"),
        ("SAGEMAKER_PROJECT_NAME", "-starts-with-a-hyphen"),
        ("SAGEMAKER_PROJECT_NAME", "n" * 33),
        ("MODEL_PACKAGE_GROUP_NAME", "has space"),
        ("MULTI_BRANCH", "maybe"),
        ("PIPELINE_MLFLOW_TRACKING_URI", "arn:aws:s3:::mlflow-artifacts"),
        ("PIPELINE_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
        ("PIPELINE_MLFLOW_TRACKING_URI", "arn:aws:sagemaker:EU-WEST-1:123456789012:mlflow-tracking-server/team"),
    ],
)
def test_bad_settings_name_the_variable(variable, value, tmp_path):
    with pytest.raises(settings.SettingsError, match=variable):
        settings.from_env(tmp_path, {**CI, variable: value})


def test_multi_branch_comes_from_the_environment_else_the_record(tmp_path):
    repo = write_build_train_repo(tmp_path / "repo", multi_branch="yes")
    assert settings.multi_branch(repo, {}) is True
    assert settings.multi_branch(repo, {"MULTI_BRANCH": "no"}) is False
    # Without multi-branch a branch name changes nothing: the build is main's.
    single = {**CI, "BRANCH_NAME": "feature/x", "BRANCH_INPUT": "own"}
    assert settings.from_env(repo, single).branch is None and settings.from_env(repo, single).branch_input is False
    multi = settings.from_env(repo, {**single, "MULTI_BRANCH": "yes"})
    assert multi.branch == "feature/x" and multi.branch_input is True


def test_the_commit_comes_from_the_environment_before_git(tmp_path):
    assert settings.from_env(tmp_path, {**CI, "COMMIT_ID": COMMIT_ID.upper()}).commit_id == COMMIT_ID
    codebuild = {**CI, "CODEBUILD_RESOLVED_SOURCE_VERSION": "abcdef1"}
    assert settings.from_env(tmp_path, codebuild).commit_id == "abcdef1"
    # Not a commit (e.g. an S3 artifact version) and no git repository: no commit is recorded.
    assert settings.from_env(tmp_path, {**CI, "COMMIT_ID": "arn:aws:s3:::x"}).commit_id is None


def test_build_id_is_utc_time_and_short_commit():
    moment = datetime(2026, 11, 22, 13, 30, tzinfo=UTC)
    assert settings.new_build_id(moment, "1A2B3C4D5E6F") == "20261122T133000Z-1a2b3c4"
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-z]{5,7}", settings.new_build_id())
    with pytest.raises(settings.SettingsError, match="BUILD_ID"):
        settings.check_build_id("has space")


def test_the_sdk_region_is_the_environments_else_the_recorded_one(tmp_path, monkeypatch):
    repo = write_build_train_repo(tmp_path / "repo", region="eu-west-1")
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    assert settings.sdk_region(repo) == "eu-west-1"
    assert settings.sdk_region(tmp_path) == "us-east-1"  # no record: the SDK still gets a region
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert settings.sdk_region(repo) == "ap-south-1"


TRACKING_SERVER = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/sagemaker-p-abc123-mlflow"
MLFLOW_APP = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-0a1b2c3d4e5f"


@pytest.mark.parametrize("arn", [TRACKING_SERVER, MLFLOW_APP])
def test_the_tracking_server_ci_names_becomes_the_mlflow_parameter_default(arn, tmp_path):
    resolved = settings.from_env(tmp_path, {**CI, "PIPELINE_MLFLOW_TRACKING_URI": f" {arn}\n"})
    assert resolved.mlflow_tracking_uri == arn
    assert resolved.parameter_defaults() == {"MlflowTrackingUri": arn}


def test_without_a_tracking_server_the_repository_default_stays(tmp_path):
    for environment in (CI, {**CI, "PIPELINE_MLFLOW_TRACKING_URI": ""}):
        assert settings.from_env(tmp_path, environment).parameter_defaults() == {}
    # MLflow's own variable (a laptop's local server) is the steps' business, never the definition's.
    assert settings.from_env(tmp_path, {**CI, "MLFLOW_TRACKING_URI": TRACKING_SERVER}).parameter_defaults() == {}
