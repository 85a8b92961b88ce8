"""Every S3 URI a build uses follows the data layout of the README: in the pipeline definition, in
what `upload-code` writes and in the build spec; and the check rejects URIs that do not."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from mlops_template_kit import data_layout
from mlops_template_kit.pipeline import aws, repo, settings

REPO_ROOT = Path(__file__).resolve().parents[3]
pipeline = repo.load(REPO_ROOT)
BUILD_SPEC = REPO_ROOT / data_layout.BUILD_SPEC

BUILD_ID = "20261122T133000Z-1a2b3c4"
ROLE_ARN = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
CI_ENVIRONMENT = {"BUILD_ID": BUILD_ID, "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE_ARN, "ARTIFACT_BUCKET": "artifacts"}
# The builds CI runs: main{% if cookiecutter.multi_branch == "yes" %}, and feature branches with shared or own input{% endif %}.
BUILDS = {
    "main": {},
{%- if cookiecutter.multi_branch == "yes" %}
    "feature-branch": {"BRANCH_NAME": "feature/Login-Form"},
    "feature-branch-own-input": {"BRANCH_NAME": "feature/Login-Form", "BRANCH_INPUT": "own"},
{%- endif %}
}


@pytest.fixture(scope="module", params=list(BUILDS))
def build(request) -> tuple[settings.Settings, dict]:
    resolved = repo.settings_of(REPO_ROOT, {**CI_ENVIRONMENT, **BUILDS[request.param]})
    return resolved, json.loads(repo.build(REPO_ROOT, resolved)[2])


def uploads(resolved: settings.Settings) -> list[str]:
    return [uri for uri, _ in aws.code_uploads(resolved, REPO_ROOT)]


def test_every_uri_of_the_build_follows_the_layout(build):
    resolved, definition = build
    build_spec = BUILD_SPEC.read_text(encoding="utf-8")
    assert data_layout.check_build(resolved, definition, uploads(resolved), build_spec) == []


def test_the_walk_reaches_every_area_the_build_uses(build):
    resolved, definition = build
    found = list(data_layout.uris(definition))
    own = f"s3://{resolved.bucket}/{resolved.key_prefix}"
    # Every processing output and the training output land in their step's folder of this build.
    for step in data_layout.step_names(definition):
        arguments = next(s for s in pipeline_steps(definition) if s["Name"] == step).get("Arguments", {})
        if "ProcessingOutputConfig" in arguments or "OutputDataConfig" in arguments:
            assert any(uri.startswith(f"{own}/ml-pipeline-outputs/{BUILD_ID}/{step}/") for uri in found), step
    assert any(uri.startswith(f"{own}/code/{BUILD_ID}/") for uri in found)
    # Hyperparameters are JSON-encoded: the walk decodes them.
    assert resolved.source_dir_uri() in found
    assert all(uri.startswith(f"{own}/code/{BUILD_ID}/") for uri in uploads(resolved))


def pipeline_steps(definition: dict) -> list[dict]:
    steps, pending = [], list(definition["Steps"])
    while pending:
        step = pending.pop(0)
        steps.append(step)
        pending += step.get("Arguments", {}).get("IfSteps", []) + step.get("Arguments", {}).get("ElseSteps", [])
    return steps


def test_a_definition_with_one_uri_moved_outside_the_layout_fails(build):
    resolved, definition = build
    broken = copy.deepcopy(definition)
    prepare = next(step for step in broken["Steps"] if step["Name"] == pipeline.PREPARE_DATA)
    output = prepare["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    output["S3Uri"] = f"s3://{resolved.bucket}/{resolved.project_name}/tmp/train"
    assert data_layout.check_build(resolved, broken, [], "") == [
        f"definition: s3://{resolved.bucket}/{resolved.project_name}/tmp/train is outside the data layout"
    ]


def test_uris_in_the_build_spec_are_checked_with_the_ci_variables_filled_in(build):
    resolved, definition = build
    spec = "commands:\n  - aws s3 cp x s3://${ARTIFACT_BUCKET}/${SAGEMAKER_PROJECT_NAME}/scratch/x\n"
    assert data_layout.check_build(resolved, definition, [], spec) == [
        f"build_spec.yml: s3://{resolved.bucket}/{resolved.project_name}/scratch/x is outside the data layout"
    ]
