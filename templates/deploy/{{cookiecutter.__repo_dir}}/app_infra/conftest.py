"""Fixtures shared by the unit tests under app_infra/: fake AWS credentials, a local AWS (moto),
a model registry with packages in every approval state, and real sample model bundles."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from mlops_template_kit import contract, naming
from mlops_template_kit.deploy.settings import Settings, config_dir, problem_type
from mlops_template_kit.local_endpoint.sample_bundle import SampleBundle, build_sample_bundle
from moto import mock_aws

REGION = "us-east-1"
FRAMEWORK_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
TRAINING_BUILD_ID = "20261122T133000Z-1a2b3c4"
# The repository the kit's functions are given (its stacks, configs, .cruft.json answers).
REPO_ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def offline_environment() -> Iterator[None]:
    """No test may reach AWS: fake credentials, a fixed region, no endpoint overrides."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            patch.delenv(name, raising=False)
        for name in ("SAGEMAKER_PROJECT_NAME", "SAGEMAKER_PROJECT_ID", "ARTIFACT_BUCKET", "MODEL_PACKAGE_GROUP_NAME"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_REGION", REGION)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("BUILD_ID", "20261122T140000Z-9f8e7d6")
        yield


@pytest.fixture(autouse=True)
def offline_aws() -> Iterator[None]:
    with offline_environment():
        yield


@pytest.fixture(scope="session")
def sample_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SampleBundle]:
    """A real sample bundle for each problem type (trained once per test session)."""
    root = tmp_path_factory.mktemp("bundles")
    return {kind: build_sample_bundle(root / kind, kind) for kind in ("binary_classification", "regression")}


@pytest.fixture(scope="session")
def sample_bundle(sample_bundles: dict[str, SampleBundle]) -> SampleBundle:
    """The sample bundle of this repository's problem type."""
    return sample_bundles[problem_type(REPO_ROOT)]


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env(REPO_ROOT)


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    """A boto3 session talking to moto's in-memory AWS."""
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def _register_package(
    sagemaker_client, group: str, status: str, model_data_url: str, metadata: dict | None = None, **metrics: str
) -> str:
    """Register one model package version the way the training pipeline does; returns its ARN."""
    model_metrics = {}
    if "evaluation" in metrics:
        model_metrics["ModelQuality"] = {
            "Statistics": {"ContentType": "application/json", "S3Uri": metrics["evaluation"]}
        }
    if "statistics" in metrics:
        model_metrics["ModelDataQuality"] = {
            "Statistics": {"ContentType": "application/json", "S3Uri": metrics["statistics"]},
            "Constraints": {"ContentType": "application/json", "S3Uri": metrics["constraints"]},
        }
    arn = sagemaker_client.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": FRAMEWORK_IMAGE, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json", "text/csv"],
        },
        ModelMetrics=model_metrics,
        CustomerMetadataProperties=metadata or contract.model_metadata(TRAINING_BUILD_ID),
    )["ModelPackageArn"]
    # CreationTime has millisecond resolution: keep registrations apart so their order is real.
    time.sleep(0.01)
    return arn


def populate_registry(session: boto3.Session, settings: Settings, bundle: SampleBundle) -> dict[str, str]:
    """The artifact bucket with the bundle, and a model package group holding an old Approved
    package, the newest Approved one, then a Rejected and a PendingManualApproval one."""
    s3 = session.client("s3")
    s3.create_bucket(Bucket=settings.artifact_bucket)
    # Where the training build wrote its outputs (the kit's contract, as build-train writes it).
    prefix = f"{naming.s3_prefix(settings.project_name)}/{contract.OUTPUTS_AREA}/{TRAINING_BUILD_ID}"
    model_key = f"{prefix}/TrainModel/model/model.tar.gz"
    s3.upload_file(str(bundle.model_data), settings.artifact_bucket, model_key)
    s3.upload_file(str(bundle.evaluation), settings.artifact_bucket, f"{prefix}/EvaluateModel/evaluation.json")
    model_data_url = f"s3://{settings.artifact_bucket}/{model_key}"
    evaluation = f"s3://{settings.artifact_bucket}/{prefix}/EvaluateModel/evaluation.json"
    baseline = f"s3://{settings.artifact_bucket}/{prefix}/DataQualityBaseline/baseline"
    sagemaker = session.client("sagemaker")
    group = settings.model_package_group
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    arns = {
        "old": _register_package(sagemaker, group, "Approved", model_data_url, evaluation=evaluation),
        "approved": _register_package(
            sagemaker,
            group,
            "Approved",
            model_data_url,
            evaluation=evaluation,
            statistics=f"{baseline}/statistics.json",
            constraints=f"{baseline}/constraints.json",
        ),
        "rejected": _register_package(sagemaker, group, "Rejected", model_data_url),
        "pending": _register_package(sagemaker, group, "PendingManualApproval", model_data_url),
    }
    return {**arns, "model_data_url": model_data_url, "evaluation": evaluation}


@pytest.fixture
def registry(aws: boto3.Session, settings: Settings, sample_bundle: SampleBundle) -> dict[str, str]:
    """A populated registry in the test's moto (see populate_registry)."""
    return populate_registry(aws, settings, sample_bundle)


