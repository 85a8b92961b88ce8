"""Experiment tracking in MLflow for the training, tuning and evaluation steps.

Where runs go is MLflow's own `MLFLOW_TRACKING_URI`: the pipeline sets it from its MlflowTrackingUri
parameter (a SageMaker managed MLflow ARN in AWS, read through the sagemaker-mlflow plugin; a
store under .local-run/mlflow in a local run). Empty means no tracking. Tracking never fails a
step: when it is off or MLflow cannot be reached, the step says so once, in one line, and goes on.

MLflow is imported only when a step tracks, so the pipeline definition and untracked runs never
pay for it. Each run is written with a few batched calls (log_batch), not one call per value.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

TRACKING_URI = "MLFLOW_TRACKING_URI"
EXPERIMENT_NAME = "MLFLOW_EXPERIMENT_NAME"
DEFAULT_EXPERIMENT = "training-pipeline"
# Set by the pipeline definition on every tracked job from the build's settings. Not the pipeline
# execution: a per-execution value in a step's arguments would defeat step caching.
BUILD_ID = "MLOPS_BUILD_ID"
COMMIT_ID = "MLOPS_COMMIT_ID"
MODEL_PACKAGE_GROUP = "MLOPS_MODEL_PACKAGE_GROUP"
# MLflow's own tags: a run's parent (nested runs) and its source commit.
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
COMMIT_TAG = "mlflow.source.git.commit"
# Our tags: the trials of one tuning job share this one; the evaluation finds them by it.
TUNING_TAG = "mlops.tuning_group"
STEP_TAG = "mlops.step"
RUN_ID_KEY = "mlflow_run_id"
TRACKING_FILE = "tracking.json"
# What the registered model records when nothing was tracked: CustomerMetadataProperties values
# must not be empty (1 to 256 characters, botocore's sagemaker model: CustomerMetadataValue).
NOT_TRACKED = "not-tracked"
# MLflow limits a param value to 6,000 characters (mlflow.org/docs/latest/api_reference: log_param).
PARAM_LIMIT = 6000
# A SageMaker managed MLflow tracking server or MLflow App: the steps then run in AWS, in framework
# images without MLflow, and install the pinned client first (API_DescribeMlflowTrackingServer,
# API_DescribeMlflowApp: arn:<partition>:sagemaker:<region>:<account>:mlflow-tracking-server/<name>
# and .../mlflow-app/<id>).
SAGEMAKER_MLFLOW_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:mlflow-(tracking-server|app)/")
CLIENT_REQUIREMENTS = Path(__file__).with_name("tracking-requirements.txt")
INSTALL_TIMEOUT_S = 600
# The local store of `make local-run` (the platform kit creates it), relative to the repository root.
LOCAL_STORE = Path(".local-run") / "mlflow"


class Tracker:
    """One step's connection to MLflow, or a silent stand-in when tracking is off."""

    def __init__(self, step: str, client: Any = None, experiment_id: str | None = None) -> None:
        self.step = step
        self.client = client
        self.experiment_id = experiment_id

    @property
    def active(self) -> bool:
        return self.client is not None

    def disable(self, reason: str) -> None:
        """Stop tracking for the rest of the step, saying why (every later call is a no-op: said once)."""
        # stderr: stdout carries the metric lines SageMaker's metric definitions read.
        print(f"{self.step}: nothing tracked in MLflow: {reason}", file=sys.stderr, flush=True)
        self.client = None

    def start_run(self, name: str, tags: dict[str, str]) -> str | None:
        """A new run in the experiment with the pipeline's tags; its id, or None when not tracking."""
        if not self.active:
            return None
        try:
            run = self.client.create_run(self.experiment_id, tags={**pipeline_tags(), **tags}, run_name=name)
        except Exception as error:  # noqa: BLE001 - any MLflow or network failure must not fail the step
            self.disable(first_line(error))
            return None
        return run.info.run_id

    def log(
        self,
        run_id: str | None,
        params: dict | None = None,
        metrics: dict | None = None,
        tags: dict | None = None,
    ) -> None:
        """Parameters, metrics and tags of one run in one batched call."""
        if not self.active or run_id is None:
            return
        from mlflow.entities import Metric, Param, RunTag

        timestamp = current_millis()
        try:
            self.client.log_batch(
                run_id,
                metrics=[Metric(name, float(value), timestamp, 0) for name, value in (metrics or {}).items()],
                params=[Param(name, str(value)[:PARAM_LIMIT]) for name, value in (params or {}).items()],
                tags=[RunTag(name, str(value)) for name, value in (tags or {}).items()],
            )
        except Exception as error:  # noqa: BLE001
            self.disable(first_line(error))

    def log_artifacts(self, run_id: str | None, path: Path, artifact_path: str | None = None) -> None:
        """A file or a folder as the run's artifacts."""
        if not self.active or run_id is None:
            return
        try:
            if Path(path).is_dir():
                self.client.log_artifacts(run_id, str(path), artifact_path)
            else:
                self.client.log_artifact(run_id, str(path), artifact_path)
        except Exception as error:  # noqa: BLE001
            self.disable(first_line(error))

    def finish(self, run_id: str | None) -> None:
        if not self.active or run_id is None:
            return
        try:
            self.client.set_terminated(run_id)
        except Exception as error:  # noqa: BLE001
            self.disable(first_line(error))

    def runs_tagged(self, tag: str, value: str) -> list:
        """Runs of the experiment whose tag has this value (the trials of one tuning job)."""
        if not self.active:
            return []
        try:
            quoted = value.replace("'", "\\'")
            return self.client.search_runs([self.experiment_id], filter_string=f"tags.`{tag}` = '{quoted}'")
        except Exception as error:  # noqa: BLE001
            self.disable(first_line(error))
            return []

    def run_tags(self, run_id: str | None) -> dict[str, str]:
        if not self.active or run_id is None:
            return {}
        try:
            return dict(self.client.get_run(run_id).data.tags)
        except Exception as error:  # noqa: BLE001
            self.disable(first_line(error))
            return {}


