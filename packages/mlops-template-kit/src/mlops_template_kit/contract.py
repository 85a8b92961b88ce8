"""The contract between a build-train repository and the deploy repository that deploys its models.

A build-train build writes; the deploy repository's batch inference reads. Both import this module,
so neither side can change its half alone:

- the S3 layout of a build under the project prefix (`<project>` or `<project>/branches/<slug>`):
      input/                                          raw data
      code/<build-id>/algorithms/ | sourcedir.tar.gz | input.json
      ml-pipeline-outputs/<build-id>/<step>/<output>/
- the customer-metadata keys every registered model package carries: `build_id`, which leads
  from a model back to the code and fitted preprocessor of the build that trained it, and
  `data_source`, what its pipeline reads (an S3 prefix or an Athena query);
- the parameters a retraining run (the deploy repository's drift rule, `mlops-kit monitor`)
  starts the training pipeline with: only ones that pipeline declares;
- the preprocessing step's transform mode: batch inference runs the training build's own
  `prepare_data` script with these arguments and reads the folders it writes.

Standard library only: the deploy repository imports it without the SageMaker SDK.
`data_layout` checks a build against the same layout.
"""

from __future__ import annotations

from collections.abc import Mapping

# --- S3 layout -----------------------------------------------------------------------------
INPUT_AREA = "input"
CODE_AREA = "code"
OUTPUTS_AREA = "ml-pipeline-outputs"
AREAS = (INPUT_AREA, CODE_AREA, OUTPUTS_AREA)
# What a build uploads under code/<build-id>/.
ALGORITHMS = "algorithms"
SOURCE_DIR_ARCHIVE = "sourcedir.tar.gz"
BUILD_CONFIG = "input.json"

# --- model package metadata ----------------------------------------------------------------
# CustomerMetadataProperties keys (CreateModelPackage, SageMaker API reference).
BUILD_ID_KEY = "build_id"
BRANCH_KEY = "branch"
DATA_SOURCE_KEY = "data_source"
# input.json data.source: the first step reads an S3 prefix of CSV files, or an Athena query.
S3_SOURCE, ATHENA_SOURCE = "s3", "athena"
DATA_SOURCES = (S3_SOURCE, ATHENA_SOURCE)

# --- the training pipeline's parameters a retraining run sets --------------------------------
# A parameter of StartPipelineExecution "must match a named parameter in the pipeline definition"
# (SageMaker API Reference, Parameter: Name, also in botocore's model,
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Parameter.html). InputDataUrl is
# declared only by pipelines that read S3 (data_source=s3); an Athena pipeline declares its query.
INPUT_DATA_PARAMETER = "InputDataUrl"
# Declared by every training pipeline: a retrained model waits for a person's approval.
APPROVAL_PARAMETER = "ModelApprovalStatus"
PENDING_APPROVAL = "PendingManualApproval"

# --- the preprocessing step, fit in training and transform in batch inference -----------------
PREPARE_STEP = "PrepareData"
PREPROCESSOR_OUTPUT = "preprocessor"
# Relative to algorithms/ (the code input of a processing step).
PREPARE_SCRIPT = "preprocessing/prepare_data/__main__.py"
# The folders transform mode writes under its --output-dir: processed features, the ids that
# join predictions back to the records, and the raw feature columns, the form fit mode's
# data-quality baseline is computed in (so the batch check compares like with like).
FEATURES_OUTPUT = "features"
IDS_OUTPUT = "ids"
RAW_FEATURES_OUTPUT = "raw_features"
TRANSFORM_OUTPUTS = (FEATURES_OUTPUT, IDS_OUTPUT, RAW_FEATURES_OUTPUT)


def area_uri(bucket: str, prefix: str, area: str, *parts: str) -> str:
    """`s3://<bucket>/<prefix>/<area>/<parts...>`, one slash between parts; the one URI builder."""
    if area not in AREAS:
        raise ValueError(f"unknown S3 area {area!r} (one of {', '.join(AREAS)})")
    keys = [prefix, area, *parts]
    return f"s3://{bucket}/" + "/".join(key.strip("/") for key in keys)


def code_uri(bucket: str, prefix: str, build_id: str, *parts: str) -> str:
    """Where build `build_id` uploaded its code, e.g. `code_uri(..., SOURCE_DIR_ARCHIVE)`."""
    return area_uri(bucket, prefix, CODE_AREA, build_id, *parts)


def algorithms_uri(bucket: str, prefix: str, build_id: str) -> str:
    """The uploaded `algorithms/` tree of a build, as the S3 prefix a processing step mounts."""
    return code_uri(bucket, prefix, build_id, ALGORITHMS) + "/"


def step_output_uri(bucket: str, prefix: str, build_id: str, step: str, output: str) -> str:
    """Where one output of one step of build `build_id` was written."""
    return area_uri(bucket, prefix, OUTPUTS_AREA, build_id, step, output)


def preprocessor_uri(bucket: str, prefix: str, build_id: str) -> str:
    """The fitted preprocessor of a build (what transform mode applies), as an S3 prefix."""
    return step_output_uri(bucket, prefix, build_id, PREPARE_STEP, PREPROCESSOR_OUTPUT) + "/"


def model_metadata(build_id: str, branch: str | None = None, data_source: str | None = None) -> dict[str, str]:
    """The CustomerMetadataProperties a build registers its model with."""
    return {
        BUILD_ID_KEY: build_id,
        **({BRANCH_KEY: branch} if branch else {}),
        **({DATA_SOURCE_KEY: data_source} if data_source else {}),
    }


def build_id_of(metadata: Mapping[str, str] | None) -> str | None:
    """The build that trained a model package, from its CustomerMetadataProperties; None if unrecorded."""
    return (metadata or {}).get(BUILD_ID_KEY) or None


def data_source_of(metadata: Mapping[str, str] | None) -> str | None:
    """What the pipeline that trained a model package reads (s3 or athena), from its
    CustomerMetadataProperties; None for a package registered before the key existed.
    ValueError (naming the allowed values) for any other value."""
    source = (metadata or {}).get(DATA_SOURCE_KEY) or None
    if source is not None and source not in DATA_SOURCES:
        raise ValueError(f"{DATA_SOURCE_KEY} {source!r} is not one of {', '.join(DATA_SOURCES)}")
    return source


def retraining_parameters(data_source: str | None, newest_data_uri: str) -> dict[str, str]:
    """The parameters a retraining run starts the training pipeline with, by what it reads.

    s3: `InputDataUrl` is the newest data prefix (the project's shared `input/`). athena: no data
    parameter: the query parameter's default (input.json AthenaQuery) reads the table as Athena
    sees it when the run starts, newest partitions included, and there is no parameter meaning
    "the newest partition" to set. Unknown (a package registered before `data_source` was
    recorded): no data parameter either, the one choice every pipeline accepts; an S3 pipeline's
    InputDataUrl default is the same shared `input/` prefix.
    """
    data = {INPUT_DATA_PARAMETER: newest_data_uri} if data_source == S3_SOURCE else {}
    return {**data, APPROVAL_PARAMETER: PENDING_APPROVAL}


def prepare_transform_arguments(input_dir: str, output_dir: str, preprocessor_dir: str) -> list[str]:
    """The arguments of `prepare_data` in transform mode: raw records in, features and ids out.

    It writes `<output_dir>/<name>/` for every name of TRANSFORM_OUTPUTS.
    """
    return [
        "--mode", "transform",
        "--input-dir", input_dir,
        "--output-dir", output_dir,
        "--preprocessor-dir", preprocessor_dir,
    ]  # fmt: skip
