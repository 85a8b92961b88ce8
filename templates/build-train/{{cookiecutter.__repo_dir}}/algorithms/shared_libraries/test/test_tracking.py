"""Tests of the steps' MLflow tracking against an in-memory stand-in for MLflow's client.

The stand-in answers the calls tracking.py makes (the real client, with a real store, is read back
in the template monorepo's local-run test); it keeps these tests free of MLflow's import cost.
Tracking must never fail a step: off, missing or broken, the step succeeds and says why once.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import types
from pathlib import Path

import pytest

from shared_libraries import tracking

TRIAL_JOBS = ("TuneModel-a1b2c3d4e5-001-0f0f0f0f", "TuneModel-a1b2c3d4e5-002-1e1e1e1e")
_FILTER = re.compile(r"^tags\.`(?P<tag>[^`]+)` = '(?P<value>.*)'$")


class FakeRun:
    def __init__(self, run_id: str, name: str, tags: dict) -> None:
        self.info = types.SimpleNamespace(run_id=run_id, run_name=name, status="RUNNING")
        self.data = types.SimpleNamespace(tags={**tags, tracking.RUN_NAME_TAG: name}, params={}, metrics={})
        self.artifacts: list[str] = []


class FakeClient:
    """Experiments and runs in memory; `fail_on` names a method that raises like an unreachable server."""

    fail_on: str | None = None
    runs: dict[str, FakeRun] = {}
    experiments: dict[str, str] = {}
    ids = itertools.count(1)

    def __init__(self, tracking_uri: str) -> None:
        self.uri = tracking_uri

    def _maybe_fail(self, method: str) -> None:
        if self.fail_on == method:
            raise ConnectionError(f"{self.uri} refused the connection\nretried 7 times")

    def get_experiment_by_name(self, name):
        self._maybe_fail("get_experiment_by_name")
        found = self.experiments.get(name)
        return types.SimpleNamespace(experiment_id=found) if found else None

    def create_experiment(self, name, artifact_location=None):
        self.experiments[name] = str(len(self.experiments) + 1)
        return self.experiments[name]

    def create_run(self, experiment_id, tags, run_name):
        self._maybe_fail("create_run")
        run = FakeRun(f"run{next(self.ids)}", run_name, tags)
        self.runs[run.info.run_id] = run
        return run

    def log_batch(self, run_id, metrics, params, tags):
        self._maybe_fail("log_batch")
        data = self.runs[run_id].data
        data.metrics.update({metric.key: metric.value for metric in metrics})
        data.params.update({param.key: param.value for param in params})
        data.tags.update({tag.key: tag.value for tag in tags})

    def log_artifact(self, run_id, path, artifact_path=None):
        self.runs[run_id].artifacts.append(Path(path).name)

    def log_artifacts(self, run_id, path, artifact_path=None):
        self.runs[run_id].artifacts.append(artifact_path or Path(path).name)

    def set_terminated(self, run_id):
        self.runs[run_id].info.status = "FINISHED"

    def get_run(self, run_id):
        return self.runs[run_id]

    def search_runs(self, experiment_ids, filter_string):
        match = _FILTER.match(filter_string)
        return [run for run in self.runs.values() if run.data.tags.get(match["tag"]) == match["value"]]


def _entity(name):
    def build(key, value, *rest):
        return types.SimpleNamespace(key=key, value=value)

    build.__name__ = name
    return build


@pytest.fixture
def fake_mlflow(monkeypatch):
    """MLflow's modules replaced by the stand-in, a tracking URI set, a fresh store."""
    client = type("Client", (FakeClient,), {"runs": {}, "experiments": {}, "fail_on": None})
    package = types.ModuleType("mlflow")
    modules = {
        "mlflow": package,
        "mlflow.tracking": types.SimpleNamespace(MlflowClient=client),
        "mlflow.entities": types.SimpleNamespace(**{name: _entity(name) for name in ("Metric", "Param", "RunTag")}),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv(tracking.TRACKING_URI, "https://mlflow.example.invalid")
    monkeypatch.setenv(tracking.EXPERIMENT_NAME, "diabetes-training")
    monkeypatch.setenv(tracking.BUILD_ID, "20261203T000000Z-abc1234")
    monkeypatch.setenv(tracking.MODEL_PACKAGE_GROUP, "diabetes-p-1")
    monkeypatch.delenv("TRAINING_JOB_NAME", raising=False)
    return client


def training_args(prepared: Path, model_dir: Path, output_dir: Path, problem_type: str, *extra: str) -> list[str]:
    return [
        "--train_dir", str(prepared / "train"),
        "--validation_dir", str(prepared / "validation"),
        "--preprocessor_dir", str(prepared / "preprocessor"),
        "--model_dir", str(model_dir),
        "--output_data_dir", str(output_dir),
        "--problem_type", problem_type,
        *extra,
    ]  # fmt: skip


def evaluate(evaluate_model, model_dir: Path, prepared: Path, output_dir: Path) -> int:
    argv = ["--model-dir", str(model_dir), "--test-dir", str(prepared / "test"), "--output-dir", str(output_dir)]
    return evaluate_model.main([*argv, "--bootstrap-resamples", "2"])


def notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "nothing tracked in MLflow" in line]


