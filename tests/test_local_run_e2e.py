"""The baked build/train repo's real pipeline, run locally end to end: to a registered model with
the thresholds of input.json, and into the Fail step when a threshold cannot be met.

Runs a covering array of the supported option combinations (every pair of option values,
`bakery.covering_subset`); every combination is still baked, linted and has its definition built
and checked statically (test_bake.py, test_data_layout.py). The repo's own command runs in a
subprocess against an emulator this test owns, so the registry can be inspected afterwards."""

import json
import os
import re
import subprocess
import sys

import boto3
import pytest

from tests import bakery
from tests.local_run_fixtures import support

TEMPLATE = "build-train"


def combinations() -> list[dict[str, str]]:
    # A run takes tens of seconds; running all 64 combinations was over half of the suite's CPU.
    return bakery.covering_subset(TEMPLATE)


COMBINATIONS = [pytest.param(combo, id=bakery.combo_id(combo), marks=pytest.mark.slow) for combo in combinations()]


# MLflow tracking is read back on two rows (it costs a few seconds a run): a training run, and a
# tuning step whose two trials nest under one parent run. The suite's conftest turns tracking off.
TRACKED = {
    bakery.combo_id(next(combo for combo in combinations() if combo["hyperparameter_tuning"] == tuning))
    for tuning in ("no", "yes")
}


def local_run(project, *arguments, tracked=False):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if tracked:
        env.pop("MLFLOW_TRACKING_URI", None)  # the local run's own store under .local-run/mlflow
    for name in ("BUILD_ID", "ARTIFACT_BUCKET", "MODEL_PACKAGE_GROUP_NAME", "SAGEMAKER_PROJECT_NAME"):
        env.pop(name, None)
    # One trial per tuning step: the wiring of tuning is what is checked here; choosing the best of
    # several trials is tested on the hand-written definitions.
    command = [sys.executable, "-m", "mlops_template_kit.cli", "local-run", "--tuning-trials", "1", *arguments]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=1800)


def impossible_thresholds(project, first_run_output):
    """The definition the first run built, again, with every threshold set so that no model passes.

    Running the saved definition skips building it (and importing the SDK) a second time; the
    pipeline name keeps the step cache of the first run in scope.
    """
    saved = project / ".local-run" / "definition.json"
    names = [parameter["Name"] for parameter in json.loads(saved.read_text())["Parameters"]]
    thresholds = [name for name in names if name.startswith(("Min", "Max"))]
    assert thresholds, names
    pipeline = re.search(r"^Pipeline (\S+): execution", first_run_output, flags=re.MULTILINE).group(1)
    values = [f"--param={name}={'1e9' if name.startswith('Min') else '-1e9'}" for name in thresholds]
    return ["--definition", str(saved), "--pipeline-name", pipeline, *values]