def grant_stage_access(session: boto3.Session, settings: Settings) -> None:
    """What an administrator does once before the first deployment: the stage-access stack(s).

    moto is one account, so a multi-account project's two stage accounts share it: the second
    stage's deploy role gets its own name there."""
    import warnings

    from mlops_template_kit.deploy import deploy, inference_config, stacks

    configs = {stage: inference_config.load(stage, config_dir(REPO_ROOT)) for stage in naming.STAGES}
    template = (REPO_ROOT / stacks.STAGE_ACCESS_TEMPLATE).read_text(encoding="utf-8")
    cfn = session.client("cloudformation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not any("account" in config for config in configs.values()):
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
            trust["Statement"][0]["Principal"] = {"Service": "codebuild.amazonaws.com"}
            session.client("iam").create_role(
                RoleName=stacks.CODEBUILD_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust), Path="/service-role/"
            )
            deploy.deploy_shared_stage_access(session, REPO_ROOT)
            return
        for stage in naming.STAGES:
            parameters = stacks.stage_access_parameters(settings, stage, "111122223333")
            parameters["DeployRoleName"] += "" if stage == "staging" else f"-{stage}"
            name = naming.stage_access_stack(settings.project_name, settings.project_id, stage)
            deploy.deploy_stack(cfn, name, template, parameters, {}, capabilities=deploy.STAGE_ACCESS_CAPABILITIES)


def in_one_account(stage_role_arn: Callable[..., str], account: str) -> Callable[..., str]:
    """stacks.stage_role_arn for moto's single account: a multi-account project's stage roles keep
    their names but live in `account`, where grant_stage_access created them."""

    def same_names_in_account(*args: object) -> str:
        return re.sub(r"^(arn:aws:iam::)[0-9]{12}:", rf"\g<1>{account}:", stage_role_arn(*args))

    return same_names_in_account


@dataclass(frozen=True)
class Built:
    """One build step run against a populated moto registry, shared by a test module."""

    session: boto3.Session
    settings: Settings
    registry: dict[str, str]
    manifest: dict
    build_dir: Path


@pytest.fixture(scope="module")
def built(sample_bundle: SampleBundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The build step, run once per module (it takes seconds) inside its own moto."""
    from mlops_template_kit.deploy import build, stacks

    with offline_environment(), mock_aws(), pytest.MonkeyPatch.context() as patch:
        session = boto3.Session(region_name=REGION)
        account = session.client("sts").get_caller_identity()["Account"]
        patch.setattr(stacks, "stage_role_arn", in_one_account(stacks.stage_role_arn, account))
        settings = Settings.from_env(REPO_ROOT)
        registry = populate_registry(session, settings, sample_bundle)
        build_dir = tmp_path_factory.mktemp("build") / "build"
        manifest = build.build(settings, build_dir, session)
        grant_stage_access(session, settings)
        yield Built(session, settings, registry, manifest, build_dir)


@pytest.fixture
def register_package():
    """Registers a model package version (see _register_package)."""
    return _register_package


# --- moto and the AWS::LanguageExtensions transform (app_infra/monitoring/monitoring.yaml) ---------


def expand_for_each(template_body: str, parameters: dict[str, str]) -> str:
    """The template as CloudFormation's AWS::LanguageExtensions transform leaves it: each top-level
    `Fn::ForEach::<Loop>: [Identifier, {Ref: <CommaDelimitedList parameter>}, {Key&{Identifier}: Body}]`
    replaced by one resource per item (`&{Identifier}`: the item's alphanumerics, `${Identifier}`
    and `Ref: Identifier` in the body: the item), as JSON. moto 5 does not run transforms.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-foreach.html"""
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.loads(template_body)
    if template.get("Transform") != "AWS::LanguageExtensions":
        return template_body
    resources = {}
    for name, resource in template["Resources"].items():
        if not name.startswith("Fn::ForEach::"):
            resources[name] = resource
            continue
        identifier, collection, outputs = resource
        items = [item for item in parameters[collection["Ref"]].split(",") if item]
        for item in items:
            for key, body in outputs.items():
                logical = key.replace("&{" + identifier + "}", re.sub(r"[^A-Za-z0-9]", "", item))
                resources[logical] = _bind(body, identifier, item)
    expanded = {key: value for key, value in template.items() if key != "Transform"}
    return json.dumps({**expanded, "Resources": resources})


def _bind(node: object, identifier: str, item: str) -> object:
    if isinstance(node, dict):
        if dict(node) == {"Ref": identifier}:
            return item
        return {key: _bind(value, identifier, item) for key, value in node.items()}
    if isinstance(node, list):
        return [_bind(value, identifier, item) for value in node]
    if isinstance(node, str):
        return node.replace("${" + identifier + "}", item)
    return node


@pytest.fixture(autouse=True)
def moto_runs_language_extensions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stacks reach moto with their Fn::ForEach loops expanded (real CloudFormation expands them)."""
    from mlops_template_kit.deploy import deploy

    original = deploy.deploy_stack

    def expanded_first(cfn, stack_name, template_body, parameters, *args, **kwargs):
        return original(cfn, stack_name, expand_for_each(template_body, parameters), parameters, *args, **kwargs)

    monkeypatch.setattr(deploy, "deploy_stack", expanded_first)
