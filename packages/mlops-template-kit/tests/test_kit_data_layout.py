"""The data layout, the contract between a build-train repository and the deploy repository:
each area is accepted, every URI outside it is refused, and `mlops-kit data-layout` refuses a
folder that is not a build-train repository in one line."""

import subprocess
import sys

import pytest

from mlops_template_kit import data_layout, naming

BUILD_ID = "20261122T133000Z-1a2b3c4"
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


def test_the_command_refuses_a_folder_that_is_not_a_build_train_repository(tmp_path):
    command = [sys.executable, "-m", "mlops_template_kit.cli", "data-layout", "--repo", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"data-layout: {tmp_path} is not a build-train repository: no build_spec.yml and ml_pipelines/ (see --repo)"
    ]
    assert result.stdout == ""