def test_a_training_run_holds_parameters_validation_and_test_metrics_and_the_model(
    tmp_path, fake_mlflow, train_model, evaluate_model, prepared_dir, problem_type, capsys
):
    model_dir = tmp_path / "model"
    assert train_model.main(training_args(prepared_dir, model_dir, tmp_path / "out", problem_type)) == 0
    assert evaluate(evaluate_model, model_dir, prepared_dir, tmp_path / "evaluation") == 0

    (run,) = fake_mlflow.runs.values()
    assert run.info.status == "FINISHED" and run.data.tags[tracking.STEP_TAG] == "train_model"
    assert run.data.tags["mlops.build_id"] == "20261203T000000Z-abc1234"
    assert run.data.tags["sagemaker.model_package_group"] == "diabetes-p-1"
    assert run.data.params["problem_type"] == problem_type and "seed" in run.data.params
    validation = json.loads((tmp_path / "out" / "validation_metrics.json").read_text())["validation_metrics"]
    assert {f"validation_{name}": value for name, value in validation.items()}.items() <= run.data.metrics.items()
    assert any(name.startswith("test_") and name.endswith("_std") for name in run.data.metrics)
    assert run.artifacts == ["model", "evaluation.json"]
    assert json.loads((model_dir / "metadata.json").read_text())[tracking.RUN_ID_KEY] == run.info.run_id
    recorded = json.loads((tmp_path / "evaluation" / tracking.TRACKING_FILE).read_text())
    assert recorded == {tracking.RUN_ID_KEY: run.info.run_id}
    assert notes(capsys.readouterr().err) == []


def test_tuning_trials_are_nested_under_one_parent_holding_the_best_trial_and_the_test_metrics(
    tmp_path, monkeypatch, fake_mlflow, train_model, evaluate_model, prepared_dir, problem_type
):
    for index, job in enumerate(TRIAL_JOBS):
        monkeypatch.setenv("TRAINING_JOB_NAME", job)
        argv = training_args(prepared_dir, tmp_path / job, tmp_path / f"out{index}", problem_type, "--seed", str(index))
        assert train_model.main([*argv, "--_tuning_objective_metric", "validation:auc"]) == 0
    monkeypatch.delenv("TRAINING_JOB_NAME")
    best = TRIAL_JOBS[1]
    assert evaluate(evaluate_model, tmp_path / best, prepared_dir, tmp_path / "evaluation") == 0

    runs = {run.info.run_name: run for run in fake_mlflow.runs.values()}
    parent = runs.pop("tuning")
    assert set(runs) == set(TRIAL_JOBS)
    assert {run.data.tags[tracking.TUNING_TAG] for run in runs.values()} == {"TuneModel-a1b2c3d4e5"}
    assert all(run.data.tags[tracking.PARENT_TAG] == parent.info.run_id for run in runs.values())
    assert parent.data.params["seed"] == "1" and parent.data.params["tuning_trials"] == "2"
    assert parent.data.tags["mlops.best_trial_run_id"] == runs[best].info.run_id
    assert any(name.startswith("test_") for name in parent.data.metrics)
    recorded = json.loads((tmp_path / "evaluation" / tracking.TRACKING_FILE).read_text())
    assert recorded[tracking.RUN_ID_KEY] == parent.info.run_id


