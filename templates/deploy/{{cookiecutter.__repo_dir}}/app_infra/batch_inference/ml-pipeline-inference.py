"""The batch inference pipeline of a deployment stage: the only module that uses the SageMaker SDK.

PrepareInferenceData (the training preprocessing in transform mode: no split, no label; keeps
the ids) -> BatchTransform (the approved model on the raw records) -> PostprocessPredictions
(joins the ids back, summarises the distribution of the predictions) -> DataQualityCheck (the
records' raw feature columns against the baseline registered with the model, which is of raw
training features).

Commands (from the repository root):

    python app_infra/batch_inference/ml-pipeline-inference.py definition --stage staging

The definition is built offline (the kit's `mlops_template_kit.pipeline.sdk`, which builds the
training pipeline's too). The build step writes it to build/<stage>/batch-pipeline.json;
the deploy step rebuilds it with the stage's stack outputs and creates or updates the pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.deploy.model_registry import ApprovedModel
from mlops_template_kit.deploy.settings import Settings

# Run as a script from anywhere, the kit's settings still read this repository.
REPO_ROOT = Path(__file__).resolve().parents[2]

# The SDK needs a region on import: this repository's, not that of the working directory.
os.environ.setdefault("AWS_DEFAULT_REGION", Settings.from_env(REPO_ROOT).region)

from botocore.exceptions import ClientError  # noqa: E402
from mlops_template_kit import contract, naming  # noqa: E402
from mlops_template_kit.pipeline.sdk import PROCESSING_ROOT, offline_definition, processing_input  # noqa: E402
from sagemaker.core.model_monitor.dataset_format import DatasetFormat  # noqa: E402
from sagemaker.core.processing import Processor  # noqa: E402
from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output  # noqa: E402
from sagemaker.core.transformer import Transformer  # noqa: E402
from sagemaker.core.workflow.execution_variables import ExecutionVariables  # noqa: E402
from sagemaker.core.workflow.functions import Join  # noqa: E402
from sagemaker.core.workflow.parameters import ParameterBoolean, ParameterString  # noqa: E402
from sagemaker.core.workflow.pipeline_context import PipelineSession  # noqa: E402
from sagemaker.mlops.workflow.check_job_config import CheckJobConfig  # noqa: E402
from sagemaker.mlops.workflow.pipeline import Pipeline  # noqa: E402
from sagemaker.mlops.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep  # noqa: E402
from sagemaker.mlops.workflow.steps import ProcessingStep, TransformStep  # noqa: E402

# Where the training build keeps its code and preprocessor, the metadata key that names the build,
# and the transform command of its prepare_data: the kit's `contract`, which build-train uses too.
POSTPROCESS_CODE_DIR = "batch_inference/postprocess"

PREPARE = "PrepareInferenceData"
TRANSFORM = "BatchTransform"
POSTPROCESS = "PostprocessPredictions"
DATA_QUALITY = "DataQualityCheck"


@dataclass(frozen=True)
class StageResources:
    """What the stage's batch stack provides to the pipeline (its outputs)."""

    role_arn: str
    bucket: str
    model_name: str
    kms_key_arn: str


def expected_resources(settings: Settings, stage: str, role_arn: str) -> StageResources:
    """The names the batch stack will use, for building the definition before it exists; the
    pipeline role is the fixed one the stage-access stack created (stacks.stage_role_arn)."""
    return StageResources(
        role_arn=role_arn,
        bucket=naming.stage_bucket(settings.project_id, stage, "batch"),
        model_name="deployed-by-the-batch-stack",
        kms_key_arn=naming.kms_alias(settings.project_id, stage, "batch"),
    )


def training_uris(settings: Settings, model: ApprovedModel) -> tuple[str, str]:
    """The step code and the fitted preprocessor of the training build that produced `model`."""
    build_id = contract.build_id_of(model.metadata)
    if not build_id:
        raise DeployError(
            f"model package {model.arn} has no {contract.BUILD_ID_KEY} metadata: batch inference reuses the "
            "preprocessing of the training build, so register models with their build id"
        )
    bucket, prefix = settings.artifact_bucket, naming.s3_prefix(settings.project_name)
    return contract.algorithms_uri(bucket, prefix, build_id), contract.preprocessor_uri(bucket, prefix, build_id)


def pipeline_name(settings: Settings, stage: str) -> str:
    """The SageMaker pipeline of a stage's batch inference."""
    return naming.pipeline(settings.project_name, settings.project_id, f"batch-inference-{stage}")


def postprocess_code_uri(settings: Settings) -> str:
    """Where the build step uploads this repository's postprocessing code."""
    return f"s3://{settings.artifact_bucket}/{settings.deploy_prefix()}/{POSTPROCESS_CODE_DIR}/"


