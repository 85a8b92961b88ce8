"""Training steps, run with the script-mode contract of SageMaker's framework containers.

As the SageMaker training toolkit does: the `sagemaker_submit_directory` tarball is unpacked into
/opt/ml/code and `sagemaker_program` runs from there; every channel is downloaded to
/opt/ml/input/data/<channel>; each hyperparameter value is decoded as JSON when it parses
(`"5"` -> 5, `"true"` -> True) and passed as `--name value` (a one-letter name as `-n`), sorted by
name, `sagemaker_*` ones left out; the `SM_*` variables describe the same layout. What the script
leaves in SM_MODEL_DIR is packed as model.tar.gz at `<S3OutputPath>/<job name>/output/`.
The script runs with this repository's environment: a `requirements.txt` inside the tarball is
not installed.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..definition.expressions import to_text
from . import jobs
from .context import Job
from .errors import StepFailed
from .storage import join_uri

PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
SAGEMAKER_PREFIX = "sagemaker_"
HOST = "algo-1"


def run(job: Job) -> dict[str, Any]:
    """Run a training step; its properties are the request plus what the job produced."""
    return {**job.arguments, **train(job, job.arguments, job.job_name, job.sandbox, job.step.name)}


class Layout:
    """The /opt/ml tree of one training job inside its sandbox."""

    def __init__(self, sandbox: Path) -> None:
        self.sandbox = sandbox
        self.base = sandbox / "opt" / "ml"
        self.code = self.base / "code"
        self.model = self.base / "model"
        self.input = self.base / "input"
        self.config = self.input / "config"
        self.data = self.input / "data"
        self.output = self.base / "output"
        self.output_data = self.output / "data"
        self.intermediate = self.output / "intermediate"

    def create(self) -> None:
        """Make every folder the toolkit would find in a container."""
        for folder in (self.code, self.model, self.config, self.data, self.output_data, self.intermediate):
            folder.mkdir(parents=True, exist_ok=True)


def train(job: Job, request: dict[str, Any], job_name: str, sandbox: Path, label: str) -> dict[str, Any]:
    """Run one training job described by a CreateTrainingJob-shaped request."""
    hyperparameters = script_mode_hyperparameters(request)
    decoded = decode(hyperparameters)
    layout = Layout(sandbox)
    layout.create()
    fetch_code(job, decoded[SUBMIT_DIRECTORY], layout)
    channels = stage_channels(job, request.get("InputDataConfig") or [], layout)
    write_config(layout, hyperparameters, channels, request)
    program = decoded[PROGRAM]
    if not (layout.code / program).is_file():
        raise StepFailed(f"{PROGRAM} {program!r} is not in {decoded[SUBMIT_DIRECTORY]}")
    env = jobs.environment(request.get("Environment"), sandbox)
    env.update(toolkit_environment(layout, channels, decoded, program, job_name, request))
    user = {key: value for key, value in decoded.items() if not key.startswith(SAGEMAKER_PREFIX)}
    argv = [sys.executable, program, *to_cmd_args(user)]
    finished = jobs.run(argv, cwd=layout.code, env=env, label=label, console=job.run.console, log_dir=sandbox / "logs")
    jobs.check(finished, "the training script")
    definitions = (request.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    return {
        "TrainingJobName": job_name,
        "TrainingJobArn": job.run.arn("training-job", job_name),
        "TrainingJobStatus": "Completed",
        "HyperParameters": hyperparameters,
        "ModelArtifacts": {"S3ModelArtifacts": upload_artifacts(job, request, job_name, layout)},
        "FinalMetricDataList": final_metrics(definitions, finished.lines),
    }


def script_mode_hyperparameters(request: dict[str, Any]) -> dict[str, str]:
    """The job's hyperparameters as text; refused unless they name a script-mode program and its code."""
    spec = request.get("AlgorithmSpecification") or {}
    if spec.get("ContainerEntrypoint") or spec.get("AlgorithmName"):
        raise StepFailed("only framework script mode runs locally (no ContainerEntrypoint, no AlgorithmName)")
    hyperparameters = {str(key): to_text(value) for key, value in (request.get("HyperParameters") or {}).items()}
    decoded = decode(hyperparameters)
    if not isinstance(decoded.get(PROGRAM), str) or not isinstance(decoded.get(SUBMIT_DIRECTORY), str):
        raise StepFailed(f"script mode needs the hyperparameters {PROGRAM} and {SUBMIT_DIRECTORY}")
    return hyperparameters


def fetch_code(job: Job, uri: str, layout: Layout) -> None:
    """Download and unpack the source tarball into /opt/ml/code."""
    archive = layout.sandbox / "sourcedir.tar.gz"
    if not job.run.storage.objects(uri):
        raise StepFailed(f"{SUBMIT_DIRECTORY} {uri} does not exist")
    job.run.storage.download_object(uri, archive)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(layout.code, filter="data")
    except tarfile.TarError as error:
        raise StepFailed(f"{SUBMIT_DIRECTORY} {uri} is not a tar.gz archive: {error}") from None


