"""Feature branches: which build is one, the names and S3 prefix it gets, and its lifecycle against
moto: a feature build upserts its own pipeline and group, a merge or branch deletion removes them
(and only them), and approval on merge finds the package of the merged commit. The repository is
the kit tests' small build-train repository with multi_branch=yes."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from conftest import write_build_train_repo
from moto import mock_aws

from mlops_template_kit import cli, naming
from mlops_template_kit.pipeline import branches, settings

BUILD_ID = "20261122T133000Z-1a2b3c4"
ROLE_ARN = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
CI_ENVIRONMENT = {"BUILD_ID": BUILD_ID, "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE_ARN, "COMMIT_ID": "1a2b3c4d5e6f"}
BRANCH = "feature/Login-Form"
SIBLING = "feature/Login-Form-v2"


@pytest.fixture(scope="module")
def multi_branch_repo(tmp_path_factory):
    return write_build_train_repo(tmp_path_factory.mktemp("multi") / "repo", multi_branch="yes")


@pytest.fixture(autouse=True)
def in_the_repository(multi_branch_repo, monkeypatch):
    """Every command and setting of these tests works on the multi-branch repository."""
    monkeypatch.chdir(multi_branch_repo)
    for name in ("SAGEMAKER_PROJECT_NAME", "SAGEMAKER_PROJECT_ID", "MULTI_BRANCH", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)


def pipeline_command(*arguments: str) -> int:
    return cli.main(["pipeline", *arguments])


def ci(**variables: str) -> settings.Settings:
    return settings.from_env(Path.cwd(), {**os.environ, **CI_ENVIRONMENT, **variables})


# --------------------------------------------------------------------------- which build is a feature build


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({}, None),
        ({"BRANCH_NAME": "main"}, None),
        ({"BRANCH_NAME": BRANCH}, BRANCH),
        ({"BRANCH_NAME": f"refs/heads/{BRANCH}"}, BRANCH),
        ({"CODEBUILD_WEBHOOK_HEAD_REF": f"refs/heads/{BRANCH}"}, BRANCH),
        ({"CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/main"}, None),
        ({"BRANCH_NAME": "main", "MAIN_BRANCH": "trunk"}, "main"),
        ({"BRANCH_NAME": "trunk", "MAIN_BRANCH": "trunk"}, None),
        # The source version may be a commit, a pull request or an artifact: never read as a branch.
        ({"CODEBUILD_SOURCE_VERSION": "feature/x"}, None),
    ],
)
def test_the_branch_comes_from_branch_name_or_the_webhook_ref(variables, expected):
    assert settings.feature_branch(variables) == expected


@pytest.mark.parametrize("branch", ["feature/../x", "has space", "ends.lock", "-starts-with-hyphen", "a@{1}"])
def test_a_value_git_refuses_as_a_branch_name_is_refused(branch):
    with pytest.raises(settings.SettingsError, match="is not a git branch name"):
        ci(BRANCH_NAME=branch)


def test_cleanup_needs_a_branch(capsys):
    assert pipeline_command(*["cleanup-branch", "--branch", ""]) == 2
    assert "'' is not a git branch name" in capsys.readouterr().err


def test_branch_input_takes_shared_or_own_only():
    with pytest.raises(settings.SettingsError, match="BRANCH_INPUT='mine' is not valid: expected one of shared, own"):
        ci(BRANCH_NAME=BRANCH, BRANCH_INPUT="mine")


# --------------------------------------------------------------------------- names and prefixes


def test_a_feature_build_has_its_own_pipeline_group_and_prefix():
    main, feature = ci(), ci(BRANCH_NAME=BRANCH)
    assert feature.pipeline_name == naming.pipeline(main.project_name, main.project_id, "training", branch=BRANCH)
    assert feature.model_package_group == naming.model_package_group(main.project_name, main.project_id, branch=BRANCH)
    assert feature.main_model_package_group == main.model_package_group
    assert feature.pipeline_name != main.pipeline_name and feature.model_package_group != main.model_package_group
    branch_root = f"s3://{main.bucket}/{naming.s3_branch_prefix(main.project_name, BRANCH)}"
    assert feature.branch_prefix_uri(BRANCH) == branch_root + "/"
    assert feature.algorithms_uri() == f"{branch_root}/code/{BUILD_ID}/algorithms/"
    assert feature.output_uri("TrainModel", "model") == f"{branch_root}/ml-pipeline-outputs/{BUILD_ID}/TrainModel/model"
    # Input is the project's unless the branch asks for its own.
    assert feature.input_uri() == main.input_uri()
    assert ci(BRANCH_NAME=BRANCH, BRANCH_INPUT="own").input_uri() == f"{branch_root}/input/"


def test_a_custom_main_group_gets_the_same_suffix():
    feature = ci(BRANCH_NAME=BRANCH, MODEL_PACKAGE_GROUP_NAME="churn-models")
    assert feature.model_package_group == naming.feature_suffix("churn-models", BRANCH, 63)


# --------------------------------------------------------------------------- lifecycle against moto


@pytest.fixture
def aws(monkeypatch):
    """moto, the CI environment of a main build, and a main project as its stack leaves it."""
    for name, value in {**CI_ENVIRONMENT, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "BRANCH_NAME", "CODEBUILD_WEBHOOK_HEAD_REF", "MAIN_BRANCH", "BRANCH_INPUT"):
        monkeypatch.delenv(name, raising=False)
    _moto_deletes_registry_entries(monkeypatch)
    with mock_aws():
        main = settings.from_env(Path.cwd())
        clients = {
            "sagemaker": boto3.client("sagemaker", region_name=main.region),
            "s3": boto3.client("s3", region_name=main.region),
        }
        clients["s3"].create_bucket(Bucket=main.bucket)
        clients["sagemaker"].create_model_package_group(ModelPackageGroupName=main.model_package_group)
        assert pipeline_command(*["upsert"]) == 0
        yield clients


def _moto_deletes_registry_entries(monkeypatch) -> None:
    """moto 5.2 has neither DeleteModelPackage nor DeleteModelPackageGroup: these stand-ins remove
    the package or group from moto's registry, and a missing group fails like moto's Describe."""
    from moto.sagemaker.responses import SageMakerResponse

    def delete_model_package(self) -> str:
        backend = self.sagemaker_backend
        name = self._get_param("ModelPackageName")
        arn = backend.model_package_name_mapping.get(name, name)
        backend.model_packages.pop(arn)
        for key in [key for key, value in backend.model_package_name_mapping.items() if value == arn]:
            del backend.model_package_name_mapping[key]
        return "{}"

    def delete_model_package_group(self) -> str:
        name = self._get_param("ModelPackageGroupName")
        self.sagemaker_backend.describe_model_package_group(name)  # raises when it does not exist
        del self.sagemaker_backend.model_package_groups[name]
        return "{}"

    monkeypatch.setattr(SageMakerResponse, "delete_model_package", delete_model_package, raising=False)
    monkeypatch.setattr(SageMakerResponse, "delete_model_package_group", delete_model_package_group, raising=False)


def feature_build(monkeypatch, branch: str = BRANCH) -> settings.Settings:
    """What CodeBuild runs for a push to `branch`: upload the code, upsert the pipeline."""
    monkeypatch.setenv("BRANCH_NAME", branch)
    assert pipeline_command(*["upload-code"]) == 0
    assert pipeline_command(*["upsert"]) == 0
    monkeypatch.delenv("BRANCH_NAME")
    return ci(BRANCH_NAME=branch)


def register(client, group: str, commit: str) -> str:
    """A model package as the RegisterModel step creates it, with the commit it was built from."""
    container = {"Image": "image", "ModelDataUrl": "s3://bucket/model.tar.gz"}
    return client.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        MetadataProperties={"CommitId": commit},
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def keys(s3, bucket: str, prefix: str) -> set[str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents", [])}


def snapshot(clients, main: settings.Settings) -> dict:
    """Everything of main's that a branch's lifecycle must leave alone."""
    sagemaker = clients["sagemaker"]
    return {
        "definition": sagemaker.describe_pipeline(PipelineName=main.pipeline_name)["PipelineDefinition"],
        "group": sagemaker.describe_model_package_group(ModelPackageGroupName=main.model_package_group)[
            "ModelPackageGroupArn"
        ],
        "packages": sagemaker.list_model_packages(ModelPackageGroupName=main.model_package_group)[
            "ModelPackageSummaryList"
        ],
        "objects": keys(clients["s3"], main.bucket, f"{main.key_prefix}/code/"),
    }


def test_a_feature_build_upserts_its_own_tagged_pipeline_and_group(aws, monkeypatch, capsys):
    main = ci()
    before = snapshot(aws, main)
    feature = feature_build(monkeypatch)
    assert f"created model package group {feature.model_package_group} for branch {BRANCH}" in capsys.readouterr().out
    sagemaker = aws["sagemaker"]
    described = sagemaker.describe_pipeline(PipelineName=feature.pipeline_name)
    assert feature.key_prefix in described["PipelineDefinition"]
    group = sagemaker.describe_model_package_group(ModelPackageGroupName=feature.model_package_group)
    tags = {tag["Key"]: tag["Value"] for tag in sagemaker.list_tags(ResourceArn=group["ModelPackageGroupArn"])["Tags"]}
    assert tags == {"sagemaker:project-name": main.project_name, "sagemaker:project-id": main.project_id}
    assert keys(aws["s3"], main.bucket, f"{feature.key_prefix}/code/{BUILD_ID}/")
    # A second build of the branch updates its pipeline and keeps its group.
    feature_build(monkeypatch)
    assert "created model package group" not in capsys.readouterr().out
    assert snapshot(aws, main) == before


def test_merging_a_branch_removes_its_pipeline_data_and_group_and_nothing_else(aws, monkeypatch, capsys):
    main = ci()
    feature, sibling = feature_build(monkeypatch), feature_build(monkeypatch, SIBLING)
    s3 = aws["s3"]
    output = f"{feature.key_prefix}/ml-pipeline-outputs/{BUILD_ID}/TrainModel/model/model.tar.gz"
    for body in (b"first", b"second"):  # an object written twice
        s3.put_object(Bucket=main.bucket, Key=output, Body=body)
    register(aws["sagemaker"], feature.model_package_group, "1a2b3c4d5e6f")
    register(aws["sagemaker"], main.model_package_group, "0f0f0f0f0f0f")
    before, sibling_keys = snapshot(aws, main), keys(s3, main.bucket, sibling.key_prefix + "/")
    capsys.readouterr()

    assert pipeline_command(*["cleanup-branch", "--branch", BRANCH, "--delete-group"]) == 0
    out = capsys.readouterr().out
    assert f"pipeline {feature.pipeline_name}: deleted" in out
    assert f"model package group {feature.model_package_group}: deleted with 1 model packages" in out
    sagemaker = aws["sagemaker"]
    with pytest.raises(sagemaker.exceptions.ClientError):
        sagemaker.describe_pipeline(PipelineName=feature.pipeline_name)
    with pytest.raises(sagemaker.exceptions.ClientError):
        sagemaker.describe_model_package_group(ModelPackageGroupName=feature.model_package_group)
    assert keys(s3, main.bucket, feature.key_prefix + "/") == set()
    assert snapshot(aws, main) == before
    assert keys(s3, main.bucket, sibling.key_prefix + "/") == sibling_keys
    sagemaker.describe_pipeline(PipelineName=sibling.pipeline_name)

    # Cleaning up again finds nothing left and still succeeds.
    assert pipeline_command(*["cleanup-branch", "--branch", BRANCH, "--delete-group"]) == 0
    out = capsys.readouterr().out
    assert "pipeline: none to delete" in out and ": 0 objects deleted" in out


def test_deleting_a_branch_without_delete_group_keeps_its_models(aws, monkeypatch, capsys):
    feature = feature_build(monkeypatch)
    register(aws["sagemaker"], feature.model_package_group, "1a2b3c4d5e6f")
    assert pipeline_command(*["cleanup-branch", "--branch", BRANCH]) == 0
    assert "model package group: kept" in capsys.readouterr().out
    listed = aws["sagemaker"].list_model_packages(ModelPackageGroupName=feature.model_package_group)
    assert len(listed["ModelPackageSummaryList"]) == 1
    assert keys(aws["s3"], feature.bucket, feature.key_prefix + "/") == set()


def test_the_main_branch_is_never_cleaned_up(aws, capsys):
    assert pipeline_command(*["cleanup-branch", "--branch", "main", "--delete-group"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'main' is the main branch" in err
    aws["sagemaker"].describe_pipeline(PipelineName=ci().pipeline_name)


def test_a_prefix_without_its_trailing_slash_is_refused():
    with pytest.raises(ValueError, match="must end with '/'"):
        branches.delete_prefix(object(), "bucket", "project/branches/feature-x")


# --------------------------------------------------------------------------- approval on merge


def status(client, arn: str) -> str:
    return client.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]


def test_approve_merged_approves_the_package_of_that_commit_in_mains_group(aws, capsys):
    sagemaker, group = aws["sagemaker"], ci().model_package_group
    other = register(sagemaker, group, "aaaaaaa1111111")
    merged = register(sagemaker, group, "bbbbbbb2222222")
    assert pipeline_command(*["approve-merged", "--commit", "BBBBBBB"]) == 0
    assert f"approved {merged} (group {group})" in capsys.readouterr().out
    assert (status(sagemaker, merged), status(sagemaker, other)) == ("Approved", "PendingManualApproval")


def test_approve_merged_falls_back_to_the_feature_group(aws, monkeypatch, capsys):
    feature = feature_build(monkeypatch)
    merged = register(aws["sagemaker"], feature.model_package_group, "ccccccc3333333")
    assert pipeline_command(*["approve-merged", "--commit", "ccccccc3333333", "--branch", BRANCH]) == 0
    assert f"(group {feature.model_package_group})" in capsys.readouterr().out
    assert status(aws["sagemaker"], merged) == "Approved"


def test_approve_merged_without_a_package_of_that_commit_fails_in_one_line(aws, capsys):
    register(aws["sagemaker"], ci().model_package_group, "aaaaaaa1111111")
    assert pipeline_command(*["approve-merged", "--commit", "ddddddd"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model package built from commit ddddddd" in err


def test_approve_merged_refuses_what_is_not_a_commit(aws, capsys):
    assert pipeline_command(*["approve-merged", "--commit", "HEAD~1"]) == 2
    assert "is not a commit hash" in capsys.readouterr().err


def test_approve_merged_defaults_to_this_builds_commit_and_skips_feature_builds(aws, monkeypatch, capsys):
    merged = register(aws["sagemaker"], ci().model_package_group, CI_ENVIRONMENT["COMMIT_ID"])
    monkeypatch.setenv("BRANCH_NAME", BRANCH)
    assert pipeline_command(*["approve-merged"]) == 0
    assert f"nothing to approve: this is a build of feature branch {BRANCH}" in capsys.readouterr().out
    assert status(aws["sagemaker"], merged) == "PendingManualApproval"
    monkeypatch.delenv("BRANCH_NAME")
    assert pipeline_command(*["approve-merged"]) == 0
    assert status(aws["sagemaker"], merged) == "Approved"
