"""The local run's MLflow store: which tracking URI a run gets, and the once-per-store preparation.

The preparation's MLflow process itself runs in the monorepo's local-run test (read back through
MLflow's client); here a stand-in script takes its place, so these tests cost no MLflow import.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_template_kit.definition.parse import Step
from mlops_template_kit.local_run import tracking

DECLARED = {"InputDataUrl": object(), tracking.PARAMETER: object()}


def test_a_run_tracks_into_the_store_under_its_work_folder_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv(tracking.ENVIRONMENT_VARIABLE, raising=False)
    given = tracking.with_tracking({"InputDataUrl": "s3://b/in/"}, DECLARED, tmp_path)
    assert given == {"InputDataUrl": "s3://b/in/", tracking.PARAMETER: f"sqlite:///{tmp_path}/mlflow/mlflow.db"}


@pytest.mark.parametrize(
    ("exported", "given", "expected"),
    [
        ("", {}, ""),  # exported empty: tracking off, as the test suite runs
        ("https://mlflow.example.invalid", {}, "https://mlflow.example.invalid"),
        ("", {tracking.PARAMETER: "sqlite:////elsewhere.db"}, "sqlite:////elsewhere.db"),  # --param wins
    ],
)
def test_an_explicit_value_or_an_exported_uri_wins_over_the_local_store(
    tmp_path, monkeypatch, exported, given, expected
):
    monkeypatch.setenv(tracking.ENVIRONMENT_VARIABLE, exported)
    assert tracking.with_tracking(given, DECLARED, tmp_path)[tracking.PARAMETER] == expected


def test_a_definition_without_the_parameter_gets_none(tmp_path, monkeypatch):
    monkeypatch.delenv(tracking.ENVIRONMENT_VARIABLE, raising=False)
    assert tracking.with_tracking({}, {"InputDataUrl": object()}, tmp_path) == {}


def step(arguments: dict) -> Step:
    return Step(name="S", type="Training", spec={"Arguments": arguments}, index=0)


def test_the_experiment_is_the_one_a_step_environment_names():
    steps = [
        step({"Environment": {"OTHER": "x"}}),
        step({"TrainingJobDefinition": {"Environment": {tracking.EXPERIMENT_VARIABLE: "p-training"}}}),
    ]
    assert tracking.experiment_of(steps) == "p-training"
    assert tracking.experiment_of([step({})]) == ""


def test_only_the_runs_own_store_is_prepared(tmp_path):
    elsewhere = tracking.prepare({tracking.PARAMETER: "sqlite:////some/other.db"}, tmp_path, [])
    off = tracking.prepare({tracking.PARAMETER: ""}, tmp_path, [])
    assert elsewhere.process is None and off.process is None
    assert elsewhere.wait() is None and off.wait() is None
    assert not (tmp_path / tracking.STORE_FOLDER).exists()


def test_a_store_that_cannot_be_prepared_is_reported_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(
        tracking,
        "_PREPARE",
        "import sys\nprint('Traceback ...', file=sys.stderr)\nraise SystemExit('database is locked')",
    )
    store = tracking.prepare({tracking.PARAMETER: tracking.store_uri(tmp_path)}, tmp_path, [])
    assert store.wait() == "database is locked"
    assert (tmp_path / tracking.STORE_FOLDER / tracking.ARTIFACTS).is_dir()


def test_a_store_folder_that_is_a_file_is_reported_not_raised(tmp_path: Path):
    (tmp_path / tracking.STORE_FOLDER).write_text("not a folder")
    store = tracking.prepare({tracking.PARAMETER: tracking.store_uri(tmp_path)}, tmp_path, [])
    assert store.process is None
    assert store.wait().startswith(f"cannot create {tmp_path / tracking.STORE_FOLDER / tracking.ARTIFACTS}")


def test_the_preparation_runs_in_the_store_folder_with_the_experiment_and_its_artifact_folder(tmp_path, monkeypatch):
    record = tmp_path / "record.txt"
    script = f"import os, sys\nopen({str(record)!r}, 'w').write(os.getcwd() + '|' + '|'.join(sys.argv[1:]))"
    monkeypatch.setattr(tracking, "_PREPARE", script)
    steps = [step({"Environment": {tracking.EXPERIMENT_VARIABLE: "p-training"}})]
    store = tracking.prepare({tracking.PARAMETER: tracking.store_uri(tmp_path)}, tmp_path, steps)
    assert store.wait() is None
    folder = tmp_path / tracking.STORE_FOLDER
    expected = [str(folder), tracking.store_uri(tmp_path), "p-training", (folder / tracking.ARTIFACTS).as_uri()]
    assert record.read_text().split("|") == expected
