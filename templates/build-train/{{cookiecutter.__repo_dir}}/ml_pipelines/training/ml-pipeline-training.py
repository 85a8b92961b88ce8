"""The training pipeline of this repository: its parameters and step graph, what a data scientist edits.

Preprocessing -> training (or tuning) -> evaluation -> one condition per metric threshold ->
model registration, or a failure naming the metric that missed. With a `responsible_ai` section in
input.json, a bias and explainability step (Clarify's metrics and report format, computed by this
repository's own code: Clarify is closed to new customers) adds one condition per bias threshold,
its reports are registered as the model's bias and explainability metrics and, with the step's
Clarify analysis configuration, as its bias and feature-attribution drift baselines; the model package
carries a model card (intended use, data, evaluation and lineage). With a data-quality baseline,
a Model Monitor baseline of the training features is registered with the model. The first step
reads an S3 prefix or, with `"source": "athena"` in input.json, the result of an Athena query.
Each registered model records the commit it was built from (`MetadataProperties.CommitId`).

The platform kit runs it (`mlops-kit pipeline --help`): it resolves the settings, checks input.json
against input.schema.json and then `check_config` below, and builds the definition offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_template_kit import contract, model_card
from mlops_template_kit.pipeline import sdk
from mlops_template_kit.pipeline.config import ConfigError
from mlops_template_kit.pipeline.settings import Settings
from sagemaker.core import image_uris
from sagemaker.core.drift_check_baselines import DriftCheckBaselines
from sagemaker.core.metadata_properties import MetadataProperties
from sagemaker.core.model_metrics import FileSource, ModelMetrics
from sagemaker.core.model_monitor.dataset_format import DatasetFormat
from sagemaker.core.processing import Processor
from sagemaker.core.shapes import ModelPackageModelCard, ProcessingInput, ProcessingOutput, ProcessingS3Output
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo, ConditionLessThanOrEqualTo
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterBoolean, ParameterFloat, ParameterInteger, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep, TuningStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train import ModelTrainer
from sagemaker.train.tuner import HyperparameterTuner

# Pipeline parameters (names are part of the interface: `start` and the console override them).
PROCESSING_INSTANCE_TYPE = "ProcessingInstanceType"
PROCESSING_INSTANCE_COUNT = "ProcessingInstanceCount"
TRAINING_INSTANCE_TYPE = "TrainingInstanceType"
TRAINING_INSTANCE_COUNT = "TrainingInstanceCount"
# The two a retraining run sets (mlops_template_kit.contract): keep their names.
MODEL_APPROVAL_STATUS = contract.APPROVAL_PARAMETER
SKIP_DATA_QUALITY_CHECK = "SkipDataQualityCheck"
REGISTER_NEW_DATA_QUALITY_BASELINE = "RegisterNewDataQualityBaseline"
INPUT_DATA_URL = contract.INPUT_DATA_PARAMETER
# A SageMaker managed MLflow tracking server or app ARN; empty: nothing is tracked.
MLFLOW_TRACKING_URI = "MlflowTrackingUri"
ATHENA_PARAMETERS = (sdk.ATHENA_CATALOG, sdk.ATHENA_DATABASE, sdk.ATHENA_WORKGROUP, sdk.ATHENA_QUERY)

# Step names and the outputs each step writes (the S3 layout uses both).
PREPARE_DATA = contract.PREPARE_STEP
TRAIN_MODEL = "TrainModel"
TUNE_MODEL = "TuneModel"
EVALUATE_MODEL = "EvaluateModel"
DATA_QUALITY_BASELINE = "DataQualityBaseline"
REGISTER_MODEL = "RegisterModel"
CHECK_BIAS = "CheckBias"
BIAS_OUTPUT = "bias"
BIAS_ANALYSIS_FILE = "analysis.json"
BIAS_CONFIG_FILE = "analysis_config.json"
BIAS_REPORT_FILE = "bias_report.json"
BIAS_REPORT = "BiasReport"
PREPARED_OUTPUTS = ("train", "validation", "test", "baseline", contract.PREPROCESSOR_OUTPUT)
TRAINING_CHANNELS = ("train", "validation", "preprocessor")
EVALUATION_OUTPUT = "evaluation"
EVALUATION_FILE = "evaluation.json"
EVALUATION_REPORT = "EvaluationReport"
TRACKING_FILE = "tracking.json"
TRACKING_REPORT = "TrackingReport"
ATHENA_RESULTS = "athena-results"

# Container paths: the step scripts take them as arguments (their defaults are the same paths).
PROCESSING_ROOT = sdk.PROCESSING_ROOT
CODE_DIR = f"{PROCESSING_ROOT}/input/code"
SCRIPTS = {
    PREPARE_DATA: contract.PREPARE_SCRIPT,
    TRAIN_MODEL: "training/train_model/__main__.py",
    EVALUATE_MODEL: "postprocessing/evaluate_model/__main__.py",
    CHECK_BIAS: "postprocessing/check_bias/__main__.py",
}
# The registered model serves with the framework container's script mode; the bundle holds the code.
SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}

# SageMaker framework containers that train, evaluate and serve each framework (input.schema.json
# lists the same frameworks and metrics).
FRAMEWORK_IMAGES = {"xgboost": ("xgboost", "3.0-5"), "sklearn": ("sklearn", "1.4-2")}
METRICS = {
    "binary_classification": ("binary_classification_metrics", {"auc", "f1", "precision", "recall", "accuracy"}),
    "regression": ("regression_metrics", {"rmse", "mae", "r2"}),
}
# Metrics where larger is better set the tuning objective to Maximize.
MAXIMIZED_METRICS = {"auc", "f1", "precision", "recall", "accuracy", "r2"}
APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
CACHE_EXPIRY = "P30D"


def check_config(config: Mapping[str, Any]) -> None:
    """The rules of input.json that its schema cannot state (the kit runs the schema first)."""
    data = config["data"]
    if data["validation_fraction"] + data["test_fraction"] >= 1:
        raise ConfigError("input.json: data.validation_fraction and data.test_fraction must leave rows to train on")
    _check_responsible_ai(config)
    tuning = config.get("tuning")
    if tuning is None:
        return
    if tuning["max_parallel_jobs"] > tuning["max_jobs"]:
        raise ConfigError("input.json: tuning.max_parallel_jobs must not exceed tuning.max_jobs")
    for name, spec in tuning["ranges"].items():
        if name not in config["hyperparameters"]:
            raise ConfigError(f"input.json: tuning.ranges.{name}: tune only hyperparameters listed in hyperparameters")
        if not spec["min"] < spec["max"]:
            raise ConfigError(f"input.json: tuning.ranges.{name} needs numbers min < max")


def _check_responsible_ai(config: Mapping[str, Any]) -> None:
    section = config.get("responsible_ai")
    if section is None:
        return
    column = section["facet"]["column"]
    if column not in config["data"]["categorical_columns"]:
        raise ConfigError(f"input.json: responsible_ai.facet.column {column!r} must be one of data.categorical_columns")
    if (config["problem_type"] == "regression") != ("label_threshold" in section):
        raise ConfigError("input.json: responsible_ai.label_threshold is needed for regression and only there")
    for metric, limits in section["thresholds"].items():
        if {"min", "max"} <= set(limits) and not limits["min"] < limits["max"]:
            raise ConfigError(f"input.json: responsible_ai.thresholds.{metric} needs min < max")


def build_pipeline(settings: Settings, config: Mapping[str, Any], session: PipelineSession) -> Pipeline:
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

    def __init__(self, settings: Settings, config: Mapping[str, Any]):
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
            self.athena[sdk.ATHENA_OUTPUT_URL] = ParameterString(
                name=sdk.ATHENA_OUTPUT_URL, default_value=settings.output_uri(PREPARE_DATA, ATHENA_RESULTS) + "/"
            )
        else:
            self.input_data_url = ParameterString(name=INPUT_DATA_URL, default_value=settings.input_uri())
        self.model_approval_status = ParameterString(
            name=MODEL_APPROVAL_STATUS,
            default_value=defaults[MODEL_APPROVAL_STATUS],
            enum_values=list(APPROVAL_STATUSES),
        )
        self.mlflow_tracking_uri = ParameterString(
            name=MLFLOW_TRACKING_URI, default_value=defaults.get(MLFLOW_TRACKING_URI, "")
        )
        self.thresholds = {
            metric: ParameterFloat(name=threshold_parameter(metric, bound), default_value=float(value))
            for metric, limits in config["thresholds"].items()
            for bound, value in limits.items()
        }
        self.bias_thresholds = {
            (metric, bound): ParameterFloat(name=bias_threshold_parameter(metric, bound), default_value=float(value))
            for metric, limits in config.get("responsible_ai", {}).get("thresholds", {}).items()
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
            *self.bias_thresholds.values(),
            self.model_approval_status,
            self.mlflow_tracking_uri,
        ]


def threshold_parameter(metric: str, bound: str) -> str:
    """The parameter holding a metric threshold, e.g. MinAuc or MaxRmse."""
    return f"{bound.capitalize()}{metric.capitalize()}"


def bias_threshold_parameter(metric: str, bound: str) -> str:
    """The parameter holding a bias metric bound, e.g. MinBiasDI or MaxBiasCI."""
    return f"{bound.capitalize()}Bias{metric}"


class _StepBuilder:
    """Builds the steps in the order they run; one method per step."""

    def __init__(
        self,
        settings: Settings,
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
        bias = self.check_bias(prepare, model_data) if "responsible_ai" in self.config else None
        register = self.register_model(model_data, evaluate, baseline, bias and bias[0])
        first_step = self.bias_gate(*bias, register) if bias else register
        gate = self.threshold_gate(evaluate, report, first_step)
        return [prepare, train, evaluate, *([baseline] if baseline else []), *([bias[0]] if bias else []), gate]

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
            data_input = sdk.athena_input("data", self.parameters.athena, "input/data")
        else:
            data_input = sdk.processing_input("data", self.parameters.input_data_url, "input/data")
        inputs = [self.code_input(), data_input]
        step_args = self.processor(PREPARE_DATA).run(inputs=inputs, outputs=outputs, arguments=arguments)
        return sdk.DatasetProcessingStep(name=PREPARE_DATA, step_args=step_args, inputs=inputs, cache_config=self.cache)

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
            hyperparameters=sdk.encode_hyperparameters(hyperparameters),
            environment=self.tracking_environment(),
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
            hyperparameter_ranges={name: sdk.parameter_range(spec) for name, spec in tuning["ranges"].items()},
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
                sdk.processing_input("model", model_data, "input/model"),
                sdk.processing_input("test", test_data, "input/test"),
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
        # The MLflow run the evaluation logged to; the registered model records it.
        self.tracking_report = PropertyFile(name=TRACKING_REPORT, output_name=EVALUATION_OUTPUT, path=TRACKING_FILE)
        step = ProcessingStep(
            name=EVALUATE_MODEL,
            step_args=step_args,
            property_files=[report, self.tracking_report],
            cache_config=self.cache,
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

    def check_bias(self, prepare: ProcessingStep, model_data: Any) -> tuple[ProcessingStep, PropertyFile]:
        """Bias metrics and SHAP values of the trained model, in Clarify's analysis.json."""
        section = self.config["responsible_ai"]
        outputs = prepare.properties.ProcessingOutputConfig.Outputs
        output_dir = f"{PROCESSING_ROOT}/output/{BIAS_OUTPUT}"
        arguments = [
            "--model-dir", f"{PROCESSING_ROOT}/input/model",
            "--train-dir", f"{PROCESSING_ROOT}/input/train",
            "--test-dir", f"{PROCESSING_ROOT}/input/test",
            "--output-dir", output_dir,
            "--facet-column", section["facet"]["column"],
            "--facet-value", section["facet"]["value"],
            "--shap-rows", str(section["shap"]["rows"]),
            "--shap-background", str(section["shap"]["background"]),
            "--random-seed", str(self.config["data"]["random_seed"]),
        ]  # fmt: skip
        if "label_threshold" in section:
            arguments += ["--label-threshold", str(section["label_threshold"])]
        step_args = self.processor(CHECK_BIAS).run(
            inputs=[
                self.code_input(),
                sdk.processing_input("model", model_data, "input/model"),
                sdk.processing_input("train", outputs["train"].S3Output.S3Uri, "input/train"),
                sdk.processing_input("test", outputs["test"].S3Output.S3Uri, "input/test"),
            ],
            outputs=[self.processing_output(CHECK_BIAS, BIAS_OUTPUT, output_dir)],
            arguments=arguments,
        )
        report = PropertyFile(name=BIAS_REPORT, output_name=BIAS_OUTPUT, path=BIAS_REPORT_FILE)
        step = ProcessingStep(name=CHECK_BIAS, step_args=step_args, property_files=[report], cache_config=self.cache)
        return step, report

    def bias_gate(self, check: ProcessingStep, report: PropertyFile, register: ModelStep) -> ConditionStep:
        """One condition step per bias metric, chained before registration; each failure names its metric."""
        next_steps: list = [register]
        for metric, limits in reversed(self.config["responsible_ai"]["thresholds"].items()):
            value = JsonGet(step_name=check.name, property_file=report, json_path=f"{metric}.value")
            bounds = {bound: self.parameters.bias_thresholds[(metric, bound)] for bound in limits}
            conditions = [
                ConditionGreaterThanOrEqualTo(left=value, right=threshold)
                if bound == "min"
                else ConditionLessThanOrEqualTo(left=value, right=threshold)
                for bound, threshold in bounds.items()
            ]
            allowed = [item for bound, threshold in bounds.items() for item in (bound, threshold)]
            fail = FailStep(
                name=f"Bias{metric}OutOfRange",
                error_message=Join(on=" ", values=[f"bias metric {metric} =", value, "is outside", *allowed]),
            )
            gate = ConditionStep(
                name=f"CheckBias{metric}", conditions=conditions, if_steps=next_steps, else_steps=[fail]
            )
            next_steps = [gate]
        return next_steps[0]

    def register_model(
        self,
        model_data: Any,
        evaluate: ProcessingStep,
        baseline: QualityCheckStep | None,
        bias: ProcessingStep | None,
    ) -> ModelStep:
        evaluation = evaluate.properties.ProcessingOutputConfig.Outputs[EVALUATION_OUTPUT].S3Output.S3Uri
        metrics = {"model_statistics": sdk.json_metrics(Join(on="/", values=[evaluation, EVALUATION_FILE]))}
        drift: dict[str, Any] = {}
        if bias is not None:
            # One analysis.json holds both bias sections and the SHAP values, as Clarify's does.
            bias_uri = bias.properties.ProcessingOutputConfig.Outputs[BIAS_OUTPUT].S3Output.S3Uri
            analysis = sdk.json_metrics(Join(on="/", values=[bias_uri, BIAS_ANALYSIS_FILE]))
            metrics.update(bias_pre_training=analysis, bias_post_training=analysis, explainability=analysis)
            drift.update(self.bias_drift_baselines(analysis, Join(on="/", values=[bias_uri, BIAS_CONFIG_FILE])))
        if baseline is not None:
            metrics["model_data_statistics"] = sdk.json_metrics(baseline.properties.CalculatedBaselineStatistics)
            metrics["model_data_constraints"] = sdk.json_metrics(baseline.properties.CalculatedBaselineConstraints)
            drift.update(
                model_data_statistics=sdk.json_metrics(baseline.properties.BaselineUsedForDriftCheckStatistics),
                model_data_constraints=sdk.json_metrics(baseline.properties.BaselineUsedForDriftCheckConstraints),
            )
        drift_baselines = DriftCheckBaselines(**drift) if drift else None
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
            customer_metadata_properties=self.model_properties(evaluate),
            metadata_properties=MetadataProperties(
                commit_id=self.settings.commit_id, project_id=self.settings.project_id
            ),
            model_card=self.model_card() if bias is not None else None,
        )
        return ModelStep(name=REGISTER_MODEL, step_args=step_args)

    @staticmethod
    def bias_drift_baselines(analysis: Any, config_uri: Any) -> dict[str, Any]:
        """DriftCheckBaselines.Bias and .Explainability: what a bias-drift or feature-attribution-drift monitor
        compares its own analysis.json against, and the analysis configuration it computes it with.

        A Clarify baselining job's constraints file IS its analysis.json (the SDK reads a ModelBias or
        ModelExplainability baselining job's suggested constraints from "analysis.json", ClarifyBaseliningJob in
        sagemaker/core/model_monitor/clarify_model_monitoring.py; bias-drift violations compare a metric in the
        monitor's analysis.json with the same metric in the constraints:
        https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-model-monitor-bias-drift-violations.html; feature
        attribution drift compares the global SHAP values of both files:
        https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-model-monitor-model-attribution-drift-violations.html).
        One analysis_config.json serves both config files: it holds the parameters of both monitors
        (https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-config-json-monitor-bias-parameters.html,
        https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-config-json-monitor-model-explainability-parameters.html).
        """
        config = FileSource(s3_uri=config_uri, content_type="application/json")
        return {
            "bias_config_file": config,
            "bias_pre_training_constraints": analysis,
            "bias_post_training_constraints": analysis,
            "explainability_constraints": analysis,
            "explainability_config_file": config,
        }

    def model_card(self) -> ModelPackageModelCard:
        """The card an approver reads in the registry: intended use, data, where the reports are, lineage.

        Built before the run, so it names the reports' S3 locations (fixed by the build id) rather than
        their numbers; the registry shows the numbers from the model metrics next to it.
        """
        section = self.config["responsible_ai"]
        content = model_card.package_card_content(
            intended_use=section["intended_use"],
            risk_rating=section["risk_rating"],
            problem_type=self.config["problem_type"],
            training_data=self.settings.input_uri()
            if self.parameters.input_data_url
            else "the Athena query in input.json",
            reports={
                "evaluation": f"{self.settings.output_uri(EVALUATE_MODEL, EVALUATION_OUTPUT)}/{EVALUATION_FILE}",
                "bias and explainability": f"{self.settings.output_uri(CHECK_BIAS, BIAS_OUTPUT)}/{BIAS_ANALYSIS_FILE}",
            },
            lineage=contract.model_metadata(self.settings.build_id, self.settings.branch)
            | {"commit": self.settings.commit_id or "unknown"},
        )
        return ModelPackageModelCard(model_card_content=content, model_card_status="Draft")

    def model_description(self) -> str:
        model = f"{self.config['framework']} {self.config['problem_type']} model"
        description = f"{model} of build {self.settings.build_id}"
        return f"{description} on branch {self.settings.branch}" if self.settings.branch else description

    def model_properties(self, evaluate: ProcessingStep) -> dict[str, Any]:
        """Searchable in the registry next to MetadataProperties.CommitId (set when the commit is known),
        with the MLflow run of the model ("not-tracked" when nothing was tracked) and what this
        pipeline reads (the deploy repository's retraining run passes only parameters it declares)."""
        run_id = JsonGet(step_name=evaluate.name, property_file=self.tracking_report, json_path="mlflow_run_id")
        lineage = contract.model_metadata(self.settings.build_id, self.settings.branch, self.config["data"]["source"])
        return {**lineage, "mlflow_run_id": run_id}

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

    def tracking_environment(self) -> dict[str, Any]:
        """What the training and evaluation code needs to track in MLflow (shared_libraries/tracking.py)."""
        return {
            "MLFLOW_TRACKING_URI": self.parameters.mlflow_tracking_uri,
            "MLFLOW_EXPERIMENT_NAME": self.settings.pipeline_name,
            "MLOPS_BUILD_ID": self.settings.build_id,
            "MLOPS_COMMIT_ID": self.settings.commit_id or "",
            # The run names the group its model is registered in; the model records the run's id.
            "MLOPS_MODEL_PACKAGE_GROUP": self.settings.model_package_group,
        }

    def processor(self, step: str) -> Processor:
        return Processor(
            role=self.settings.role_arn,
            image_uri=self.image_uri,
            instance_type=self.parameters.processing_instance_type,
            instance_count=self.parameters.processing_instance_count,
            entrypoint=["python3", f"{CODE_DIR}/{SCRIPTS[step]}"],
            sagemaker_session=self.session,
            env=self.tracking_environment() if step == EVALUATE_MODEL else None,
        )

    def code_input(self) -> ProcessingInput:
        return sdk.processing_input("code", self.settings.algorithms_uri(), "input/code")

    def processing_output(self, step: str, name: str, local_path: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=self.settings.output_uri(step, name), local_path=local_path, s3_upload_mode="EndOfJob"
            ),
        )


if __name__ == "__main__":  # the commands moved to the kit; an old script call must not succeed silently
    raise SystemExit("error: run the pipeline's commands with mlops-kit pipeline (see mlops-kit pipeline --help)")