class _Builder:
    """Parameters and steps, in the order they run."""

    def __init__(
        self,
        settings: Settings,
        stage: str,
        batch: dict[str, Any],
        model: ApprovedModel,
        resources: StageResources,
        session: PipelineSession,
    ) -> None:
        self.settings, self.stage, self.batch, self.model = settings, stage, batch, model
        self.resources, self.session = resources, session
        self.code_uri, self.preprocessor_uri = training_uris(settings, model)
        has_baseline = bool(model.baseline_statistics_uri and model.baseline_constraints_uri)
        bucket = f"s3://{resources.bucket}"
        self.input_data = ParameterString("InputDataUri", default_value=f"{bucket}/{batch['input_prefix']}")
        self.output_data = ParameterString("OutputDataUri", default_value=f"{bucket}/{batch['output_prefix']}")
        self.model_name = ParameterString("ModelName", default_value=resources.model_name)
        self.processing_instance = ParameterString(
            "ProcessingInstanceType", default_value=batch["processing_instance_type"]
        )
        # Without a registered baseline there is nothing to compare with: the check is skipped.
        self.skip_check = ParameterBoolean(
            "SkipDataQualityCheck", default_value=not (batch.get("data_quality_check", True) and has_baseline)
        )
        self.triggered_by = ParameterString("TriggeredBy", default_value="manual")

    def parameters(self) -> list:
        return [
            self.input_data,
            self.output_data,
            self.model_name,
            self.processing_instance,
            self.skip_check,
            self.triggered_by,
        ]

    def output_uri(self, name: str) -> Join:
        # One folder per execution keeps every run's results for audit.
        return Join(on="/", values=[self.output_data, ExecutionVariables.PIPELINE_EXECUTION_ID, name])

    def processor(self, script: str) -> Processor:
        return Processor(
            role=self.resources.role_arn,
            image_uri=self.model.image,
            instance_type=self.processing_instance,
            instance_count=1,
            entrypoint=["python3", f"{PROCESSING_ROOT}/input/code/{script}"],
            volume_kms_key=self.resources.kms_key_arn,
            output_kms_key=self.resources.kms_key_arn,
            sagemaker_session=self.session,
        )

    def output(self, name: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=self.output_uri(name), local_path=f"{PROCESSING_ROOT}/output/{name}", s3_upload_mode="EndOfJob"
            ),
        )

    def prepare(self) -> ProcessingStep:
        step_args = self.processor(contract.PREPARE_SCRIPT).run(
            inputs=[
                processing_input("code", self.code_uri, "input/code"),
                processing_input("data", self.input_data, "input/data"),
                processing_input("preprocessor", self.preprocessor_uri, "input/preprocessor"),
            ],
            # prepare_data writes one folder per output under its --output-dir.
            outputs=[self.output(name) for name in contract.TRANSFORM_OUTPUTS],
            arguments=contract.prepare_transform_arguments(
                f"{PROCESSING_ROOT}/input/data", f"{PROCESSING_ROOT}/output", f"{PROCESSING_ROOT}/input/preprocessor"
            ),
        )
        return ProcessingStep(name=PREPARE, step_args=step_args)

    def transform(self, prepare: ProcessingStep) -> TransformStep:
        # The SDK's transform request takes plain values here, not pipeline parameters.
        transformer = Transformer(
            model_name=self.model_name,
            instance_count=self.batch["instance_count"],
            instance_type=self.batch["instance_type"],
            # One request per input file: the handler reads a whole CSV file, header included.
            strategy="SingleRecord",
            assemble_with="None",
            accept="application/json",
            max_payload=self.batch.get("max_payload_mb", 6),
            output_path=self.output_uri("transform"),
            output_kms_key=self.resources.kms_key_arn,
            volume_kms_key=self.resources.kms_key_arn,
            sagemaker_session=self.session,
        )
        step_args = transformer.transform(data=self.input_data, content_type="text/csv", split_type="None")
        # The records are only worth predicting once the preprocessing accepted them.
        return TransformStep(name=TRANSFORM, step_args=step_args, depends_on=[prepare])

    def postprocess(self, prepare: ProcessingStep, transform: TransformStep) -> ProcessingStep:
        outputs = prepare.properties.ProcessingOutputConfig.Outputs
        step_args = self.processor("__main__.py").run(
            inputs=[
                processing_input("code", postprocess_code_uri(self.settings), "input/code"),
                processing_input("ids", outputs[contract.IDS_OUTPUT].S3Output.S3Uri, "input/ids"),
                processing_input("transform", transform.properties.TransformOutput.S3OutputPath, "input/transform"),
            ],
            outputs=[self.output("predictions")],
            arguments=[
                "--ids-dir",
                f"{PROCESSING_ROOT}/input/ids",
                "--transform-dir",
                f"{PROCESSING_ROOT}/input/transform",
                "--output-dir",
                f"{PROCESSING_ROOT}/output/predictions",
                "--triggered-by",
                self.triggered_by,
            ],  # fmt: skip
        )
        return ProcessingStep(name=POSTPROCESS, step_args=step_args)

    def data_quality(self, prepare: ProcessingStep, postprocess: ProcessingStep) -> QualityCheckStep:
        # The baseline registered with the model is of raw training features (prepare_data fit
        # mode): the records are checked in the same form, not as processed features.
        outputs = prepare.properties.ProcessingOutputConfig.Outputs
        records = outputs[contract.RAW_FEATURES_OUTPUT].S3Output.S3Uri
        return QualityCheckStep(
            name=DATA_QUALITY,
            quality_check_config=DataQualityCheckConfig(
                baseline_dataset=records,
                dataset_format=DatasetFormat.csv(header=True),
                output_s3_uri=self.output_uri("data-quality"),
            ),
            check_job_config=CheckJobConfig(
                role=self.resources.role_arn,
                instance_type=self.processing_instance,
                instance_count=1,
                volume_kms_key=self.resources.kms_key_arn,
                output_kms_key=self.resources.kms_key_arn,
                sagemaker_session=self.session,
            ),
            skip_check=self.skip_check,
            fail_on_violation=True,
            register_new_baseline=False,
            supplied_baseline_statistics=self.model.baseline_statistics_uri or None,
            supplied_baseline_constraints=self.model.baseline_constraints_uri or None,
            depends_on=[postprocess],
        )

    def steps(self) -> list:
        prepare = self.prepare()
        transform = self.transform(prepare)
        postprocess = self.postprocess(prepare, transform)
        return [prepare, transform, postprocess, self.data_quality(prepare, postprocess)]