def stage_channels(job: Job, channels: list[dict], layout: Layout) -> dict[str, dict]:
    """Download every channel into /opt/ml/input/data/<channel>; an empty channel fails the step."""
    described = {}
    for channel in channels:
        name = channel.get("ChannelName")
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if not source or source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise StepFailed(f"channel {name}: only S3Prefix data sources run locally")
        if channel.get("InputMode", "File") == "Pipe":
            raise StepFailed(f"channel {name}: Pipe input mode does not run locally")
        if job.run.storage.download(source["S3Uri"], layout.data / name) == 0:
            raise StepFailed(f"channel {name}: no objects under {source['S3Uri']}")
        described[name] = {
            "ContentType": channel.get("ContentType", ""),
            "TrainingInputMode": channel.get("InputMode", "File"),
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
    return described


def decode(hyperparameters: dict[str, str]) -> dict[str, Any]:
    """Each value as JSON when it parses, as the training toolkit reads hyperparameters.json."""
    decoded = {}
    for key, value in hyperparameters.items():
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded


def _argument_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ",".join(f"{key}={item}" for key, item in sorted(value.items()))
    return str(value)


def to_cmd_args(hyperparameters: dict[str, Any]) -> list[str]:
    """`--name value` pairs sorted by name; one-letter names get a single dash."""
    argv = []
    for name in sorted(hyperparameters):
        argv += [f"--{name}" if len(name) > 1 else f"-{name}", _argument_value(hyperparameters[name])]
    return argv


def _env_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def resource_config(request: dict[str, Any]) -> dict[str, Any]:
    """resourceconfig.json of a one-instance cluster."""
    instance_type = (request.get("ResourceConfig") or {}).get("InstanceType", "local")
    return {
        "current_host": HOST,
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": [HOST],
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": [HOST]}
        ],
        "network_interface_name": "eth0",
    }


def write_config(layout: Layout, hyperparameters: dict, channels: dict, request: dict) -> None:
    """The three files SageMaker writes to /opt/ml/input/config."""
    for name, content in (
        ("hyperparameters.json", hyperparameters),
        ("inputdataconfig.json", channels),
        ("resourceconfig.json", resource_config(request)),
    ):
        (layout.config / name).write_text(json.dumps(content), encoding="utf-8")


def toolkit_environment(
    layout: Layout, channels: dict, decoded: dict, program: str, job_name: str, request: dict
) -> dict[str, str]:
    """The `SM_*` variables the training toolkit exports to the script."""
    user = {key: value for key, value in decoded.items() if not key.startswith(SAGEMAKER_PREFIX)}
    framework = {key: value for key, value in decoded.items() if key.startswith(SAGEMAKER_PREFIX)}
    resources = resource_config(request)
    values: dict[str, Any] = {
        "hosts": resources["hosts"],
        "current_host": HOST,
        "current_instance_type": resources["current_instance_type"],
        "network_interface_name": "eth0",
        "hps": user,
        "user_entry_point": program,
        "framework_params": {key: value for key, value in framework.items() if key not in (PROGRAM, SUBMIT_DIRECTORY)},
        "resource_config": resources,
        "input_data_config": channels,
        "channels": sorted(channels),
        "module_name": program[:-3] if program.endswith(".py") else program,
        "module_dir": decoded.get(SUBMIT_DIRECTORY, ""),
        "log_level": 20,
        "input_dir": str(layout.input),
        "input_config_dir": str(layout.config),
        "output_dir": str(layout.output),
        "output_data_dir": str(layout.output_data),
        "output_intermediate_dir": str(layout.intermediate),
        "model_dir": str(layout.model),
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "user_args": to_cmd_args(user),
    }
    values["training_env"] = {**values, "job_name": job_name, "channel_input_dirs": _channel_dirs(layout, channels)}
    values.update({f"channel_{name}": path for name, path in _channel_dirs(layout, channels).items()})
    values.update({f"hp_{name}": value for name, value in user.items()})
    env = {f"SM_{key.upper()}": _env_value(value) for key, value in values.items()}
    env["TRAINING_JOB_NAME"] = job_name
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(layout.code), os.environ.get("PYTHONPATH")]))
    return env


def _channel_dirs(layout: Layout, channels: dict) -> dict[str, str]:
    return {name: str(layout.data / name) for name in channels}


def final_metrics(definitions: list[dict], lines: list[str]) -> list[dict[str, Any]]:
    """The last value each MetricDefinitions regex captured in the job's output."""
    metrics = []
    for definition in definitions:
        name, regex = definition.get("Name"), definition.get("Regex")
        try:
            pattern = re.compile(str(regex))
        except re.error as error:
            raise StepFailed(f"metric {name}: regex {regex!r} does not compile: {error}") from None
        values = [match.group(1) for line in lines if (match := pattern.search(line)) and match.groups()]
        numbers = [float(value) for value in values if _is_float(value)]
        if numbers:
            metrics.append({"MetricName": name, "Value": numbers[-1], "Timestamp": datetime.now(UTC).isoformat()})
    return metrics


def _is_float(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def pack(directory: Path, target: Path) -> None:
    """A reproducible tar.gz of a directory's contents (sorted, no timestamps or owners)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(directory.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(directory).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_file():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
        zipped.write(buffer.getvalue())


def upload_artifacts(job: Job, request: dict[str, Any], job_name: str, layout: Layout) -> str:
    """Upload the model (and output data) where SageMaker puts them; the model's S3 URI."""
    config = request.get("OutputDataConfig") or {}
    if not config.get("S3OutputPath"):
        raise StepFailed("OutputDataConfig.S3OutputPath is missing")
    prefix = join_uri(config["S3OutputPath"], job_name, "output")
    storage = job.run.storage
    if str(config.get("CompressionType", "GZIP")).upper() == "NONE":
        storage.upload_dir(layout.model, join_uri(prefix, "model"))
        return join_uri(prefix, "model") + "/"
    for folder, name in ((layout.model, "model.tar.gz"), (layout.output_data, "output.tar.gz")):
        pack(folder, layout.sandbox / name)
        storage.upload_file(layout.sandbox / name, join_uri(prefix, name))
    return join_uri(prefix, "model.tar.gz")