def test_without_a_tracking_uri_the_step_succeeds_and_says_so_once(
    tmp_path, monkeypatch, train_model, evaluate_model, prepared_dir, problem_type, capsys
):
    monkeypatch.setenv(tracking.TRACKING_URI, "")
    assert train_model.main(training_args(prepared_dir, tmp_path / "model", tmp_path / "out", problem_type)) == 0
    expected = "MLFLOW_TRACKING_URI is empty (the pipeline's MlflowTrackingUri parameter)"
    assert notes(capsys.readouterr().err) == [f"train_model: nothing tracked in MLflow: {expected}"]
    assert tracking.RUN_ID_KEY not in json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert evaluate(evaluate_model, tmp_path / "model", prepared_dir, tmp_path / "evaluation") == 0
    assert len(notes(capsys.readouterr().err)) == 1
    recorded = json.loads((tmp_path / "evaluation" / tracking.TRACKING_FILE).read_text())
    assert recorded == {tracking.RUN_ID_KEY: tracking.NOT_TRACKED}


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        ("get_experiment_by_name", "did not answer: ConnectionError: https://mlflow.example.invalid refused"),
        ("create_run", "nothing tracked in MLflow: ConnectionError: https://mlflow.example.invalid refused"),
        ("log_batch", "nothing tracked in MLflow: ConnectionError: https://mlflow.example.invalid refused"),
    ],
)
def test_an_unreachable_server_leaves_the_training_successful_with_one_line_saying_why(
    tmp_path, fake_mlflow, train_model, prepared_dir, problem_type, capsys, failure, reason
):
    fake_mlflow.fail_on = failure
    assert train_model.main(training_args(prepared_dir, tmp_path / "model", tmp_path / "out", problem_type)) == 0
    (note,) = notes(capsys.readouterr().err)
    assert note.startswith("train_model: nothing tracked in MLflow: ") and reason in note
    assert "retried" not in note  # one line, not the error's whole text
    assert (tmp_path / "model" / "metadata.json").is_file()


def test_without_mlflow_installed_the_step_says_so(
    tmp_path, monkeypatch, train_model, prepared_dir, problem_type, capsys
):
    monkeypatch.setenv(tracking.TRACKING_URI, "https://mlflow.example.invalid")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what an image without MLflow gives an import
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    assert train_model.main(training_args(prepared_dir, tmp_path / "model", tmp_path / "out", problem_type)) == 0
    (note,) = notes(capsys.readouterr().err)
    assert note.startswith("train_model: nothing tracked in MLflow: mlflow is not installed in this environment")


@pytest.mark.parametrize(
    ("job", "group"),
    [
        ("TuneModel-a1b2c3d4e5-001-0f0f0f0f", "TuneModel-a1b2c3d4e5"),
        ("my-tuning-job-017-9a8b7c6d", "my-tuning-job"),
        ("plainjob", "plainjob"),
    ],
)
def test_the_tuning_group_is_the_tuning_job_name_that_prefixes_each_trial(monkeypatch, job, group):
    monkeypatch.setenv("TRAINING_JOB_NAME", job)
    assert tracking.tuning_group() == group


def test_report_metrics_are_flattened_with_their_standard_deviations():
    report = {"regression_metrics": {"rmse": {"value": 1.5, "standard_deviation": 0.25}}, "version": 1}
    assert tracking.flat_metrics(report, "test") == {"test_rmse": 1.5, "test_rmse_std": 0.25}


