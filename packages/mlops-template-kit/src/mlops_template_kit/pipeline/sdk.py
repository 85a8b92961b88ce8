"""SageMaker SDK plumbing of the pipelines: the offline build and generic step helpers.

The training pipeline (build-train) and the batch inference pipeline (deploy) both build their
definitions here. The definition is built offline: the session signs with dummy keys, the role is
not checked and telemetry is not sent. Importing this module imports the SageMaker SDK; the
commands that do not build a definition (`build-id`, `--help`) never import it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .loader import share_for_the_process
from .settings import Settings, sdk_region

# The SDK needs a region on import; the repository loader sets it from the repository it loads,
# and a module imported otherwise (a notebook, the team's tests) is run from its repository.
os.environ.setdefault("AWS_DEFAULT_REGION", sdk_region(Path.cwd()))

import boto3  # noqa: E402
from sagemaker.core.model_metrics import MetricsSource  # noqa: E402
from sagemaker.core.parameter import ContinuousParameter, IntegerParameter  # noqa: E402
from sagemaker.core.shapes import AthenaDatasetDefinition, DatasetDefinition, ProcessingInput, ProcessingS3Input  # noqa: E402
from sagemaker.core.utils.utils import serialize  # noqa: E402
from sagemaker.core.workflow.pipeline_context import PipelineSession  # noqa: E402
from sagemaker.mlops.workflow.steps import ProcessingStep  # noqa: E402

OFFLINE_ENVIRONMENT = {"SAGEMAKER_VALIDATE_ROLE": "false", "AWS_EC2_METADATA_DISABLED": "true"}
PROCESSING_ROOT = "/opt/ml/processing"
# The Athena parameters a processing input reads, by pipeline parameter name.
ATHENA_CATALOG = "AthenaCatalog"
ATHENA_DATABASE = "AthenaDatabase"
ATHENA_WORKGROUP = "AthenaWorkGroup"
ATHENA_QUERY = "AthenaQuery"
ATHENA_OUTPUT_URL = "AthenaOutputUrl"
# Query results as JSON Lines, gzip compressed: every record names its columns, so prepare_data
# needs no schema (Athena's text output has no header), and only the standard library reads it.
ATHENA_OUTPUT_FORMAT = "JSON"
ATHENA_OUTPUT_COMPRESSION = "GZIP"


def build_definition(
    build_pipeline: Callable[[Settings, Mapping[str, Any], PipelineSession], Any],
    settings: Settings,
    config: Mapping[str, Any],
) -> str:
    """The definition JSON of `build_pipeline(settings, config, session)`, built offline: the same
    settings and config give the same bytes. Parameter defaults the settings carry (a tracking
    server CI names) replace the config's."""
    definition = offline_definition(
        settings.region, settings.bucket, lambda session: build_pipeline(settings, config, session)
    )
    return with_parameter_defaults(definition, settings.parameter_defaults())


def with_parameter_defaults(definition: str, defaults: Mapping[str, str]) -> str:
    """The definition with the defaults of the named parameters replaced; a parameter the pipeline
    does not declare is left out (a repository that never declared it tracks nothing)."""
    if not defaults:
        return definition
    document = json.loads(definition)
    for parameter in document.get("Parameters", []):
        if parameter["Name"] in defaults:
            parameter["DefaultValue"] = defaults[parameter["Name"]]
    # The SDK writes the definition with json.dumps' defaults; so does this, so a build is byte-stable.
    return json.dumps(document)