def build_definition(
    settings: Settings, stage: str, batch: dict[str, Any], model: ApprovedModel, resources: StageResources
) -> str:
    """The pipeline definition JSON of `stage`; the same inputs give the same bytes."""
    if not model.image:
        raise DeployError(f"model package {model.arn} names no container image")

    def build(session: PipelineSession) -> Pipeline:
        builder = _Builder(settings, stage, batch, model, resources, session)
        return Pipeline(
            name=pipeline_name(settings, stage),
            parameters=builder.parameters(),
            steps=builder.steps(),
            sagemaker_session=session,
            pipeline_experiment_config=None,
        )

    return offline_definition(settings.region, resources.bucket, build)


def upsert(sagemaker_client: Any, settings: Settings, stage: str, definition: str, role_arn: str) -> str:
    """Create the stage's batch pipeline, or update it when it exists; return its ARN."""
    name = pipeline_name(settings, stage)
    request = {
        "PipelineName": name,
        "PipelineDefinition": definition,
        "PipelineDescription": f"Batch inference of {settings.project_name} ({stage})",
        "RoleArn": role_arn,
    }
    try:
        arn = sagemaker_client.describe_pipeline(PipelineName=name)["PipelineArn"]
    except ClientError as problem:
        if not _not_found(problem):
            raise
        tags = [{"Key": key, "Value": value} for key, value in settings.tags(stage).items()]
        return sagemaker_client.create_pipeline(**request, Tags=tags)["PipelineArn"]
    sagemaker_client.update_pipeline(**request)
    return arn


def _not_found(problem: ClientError) -> bool:
    # SageMaker answers ResourceNotFound; some emulators a ValidationException saying so.
    error = problem.response.get("Error", {})
    return error.get("Code") == "ResourceNotFound" or "Could not find" in error.get("Message", "")


def main(argv: list[str] | None = None) -> int:
    """Print the definition of a stage, built from build/model_package.json."""
    from mlops_template_kit.deploy import inference_config
    from mlops_template_kit.deploy.settings import build_dir, config_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["definition"])
    parser.add_argument("--stage", choices=naming.STAGES, default="staging")
    parser.add_argument("--account-id", default="000000000000", help="account of the stage (for the role ARN)")
    args = parser.parse_args(argv)
    config = inference_config.load(args.stage, config_dir(REPO_ROOT))
    if "batch" not in config:
        raise DeployError(f"inference_config/{args.stage}/inference_config.json has no batch section")
    package = build_dir(REPO_ROOT) / "model_package.json"
    if not package.is_file():
        raise DeployError(f"{package} does not exist: run `make build` first")
    model = ApprovedModel(**json.loads(package.read_text(encoding="utf-8")))
    settings = Settings.from_env(REPO_ROOT)
    from mlops_template_kit.deploy import stacks

    role_arn = stacks.stage_role_arn(settings, args.stage, config, args.account_id, "batch-pipeline")
    resources = expected_resources(settings, args.stage, role_arn)
    print(json.dumps(json.loads(build_definition(settings, args.stage, config["batch"], model, resources)), indent=2))
    return 0


if __name__ == "__main__":
    from mlops_template_kit.deploy.errors import run_cli

    raise SystemExit(run_cli(main))
