"""Feature branches in this repository's pipeline and build spec: a main build is the same with or
without multi-branch, a feature build registers into its own group under its own prefix, and the
build spec runs what its branch action asks for. (The kit tests the branch lifecycle itself.)"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from mlops_template_kit import naming
from mlops_template_kit.pipeline import repo, settings

REPO_ROOT = Path(__file__).resolve().parents[3]
pipeline = repo.load(REPO_ROOT)

BUILD_ID = "20261122T133000Z-1a2b3c4"
ROLE_ARN = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
CI_ENVIRONMENT = {"BUILD_ID": BUILD_ID, "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE_ARN, "COMMIT_ID": "1a2b3c4d5e6f"}
BRANCH = "feature/Login-Form"


def ci(**variables: str) -> settings.Settings:
    return repo.settings_of(REPO_ROOT, {**CI_ENVIRONMENT, **variables})


def build_definition(build: settings.Settings) -> str:
    return repo.build(REPO_ROOT, build)[2]


def test_a_main_build_is_the_same_with_or_without_multi_branch():
    assert build_definition(ci(MULTI_BRANCH="no")) == build_definition(ci())
    without = build_definition(ci())
    assert build_definition(ci(BRANCH_NAME="main")) == without
    assert "branches/" not in without


def test_a_feature_definition_registers_into_the_feature_group_under_the_branch_prefix():
    feature = ci(BRANCH_NAME=BRANCH)
    text = build_definition(feature)
    definition = json.loads(text)
    register = next(step for step in _steps(definition) if step["Name"] == pipeline.REGISTER_MODEL)["Arguments"]
    assert register["ModelPackageGroupName"] == feature.model_package_group
    metadata = register["CustomerMetadataProperties"]
    assert (metadata["build_id"], metadata["branch"]) == (BUILD_ID, BRANCH)
    assert register["MetadataProperties"]["CommitId"] == "1a2b3c4d5e6f"
    assert f"s3://{feature.bucket}/{feature.key_prefix}/code/{BUILD_ID}/" in text
    main_code = f"s3://{feature.bucket}/{naming.s3_prefix(feature.project_name)}/code/"
    assert main_code not in text
    main_group = ci().main_model_package_group
    # The main group's name prefixes the project's other names (the pipeline, its MLflow experiment):
    # what must not appear is the group itself or its ARN.
    assert all(
        value != main_group and f"model-package-group/{main_group}" not in value for value in _strings(definition)
    )


def _strings(node) -> list[str]:
    """Every string value of a JSON document."""
    if isinstance(node, str):
        return [node]
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return [value for child in children for value in _strings(child)]


def _steps(definition: dict) -> list[dict]:
    found, pending = [], list(definition["Steps"])
    while pending:
        step = pending.pop(0)
        found.append(step)
        pending += step.get("Arguments", {}).get("IfSteps", []) + step.get("Arguments", {}).get("ElseSteps", [])
    return found


# --------------------------------------------------------------------------- the build spec's branch logic


def build_script() -> str:
    """The build phase's shell script from build_spec.yml, with the pipeline command only echoed."""
    lines = (REPO_ROOT / "build_spec.yml").read_text(encoding="utf-8").splitlines()
    start = lines.index("      - |") + 1
    body = []
    for line in lines[start:]:
        if line.strip() and not line.startswith(" " * 8):
            break
        body.append(line)
    script = textwrap.dedent("\n".join(body))
    command = 'PIPELINE=".venv/bin/mlops-kit pipeline"'
    assert command in script
    return script.replace(command, 'PIPELINE="echo pipeline"')


def run_build(**variables: str) -> subprocess.CompletedProcess:
    # CodeBuild runs commands with sh unless the build spec asks for another shell.
    env = {"PATH": os.environ["PATH"], **variables}
    return subprocess.run(["sh", "-c", build_script()], env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "variables, commands",
    [
        ({}, ["upload-code", "upsert", "start"]),
        ({"BRANCH_NAME": BRANCH}, ["upload-code", "upsert", "start"]),
        ({"APPROVE_ON_MERGE": "true"}, ["upload-code", "upsert", "start --wait", "approve-merged"]),
        ({"BRANCH_ACTION": "cleanup", "BRANCH_NAME": BRANCH}, [f"cleanup-branch --branch {BRANCH} --delete-group"]),
        (
            {"BRANCH_ACTION": "cleanup", "BRANCH_NAME": f"refs/heads/{BRANCH}"},
            [f"cleanup-branch --branch {BRANCH} --delete-group"],
        ),
        (
            {
                "BRANCH_ACTION": "cleanup",
                "CODEBUILD_WEBHOOK_HEAD_REF": f"refs/heads/{BRANCH}",
                "DELETE_BRANCH_GROUP": "false",
            },
            [f"cleanup-branch --branch {BRANCH}"],
        ),
    ],
    ids=[
        "main",
        "feature",
        "approve-on-merge",
        "cleanup",
        "cleanup-of-a-merged-pull-request-event",
        "cleanup-of-a-webhook-build-keeping-the-group",
    ],
)
def test_the_build_spec_runs_what_its_branch_action_asks_for(variables, commands):
    result = run_build(**variables)
    assert result.returncode == 0, result.stderr
    ran = [line.removeprefix("pipeline ") for line in result.stdout.splitlines() if line.startswith("pipeline ")]
    # The first line is the build id, echoed by the build-id command.
    assert [command for command in ran if command != "build-id"] == commands


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"BRANCH_ACTION": "cleanup"}, "BRANCH_ACTION=cleanup needs BRANCH_NAME"),
        ({"BRANCH_ACTION": "delete"}, "BRANCH_ACTION=delete is not valid: expected build or cleanup"),
    ],
)
def test_the_build_spec_stops_on_an_action_it_cannot_run(variables, message):
    result = run_build(**variables)
    assert result.returncode == 2 and message in result.stderr
    assert "pipeline" not in result.stdout