def test_a_local_store_keeps_artifacts_beside_its_database_and_a_server_decides_for_itself(tmp_path):
    uri = tracking.local_store_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve().as_posix()}/.local-run/mlflow/mlflow.db"
    assert tracking.artifact_location(uri) == (tmp_path.resolve() / ".local-run" / "mlflow" / "artifacts").as_uri()
    assert tracking.artifact_location("arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-1") is None


SERVER_ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/diabetes-p-1-mlflow"


def _pip_stand_in(monkeypatch, fake_modules: dict, returncode: int, stderr: str = "") -> list[list[str]]:
    """subprocess.run for pip: records the command; a success makes MLflow importable again."""
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        if returncode == 0:
            for name, module in fake_modules.items():
                monkeypatch.setitem(sys.modules, name, module)
        return types.SimpleNamespace(returncode=returncode, stdout="", stderr=stderr)

    monkeypatch.setattr(tracking.subprocess, "run", run)
    return calls


def test_against_sagemaker_mlflow_a_step_without_mlflow_installs_the_pinned_client_and_tracks(
    tmp_path, monkeypatch, fake_mlflow, train_model, prepared_dir, problem_type, capsys
):
    installed = {name: sys.modules[name] for name in ("mlflow", "mlflow.tracking", "mlflow.entities")}
    for name in installed:
        monkeypatch.setitem(sys.modules, name, None)  # the framework image: no MLflow
    monkeypatch.setenv(tracking.TRACKING_URI, SERVER_ARN)
    calls = _pip_stand_in(monkeypatch, installed, returncode=0)
    assert train_model.main(training_args(prepared_dir, tmp_path / "model", tmp_path / "out", problem_type)) == 0
    assert notes(capsys.readouterr().err) == []
    (command,) = calls
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert command[-2:] == ["-r", str(tracking.CLIENT_REQUIREMENTS)]
    assert len(fake_mlflow.runs) == 1


def test_a_failed_client_install_leaves_the_training_successful_with_one_line_saying_why(
    tmp_path, monkeypatch, train_model, prepared_dir, problem_type, capsys
):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    monkeypatch.setenv(tracking.TRACKING_URI, SERVER_ARN)
    pip_error = "No matching distribution found for mlflow-skinny==3.17.2"
    calls = _pip_stand_in(monkeypatch, {}, returncode=1, stderr=f"Looking in indexes\n{pip_error}\n")
    assert train_model.main(training_args(prepared_dir, tmp_path / "model", tmp_path / "out", problem_type)) == 0
    (note,) = notes(capsys.readouterr().err)
    assert note.endswith(f"installing tracking-requirements.txt failed: {pip_error}")
    assert len(calls) == 1 and (tmp_path / "model" / "metadata.json").is_file()


@pytest.mark.parametrize(
    ("uri", "installs"),
    [
        (SERVER_ARN, True),
        ("arn:aws-cn:sagemaker:cn-north-1:123456789012:mlflow-app/app-abc123", True),
        ("https://mlflow.example.invalid", False),
        ("sqlite:///tmp/mlflow.db", False),
        ("arn:aws:s3:::bucket/mlflow-tracking-server/x", False),
    ],
)
def test_only_a_sagemaker_mlflow_arn_makes_a_step_install_the_client(monkeypatch, uri, installs):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    calls = _pip_stand_in(monkeypatch, {}, returncode=1, stderr="network is unreachable")
    client_class, reason = tracking.mlflow_client_class(uri)
    assert client_class is None and reason.startswith("mlflow is not installed in this environment")
    assert bool(calls) == installs


def test_the_client_a_step_installs_is_the_repositorys_pinned_mlflow():
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
        return dict(line.split("==") for line in lines if "==" in line)

    repository = pins(Path(__file__).resolve().parents[3] / "requirements.txt")
    client = pins(tracking.CLIENT_REQUIREMENTS)
    assert client == {"mlflow-skinny": repository["mlflow"], "sagemaker-mlflow": repository["sagemaker-mlflow"]}
