"""The SageMaker training pipeline of this repository: the only module that uses the SageMaker Python SDK.

Preprocessing -> training (or tuning) -> evaluation -> one condition per metric threshold ->
model registration, or a failure naming the metric that missed. With a data-quality baseline,
a Model Monitor baseline of the training features is registered with the model. The first step
reads an S3 prefix or, with `"source": "athena"` in input.json, the result of an Athena query.
Each registered model records the commit it was built from (`MetadataProperties.CommitId`).

Commands (from the repository root):

    python ml_pipelines/training/ml-pipeline-training.py definition   # JSON, offline
    python ml_pipelines/training/ml-pipeline-training.py mermaid      # the steps as a Mermaid flowchart
    python ml_pipelines/training/ml-pipeline-training.py build-id     # a new id: UTC time + commit
    python ml_pipelines/training/ml-pipeline-training.py upload-code  # algorithms/ + input.json to S3
    python ml_pipelines/training/ml-pipeline-training.py upsert       # create or update the pipeline
    python ml_pipelines/training/ml-pipeline-training.py start        # start an execution
{%- if cookiecutter.multi_branch == "yes" %}
    python ml_pipelines/training/ml-pipeline-training.py cleanup-branch --branch B [--delete-group]
    python ml_pipelines/training/ml-pipeline-training.py approve-merged --commit C [--branch B]
{%- endif %}

Settings come from the environment (see ml_pipelines/settings.py); everything else from input.json.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import logging
import os
import re
import sys
import tarfile
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# Run as a script, only this folder is on sys.path; the repository root holds `ml_pipelines`.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from mlops_template_kit import definition as pipeline_definition  # noqa: E402
{% if cookiecutter.multi_branch == "yes" %}
from ml_pipelines import branches  # noqa: E402
{%- endif %}
from ml_pipelines import settings as project_settings  # noqa: E402

CONFIG_PATH = Path(__file__).resolve().with_name("input.json")
ALGORITHMS_DIR = REPO_ROOT / "algorithms"

# Pipeline parameters (names are part of the interface: `start` and the console override them).
PROCESSING_INSTANCE_TYPE = "ProcessingInstanceType"
PROCESSING_INSTANCE_COUNT = "ProcessingInstanceCount"
TRAINING_INSTANCE_TYPE = "TrainingInstanceType"
TRAINING_INSTANCE_COUNT = "TrainingInstanceCount"
MODEL_APPROVAL_STATUS = "ModelApprovalStatus"
SKIP_DATA_QUALITY_CHECK = "SkipDataQualityCheck"
REGISTER_NEW_DATA_QUALITY_BASELINE = "RegisterNewDataQualityBaseline"
INPUT_DATA_URL = "InputDataUrl"
ATHENA_CATALOG = "AthenaCatalog"
ATHENA_DATABASE = "AthenaDatabase"
ATHENA_WORKGROUP = "AthenaWorkGroup"
ATHENA_QUERY = "AthenaQuery"
ATHENA_OUTPUT_URL = "AthenaOutputUrl"
ATHENA_PARAMETERS = (ATHENA_CATALOG, ATHENA_DATABASE, ATHENA_WORKGROUP, ATHENA_QUERY)
# CreateProcessingJob's limits on AthenaDatasetDefinition fields (the API reference).
ATHENA_LIMITS = {ATHENA_CATALOG: 256, ATHENA_DATABASE: 255, ATHENA_WORKGROUP: 128, ATHENA_QUERY: 4096}
ATHENA_WORKGROUP_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,128}$")

# Step names and the outputs each step writes (the S3 layout uses both).
PREPARE_DATA = "PrepareData"
TRAIN_MODEL = "TrainModel"
TUNE_MODEL = "TuneModel"
EVALUATE_MODEL = "EvaluateModel"
DATA_QUALITY_BASELINE = "DataQualityBaseline"
REGISTER_MODEL = "RegisterModel"
PREPARED_OUTPUTS = ("train", "validation", "test", "baseline", "preprocessor")
TRAINING_CHANNELS = ("train", "validation", "preprocessor")
EVALUATION_OUTPUT = "evaluation"
EVALUATION_FILE = "evaluation.json"
EVALUATION_REPORT = "EvaluationReport"
# Where the first step reads raw data: every object under an S3 prefix, or an Athena query's result.
DATA_SOURCES = ("s3", "athena")
ATHENA_RESULTS = "athena-results"
# Query results as JSON Lines, gzip compressed: every record names its columns, so prepare_data
# needs no schema (Athena's text output has no header), and only the standard library reads it.
ATHENA_OUTPUT_FORMAT = "JSON"
ATHENA_OUTPUT_COMPRESSION = "GZIP"

# Container paths: the step scripts take them as arguments (their defaults are the same paths).
PROCESSING_ROOT = "/opt/ml/processing"
CODE_DIR = f"{PROCESSING_ROOT}/input/code"
SCRIPTS = {
    PREPARE_DATA: "preprocessing/prepare_data/__main__.py",
    TRAIN_MODEL: "training/train_model/__main__.py",
    EVALUATE_MODEL: "postprocessing/evaluate_model/__main__.py",
}
# The registered model serves with the framework container's script mode; the bundle holds the code.
SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}

# SageMaker framework containers that train, evaluate and serve each framework.
FRAMEWORK_IMAGES = {"xgboost": ("xgboost", "3.0-5"), "sklearn": ("sklearn", "1.4-2")}
METRICS = {
    "binary_classification": ("binary_classification_metrics", {"auc", "f1", "precision", "recall", "accuracy"}),
    "regression": ("regression_metrics", {"rmse", "mae", "r2"}),
}
# Metrics where larger is better set the tuning objective to Maximize.
MAXIMIZED_METRICS = {"auc", "f1", "precision", "recall", "accuracy", "r2"}
RESERVED_HYPERPARAMETERS = {"problem_type", "target_column"}
APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
RANGE_TYPES = ("Integer", "Continuous")
SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
# Hyperband needs per-epoch metrics and Grid categorical ranges: neither fits this training script.
TUNING_STRATEGIES = ("Bayesian", "Random")
CACHE_EXPIRY = "P30D"
HYPERPARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# The definition is built offline: the session signs with dummy keys, the role is not checked
# and telemetry is not sent (see _offline and _offline_session).
OFFLINE_ENVIRONMENT = {"SAGEMAKER_VALIDATE_ROLE": "false", "AWS_EC2_METADATA_DISABLED": "true"}
# `import sagemaker.mlops` needs a region; a region is all it needs.
os.environ.setdefault("AWS_DEFAULT_REGION", project_settings.REGION)

import boto3  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402
from sagemaker.core import image_uris  # noqa: E402
from sagemaker.core.drift_check_baselines import DriftCheckBaselines  # noqa: E402
from sagemaker.core.metadata_properties import MetadataProperties  # noqa: E402
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics  # noqa: E402
from sagemaker.core.model_monitor.dataset_format import DatasetFormat  # noqa: E402
from sagemaker.core.parameter import ContinuousParameter, IntegerParameter  # noqa: E402
from sagemaker.core.processing import Processor  # noqa: E402
from sagemaker.core.shapes import (  # noqa: E402
    AthenaDatasetDefinition,
    DatasetDefinition,
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
)
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig  # noqa: E402
from sagemaker.core.utils.utils import serialize  # noqa: E402
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo, ConditionLessThanOrEqualTo  # noqa: E402
from sagemaker.core.workflow.functions import Join, JsonGet  # noqa: E402
from sagemaker.core.workflow.parameters import (  # noqa: E402
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from sagemaker.core.workflow.pipeline_context import PipelineSession  # noqa: E402
from sagemaker.core.workflow.properties import PropertyFile  # noqa: E402
from sagemaker.mlops.workflow.check_job_config import CheckJobConfig  # noqa: E402
from sagemaker.mlops.workflow.condition_step import ConditionStep  # noqa: E402
from sagemaker.mlops.workflow.fail_step import FailStep  # noqa: E402
from sagemaker.mlops.workflow.model_step import ModelStep  # noqa: E402
from sagemaker.mlops.workflow.pipeline import Pipeline  # noqa: E402
from sagemaker.mlops.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep  # noqa: E402
from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep, TuningStep  # noqa: E402
from sagemaker.serve.model_builder import ModelBuilder  # noqa: E402
from sagemaker.train import ModelTrainer  # noqa: E402
from sagemaker.train.tuner import HyperparameterTuner  # noqa: E402


class ConfigError(ValueError):
    """input.json is malformed; the message names the field and what is allowed."""


# --------------------------------------------------------------------------- configuration


def load_config(path: Path = CONFIG_PATH) -> dict[str, Any]:
    """Read and check input.json: raise ConfigError naming the first problem."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path.name}: cannot read it as JSON ({error})") from None
    check_config(config)
    return config


