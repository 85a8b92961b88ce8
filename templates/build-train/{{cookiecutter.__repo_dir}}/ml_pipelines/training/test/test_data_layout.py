"""Every S3 URI a build uses follows the data layout of the README: in the pipeline definition, in
what `upload-code` writes and in the build spec; and the check rejects URIs that do not."""

from __future__ import annotations

import copy
import json

import pytest
from mlops_template_kit import naming

from ml_pipelines import data_layout, settings, training

pipeline = training.load()

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
    resolved = settings.from_env({**CI_ENVIRONMENT, **BUILDS[request.param]})
    return resolved, json.loads(pipeline.build_definition(resolved, pipeline.load_config()))


def uploads(resolved: settings.Settings) -> list[str]:
    return [uri for uri, _ in pipeline.code_uploads(resolved)]


def test_every_uri_of_the_build_follows_the_layout(build):
    resolved, definition = build
    build_spec = data_layout.BUILD_SPEC.read_text(encoding="utf-8")
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


MAIN = data_layout.Layout("artifacts", "churn", BUILD_ID, ["PrepareData", "TrainModel"])
GOOD = [
    "s3://artifacts/churn/input/",
    "s3://artifacts/churn/input/2026/records.csv",
    f"s3://artifacts/churn/code/{BUILD_ID}/algorithms/",
    f"s3://artifacts/churn/ml-pipeline-outputs/{BUILD_ID}/PrepareData/train",
    f"s3://artifacts/churn/ml-pipeline-outputs/{BUILD_ID}/TrainModel",
]
BAD = {
    "another bucket": "s3://other-bucket/churn/input/",
    "another project": "s3://artifacts/churn2/input/",
    "an area the layout lacks": "s3://artifacts/churn/scratch/x.csv",
    "a misspelt area": "s3://artifacts/churn/inputs/x.csv",
    "another build's code": "s3://artifacts/churn/code/20260101T000000Z-0000000/algorithms/",
    "a build id with a suffix": f"s3://artifacts/churn/code/{BUILD_ID}-x/algorithms/",
    "outputs outside a step folder": f"s3://artifacts/churn/ml-pipeline-outputs/{BUILD_ID}/model.tar.gz",
    "a step the pipeline does not have": f"s3://artifacts/churn/ml-pipeline-outputs/{BUILD_ID}/Deploy/x",
    "a main build writing under branches/": f"s3://artifacts/churn/branches/x/code/{BUILD_ID}/",
}


def test_the_layout_accepts_each_of_its_areas():
    assert MAIN.problems(GOOD, "test") == []


@pytest.mark.parametrize("uri", list(BAD.values()), ids=list(BAD))
def test_the_layout_rejects_a_uri_outside_it(uri):
    assert MAIN.problems([uri], "test") == [f"test: {uri} is outside the data layout"]


def test_a_feature_branch_writes_only_under_its_own_prefix():
    feature = data_layout.Layout("artifacts", "churn", BUILD_ID, ["TrainModel"], branch="feature/a")
    own = "s3://artifacts/churn/branches/feature-a-" + naming.short_hash("feature/a")
    assert feature.problems([f"{own}/code/{BUILD_ID}/x", "s3://artifacts/churn/input/"], "test") == []
    wrong = [
        f"s3://artifacts/churn/code/{BUILD_ID}/x",  # main's code
        f"s3://artifacts/churn/branches/feature-b/code/{BUILD_ID}/x",  # another branch
        f"{own}/input/",  # its own input, not configured
    ]
    assert len(feature.problems(wrong, "test")) == 3
    own_input = data_layout.Layout("artifacts", "churn", BUILD_ID, [], branch="feature/a", branch_input=True)
    assert own_input.problems([f"{own}/input/"], "test") == []
    assert own_input.problems(["s3://artifacts/churn/input/"], "test") != []


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
