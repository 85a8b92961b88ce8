"""The batch inference pipeline definition: built offline, deterministic, and valid for the APIs it calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from mlops_template_kit.deploy.batch import pipeline_module
from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.deploy.inference_config import load
from mlops_template_kit.deploy.model_registry import ApprovedModel
from mlops_template_kit.deploy.settings import Settings, config_dir

REPO_ROOT = Path(__file__).resolve().parents[3]
# The account-wide batch pipeline role the stage-access stack creates.
ROLE_ARN = "arn:aws:iam::123456789012:role/sagemaker-all-projects-batch-pipeline"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
STEP_APIS = {
    "Processing": "CreateProcessingJob",
    "QualityCheck": "CreateProcessingJob",
    "Transform": "CreateTransformJob",
}
RUNTIME_NAMES = {"CreateProcessingJob": "ProcessingJobName", "CreateTransformJob": "TransformJobName"}


@pytest.fixture(scope="module")
def pipeline():
    return pipeline_module(REPO_ROOT)


@pytest.fixture(scope="module")
def model() -> ApprovedModel:
    return ApprovedModel(
        arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/group/4",
        group="group",
        version=4,
        model_data_url="s3://bucket/project/ml-pipeline-outputs/b1/TrainModel/model/model.tar.gz",
        image=IMAGE,
        evaluation_uri="s3://bucket/evaluation.json",
        baseline_statistics_uri="s3://bucket/baseline/statistics.json",
        baseline_constraints_uri="s3://bucket/baseline/constraints.json",
        metadata={"build_id": "20261122T133000Z-1a2b3c4"},
    )


@pytest.fixture(scope="module")
def batch_config() -> dict:
    config = load("staging", config_dir(REPO_ROOT))
    return config.get("batch") or {
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "processing_instance_type": "ml.m5.large",
        "schedule": "rate(1 day)",
        "input_prefix": "batch-inference/input/",
        "output_prefix": "batch-inference/output/",
    }


@pytest.fixture(scope="module")
def fixed_settings() -> Settings:
    return Settings.from_env(REPO_ROOT, {"BUILD_ID": "20261122T140000Z-9f8e7d6"})


@pytest.fixture(scope="module")
def definition(pipeline, fixed_settings, model, batch_config) -> dict:
    """Built once for the module: building a definition takes seconds."""
    resources = pipeline.expected_resources(fixed_settings, "staging", ROLE_ARN)
    return json.loads(pipeline.build_definition(fixed_settings, "staging", batch_config, model, resources))


def test_steps_run_in_the_documented_order(definition):
    names = [step["Name"] for step in definition["Steps"]]
    assert names == ["PrepareInferenceData", "BatchTransform", "PostprocessPredictions", "DataQualityCheck"]
    types = [step["Type"] for step in definition["Steps"]]
    assert types == ["Processing", "Transform", "Processing", "QualityCheck"]


def test_preprocessing_reuses_the_training_build(definition, settings, model):
    prepare = definition["Steps"][0]["Arguments"]
    inputs = {item["InputName"]: item["S3Input"]["S3Uri"] for item in prepare["ProcessingInputs"]}
    build_id = model.metadata["build_id"]
    assert inputs["code"].endswith(f"/code/{build_id}/algorithms/")
    assert inputs["preprocessor"].endswith(f"/ml-pipeline-outputs/{build_id}/PrepareData/preprocessor/")
    assert prepare["AppSpecification"]["ContainerArguments"][:2] == ["--mode", "transform"]


def test_transform_serves_the_stage_model(definition):
    transform = definition["Steps"][1]["Arguments"]
    assert transform["ModelName"] == {"Get": "Parameters.ModelName"}
    assert transform["TransformInput"]["SplitType"] == "None"
    assert transform["TransformOutput"]["Accept"] == "application/json"


def test_data_quality_is_checked_against_the_registered_baseline(definition, model):
    check = definition["Steps"][3]
    assert check["SuppliedBaselineStatistics"] == model.baseline_statistics_uri
    assert check["SuppliedBaselineConstraints"] == model.baseline_constraints_uri
    assert check["DependsOn"] == ["PostprocessPredictions"]
    # The registered baseline is of raw training features: the records are checked in that form.
    (dataset,) = check["Arguments"]["ProcessingInputs"]
    assert dataset["S3Input"]["S3Uri"] == {
        "Get": "Steps.PrepareInferenceData.ProcessingOutputConfig.Outputs['raw_features'].S3Output.S3Uri"
    }


def test_the_schedule_parameter_is_declared(definition):
    names = {parameter["Name"] for parameter in definition["Parameters"]}
    assert "TriggeredBy" in names
    assert {"InputDataUri", "OutputDataUri", "ModelName", "SkipDataQualityCheck"} <= names


def test_the_same_inputs_give_the_same_definition(pipeline, settings, model, batch_config):
    resources = pipeline.expected_resources(settings, "staging", ROLE_ARN)
    first = pipeline.build_definition(settings, "staging", batch_config, model, resources)
    assert first == pipeline.build_definition(settings, "staging", batch_config, model, resources)


def test_without_a_registered_baseline_the_check_is_skipped(pipeline, settings, model, batch_config):
    bare = ApprovedModel(**{**model.to_json(), "baseline_statistics_uri": "", "baseline_constraints_uri": ""})
    resources = pipeline.expected_resources(settings, "staging", ROLE_ARN)
    definition = json.loads(pipeline.build_definition(settings, "staging", batch_config, bare, resources))
    skip = next(p for p in definition["Parameters"] if p["Name"] == "SkipDataQualityCheck")
    assert skip["DefaultValue"] is True


def test_a_model_without_its_build_id_is_refused(pipeline, settings, model, batch_config):
    unknown = ApprovedModel(**{**model.to_json(), "metadata": {}})
    resources = pipeline.expected_resources(settings, "staging", ROLE_ARN)
    with pytest.raises(DeployError, match="build_id"):
        pipeline.build_definition(settings, "staging", batch_config, unknown, resources)


def _stand_in(value: Any, shape: Any) -> Any:
    """Replace pipeline expressions by a value of the type the API field takes."""
    if isinstance(value, dict) and ({"Get", "Std:Join"} & set(value)):
        return {"string": "s3://bucket/key", "integer": 1, "boolean": True}.get(shape.type_name, "value")
    if isinstance(value, dict) and shape.type_name == "structure":
        return {k: _stand_in(v, shape.members[k]) for k, v in value.items() if k in shape.members}
    if isinstance(value, dict) and shape.type_name == "map":
        return {k: _stand_in(v, shape.value) for k, v in value.items()}
    if isinstance(value, list):
        return [_stand_in(item, shape.member) for item in value]
    return value


@pytest.mark.parametrize("index", range(4))
def test_step_arguments_validate_against_the_api(definition, index):
    step = definition["Steps"][index]
    api = STEP_APIS[step["Type"]]
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(api).input_shape
    request = _stand_in(step["Arguments"], shape)
    request[RUNTIME_NAMES[api]] = "placeholder-name"
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