def check_config(config: Mapping[str, Any]) -> None:
    """Check every field the pipeline reads; raise ConfigError on the first problem."""
    _expect(isinstance(config, Mapping), "the file must hold a JSON object")
    problem_type = _field(config, "problem_type", str)
    _expect(problem_type in METRICS, f"problem_type must be one of {', '.join(METRICS)}")
    framework = _field(config, "framework", str)
    _expect(framework in FRAMEWORK_IMAGES, f"framework must be one of {', '.join(FRAMEWORK_IMAGES)}")
    _check_parameters(_field(config, "parameters", Mapping))
    data = _field(config, "data", Mapping)
    _check_data(data)
    if data["source"] == "athena":
        _check_athena_parameters(config["parameters"])
    hyperparameters = _field(config, "hyperparameters", Mapping)
    for name, value in hyperparameters.items():
        _expect(
            HYPERPARAMETER_NAME.match(name)
            and name not in RESERVED_HYPERPARAMETERS
            and not name.startswith("sagemaker_"),
            f"hyperparameters.{name}: names are lower-case letters, digits and underscores, and neither "
            f"{', '.join(sorted(RESERVED_HYPERPARAMETERS))} nor sagemaker_* (the pipeline sets those)",
        )
        _expect(
            isinstance(value, str | int | float) and not isinstance(value, bool),
            f"hyperparameters.{name} must be a number or a string",
        )
    _, known_metrics = METRICS[problem_type]
    thresholds = _field(config, "thresholds", Mapping)
    _expect(bool(thresholds), "thresholds must name at least one metric")
    for metric, bound in thresholds.items():
        _expect(metric in known_metrics, f"thresholds.{metric}: {problem_type} metrics are {sorted(known_metrics)}")
        _expect(
            isinstance(bound, Mapping) and len(bound) == 1 and next(iter(bound)) in ("min", "max"),
            f"thresholds.{metric} must hold one bound: min or max",
        )
        _expect(_is_number(next(iter(bound.values()))), f"thresholds.{metric} bound must be a number")
    if "tuning" in config:
        _check_tuning(config["tuning"], hyperparameters, known_metrics)
    registry = _field(config, "model_registry", Mapping)
    for key in ("content_types", "response_types", "inference_instances", "transform_instances"):
        values = _field(registry, key, list, prefix="model_registry.")
        _expect(
            bool(values) and all(isinstance(value, str) and value for value in values),
            f"model_registry.{key} must be a non-empty list of strings",
        )


