"""The local run's MLflow store: which tracking URI a run gets, and the once-per-store preparation.

The preparation's MLflow process itself runs in the monorepo's local-run test (read back through
MLflow's client); here a stand-in script takes its place, so these tests cost no MLflow import.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
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


# record_model_package: the real MLflow schema is exercised by the monorepo's local-run test, which
# reads the tag back through MlflowClient; here the two tables it touches, as MLflow declares them.
RUN_ID = "0123456789abcdef0123456789abcdef"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-p-abc123/1"


def store_with_run(tmp_path: Path, lifecycle_stage: str = "active") -> Path:
    database = tmp_path / tracking.DATABASE
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, lifecycle_stage VARCHAR(20))")
        connection.execute(
            "CREATE TABLE tags (key VARCHAR(250), value VARCHAR(8000), run_uuid VARCHAR(32), "
            "CONSTRAINT tag_pk PRIMARY KEY (key, run_uuid))"
        )
        connection.execute("INSERT INTO runs VALUES (?, ?)", (RUN_ID, lifecycle_stage))
    return database


def tags(database: Path) -> list[tuple]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute("SELECT key, value, run_uuid FROM tags").fetchall()


def package(run_id: str = RUN_ID, arn: str = ARN) -> dict:
    return {"ModelPackageArn": arn, "CustomerMetadataProperties": {tracking.RUN_ID_PROPERTY: run_id}}


def test_the_registered_run_is_tagged_with_its_model_package_once(tmp_path):
    database = store_with_run(tmp_path)
    assert tracking.record_model_package(database, package(arn=ARN[:-1] + "0")) is None
    assert tracking.record_model_package(database, package()) is None  # a re-run's package replaces it
    assert tags(database) == [(tracking.MODEL_PACKAGE_TAG, ARN, RUN_ID)]


@pytest.mark.parametrize("run_id", ["not-tracked", "", "../x"])
def test_a_package_without_a_tracked_run_tags_nothing(tmp_path, run_id):
    database = store_with_run(tmp_path)
    assert tracking.record_model_package(database, package(run_id)) is None
    assert tags(database) == []


def test_a_deleted_or_unknown_run_is_reported_in_one_line(tmp_path):
    database = store_with_run(tmp_path, lifecycle_stage="deleted")
    assert tracking.record_model_package(database, package()) == f"run {RUN_ID} is not an active run of the store"
    assert (
        tracking.record_model_package(database, package("f" * 32))
        == f"run {'f' * 32} is not an active run of the store"
    )
    assert tags(database) == []


def test_a_store_that_is_not_an_mlflow_database_is_reported_not_raised(tmp_path):
    database = tmp_path / tracking.DATABASE
    database.write_text("not a database")
    problem = tracking.record_model_package(database, package())
    assert problem.startswith(f"{database}: ") and "\n" not in problem