@pytest.mark.parametrize("combo", COMBINATIONS)
def test_the_baked_pipeline_registers_a_model_and_fails_on_impossible_thresholds(baked, combo, tmp_path):
    project = bakery.private_copy(baked(TEMPLATE, bakery.answers_for(combo)), tmp_path)  # the run writes .local-run/
    tracked = bakery.combo_id(combo) in TRACKED
    tuned = combo["hyperparameter_tuning"] == "yes"
    with support.emulator():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        passed = local_run(project, *(["--tuning-trials", "2"] if tracked and tuned else []), tracked=tracked)
        assert passed.returncode == 0, passed.stdout[-4000:] + passed.stderr[-4000:]
        assert "Pipeline succeeded." in passed.stdout
        (group,) = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
        listed = sagemaker.list_model_packages(ModelPackageGroupName=group["ModelPackageGroupName"])
        (summary,) = listed["ModelPackageSummaryList"]
        package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("/evaluation.json")
        drift = package["DriftCheckBaselines"]
        assert ("ModelDataQuality" in drift) == (combo["data_quality_baseline"] == "yes")
        assert ("TuneModel" in passed.stdout) == (combo["hyperparameter_tuning"] == "yes")
        # Issue 15: bias and SHAP reports registered with the model, and its card in the run folder.
        assert package["ModelMetrics"]["Bias"]["PreTrainingReport"]["S3Uri"].endswith("/analysis.json")
        assert package["ModelMetrics"]["Explainability"]["Report"]["S3Uri"].endswith("/analysis.json")
        # ...and as drift-check baselines, as the pipeline definition registers them in AWS.
        check_drift_baselines(drift, package["ModelMetrics"]["Bias"]["PreTrainingReport"]["S3Uri"])
        (card,) = (project / ".local-run" / "runs").glob("*/model_card.md")
        sections = ("## Intended use", "pre-training bias, sex=F", "post-training bias, sex=F", "SHAP value")
        for section in (*sections, "| drift baseline: Clarify analysis configuration | s3://"):
            assert section in card.read_text(encoding="utf-8")
        if tracked:
            pipeline = re.search(r"^Pipeline (\S+): execution", passed.stdout, flags=re.MULTILINE).group(1)
            check_tracked_runs(project, pipeline, package, tuned)
        else:  # the registry refuses an empty metadata value: the model says it was not tracked
            assert package["CustomerMetadataProperties"]["mlflow_run_id"] == "not-tracked"

        failed = local_run(project, *impossible_thresholds(project, passed.stdout))
        assert failed.returncode == 1, failed.stdout[-4000:] + failed.stderr[-4000:]
        assert "Fail step reached:" in failed.stderr
        assert "is below the minimum" in failed.stderr or "is above the maximum" in failed.stderr
        assert "<== PrepareData: cached" in failed.stdout
        listed = sagemaker.list_model_packages(ModelPackageGroupName=group["ModelPackageGroupName"])
        assert len(listed["ModelPackageSummaryList"]) == 1


def check_drift_baselines(drift, analysis_uri):
    """Bias and feature-attribution drift baselines: the run's analysis.json, and its Clarify analysis
    configuration next to it, which names the facet and label of the run."""
    config_uri = analysis_uri.replace("/analysis.json", "/analysis_config.json")
    assert drift["Bias"]["ConfigFile"]["S3Uri"] == drift["Explainability"]["ConfigFile"]["S3Uri"] == config_uri
    for baseline in (drift["Bias"]["PreTrainingConstraints"], drift["Bias"]["PostTrainingConstraints"]):
        assert baseline["S3Uri"] == analysis_uri
    assert drift["Explainability"]["Constraints"]["S3Uri"] == analysis_uri
    bucket, _, key = config_uri.removeprefix("s3://").partition("/")
    config = json.loads(boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert config["facet"] == [{"name_or_index": "sex", "value_or_threshold": ["F"]}]


def check_tracked_runs(project, experiment_name, package, tuned):
    """Read the local store back through MLflow's client: the registered model's run holds the
    parameters, the validation and test metrics and the evaluation report, and names the model
    package it became (the package names the run); a tuned one nests its trials."""
    from mlflow.tracking import MlflowClient

    registered_run_id = package["CustomerMetadataProperties"]["mlflow_run_id"]

    client = MlflowClient(f"sqlite:///{project / '.local-run' / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(experiment_name)
    runs = {run.info.run_id: run for run in client.search_runs([experiment.experiment_id])}
    registered = runs.pop(registered_run_id)
    assert registered.info.status == "FINISHED"
    assert registered.data.tags["sagemaker.model_package_arn"] == package["ModelPackageArn"]
    assert {"framework", "problem_type"} <= set(registered.data.params)
    metrics = set(registered.data.metrics)
    assert any(name.startswith("validation_") for name in metrics) and any(name.startswith("test_") for name in metrics)
    assert "evaluation.json" in [artifact.path for artifact in client.list_artifacts(registered_run_id)]
    if not tuned:
        assert runs == {}
        assert "model" in [artifact.path for artifact in client.list_artifacts(registered_run_id)]
        return
    assert len(runs) == 2
    for trial in runs.values():
        assert trial.data.tags["mlflow.parentRunId"] == registered_run_id
        assert any(name.startswith("validation_") for name in trial.data.metrics)
        assert registered.data.params.keys() - {"tuning_trials"} == trial.data.params.keys()
    assert registered.data.params["tuning_trials"] == "2"