def _check_parameters(parameters: Mapping[str, Any]) -> None:
    for name in (PROCESSING_INSTANCE_TYPE, TRAINING_INSTANCE_TYPE):
        value = _field(parameters, name, str, prefix="parameters.")
        _expect(value.startswith("ml."), f"parameters.{name} must be an instance type such as ml.m5.large")
    for name in (PROCESSING_INSTANCE_COUNT, TRAINING_INSTANCE_COUNT):
        _whole_number(parameters, name, "parameters.")
    status = _field(parameters, MODEL_APPROVAL_STATUS, str, prefix="parameters.")
    _expect(status in APPROVAL_STATUSES, f"parameters.{MODEL_APPROVAL_STATUS} must be one of {APPROVAL_STATUSES}")
    for name in (SKIP_DATA_QUALITY_CHECK, REGISTER_NEW_DATA_QUALITY_BASELINE):
        if name in parameters:
            _field(parameters, name, bool, prefix="parameters.")


def _check_athena_parameters(parameters: Mapping[str, Any]) -> None:
    for name in ATHENA_PARAMETERS:
        value = _field(parameters, name, str, prefix="parameters.")
        _expect(value.strip(), f"parameters.{name} must not be empty (data.source is athena)")
        _expect(len(value) <= ATHENA_LIMITS[name], f"parameters.{name} is longer than {ATHENA_LIMITS[name]} characters")
    _expect(
        ATHENA_WORKGROUP_NAME.match(parameters[ATHENA_WORKGROUP]),
        f"parameters.{ATHENA_WORKGROUP} must be a workgroup name: letters, digits, '.', '_' and '-'",
    )


def _check_data(data: Mapping[str, Any]) -> None:
    source = _field(data, "source", str, prefix="data.")
    _expect(source in DATA_SOURCES, f"data.source must be one of {', '.join(DATA_SOURCES)}")
    for name in ("target_column", "id_column"):
        _expect(bool(_field(data, name, str, prefix="data.")), f"data.{name} must not be empty")
    columns = _field(data, "categorical_columns", list, prefix="data.")
    _expect(
        all(isinstance(column, str) and column and "," not in column for column in columns),
        "data.categorical_columns must be a list of column names (without commas)",
    )
    fractions = [_field(data, name, float, prefix="data.") for name in ("validation_fraction", "test_fraction")]
    _expect(
        all(0 < fraction < 1 for fraction in fractions) and sum(fractions) < 1,
        "data.validation_fraction and data.test_fraction must be between 0 and 1 and leave rows to train on",
    )
    seed = _field(data, "random_seed", int, prefix="data.")
    _expect(not isinstance(seed, bool) and seed >= 0, "data.random_seed must be a whole number >= 0")


def _check_tuning(tuning: Any, hyperparameters: Mapping[str, Any], known_metrics: set[str]) -> None:
    _expect(isinstance(tuning, Mapping), "tuning must be an object")
    objective = _field(tuning, "objective_metric", str, prefix="tuning.")
    _expect(objective in known_metrics, f"tuning.objective_metric must be one of {sorted(known_metrics)}")
    max_jobs = _whole_number(tuning, "max_jobs", "tuning.")
    _expect(
        _whole_number(tuning, "max_parallel_jobs", "tuning.") <= max_jobs,
        "tuning.max_parallel_jobs must not exceed tuning.max_jobs",
    )
    strategy = _field(tuning, "strategy", str, prefix="tuning.")
    _expect(strategy in TUNING_STRATEGIES, f"tuning.strategy must be one of {TUNING_STRATEGIES}")
    ranges = _field(tuning, "ranges", Mapping, prefix="tuning.")
    _expect(bool(ranges), "tuning.ranges must name at least one hyperparameter")
    for name, spec in ranges.items():
        where = f"tuning.ranges.{name}"
        _expect(name in hyperparameters, f"{where}: tune only hyperparameters listed in hyperparameters")
        _expect(isinstance(spec, Mapping), f"{where} must be an object")
        _expect(spec.get("type") in RANGE_TYPES, f"{where}.type must be one of {RANGE_TYPES}")
        _expect(spec.get("scaling", "Auto") in SCALING_TYPES, f"{where}.scaling must be one of {SCALING_TYPES}")
        low, high = spec.get("min"), spec.get("max")
        _expect(_is_number(low) and _is_number(high) and low < high, f"{where} needs numbers min < max")
        if spec["type"] == "Integer":
            _expect(isinstance(low, int) and isinstance(high, int), f"{where}: Integer ranges need whole numbers")


def _field(mapping: Mapping[str, Any], name: str, kind: type | tuple[type, ...], prefix: str = "") -> Any:
    _expect(name in mapping, f"{prefix}{name} is missing")
    value = mapping[name]
    if kind is float:
        _expect(_is_number(value), f"{prefix}{name} must be a number")
    else:
        _expect(isinstance(value, kind), f"{prefix}{name} must be a {getattr(kind, '__name__', kind)}")
    return value


def _whole_number(mapping: Mapping[str, Any], name: str, prefix: str) -> int:
    value = _field(mapping, name, int, prefix=prefix)
    _expect(not isinstance(value, bool) and value >= 1, f"{prefix}{name} must be a whole number >= 1")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _expect(condition: Any, message: str) -> None:
    if not condition:
        raise ConfigError(f"input.json: {message}")


# --------------------------------------------------------------------------- definition


def build_definition(settings: project_settings.Settings, config: Mapping[str, Any]) -> str:
    """The pipeline definition JSON, built offline: the same settings and config give the same bytes."""
    check_config(config)
    with _offline(), _quiet_sdk():
        return build_pipeline(settings, config, _offline_session(settings)).definition()


