"""The local run's MLflow store: a SQLite file under the run's work folder, no server.

A definition that declares the MlflowTrackingUri parameter tracks into `<work dir>/mlflow` unless
the user gives the parameter or exports MLFLOW_TRACKING_URI (empty turns tracking off, as the test
suite does). The store's schema is created once, by one background process that starts while the
run uploads its code, so the steps that track never migrate it; it also creates the pipeline's
experiment with its artifacts beside the database (MLflow's default would be the step's sandbox).
`make mlflow-ui` serves the same store. MLflow is imported only in that process and in the steps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PARAMETER = "MlflowTrackingUri"
ENVIRONMENT_VARIABLE = "MLFLOW_TRACKING_URI"
EXPERIMENT_VARIABLE = "MLFLOW_EXPERIMENT_NAME"
STORE_FOLDER = "mlflow"
DATABASE = "mlflow.db"
ARTIFACTS = "artifacts"

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