def open_tracker(step: str) -> Tracker:
    """A tracker for this step: MLflow's client on the experiment, or off with a one-line reason."""
    tracker = Tracker(step)
    uri = os.environ.get(TRACKING_URI, "").strip()
    if not uri:
        tracker.disable(f"{TRACKING_URI} is empty (the pipeline's MlflowTrackingUri parameter)")
        return tracker
    # MLflow 3 reports usage to its maintainers unless told not to; a pipeline step sends nothing
    # anywhere but its tracking server (an exported value wins).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    client_class, missing = mlflow_client_class(uri)
    if client_class is None:
        tracker.disable(missing)
        return tracker
    try:
        client = client_class(tracking_uri=uri)
        tracker.experiment_id = experiment_id(client, os.environ.get(EXPERIMENT_NAME) or DEFAULT_EXPERIMENT, uri)
        tracker.client = client
    except Exception as error:  # noqa: BLE001 - an unreachable server, a refused ARN, a broken store
        tracker.disable(f"{uri} did not answer: {first_line(error)}")
    return tracker


def mlflow_client_class(uri: str) -> tuple[Any, str]:
    """MLflow's client class, or None and why not. Against SageMaker managed MLflow the step runs in
    an AWS framework image, which ships no MLflow: the pinned client is installed there first."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as error:
        missing = f"mlflow is not installed in this environment ({error.name or error})"
        if not SAGEMAKER_MLFLOW_ARN.match(uri):
            return None, missing
    else:
        return MlflowClient, ""
    problem = install_client()
    if problem:
        return None, f"{missing}, and installing {CLIENT_REQUIREMENTS.name} failed: {problem}"
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as error:
        return None, f"{missing}, and still not importable after installing it ({error.name or error})"
    return MlflowClient, ""


def install_client() -> str:
    """pip-install the pinned MLflow client into this job's Python; "" when done, else pip's last line.
    pip reads PIP_INDEX_URL, so a job without internet access can use a private mirror."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    try:
        result = subprocess.run(
            [*command, "-r", str(CLIENT_REQUIREMENTS)], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return first_line(error)
    if result.returncode == 0:
        return ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"pip exited with {result.returncode}"


def local_store_uri(repo_root: Path) -> str:
    """The repository's local store, where `make local-run` tracks and `make mlflow-ui` reads."""
    return f"sqlite:///{(Path(repo_root).resolve() / LOCAL_STORE / 'mlflow.db').as_posix()}"


def artifact_location(uri: str) -> str | None:
    """A local SQLite store keeps run artifacts beside its database (MLflow's default would be
    ./mlruns under whatever folder the step or notebook runs in); a server decides for itself."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "artifacts").as_uri()


def experiment_id(client: Any, name: str, uri: str = "") -> str:
    """The experiment of this name, created when missing (another step may create it at the same time)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location(uri))
    except Exception:  # noqa: BLE001 - lost the race to a parallel trial: it exists now
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def pipeline_tags() -> dict[str, str]:
    """What ties a run to its build: the commit, the build id and the pipeline execution."""
    tags = {
        COMMIT_TAG: os.environ.get(COMMIT_ID, ""),
        "mlops.build_id": os.environ.get(BUILD_ID, ""),
        "sagemaker.model_package_group": os.environ.get(MODEL_PACKAGE_GROUP, ""),
        "sagemaker.training_job_name": os.environ.get("TRAINING_JOB_NAME", ""),
    }
    return {name: value for name, value in tags.items() if value}


def tuning_group() -> str:
    """The key the trials of one tuning job share: its name, the prefix of every training job it
    launches (docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html,
    HyperParameterTuningJobName), followed by `-<NNN>-<id>` (the local run names trials the same way)."""
    job = os.environ.get("TRAINING_JOB_NAME", "")
    parts = job.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else job or os.environ.get(BUILD_ID, "") or "untitled"


def flat_metrics(report: dict, prefix: str) -> dict[str, float]:
    """`<prefix>_<metric>` and `<prefix>_<metric>_std` of a model quality report's sections."""
    metrics = {}
    for section in report.values():
        if not isinstance(section, dict):
            continue
        for name, metric in section.items():
            if isinstance(metric, dict) and "value" in metric:
                metrics[f"{prefix}_{name}"] = metric["value"]
                if "standard_deviation" in metric:
                    metrics[f"{prefix}_{name}_std"] = metric["standard_deviation"]
    return metrics


def write_tracking_file(run_id: str | None, output_dir: Path) -> Path:
    """tracking.json, the property file the registration reads the run id from (NOT_TRACKED when none)."""
    from .data_io import write_json

    return write_json({RUN_ID_KEY: run_id or NOT_TRACKED}, output_dir / TRACKING_FILE)


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def current_millis() -> int:
    import time

    return int(time.time() * 1000)