def build_pipeline(
    settings: project_settings.Settings, config: Mapping[str, Any], session: PipelineSession
) -> Pipeline:
    """The SDK `Pipeline` object: parameters and steps, in the S3 layout of `settings`."""
    parameters = _Parameters(settings, config)
    builder = _StepBuilder(settings, config, session, parameters)
    return Pipeline(
        name=settings.pipeline_name,
        parameters=parameters.declared(),
        steps=builder.steps(),
        sagemaker_session=session,
        # Executions are tracked by the pipeline itself; no experiment or trial per run.
        pipeline_experiment_config=None,
    )


class _Parameters:
    """Every pipeline parameter, declared once with its default from input.json."""

    def __init__(self, settings: project_settings.Settings, config: Mapping[str, Any]):
        defaults = config["parameters"]
        self.processing_instance_type = ParameterString(
            name=PROCESSING_INSTANCE_TYPE, default_value=defaults[PROCESSING_INSTANCE_TYPE]
        )
        self.processing_instance_count = ParameterInteger(
            name=PROCESSING_INSTANCE_COUNT, default_value=defaults[PROCESSING_INSTANCE_COUNT]
        )
        self.training_instance_type = ParameterString(
            name=TRAINING_INSTANCE_TYPE, default_value=defaults[TRAINING_INSTANCE_TYPE]
        )
        self.training_instance_count = ParameterInteger(
            name=TRAINING_INSTANCE_COUNT, default_value=defaults[TRAINING_INSTANCE_COUNT]
        )
        self.athena = None
        self.input_data_url = None
        if config["data"]["source"] == "athena":
            self.athena = {name: ParameterString(name=name, default_value=defaults[name]) for name in ATHENA_PARAMETERS}
            self.athena[ATHENA_OUTPUT_URL] = ParameterString(
                name=ATHENA_OUTPUT_URL, default_value=settings.output_uri(PREPARE_DATA, ATHENA_RESULTS) + "/"
            )
        else:
            self.input_data_url = ParameterString(name=INPUT_DATA_URL, default_value=settings.input_uri())
        self.model_approval_status = ParameterString(
            name=MODEL_APPROVAL_STATUS,
            default_value=defaults[MODEL_APPROVAL_STATUS],
            enum_values=list(APPROVAL_STATUSES),
        )
        self.thresholds = {
            metric: ParameterFloat(name=threshold_parameter(metric, bound), default_value=float(value))
            for metric, limits in config["thresholds"].items()
            for bound, value in limits.items()
        }
        self.data_quality = None
        if SKIP_DATA_QUALITY_CHECK in defaults:
            self.data_quality = (
                ParameterBoolean(name=SKIP_DATA_QUALITY_CHECK, default_value=defaults[SKIP_DATA_QUALITY_CHECK]),
                ParameterBoolean(
                    name=REGISTER_NEW_DATA_QUALITY_BASELINE, default_value=defaults[REGISTER_NEW_DATA_QUALITY_BASELINE]
                ),
            )

    def declared(self) -> list:
        """In the order the console lists them: data, compute, gates, registration."""
        data = list(self.athena.values()) if self.athena else [self.input_data_url]
        return [
            *data,
            self.processing_instance_type,
            self.processing_instance_count,
            self.training_instance_type,
            self.training_instance_count,
            *(self.data_quality or ()),
            *self.thresholds.values(),
            self.model_approval_status,
        ]


def threshold_parameter(metric: str, bound: str) -> str:
    """The parameter holding a metric threshold, e.g. MinAuc or MaxRmse."""
    return f"{bound.capitalize()}{metric.capitalize()}"