def offline_definition(region: str, bucket: str, build: Callable[[PipelineSession], Any]) -> str:
    """The definition JSON of the pipeline `build(session)` returns, built offline with a session
    in `region` whose default bucket is `bucket`."""
    share_for_the_process()
    with offline(), quiet_sdk():
        return build(offline_session(region, bucket)).definition()


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Environment for an offline build, restored afterwards (the process may call AWS later)."""
    saved = {name: os.environ.get(name) for name in OFFLINE_ENVIRONMENT}
    os.environ.update(OFFLINE_ENVIRONMENT)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def quiet_sdk() -> Iterator[None]:
    """Silence the SDK's notes about building without running (job names popped, no waiting).

    Its loggers set their own levels, so only the logging-wide switch quiets them all.
    """
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Running within a PipelineSession")
            yield
    finally:
        logging.disable(previous)


def offline_session(region: str, bucket: str) -> PipelineSession:
    """A session that never calls AWS while the definition is built."""
    disable_telemetry()
    boto_session = boto3.Session(aws_access_key_id="offline", aws_secret_access_key="offline", region_name=region)
    session = PipelineSession(boto_session=boto_session, default_bucket=bucket)
    # The SDK asks for the default bucket even when every URI is explicit; set, it is not looked up.
    session._default_bucket = bucket
    # SDK defaults files on this machine must not change the definition (and an empty config
    # skips the schema validation the SDK repeats on every lookup).
    session.sagemaker_config = {}
    return session


def disable_telemetry() -> None:
    """The SDK reports usage over the network unless the config opts out; the opt-out is a
    config lookup that costs seconds, so the sender is replaced instead."""
    from sagemaker.core.telemetry import telemetry_logging

    telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None


# --------------------------------------------------------------------------- step helpers


def processing_input(name: str, s3_uri: Any, container_dir: str) -> ProcessingInput:
    """A processing input downloaded to /opt/ml/processing/<container_dir> before the step runs."""
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=s3_uri,
            local_path=f"{PROCESSING_ROOT}/{container_dir}",
            s3_data_type="S3Prefix",
            s3_input_mode="File",
            s3_data_distribution_type="FullyReplicated",
        ),
    )


def athena_input(name: str, parameters: Mapping[str, Any], container_dir: str) -> ProcessingInput:
    """A processing input that runs an Athena query and downloads its result to /opt/ml/processing/<container_dir>.

    `parameters` maps the Athena* parameter names to values or pipeline parameters. Every instance
    gets the whole result (FullyReplicated; the API's default shards it by S3 key).
    """
    return ProcessingInput(
        input_name=name,
        dataset_definition=DatasetDefinition(
            athena_dataset_definition=AthenaDatasetDefinition(
                catalog=parameters[ATHENA_CATALOG],
                database=parameters[ATHENA_DATABASE],
                work_group=parameters[ATHENA_WORKGROUP],
                query_string=parameters[ATHENA_QUERY],
                output_s3_uri=parameters[ATHENA_OUTPUT_URL],
                output_format=ATHENA_OUTPUT_FORMAT,
                output_compression=ATHENA_OUTPUT_COMPRESSION,
            ),
            local_path=f"{PROCESSING_ROOT}/{container_dir}",
            data_distribution_type="FullyReplicated",
            input_mode="File",
        ),
    )


class DatasetProcessingStep(ProcessingStep):
    """A ProcessingStep whose request keeps the inputs' DatasetDefinition.

    The SDK (3.27) passes dataset-definition inputs through `Processor.run` but drops them when
    it writes the CreateProcessingJob request, leaving an input with a name and nothing else;
    this puts each one back from the `ProcessingInput` it was given.
    """

    def __init__(self, *, inputs: list[ProcessingInput], **kwargs: Any):
        super().__init__(**kwargs)
        self.dataset_inputs = {item.input_name: item.dataset_definition for item in inputs if item.dataset_definition}

    @property
    def arguments(self) -> dict[str, Any]:
        request = super().arguments
        for item in request.get("ProcessingInputs", []):
            definition = self.dataset_inputs.get(item["InputName"])
            if definition is not None:
                item["DatasetDefinition"] = serialize(definition)
        return request


def json_metrics(s3_uri: Any) -> MetricsSource:
    """A model metrics source: the JSON document at `s3_uri`."""
    return MetricsSource(content_type="application/json", s3_uri=s3_uri)


def parameter_range(spec: Mapping[str, Any]) -> IntegerParameter | ContinuousParameter:
    """A tuning range from input.json: {"type": "Integer"|"Continuous", "min", "max", "scaling"}."""
    kind = IntegerParameter if spec["type"] == "Integer" else ContinuousParameter
    return kind(spec["min"], spec["max"], scaling_type=spec.get("scaling", "Auto"))


def encode_hyperparameters(hyperparameters: Mapping[str, Any]) -> dict[str, str]:
    """Hyperparameters as the framework containers read them: every value a JSON document.

    The SageMaker training toolkit decodes each value with `json.loads` and keeps the raw
    string when that fails; the older sagemaker-containers library decodes all values or
    none. JSON-encoding every value gives the script the same values under both.
    """
    return {name: json.dumps(value) for name, value in hyperparameters.items()}
