"""Fixtures of the kit's own tests: a real sample model bundle, and no way to reach AWS."""

from __future__ import annotations

import pytest

OFFLINE = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
REACHING_OUT = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_PROFILE", "AWS_SESSION_TOKEN")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a fixed region; no endpoint override sends a call anywhere."""
    for name in REACHING_OUT:
        monkeypatch.delenv(name, raising=False)
    for name, value in OFFLINE.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def sample_bundle(tmp_path_factory: pytest.TempPathFactory):
    """The local endpoint's sample model (regression), trained once per test session."""
    # scikit-learn loads only for the tests that serve a model.
    from mlops_template_kit.local_endpoint.sample_bundle import build_sample_bundle

    return build_sample_bundle(tmp_path_factory.mktemp("bundle"), "regression")


# A build-train repository as small as the kit's pipeline commands accept: its record, step code,
# a config with its schema, and a pipeline module with a one-step graph and one cross-field rule.
PIPELINE_MODULE = """
from mlops_template_kit.pipeline import sdk
from mlops_template_kit.pipeline.config import ConfigError
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.pipeline import Pipeline


def check_config(config):
    if config["low"] >= config["high"]:
        raise ConfigError("input.json: low must be below high")


def build_pipeline(settings, config, session):
    code = ParameterString(name="CodeUrl", default_value=settings.algorithms_uri())
    group = ParameterString(name="ModelPackageGroup", default_value=settings.model_package_group)
    stop = FailStep(name="Stop", error_message=Join(on=" ", values=[config["message"], code, group]))
    return Pipeline(name=settings.pipeline_name, parameters=[code, group], steps=[stop], sagemaker_session=session)
"""
PIPELINE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["message", "low", "high"],
    "properties": {
        "message": {"type": "string", "minLength": 1},
        "low": {"type": "number"},
        "high": {"type": "number"},
        "level": {"enum": ["debug", "info"]},
        "code": {"type": "string", "pattern": "^[A-Z]+$", "description": "upper-case letters"},
    },
    "additionalProperties": False,
}
PIPELINE_CONFIG = {"message": "stopped", "low": 1, "high": 2}
RECORDED = {"project_name": "churn", "project_id": "p-abcdefabcdef", "region": "us-east-1"}


def write_build_train_repo(root, multi_branch: str = "no", region: str = RECORDED["region"]):
    """Write the small build-train repository under `root`; return `root`."""
    import json

    training = root / "ml_pipelines" / "training"
    training.mkdir(parents=True)
    (training / "ml-pipeline-training.py").write_text(PIPELINE_MODULE, encoding="utf-8")
    (training / "input.json").write_text(json.dumps(PIPELINE_CONFIG), encoding="utf-8")
    (training / "input.schema.json").write_text(json.dumps(PIPELINE_SCHEMA), encoding="utf-8")
    for name in ("training/train/__main__.py", "shared/__init__.py", "training/train/test/test_train.py"):
        (root / "algorithms" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "algorithms" / name).write_text(f"# {name}\n", encoding="utf-8")
    (root / "algorithms" / "shared" / "__pycache__").mkdir()
    (root / "algorithms" / "shared" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    context = {**RECORDED, "multi_branch": multi_branch, "region": region}
    record = {"template": "x", "commit": "0" * 40, "context": {"cookiecutter": context}, "directory": "build-train"}
    (root / ".cruft.json").write_text(json.dumps(record), encoding="utf-8")
    return root


@pytest.fixture
def build_train_repo(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A small single-branch build-train repository, the one the pipeline commands work on."""
    repo = write_build_train_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    for name in ("SAGEMAKER_PROJECT_NAME", "SAGEMAKER_PROJECT_ID", "AWS_REGION", "MULTI_BRANCH", "BRANCH_NAME"):
        monkeypatch.delenv(name, raising=False)
    return repo
