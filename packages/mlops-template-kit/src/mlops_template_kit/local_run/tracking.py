"""The local run's MLflow store: a SQLite file under the run's work folder, no server.

A definition that declares the MlflowTrackingUri parameter tracks into `<work dir>/mlflow` unless
the user gives the parameter or exports MLFLOW_TRACKING_URI (empty turns tracking off, as the test
suite does). The store's schema is created once, by one background process that starts while the
run uploads its code, so the steps that track never migrate it; it also creates the pipeline's
experiment with its artifacts beside the database (MLflow's default would be the step's sandbox).
`make mlflow-ui` serves the same store. MLflow is imported only in that process and in the steps.

After RegisterModel, the run named by the package's `mlflow_run_id` metadata is tagged with the
package's ARN (`record_model_package`), so the run records the model package and the package its run.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

PARAMETER = "MlflowTrackingUri"
ENVIRONMENT_VARIABLE = "MLFLOW_TRACKING_URI"
EXPERIMENT_VARIABLE = "MLFLOW_EXPERIMENT_NAME"
STORE_FOLDER = "mlflow"
DATABASE = "mlflow.db"
ARTIFACTS = "artifacts"
# The customer metadata property that names the package's run, and the run's tag naming the package.
RUN_ID_PROPERTY = "mlflow_run_id"
MODEL_PACKAGE_TAG = "sagemaker.model_package_arn"
# MLflow run ids are uuid4 hex; anything else ("not-tracked") means the steps tracked nothing.
_RUN_ID = re.compile(r"[0-9a-f]{32}")

# Run as `python -c` with the URI, the experiment name ("" for none) and the artifact folder.
_PREPARE = """
import sys
from mlflow.tracking import MlflowClient
uri, name, artifacts = sys.argv[1:4]
client = MlflowClient(tracking_uri=uri)
if name and client.get_experiment_by_name(name) is None:
    client.create_experiment(name, artifact_location=artifacts)
"""


def store_folder(work_dir: Path) -> Path:
    """Where the local store lives: `<repo>/.local-run/mlflow` by default."""
    return work_dir / STORE_FOLDER


def store_uri(work_dir: Path) -> str:
    """The SQLite tracking URI of the local store (absolute: steps run in their own sandboxes)."""
    return f"sqlite:///{(store_folder(work_dir) / DATABASE).as_posix()}"


def with_tracking(given: dict[str, Any], declared: Any, work_dir: Path) -> dict[str, Any]:
    """The parameter values with MlflowTrackingUri filled in for a local run, when the definition has it."""
    if PARAMETER not in declared or PARAMETER in given:
        return given
    value = os.environ.get(ENVIRONMENT_VARIABLE)
    return {**given, PARAMETER: store_uri(work_dir) if value is None else value}


def experiment_of(steps: Any) -> str:
    """The experiment the steps log to: the MLFLOW_EXPERIMENT_NAME of a step's environment."""
    for step in steps:
        arguments = step.arguments
        environments = [arguments.get("Environment"), (arguments.get("TrainingJobDefinition") or {}).get("Environment")]
        for environment in environments:
            name = (environment or {}).get(EXPERIMENT_VARIABLE)
            if isinstance(name, str) and name:
                return name
    return ""


class StorePreparation:
    """The background process that creates the local store's schema and experiment."""

    def __init__(self, uri: str, work_dir: Path, experiment: str) -> None:
        self.uri = uri
        self.process: subprocess.Popen | None = None
        self.problem = None
        if not uri.startswith("sqlite:///") or uri != store_uri(work_dir):
            return  # someone else's store: theirs to prepare
        self.problem: str | None = None
        artifacts = store_folder(work_dir) / ARTIFACTS
        try:
            artifacts.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self.problem = f"cannot create {artifacts}: {error.strerror}"
            return
        self.process = subprocess.Popen(
            [sys.executable, "-c", _PREPARE, uri, experiment, artifacts.as_uri()],
            # MLflow's Default experiment keeps its artifacts under the working folder: the store's.
            cwd=store_folder(work_dir),
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": os.environ.get("MLFLOW_DISABLE_TELEMETRY", "true")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait(self) -> str | None:
        """Wait for the store; the one-line reason it could not be prepared, if any."""
        if self.process is None:
            return self.problem
        _, errors = self.process.communicate()
        if self.process.returncode == 0:
            return None
        lines = [line for line in errors.strip().splitlines() if line.strip()]
        return lines[-1] if lines else f"exit code {self.process.returncode}"


def prepare(parameters: dict[str, Any], work_dir: Path, steps: Any) -> StorePreparation:
    """Start preparing the local store the run's MlflowTrackingUri names (nothing for another store)."""
    uri = str(parameters.get(PARAMETER) or "")
    return StorePreparation(uri, work_dir, experiment_of(steps) if uri else "")


def record_model_package(database: Path, package: dict[str, Any]) -> str | None:
    """Tag the MLflow run the package's metadata names with the package's ARN, in the local store.

    Written with sqlite3 the way MLflow's SQL store sets a tag (a row of its `tags` table, for an
    active run), because importing MLflow in the runner would cost seconds per run; the local-run
    end-to-end test reads the tag back through MlflowClient, so a schema change of a newer MLflow
    fails there. Returns the one-line reason when the run could not be tagged; None when it was,
    or when the package names no tracked run (the step already said why)."""
    run_id = str((package.get("CustomerMetadataProperties") or {}).get(RUN_ID_PROPERTY, ""))
    if not _RUN_ID.fullmatch(run_id):
        return None
    try:
        # closing() closes the file; the connection's own context commits (or rolls back) the write.
        with closing(sqlite3.connect(database, timeout=30)) as connection, connection:
            return _tag_run(connection, run_id, package["ModelPackageArn"]) or None
    except sqlite3.Error as error:
        return f"{database}: {error}"


def _tag_run(connection: sqlite3.Connection, run_id: str, arn: str) -> str:
    found = connection.execute("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
    if found is None or found[0] != "active":
        return f"run {run_id} is not an active run of the store"
    connection.execute(
        "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?) "
        "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value",
        (MODEL_PACKAGE_TAG, arn, run_id),
    )
    return ""