class _StepBuilder:
    """Builds the steps in the order they run; one method per step."""

    def __init__(
        self,
        settings: project_settings.Settings,
        config: Mapping[str, Any],
        session: PipelineSession,
        parameters: _Parameters,
    ):
        self.settings = settings
        self.config = config
        self.session = session
        self.parameters = parameters
        framework, version = FRAMEWORK_IMAGES[config["framework"]]
        self.image_uri = image_uris.retrieve(framework, settings.region, version=version, instance_type="ml.m5.large")
        self.cache = CacheConfig(enable_caching=True, expire_after=CACHE_EXPIRY)

    def steps(self) -> list:
        prepare = self.prepare_data()
        train = self.tune_model(prepare) if "tuning" in self.config else self.train_model(prepare)
        model_data = self.model_data(train)
        evaluate, report = self.evaluate_model(prepare, model_data)
        baseline = self.data_quality_baseline(prepare) if self.parameters.data_quality else None
        register = self.register_model(model_data, evaluate, baseline)
        gate = self.threshold_gate(evaluate, report, register)
        return [prepare, train, evaluate, *([baseline] if baseline else []), gate]

    def prepare_data(self) -> ProcessingStep:
        data = self.config["data"]
        outputs = [
            self.processing_output(PREPARE_DATA, name, f"{PROCESSING_ROOT}/output/{name}") for name in PREPARED_OUTPUTS
        ]
        arguments = [
            "--input-dir", f"{PROCESSING_ROOT}/input/data",
            "--input-format", "json" if self.parameters.athena else "csv",
            "--output-dir", f"{PROCESSING_ROOT}/output",
            "--problem-type", self.config["problem_type"],
            "--target-column", data["target_column"],
            "--id-column", data["id_column"],
            "--categorical-columns", ",".join(data["categorical_columns"]),
            "--validation-fraction", str(data["validation_fraction"]),
            "--test-fraction", str(data["test_fraction"]),
            "--random-seed", str(data["random_seed"]),
        ]  # fmt: skip
        if self.parameters.athena:
            data_input = athena_input("data", self.parameters.athena, "input/data")
        else:
            data_input = processing_input("data", self.parameters.input_data_url, "input/data")
        inputs = [self.code_input(), data_input]
        step_args = self.processor(PREPARE_DATA).run(inputs=inputs, outputs=outputs, arguments=arguments)
        return DatasetProcessingStep(name=PREPARE_DATA, step_args=step_args, inputs=inputs, cache_config=self.cache)

    def model_trainer(self) -> ModelTrainer:
        # Script mode without `source_code`: the SDK would otherwise upload the code under a
        # timestamped key on every build. The framework container downloads sourcedir.tar.gz.
        hyperparameters = {
            "sagemaker_program": SCRIPTS[TRAIN_MODEL],
            "sagemaker_submit_directory": self.settings.source_dir_uri(),
            "problem_type": self.config["problem_type"],
            "target_column": self.config["data"]["target_column"],
            **self.config["hyperparameters"],
        }
        return ModelTrainer(
            training_image=self.image_uri,
            role=self.settings.role_arn,
            sagemaker_session=self.session,
            compute=Compute(
                instance_type=self.parameters.training_instance_type,
                instance_count=self.parameters.training_instance_count,
            ),
            output_data_config=OutputDataConfig(
                s3_output_path=self.settings.output_uri(self.training_step_name, "model")
            ),
            hyperparameters=encode_hyperparameters(hyperparameters),
        )

    @property
    def training_step_name(self) -> str:
        return TUNE_MODEL if "tuning" in self.config else TRAIN_MODEL

    def training_inputs(self, prepare: ProcessingStep) -> list[InputData]:
        outputs = prepare.properties.ProcessingOutputConfig.Outputs
        return [InputData(channel_name=name, data_source=outputs[name].S3Output.S3Uri) for name in TRAINING_CHANNELS]

    def train_model(self, prepare: ProcessingStep) -> TrainingStep:
        step_args = self.model_trainer().train(input_data_config=self.training_inputs(prepare))
        return TrainingStep(name=TRAIN_MODEL, step_args=step_args, cache_config=self.cache)

    def tune_model(self, prepare: ProcessingStep) -> TuningStep:
        tuning = self.config["tuning"]
        metric = tuning["objective_metric"]
        tuner = HyperparameterTuner(
            model_trainer=self.model_trainer(),
            objective_metric_name=f"validation:{metric}",
            objective_type="Maximize" if metric in MAXIMIZED_METRICS else "Minimize",
            # The training script prints one `validation:<metric>=<value>` line per metric.
            metric_definitions=[
                {"Name": f"validation:{name}", "Regex": f"validation:{name}=([-+0-9.eE]+)"}
                for name in sorted(METRICS[self.config["problem_type"]][1])
            ],
            hyperparameter_ranges={name: parameter_range(spec) for name, spec in tuning["ranges"].items()},
            strategy=tuning["strategy"],
            # Plain numbers: the SDK's tuning job shape does not take pipeline parameters here.
            max_jobs=tuning["max_jobs"],
            max_parallel_jobs=tuning["max_parallel_jobs"],
        )
        step_args = tuner.tune(inputs=self.training_inputs(prepare))
        return TuningStep(name=TUNE_MODEL, step_args=step_args, cache_config=self.cache)

    def model_data(self, train: TrainingStep | TuningStep) -> Any:
        """The S3 URI of the trained model.tar.gz (of the best training job when tuning)."""
        if isinstance(train, TrainingStep):
            return train.properties.ModelArtifacts.S3ModelArtifacts
        # Each tuning job's training jobs write to <output path>/<training job name>/output/.
        best_job = train.properties.BestTrainingJob.TrainingJobName
        return Join(on="/", values=[self.settings.output_uri(TUNE_MODEL, "model"), best_job, "output/model.tar.gz"])

    def evaluate_model(self, prepare: ProcessingStep, model_data: Any) -> tuple[ProcessingStep, PropertyFile]:
        test_data = prepare.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri
        output_dir = f"{PROCESSING_ROOT}/output/{EVALUATION_OUTPUT}"
        step_args = self.processor(EVALUATE_MODEL).run(
            inputs=[
                self.code_input(),
                processing_input("model", model_data, "input/model"),
                processing_input("test", test_data, "input/test"),
            ],
            outputs=[self.processing_output(EVALUATE_MODEL, EVALUATION_OUTPUT, output_dir)],
            arguments=[
                "--model-dir",
                f"{PROCESSING_ROOT}/input/model",
                "--test-dir",
                f"{PROCESSING_ROOT}/input/test",
                "--output-dir",
                output_dir,
            ],  # fmt: skip
        )
        report = PropertyFile(name=EVALUATION_REPORT, output_name=EVALUATION_OUTPUT, path=EVALUATION_FILE)
        step = ProcessingStep(
            name=EVALUATE_MODEL, step_args=step_args, property_files=[report], cache_config=self.cache
        )
        return step, report

    def data_quality_baseline(self, prepare: ProcessingStep) -> QualityCheckStep:
        skip_check, register_new_baseline = self.parameters.data_quality
        baseline_data = prepare.properties.ProcessingOutputConfig.Outputs["baseline"].S3Output.S3Uri
        return QualityCheckStep(
            name=DATA_QUALITY_BASELINE,
            quality_check_config=DataQualityCheckConfig(
                baseline_dataset=baseline_data,
                dataset_format=DatasetFormat.csv(header=True),
                output_s3_uri=self.settings.output_uri(DATA_QUALITY_BASELINE, "baseline"),
            ),
            check_job_config=CheckJobConfig(
                role=self.settings.role_arn,
                instance_type=self.parameters.processing_instance_type,
                instance_count=1,
                sagemaker_session=self.session,
            ),
            skip_check=skip_check,
            register_new_baseline=register_new_baseline,
            model_package_group_name=self.settings.model_package_group,
            cache_config=self.cache,
        )

    def register_model(self, model_data: Any, evaluate: ProcessingStep, baseline: QualityCheckStep | None) -> ModelStep:
        evaluation = evaluate.properties.ProcessingOutputConfig.Outputs[EVALUATION_OUTPUT].S3Output.S3Uri
        metrics = {"model_statistics": json_metrics(Join(on="/", values=[evaluation, EVALUATION_FILE]))}
        drift_baselines = None
        if baseline is not None:
            metrics["model_data_statistics"] = json_metrics(baseline.properties.CalculatedBaselineStatistics)
            metrics["model_data_constraints"] = json_metrics(baseline.properties.CalculatedBaselineConstraints)
            drift_baselines = DriftCheckBaselines(
                model_data_statistics=json_metrics(baseline.properties.BaselineUsedForDriftCheckStatistics),
                model_data_constraints=json_metrics(baseline.properties.BaselineUsedForDriftCheckConstraints),
            )
        config = self.config
        registry = config["model_registry"]
        builder = ModelBuilder(
            image_uri=self.image_uri,
            s3_model_data_url=model_data,
            env_vars=dict(SERVING_ENVIRONMENT),
            role_arn=self.settings.role_arn,
            sagemaker_session=self.session,
        )
        step_args = builder.register(
            model_package_group_name=self.settings.model_package_group,
            content_types=registry["content_types"],
            response_types=registry["response_types"],
            inference_instances=registry["inference_instances"],
            transform_instances=registry["transform_instances"],
            model_metrics=ModelMetrics(**metrics),
            drift_check_baselines=drift_baselines,
            approval_status=self.parameters.model_approval_status,
            description=self.model_description(),
            customer_metadata_properties=self.model_properties(),
            metadata_properties=MetadataProperties(
                commit_id=self.settings.commit_id, project_id=self.settings.project_id
            ),
        )
        return ModelStep(name=REGISTER_MODEL, step_args=step_args)

    def model_description(self) -> str:
        model = f"{self.config['framework']} {self.config['problem_type']} model"
        description = f"{model} of build {self.settings.build_id}"
        return f"{description} on branch {self.settings.branch}" if self.settings.branch else description

    def model_properties(self) -> dict[str, str]:
        """Searchable in the registry next to MetadataProperties.CommitId (set when the commit is known)."""
        properties = {"build_id": self.settings.build_id}
        if self.settings.branch:
            properties["branch"] = self.settings.branch
        return properties

    def threshold_gate(self, evaluate: ProcessingStep, report: PropertyFile, register: ModelStep) -> ConditionStep:
        """One condition step per threshold, chained: the last one registers; each failure names its metric."""
        section, _ = METRICS[self.config["problem_type"]]
        gates = list(self.config["thresholds"].items())
        next_steps: list = [register]
        for metric, limits in reversed(gates):
            bound = next(iter(limits))
            threshold = self.parameters.thresholds[metric]
            value = JsonGet(step_name=evaluate.name, property_file=report, json_path=f"{section}.{metric}.value")
            condition_type = ConditionGreaterThanOrEqualTo if bound == "min" else ConditionLessThanOrEqualTo
            relation = "below the minimum" if bound == "min" else "above the maximum"
            fail = FailStep(
                name=f"{metric.capitalize()}{'BelowMinimum' if bound == 'min' else 'AboveMaximum'}",
                error_message=Join(on=" ", values=[f"{metric} =", value, f"is {relation}", threshold]),
            )
            gate = ConditionStep(
                name=f"Check{metric.capitalize()}",
                conditions=[condition_type(left=value, right=threshold)],
                if_steps=next_steps,
                else_steps=[fail],
            )
            next_steps = [gate]
        return next_steps[0]

    def processor(self, step: str) -> Processor:
        return Processor(
            role=self.settings.role_arn,
            image_uri=self.image_uri,
            instance_type=self.parameters.processing_instance_type,
            instance_count=self.parameters.processing_instance_count,
            entrypoint=["python3", f"{CODE_DIR}/{SCRIPTS[step]}"],
            sagemaker_session=self.session,
        )

    def code_input(self) -> ProcessingInput:
        return processing_input("code", self.settings.algorithms_uri(), "input/code")

    def processing_output(self, step: str, name: str, local_path: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=self.settings.output_uri(step, name), local_path=local_path, s3_upload_mode="EndOfJob"
            ),
        )


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

    Every instance gets the whole result (FullyReplicated; the API's default shards it by S3 key).
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


@contextlib.contextmanager
def _offline() -> Iterator[None]:
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
def _quiet_sdk() -> Iterator[None]:
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


def _offline_session(settings: project_settings.Settings) -> PipelineSession:
    """A session that never calls AWS while the definition is built."""
    _disable_telemetry()
    boto_session = boto3.Session(
        aws_access_key_id="offline", aws_secret_access_key="offline", region_name=settings.region
    )
    session = PipelineSession(boto_session=boto_session, default_bucket=settings.bucket)
    # The SDK asks for the default bucket even when every URI is explicit; set, it is not looked up.
    session._default_bucket = settings.bucket
    # SDK defaults files on this machine must not change the definition (and an empty config
    # skips the schema validation the SDK repeats on every lookup).
    session.sagemaker_config = {}
    return session


def _disable_telemetry() -> None:
    """The SDK reports usage over the network unless the config opts out; the opt-out is a
    config lookup that costs seconds, so the sender is replaced instead."""
    from sagemaker.core.telemetry import telemetry_logging

    telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None


# --------------------------------------------------------------------------- code upload


def code_files(algorithms_dir: Path = ALGORITHMS_DIR) -> list[Path]:
    """The step code a build ships: every file under algorithms/ but tests and caches, sorted."""
    skipped = {"__pycache__", "test", ".ipynb_checkpoints", ".pytest_cache"}
    return sorted(
        path
        for path in algorithms_dir.rglob("*")
        if path.is_file()
        and not skipped.intersection(path.relative_to(algorithms_dir).parts[:-1])
        and path.suffix != ".pyc"
    )


def source_dir_archive(algorithms_dir: Path = ALGORITHMS_DIR) -> bytes:
    """sourcedir.tar.gz of the step code, byte-identical for identical files (no times, no owners)."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for path in code_files(algorithms_dir):
            info = tarfile.TarInfo(path.relative_to(algorithms_dir).as_posix())
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def code_uploads(settings: project_settings.Settings, repo_root: Path = REPO_ROOT) -> list[tuple[str, bytes]]:
    """What `upload-code` writes: (S3 URI, body) of algorithms/ (as files and as sourcedir.tar.gz) and input.json."""
    algorithms_dir = repo_root / "algorithms"
    uploads = [(settings.algorithms_uri() + path.relative_to(algorithms_dir).as_posix(), path.read_bytes())
               for path in code_files(algorithms_dir)]  # fmt: skip
    uploads.append((settings.source_dir_uri(), source_dir_archive(algorithms_dir)))
    uploads.append((settings.config_uri(), (repo_root / "ml_pipelines" / "training" / "input.json").read_bytes()))
    return uploads


def upload_code(settings: project_settings.Settings, s3_client: Any = None, repo_root: Path = REPO_ROOT) -> list[str]:
    """Upload algorithms/ (as files and as sourcedir.tar.gz) and input.json under code/<build-id>/."""
    client = s3_client or boto3.client("s3", region_name=settings.region)
    uploads = code_uploads(settings, repo_root)
    for uri, body in uploads:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        # The bucket's default encryption (KMS) applies; no per-object key overrides it.
        client.put_object(Bucket=bucket, Key=key, Body=body)
    return [uri for uri, _ in uploads]


# --------------------------------------------------------------------------- AWS commands


def project_tags(settings: project_settings.Settings) -> list[dict[str, str]]:
    """The tags SageMaker Projects uses to list a project's resources."""
    return [
        {"Key": "sagemaker:project-name", "Value": settings.project_name},
        {"Key": "sagemaker:project-id", "Value": settings.project_id},
    ]


def upsert(settings: project_settings.Settings, definition: str, sagemaker_client: Any = None) -> str:
    """Create the pipeline, or update it when it exists; return its ARN."""
    if settings.role_arn == project_settings.LOCAL_ROLE_ARN and not os.environ.get("AWS_ENDPOINT_URL"):
        raise project_settings.SettingsError("SAGEMAKER_PIPELINE_ROLE_ARN must name the pipeline's IAM role")
    client = sagemaker_client or boto3.client("sagemaker", region_name=settings.region)
    request = {
        "PipelineName": settings.pipeline_name,
        "PipelineDefinition": definition,
        "PipelineDescription": f"Training pipeline of SageMaker project {settings.project_name}",
        "RoleArn": settings.role_arn,
    }
    tags = project_tags(settings)
    try:
        return client.create_pipeline(**request, Tags=tags)["PipelineArn"]
    except ClientError as error:
        if not _already_exists(error):
            raise
    arn = client.update_pipeline(**request)["PipelineArn"]
    client.add_tags(ResourceArn=arn, Tags=tags)
    return arn


def ensure_model_package_group(settings: project_settings.Settings, sagemaker_client: Any = None) -> bool:
    """Create the model package group this build registers into unless it exists; True when created.

    The project's product does not create it: the SageMaker Projects launch role has no
    sagemaker:CreateModelPackageGroup (AWS managed policy AmazonSageMakerAdmin-
    ServiceCatalogProductsServiceRolePolicy v12). The platform stack lets the build role create
    groups carrying the project's tags; the project's teardown deletes them.
    """
    client = sagemaker_client or boto3.client("sagemaker", region_name=settings.region)
    name = settings.model_package_group
    try:
        client.describe_model_package_group(ModelPackageGroupName=name)
        return False
    except ClientError as error:
        if not _missing(error):
            raise
    description = f"Models trained by SageMaker project {settings.project_name}"
    if settings.branch:
        description += f" on feature branch {settings.branch}"
    try:
        client.create_model_package_group(
            ModelPackageGroupName=name, ModelPackageGroupDescription=description, Tags=project_tags(settings)
        )
    except ClientError as error:
        if not _already_exists(error):  # a concurrent build created it first
            raise
        return False
    return True


def _missing(error: ClientError) -> bool:
    # DescribeModelPackageGroup reports a missing group as a validation error that says so.
    details = error.response.get("Error", {})
    return details.get("Code") in ("ValidationException", "ResourceNotFound") and any(
        text in details.get("Message", "").lower() for text in ("does not exist", "not found", "could not find")
    )


def _already_exists(error: ClientError) -> bool:
    # CreatePipeline reports a name collision as a validation error, not a dedicated code.
    details = error.response.get("Error", {})
    return details.get("Code") in ("ValidationException", "ResourceInUse") and any(
        text in details.get("Message", "") for text in ("already exists", "already existing", "must be unique")
    )


def start(
    settings: project_settings.Settings,
    overrides: Mapping[str, str] | None = None,
    sagemaker_client: Any = None,
) -> str:
    """Start an execution named after the build; return its ARN."""
    client = sagemaker_client or boto3.client("sagemaker", region_name=settings.region)
    request: dict[str, Any] = {
        "PipelineName": settings.pipeline_name,
        "PipelineExecutionDisplayName": settings.build_id,
        "PipelineExecutionDescription": f"Build {settings.build_id}",
    }
    if overrides:
        request["PipelineParameters"] = [{"Name": name, "Value": value} for name, value in overrides.items()]
    return client.start_pipeline_execution(**request)["PipelineExecutionArn"]


def wait(execution_arn: str, sagemaker_client: Any = None, poll_seconds: float = 30.0) -> str:
    """Wait for an execution to finish; return its final status."""
    client = sagemaker_client or boto3.client("sagemaker")
    while True:
        status = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)["PipelineExecutionStatus"]
        if status not in ("Executing", "Stopping"):
            return status
        time.sleep(poll_seconds)


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: bad settings or config print one line and return 2, AWS errors 1."""
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except (project_settings.SettingsError, ConfigError, pipeline_definition.DefinitionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"error: AWS call failed: {error}", file=sys.stderr)
        return 1
{%- if cookiecutter.multi_branch == "yes" %}
    except branches.BranchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
{%- endif %}


def _definition_command(args: argparse.Namespace) -> int:
    definition = build_definition(project_settings.from_env(), load_config(args.config))
    print(json.dumps(json.loads(definition), indent=2))
    return 0


def _mermaid_command(args: argparse.Namespace) -> int:
    definition = build_definition(project_settings.from_env(), load_config(args.config))
    diagram = pipeline_definition.mermaid(json.loads(definition))
    if args.readme is None:
        print(diagram)
        return 0
    try:
        readme = args.readme.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {args.readme}: {error.strerror}") from None
    args.readme.write_text(pipeline_definition.with_readme_diagram(readme, diagram), encoding="utf-8")
    print(f"updated the pipeline diagram in {args.readme}")
    return 0


def _build_id_command(args: argparse.Namespace) -> int:
    print(project_settings.new_build_id())
    return 0


def _upload_code_command(args: argparse.Namespace) -> int:
    load_config(args.config)  # refuse to ship a config the pipeline cannot read
    for uri in upload_code(project_settings.from_env()):
        print(uri)
    return 0


def _upsert_command(args: argparse.Namespace) -> int:
    settings = project_settings.from_env()
    definition = build_definition(settings, load_config(args.config))
    pipeline_definition.check(json.loads(definition))
    client = boto3.client("sagemaker", region_name=settings.region)
    arn = upsert(settings, definition, client)
    # The pipeline registers into the group when it runs: it must exist before `start`.
    if ensure_model_package_group(settings, client):
        where = f" for branch {settings.branch}" if settings.branch else ""
        print(f"created model package group {settings.model_package_group}{where}")
    print(arn)
    return 0


def _start_command(args: argparse.Namespace) -> int:
    settings = project_settings.from_env()
    overrides = dict(_parameter_override(text) for text in args.parameter)
    declared = {
        parameter["Name"]
        for parameter in json.loads(build_definition(settings, load_config(args.config)))["Parameters"]
    }
    unknown = sorted(set(overrides) - declared)
    if unknown:
        raise ConfigError(f"unknown pipeline parameter {unknown[0]}; declared: {', '.join(sorted(declared))}")
    arn = start(settings, overrides)
    print(arn)
    if not args.wait:
        return 0
    status = wait(arn)
    print(status)
    return 0 if status == "Succeeded" else 1


{%- if cookiecutter.multi_branch == "yes" %}


def _cleanup_branch_command(args: argparse.Namespace) -> int:
    settings = project_settings.from_env()
    sagemaker_client = boto3.client("sagemaker", region_name=settings.region)
    s3_client = boto3.client("s3", region_name=settings.region)
    removed = branches.cleanup(settings, args.branch, args.delete_group, sagemaker_client, s3_client)
    for line in removed.lines(settings, args.branch):
        print(line)
    return 0


def _approve_merged_command(args: argparse.Namespace) -> int:
    settings = project_settings.from_env()
    if args.commit is None and settings.branch:
        # The build spec runs this after every build when APPROVE_ON_MERGE=true; only main's models are promoted.
        print(f"nothing to approve: this is a build of feature branch {settings.branch}")
        return 0
    commit = args.commit or settings.commit_id
    if not commit:
        raise project_settings.SettingsError("this build's commit is unknown: pass --commit or set COMMIT_ID")
    client = boto3.client("sagemaker", region_name=settings.region)
    arn, group = branches.approve_merged(settings, commit, args.branch, client)
    print(f"approved {arn} (group {group})")
    return 0
{%- endif %}


def _parameter_override(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise ConfigError(f"--parameter {text!r}: expected Name=Value")
    return name, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=CONFIG_PATH, help="pipeline config (default: input.json here)")
    commands = parser.add_subparsers(required=True, metavar="command")
    for name, handler, text in (
        ("definition", _definition_command, "print the pipeline definition JSON (offline)"),
        ("mermaid", _mermaid_command, "print the pipeline's steps as a Mermaid flowchart (offline)"),
        ("build-id", _build_id_command, "print a new build id: UTC timestamp and short commit hash"),
        ("upload-code", _upload_code_command, "upload algorithms/ and input.json under code/<build-id>/"),
        ("upsert", _upsert_command, "create or update the pipeline in SageMaker"),
        ("start", _start_command, "start a pipeline execution"),
{%- if cookiecutter.multi_branch == "yes" %}
        ("cleanup-branch", _cleanup_branch_command, "delete a merged or deleted feature branch's pipeline and data"),
        ("approve-merged", _approve_merged_command, "approve the model package built from a merged commit"),
{%- endif %}
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.set_defaults(command=handler)
        if name == "mermaid":
            command.add_argument("--readme", type=Path, help="rewrite the diagram block of this README instead")
        if name == "start":
            command.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE")
            command.add_argument("--wait", action="store_true", help="wait for the execution; fail unless it succeeds")
{%- if cookiecutter.multi_branch == "yes" %}
        if name == "cleanup-branch":
            command.add_argument("--branch", required=True, help="the feature branch, as git names it")
            command.add_argument(
                "--delete-group",
                action="store_true",
                help="also delete its model package group and every package in it",
            )
        if name == "approve-merged":
            command.add_argument("--commit", help="the merged commit, full or 7+ characters (default: this build's)")
            command.add_argument("--branch", help="also search this feature branch's model package group")
{%- endif %}
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
