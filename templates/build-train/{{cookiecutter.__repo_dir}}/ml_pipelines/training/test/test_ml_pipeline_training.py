"""Tests of this repository's training pipeline: its definition is built offline and
deterministically, every step is valid for the AWS API it calls, the checker catches broken
definitions, and input.json's schema and `check_config` refuse what the pipeline cannot build.
The kit's machinery (settings, upload, upsert, start, command line) is tested in the kit."""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from mlops_template_kit import cli, contract
from mlops_template_kit import definition as pipeline_definition
from mlops_template_kit.pipeline import config as pipeline_config
from mlops_template_kit.pipeline import repo, sdk, settings

REPO_ROOT = Path(__file__).resolve().parents[3]
ALGORITHMS = REPO_ROOT / "algorithms"
BUILD_ID = "20261122T133000Z-1a2b3c4"
COMMIT_ID = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
ROLE_ARN = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
# No tracking server, also when the CI running these tests names one for its pipeline.
CI_ENVIRONMENT = {
    "BUILD_ID": BUILD_ID,
    "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE_ARN,
    "COMMIT_ID": COMMIT_ID,
    "PIPELINE_MLFLOW_TRACKING_URI": "",
}
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")

pipeline = repo.load(REPO_ROOT)


def load_config(path: Path | None = None) -> dict:
    return pipeline_config.load(REPO_ROOT, pipeline, path)


def ci(variables: dict[str, str]) -> settings.Settings:
    return repo.settings_of(REPO_ROOT, variables)


def build_definition(project: settings.Settings, config: dict) -> str:
    return sdk.build_definition(pipeline.build_pipeline, project, config)


# Where the first step reads: the parameter naming that source comes first in the definition.
ATHENA = load_config()["data"]["source"] == "athena"
FIRST_PARAMETER = sdk.ATHENA_CATALOG if ATHENA else pipeline.INPUT_DATA_URL


def no_network(*args, **kwargs):
    raise OSError("network access during an offline build")


@pytest.fixture(scope="module")
def config() -> dict:
    return load_config()


@pytest.fixture(scope="module")
def project() -> settings.Settings:
    return ci(CI_ENVIRONMENT)


@pytest.fixture(scope="module")
def raw_definition(project, config) -> str:
    """Built with no credentials anywhere and every socket refused."""
    with pytest.MonkeyPatch.context() as patch:
        for name in CREDENTIAL_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setattr(socket.socket, "connect", no_network)
        patch.setattr(socket, "getaddrinfo", no_network)
        return build_definition(project, config)


@pytest.fixture(scope="module")
def definition(raw_definition) -> dict:
    return json.loads(raw_definition)


def steps_by_name(definition: dict) -> dict[str, dict]:
    return {step["Name"]: step for step in pipeline_definition.iter_steps(definition)}


def training_step(definition: dict) -> dict:
    steps = steps_by_name(definition)
    return steps.get(pipeline.TRAIN_MODEL) or steps[pipeline.TUNE_MODEL]


def find(steps: list, step_type: str) -> list[dict]:
    return [step for step in steps if step["Type"] == step_type]


# --------------------------------------------------------------------------- the definition


def test_definition_built_offline_breaks_no_rule(definition):
    assert pipeline_definition.problems(definition) == []


def test_same_build_id_gives_byte_identical_definitions_across_processes_without_importing_mlflow(raw_definition):
    # The steps import MLflow when they track; building the definition never does (it costs seconds).
    script = "import sys; from pathlib import Path; from mlops_template_kit.pipeline import repo; "
    script += "print(repo.build(Path('.'))[2], end=''); "
    script += "print(sorted(name for name in sys.modules if name.split('.')[0] == 'mlflow'), file=sys.stderr)"
    environment = {**os.environ, **CI_ENVIRONMENT}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, check=True
    )
    assert result.stdout == raw_definition
    assert result.stderr.splitlines()[-1] == "[]"


def test_build_id_is_the_only_thing_that_changes_between_builds(raw_definition, config):
    other = build_definition(ci({**CI_ENVIRONMENT, "BUILD_ID": "20270101T000000Z-fedcba9"}), config)
    assert other != raw_definition
    assert other.replace("20270101T000000Z-fedcba9", BUILD_ID) == raw_definition


def test_step_names_are_unique_and_valid(definition):
    names = [step["Name"] for step in pipeline_definition.iter_steps(definition)]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Za-z0-9\-_]{1,64}", name) for name in names)


def test_every_parameter_is_declared_used_and_defaults_to_input_json(definition, config, project):
    declared = {parameter["Name"]: parameter for parameter in definition["Parameters"]}
    referenced = {
        target.removeprefix("Parameters.")
        for target in pipeline_definition.get_targets(definition["Steps"])
        if target.startswith("Parameters.")
    }
    assert referenced == set(declared)
    for name, value in config["parameters"].items():
        assert declared[name]["DefaultValue"] == value
    if ATHENA:
        athena_results = project.output_uri(pipeline.PREPARE_DATA, pipeline.ATHENA_RESULTS) + "/"
        assert declared[sdk.ATHENA_OUTPUT_URL]["DefaultValue"] == athena_results
        assert pipeline.INPUT_DATA_URL not in declared
    else:
        assert declared[pipeline.INPUT_DATA_URL]["DefaultValue"] == project.input_uri()
    for metric, bound in config["thresholds"].items():
        ((side, value),) = bound.items()
        assert declared[pipeline.threshold_parameter(metric, side)] == {
            "Name": pipeline.threshold_parameter(metric, side),
            "Type": "Float",
            "DefaultValue": float(value),
        }


def test_every_step_validates_against_the_api_it_calls(definition, config):
    called = set()
    for step in pipeline_definition.iter_steps(definition):
        assert pipeline_definition.check_step_arguments(step, definition) == [], step["Name"]
        if step["Type"] in pipeline_definition.STEP_APIS:
            called.add(pipeline_definition.STEP_APIS[step["Type"]][0])
    training_api = "CreateHyperParameterTuningJob" if "tuning" in config else "CreateTrainingJob"
    assert called == {"CreateProcessingJob", training_api, "CreateModelPackage"}


# --------------------------------------------------------------------------- the checker


def set_in(path: list, value):
    def mutate(definition: dict) -> None:
        target = definition
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def prepare(definition: dict) -> dict:
    return steps_by_name(definition)[pipeline.PREPARE_DATA]


def register(definition: dict) -> dict:
    return steps_by_name(definition)[pipeline.REGISTER_MODEL]


def data_input(definition: dict) -> dict:
    return next(item for item in prepare(definition)["Arguments"]["ProcessingInputs"] if item["InputName"] == "data")


def retype_parameter(name: str, kind: str, default) -> callable:
    def mutate(definition: dict) -> None:
        parameter = next(item for item in definition["Parameters"] if item["Name"] == name)
        parameter.update(Type=kind, DefaultValue=default)

    return mutate


MUTATIONS = {
    "count given as text": (
        lambda d: prepare(d)["Arguments"]["ProcessingResources"]["ClusterConfig"].update(InstanceCount="one"),
        "Invalid type for parameter ProcessingResources.ClusterConfig.InstanceCount",
    ),
    "argument the API does not know": (
        lambda d: prepare(d)["Arguments"].update(ProcessingJobTimeout=60),
        'Unknown parameter in input: "ProcessingJobTimeout"',
    ),
    "required argument missing": (
        lambda d: prepare(d)["Arguments"].pop("RoleArn"),
        'Missing required parameter in input: "RoleArn"',
    ),
    "String parameter in an Integer field": (
        retype_parameter(pipeline.PROCESSING_INSTANCE_COUNT, "String", "1"),
        "Invalid type for parameter ProcessingResources.ClusterConfig.InstanceCount",
    ),
    "instance type outside the API's list": (
        retype_parameter(pipeline.PROCESSING_INSTANCE_TYPE, "String", "m5.large"),
        "'m5.large' is not one of the allowed values",
    ),
    "approval status outside the API's list": (
        lambda d: register(d)["Arguments"].update(ModelApprovalStatus="Yes"),
        "'Yes' is not one of the allowed values",
    ),
    "S3 URI that is not one": (
        lambda d: prepare(d)["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"].update(S3Uri="bucket/x"),
        "'bucket/x' does not match",
    ),
    "undeclared parameter": (
        lambda d: d["Parameters"].pop(0),
        f"parameter '{FIRST_PARAMETER}' is referenced but not declared",
    ),
    "declared parameter no step uses": (
        lambda d: d["Parameters"].append({"Name": "Unused", "Type": "String", "DefaultValue": "x"}),
        "parameter 'Unused' is declared but no step uses it",
    ),
    "parameter default of the wrong type": (
        retype_parameter(pipeline.TRAINING_INSTANCE_COUNT, "Integer", "2"),
        f"parameter '{pipeline.TRAINING_INSTANCE_COUNT}' default '2' does not fit its type Integer",
    ),
    "two steps with one name": (
        lambda d: d["Steps"][1].update(Name=pipeline.PREPARE_DATA),
        f"step name '{pipeline.PREPARE_DATA}' is used more than once",
    ),
    "step name with a space": (
        lambda d: d["Steps"][0].update(Name="Prepare Data"),
        "step name 'Prepare Data' does not match",
    ),
    "property file the step does not declare": (
        lambda d: steps_by_name(d)[pipeline.EVALUATE_MODEL].update(PropertyFiles=[]),
        "is not declared by step 'EvaluateModel'",
    ),
    "unknown condition": (
        lambda d: find(d["Steps"], "Condition")[0]["Arguments"]["Conditions"][0].update(Type="Roughly"),
        "is not one of",
    ),
    "MLflow tracking URI parameter that is not a String (job environments hold text)": (
        retype_parameter(pipeline.MLFLOW_TRACKING_URI, "Integer", 1),
        "Invalid type for parameter Environment.MLFLOW_TRACKING_URI",
    ),
    "model package metadata value longer than the API allows": (
        lambda d: register(d)["Arguments"]["CustomerMetadataProperties"].update(mlflow_run_id="r" * 257),
        "257 characters; the maximum is 256",
    ),
    "commit id longer than the API allows": (
        lambda d: register(d)["Arguments"]["MetadataProperties"].update(CommitId="a" * 1025),
        "1025 characters; the maximum is 1024",
    ),
}
if ATHENA:
    MUTATIONS["Athena result format the API does not know"] = (
        lambda d: data_input(d)["DatasetDefinition"]["AthenaDatasetDefinition"].update(OutputFormat="CSV"),
        "'CSV' is not one of the allowed values",
    )
    MUTATIONS["Athena input without its query"] = (
        lambda d: data_input(d)["DatasetDefinition"]["AthenaDatasetDefinition"].pop("QueryString"),
        'DatasetDefinition.AthenaDatasetDefinition: "QueryString"',
    )


if "responsible_ai" in load_config():
    # The drift-check baselines go through CreateModelPackage's shape like every other argument.
    MUTATIONS["bias drift baseline config file without its S3 URI"] = (
        lambda d: register(d)["Arguments"]["DriftCheckBaselines"]["Bias"]["ConfigFile"].pop("S3Uri"),
        'Missing required parameter in DriftCheckBaselines.Bias.ConfigFile: "S3Uri"',
    )
    MUTATIONS["explainability drift baseline the API does not know"] = (
        lambda d: register(d)["Arguments"]["DriftCheckBaselines"]["Explainability"].update(Report={}),
        'Unknown parameter in DriftCheckBaselines.Explainability: "Report"',
    )


@pytest.mark.parametrize("mutation", list(MUTATIONS), ids=list(MUTATIONS))
def test_checker_rejects_a_broken_definition(definition, mutation):
    mutate, expected = MUTATIONS[mutation]
    broken = copy.deepcopy(definition)
    mutate(broken)
    found = pipeline_definition.problems(broken)
    assert any(expected in problem for problem in found), found
    with pytest.raises(pipeline_definition.DefinitionError):
        pipeline_definition.check(broken)


# --------------------------------------------------------------------------- the steps


def test_processing_steps_run_the_uploaded_code(definition, project):
    steps = steps_by_name(definition)
    for name in (pipeline.PREPARE_DATA, pipeline.EVALUATE_MODEL):
        arguments = steps[name]["Arguments"]
        entrypoint = arguments["AppSpecification"]["ContainerEntrypoint"]
        assert entrypoint == ["python3", f"/opt/ml/processing/input/code/{pipeline.SCRIPTS[name]}"]
        assert (ALGORITHMS / pipeline.SCRIPTS[name]).is_file()
        code = next(item for item in arguments["ProcessingInputs"] if item["InputName"] == "code")
        assert code["S3Input"]["S3Uri"] == project.algorithms_uri()
        assert code["S3Input"]["LocalPath"] == "/opt/ml/processing/input/code"


def test_prepare_step_passes_the_data_settings_of_input_json(definition, config):
    arguments = prepare(definition)["Arguments"]["AppSpecification"]["ContainerArguments"]
    options = dict(zip(arguments[::2], arguments[1::2], strict=True))
    data = config["data"]
    assert options["--target-column"] == data["target_column"]
    assert options["--categorical-columns"] == ",".join(data["categorical_columns"])
    assert float(options["--test-fraction"]) == data["test_fraction"]
    assert options["--problem-type"] == config["problem_type"]
    assert options["--input-dir"] == "/opt/ml/processing/input/data"
    if ATHENA:
        assert options["--input-format"] == "json"
        return
    assert options["--input-format"] == "csv"
    assert data_input(definition)["S3Input"]["S3Uri"] == {"Get": f"Parameters.{pipeline.INPUT_DATA_URL}"}


def test_athena_query_parameters_reach_the_dataset_definition(definition):
    if not ATHENA:
        assert "DatasetDefinition" not in data_input(definition)
        return
    dataset = data_input(definition)["DatasetDefinition"]
    assert dataset["LocalPath"] == "/opt/ml/processing/input/data"
    # Every instance needs every record; the API's default shards the result by S3 key.
    assert (dataset["DataDistributionType"], dataset["InputMode"]) == ("FullyReplicated", "File")
    athena = dataset["AthenaDatasetDefinition"]
    assert athena == {
        "Catalog": {"Get": f"Parameters.{sdk.ATHENA_CATALOG}"},
        "Database": {"Get": f"Parameters.{sdk.ATHENA_DATABASE}"},
        "WorkGroup": {"Get": f"Parameters.{sdk.ATHENA_WORKGROUP}"},
        "QueryString": {"Get": f"Parameters.{sdk.ATHENA_QUERY}"},
        "OutputS3Uri": {"Get": f"Parameters.{sdk.ATHENA_OUTPUT_URL}"},
        "OutputFormat": "JSON",
        "OutputCompression": "GZIP",
    }


def test_training_runs_the_uploaded_source_dir_in_script_mode(definition, config, project):
    arguments = training_step(definition)["Arguments"]
    job = arguments.get("TrainingJobDefinition", arguments)
    encoded = job.get("StaticHyperParameters") or job["HyperParameters"]
    hyperparameters = {name: json.loads(value) for name, value in encoded.items()}
    assert hyperparameters["sagemaker_program"] == pipeline.SCRIPTS[pipeline.TRAIN_MODEL]
    assert (ALGORITHMS / hyperparameters["sagemaker_program"]).is_file()
    assert hyperparameters["sagemaker_submit_directory"] == project.source_dir_uri()
    assert hyperparameters["problem_type"] == config["problem_type"]
    tuned = set(config.get("tuning", {}).get("ranges", {}))
    for name, value in config["hyperparameters"].items():
        assert hyperparameters.get(name) == (None if name in tuned else value)
    # No SDK-managed channels (they would be uploaded under timestamped keys).
    channels = {channel["ChannelName"]: channel for channel in job["InputDataConfig"]}
    assert set(channels) == set(pipeline.TRAINING_CHANNELS)
    for name, channel in channels.items():
        source = channel["DataSource"]["S3DataSource"]["S3Uri"]
        assert source == {"Get": f"Steps.PrepareData.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri"}
    assert "ContainerEntrypoint" not in job["AlgorithmSpecification"]


def test_tuning_reads_the_objective_from_the_training_log(definition, config):
    step = training_step(definition)
    if "tuning" not in config:
        assert (step["Name"], step["Type"]) == (pipeline.TRAIN_MODEL, "Training")
        return
    assert (step["Name"], step["Type"]) == (pipeline.TUNE_MODEL, "Tuning")
    arguments = step["Arguments"]
    objective = arguments["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    metric = config["tuning"]["objective_metric"]
    assert objective["MetricName"] == f"validation:{metric}"
    regex = next(
        item["Regex"]
        for item in arguments["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
        if item["Name"] == objective["MetricName"]
    )
    # The line train_model prints for every validation metric.
    assert float(re.search(regex, f"validation:{metric}=0.912345").group(1)) == 0.912345


def test_every_output_follows_the_build_layout(definition, project):
    for step in pipeline_definition.iter_steps(definition):
        for output in step.get("Arguments", {}).get("ProcessingOutputConfig", {}).get("Outputs", []):
            uri = output["S3Output"]["S3Uri"]
            assert uri.startswith(project.s3_uri("ml-pipeline-outputs", BUILD_ID, step["Name"]) + "/"), uri
    job = training_step(definition)["Arguments"]
    output_path = job.get("TrainingJobDefinition", job)["OutputDataConfig"]["S3OutputPath"]
    assert output_path == project.output_uri(training_step(definition)["Name"], "model")


def test_evaluation_gates_and_reaches_the_registered_model(definition, config, project):
    steps = steps_by_name(definition)
    evaluate = steps[pipeline.EVALUATE_MODEL]
    assert evaluate["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"},
        {"PropertyFileName": "TrackingReport", "OutputName": "evaluation", "FilePath": "tracking.json"},
    ]
    section = pipeline.METRICS[config["problem_type"]][0]
    gates = [steps[f"Check{metric.capitalize()}"] for metric in config["thresholds"]]
    for metric, gate in zip(config["thresholds"], gates, strict=True):
        (condition,) = gate["Arguments"]["Conditions"]
        assert condition["LeftValue"]["Std:JsonGet"]["Path"] == f"{section}.{metric}.value"
    # With bias thresholds, the bias gates stand between the metric gates and the registration.
    bias_gates = [f"CheckBias{metric}" for metric in config.get("responsible_ai", {}).get("thresholds", {})]
    first_after = bias_gates[0] if bias_gates else pipeline.REGISTER_MODEL
    assert [step["Name"] for step in gates[-1]["Arguments"]["IfSteps"]] == [first_after]

    arguments = steps[pipeline.REGISTER_MODEL]["Arguments"]
    assert arguments["ModelPackageGroupName"] == project.model_package_group
    assert arguments["ModelApprovalStatus"] == {"Get": f"Parameters.{pipeline.MODEL_APPROVAL_STATUS}"}
    statistics = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.EvaluateModel.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
                "evaluation.json",
            ],
        }
    }
    assert arguments["MetadataProperties"] == {"CommitId": COMMIT_ID, "ProjectId": project.project_id}
    assert arguments["CustomerMetadataProperties"]["build_id"] == BUILD_ID
    (container,) = arguments["InferenceSpecification"]["Containers"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert container["Image"] == training_image(definition)
    assert "ModelDataUrl" in container


def test_the_model_records_what_the_pipeline_reads_and_a_retraining_run_sets_only_declared_parameters(
    definition, config
):
    """The deploy repository's drift rule starts this pipeline with the parameters the contract
    derives from the approved model's `data_source`: each must match a parameter this definition declares."""
    declared = {parameter["Name"] for parameter in definition["Parameters"]}
    register = steps_by_name(definition)[pipeline.REGISTER_MODEL]["Arguments"]
    source = contract.data_source_of(register["CustomerMetadataProperties"])
    assert source == config["data"]["source"]
    sent = contract.retraining_parameters(source, "s3://bucket/project/input/")
    assert set(sent) <= declared
    assert (contract.INPUT_DATA_PARAMETER in sent) == (source == contract.S3_SOURCE)
    # Only an S3 pipeline declares InputDataUrl: sent to an Athena one, the start would be refused.
    assert (contract.INPUT_DATA_PARAMETER in declared) == (source == contract.S3_SOURCE)


def test_training_and_evaluation_track_to_the_mlflow_parameter_and_the_model_records_the_run(definition, project):
    steps = steps_by_name(definition)
    training = training_step(definition)["Arguments"]
    expected = {
        "MLFLOW_TRACKING_URI": {"Get": f"Parameters.{pipeline.MLFLOW_TRACKING_URI}"},
        "MLFLOW_EXPERIMENT_NAME": project.pipeline_name,
        "MLOPS_BUILD_ID": BUILD_ID,
        "MLOPS_COMMIT_ID": COMMIT_ID,
        "MLOPS_MODEL_PACKAGE_GROUP": project.model_package_group,
    }
    assert training.get("TrainingJobDefinition", training)["Environment"] == expected
    assert steps[pipeline.EVALUATE_MODEL]["Arguments"]["Environment"] == expected
    assert "Environment" not in steps[pipeline.PREPARE_DATA]["Arguments"]
    run_id = steps[pipeline.REGISTER_MODEL]["Arguments"]["CustomerMetadataProperties"]["mlflow_run_id"]
    assert run_id == {
        "Std:JsonGet": {
            "PropertyFile": {"Get": f"Steps.{pipeline.EVALUATE_MODEL}.PropertyFiles.TrackingReport"},
            "Path": "mlflow_run_id",
        }
    }


def training_image(definition: dict) -> str:
    job = training_step(definition)["Arguments"]
    return job.get("TrainingJobDefinition", job)["AlgorithmSpecification"]["TrainingImage"]


def test_data_quality_baseline_is_registered_with_the_model(definition, config):
    steps = steps_by_name(definition)
    arguments = steps[pipeline.REGISTER_MODEL]["Arguments"]
    if pipeline.SKIP_DATA_QUALITY_CHECK not in config["parameters"]:
        assert pipeline.DATA_QUALITY_BASELINE not in steps
        assert "ModelDataQuality" not in arguments["ModelMetrics"]
        assert "ModelDataQuality" not in arguments.get("DriftCheckBaselines", {})
        return
    baseline = steps[pipeline.DATA_QUALITY_BASELINE]
    assert baseline["CheckType"] == "DATA_QUALITY"
    (dataset,) = baseline["Arguments"]["ProcessingInputs"]
    assert dataset["S3Input"]["S3Uri"] == {
        "Get": "Steps.PrepareData.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"
    }
    quality = arguments["ModelMetrics"]["ModelDataQuality"]
    drift = arguments["DriftCheckBaselines"]["ModelDataQuality"]
    assert quality["Statistics"]["S3Uri"] == {"Get": "Steps.DataQualityBaseline.CalculatedBaselineStatistics"}
    assert quality["Constraints"]["S3Uri"] == {"Get": "Steps.DataQualityBaseline.CalculatedBaselineConstraints"}
    assert drift["Statistics"]["S3Uri"] == {"Get": "Steps.DataQualityBaseline.BaselineUsedForDriftCheckStatistics"}


def test_each_failure_names_the_metric_that_missed(definition, config):
    failures = find(list(pipeline_definition.iter_steps(definition)), "Fail")
    bias_thresholds = config.get("responsible_ai", {}).get("thresholds", {})
    assert len(failures) == len(config["thresholds"]) + len(bias_thresholds)
    for metric, bound in config["thresholds"].items():
        (side,) = bound
        name = f"{metric.capitalize()}{'BelowMinimum' if side == 'min' else 'AboveMaximum'}"
        (failure,) = [step for step in failures if step["Name"] == name]
        values = failure["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
        assert values[0] == f"{metric} ="
        assert {"Get": f"Parameters.{pipeline.threshold_parameter(metric, side)}"} in values


# --------------------------------------------------------------------------- responsible AI


def bias_report(labels, facet) -> dict:
    """What check_bias writes for the gates, from labels a perfect model predicts."""
    from shared_libraries import responsible_ai

    values = {
        **responsible_ai.pre_training_bias(labels, facet),
        **responsible_ai.post_training_bias(labels, labels, facet),
    }
    return {name: {"value": value} for name, value in values.items()}


def run_bias_gates(definition: dict, report: dict) -> str:
    """Walk the bias gates as the local run would; the registration step reached, or the failure's message."""
    from mlops_template_kit.definition.expressions import Scope
    from mlops_template_kit.local_run import conditions

    steps = steps_by_name(definition)
    parameters = {item["Name"]: item["DefaultValue"] for item in definition["Parameters"]}
    properties = {pipeline.CHECK_BIAS: {"PropertyFiles": {pipeline.BIAS_REPORT: "s3://bucket/bias_report.json"}}}
    scope = Scope(parameters=parameters, execution={}, steps=properties, read_json=lambda uri: report)
    step = steps["CheckBiasCI"]
    while step["Type"] == "Condition":
        passed = conditions.evaluate_all(step["Arguments"]["Conditions"], scope.resolve)
        (step,) = step["Arguments"]["IfSteps" if passed else "ElseSteps"]
    return scope.resolve(step["Arguments"]["ErrorMessage"]) if step["Type"] == "Fail" else step["Name"]


@pytest.fixture(scope="module")
def bias_definition(definition, config) -> dict:
    if "responsible_ai" not in config:
        pytest.skip("input.json has no responsible_ai section")
    return definition


def test_a_balanced_sample_passes_the_bias_gates_to_registration(bias_definition):
    import numpy as np

    facet = np.array([True, False] * 50)
    labels = np.array([1, 1, 0, 0] * 25)  # half of each group positive, groups of equal size
    assert run_bias_gates(bias_definition, bias_report(labels, facet)) == pipeline.REGISTER_MODEL


def test_a_biased_sample_fails_the_bias_gate_naming_the_metric(bias_definition, config):
    import numpy as np

    facet = np.array([True, False] * 50)
    labels = (~facet).astype(int)  # every row of the sensitive group negative, every other row positive
    message = run_bias_gates(bias_definition, bias_report(labels, facet))
    assert message.startswith("bias metric DPL = 1.0 is outside min")
    assert str(config["responsible_ai"]["thresholds"]["DPL"]["max"]) in message


def test_an_undefined_bias_metric_stops_the_run_at_its_gate(bias_definition):
    from mlops_template_kit.definition.errors import ExpressionError

    # DI is undefined when group a gets no positive prediction: check_bias writes null, never a made-up number.
    report = {name: {"value": 0.0} for name in ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "DPPL", "AD", "RD")}
    report["DI"] = {"value": None}
    with pytest.raises(ExpressionError, match="cannot compare None"):
        run_bias_gates(bias_definition, report)


def test_bias_and_shap_reports_and_the_model_card_reach_the_registered_model(bias_definition, config, project):
    steps = steps_by_name(bias_definition)
    check = steps[pipeline.CHECK_BIAS]
    assert check["PropertyFiles"] == [
        {"PropertyFileName": "BiasReport", "OutputName": "bias", "FilePath": "bias_report.json"}
    ]
    facet = config["responsible_ai"]["facet"]
    arguments = check["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--facet-column") + 1] == facet["column"]
    assert arguments[arguments.index("--facet-value") + 1] == facet["value"]
    register = steps[pipeline.REGISTER_MODEL]["Arguments"]
    analysis = {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.CheckBias.ProcessingOutputConfig.Outputs['bias'].S3Output.S3Uri"},
                "analysis.json",
            ],
        }
    }
    bias = register["ModelMetrics"]["Bias"]
    assert bias["PreTrainingReport"]["S3Uri"] == bias["PostTrainingReport"]["S3Uri"] == analysis
    assert register["ModelMetrics"]["Explainability"]["Report"]["S3Uri"] == analysis
    # The same reports, with the step's Clarify analysis configuration, are the drift-check baselines
    # bias-drift and feature-attribution-drift monitoring compare against.
    config_file = copy.deepcopy(analysis)
    config_file["Std:Join"]["Values"][-1] = "analysis_config.json"
    drift = register["DriftCheckBaselines"]
    assert drift["Bias"] == {
        "ConfigFile": {"S3Uri": config_file, "ContentType": "application/json"},
        "PreTrainingConstraints": {"S3Uri": analysis, "ContentType": "application/json"},
        "PostTrainingConstraints": {"S3Uri": analysis, "ContentType": "application/json"},
    }
    assert drift["Explainability"] == {
        "Constraints": {"S3Uri": analysis, "ContentType": "application/json"},
        "ConfigFile": {"S3Uri": config_file, "ContentType": "application/json"},
    }
    assert ("ModelDataQuality" in drift) == (pipeline.SKIP_DATA_QUALITY_CHECK in config["parameters"])
    card = json.loads(register["ModelCard"]["ModelCardContent"])
    assert card["intended_uses"]["intended_uses"] == config["responsible_ai"]["intended_use"]
    assert card["additional_information"]["custom_details"]["commit"] == COMMIT_ID
    reports = {detail["name"]: detail["metadata"]["report"] for detail in card["evaluation_details"]}
    assert reports["bias and explainability"] == f"{project.output_uri(pipeline.CHECK_BIAS, 'bias')}/analysis.json"


def test_every_step_caches_its_job(definition):
    for step in pipeline_definition.iter_steps(definition):
        if step["Type"] in ("Processing", "Training", "Tuning", "QualityCheck"):
            assert step["CacheConfig"] == {"Enabled": True, "ExpireAfter": pipeline.CACHE_EXPIRY}


# --------------------------------------------------------------------------- the diagram


def test_readme_diagram_is_the_rendered_definition(definition):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert pipeline_definition.readme_diagram(readme) == pipeline_definition.mermaid(definition), (
        "README.md shows another pipeline: run `.venv/bin/mlops-kit pipeline mermaid --readme README.md`"
    )


def test_diagram_has_every_step_and_labels_the_branches(definition):
    lines = [line.strip() for line in pipeline_definition.mermaid(definition).splitlines()]
    for step in pipeline_definition.iter_steps(definition):
        name = step["Name"]
        assert any(line.startswith(name) and line[len(name)] in "[({" for line in lines), name
    diagram = "\n".join(lines)
    gate = find(definition["Steps"], "Condition")[0]["Name"]
    assert re.search(rf"{gate} -->\|else\| \w+", diagram)


# --------------------------------------------------------------------------- configuration


def use_athena(config: dict, **changes) -> None:
    """Switch a config to the Athena source with valid parameters, then apply `changes` (None removes one)."""
    config["data"]["source"] = "athena"
    config["parameters"].update(
        AthenaCatalog="AwsDataCatalog", AthenaDatabase="lake", AthenaWorkGroup="primary", AthenaQuery="SELECT 1"
    )
    for name, value in changes.items():
        if value is None:
            config["parameters"].pop(name)
        else:
            config["parameters"][name] = value


def tune(config: dict, **changes) -> None:
    """Add a valid tuning section to a config, then apply `changes` to it (ranges replace the default)."""
    config["tuning"] = {
        "objective_metric": next(iter(config["thresholds"])),
        "strategy": "Bayesian",
        "max_jobs": 4,
        "max_parallel_jobs": 2,
        "ranges": {next(iter(config["hyperparameters"])): {"type": "Continuous", "min": 1, "max": 3}},
        **changes,
    }


# Every rule of input.schema.json and of check_config, each fed something wrong.
BAD_CONFIGS = {
    "unknown problem type": (lambda c: c.update(problem_type="clustering"), "problem_type must be one of"),
    "unknown framework": (lambda c: c.update(framework="torch"), "framework must be one of"),
    "missing threshold section": (lambda c: c.pop("thresholds"), "thresholds is missing"),
    "no thresholds": (lambda c: c["thresholds"].clear(), "thresholds must not be empty"),
    "metric of another problem type": (lambda c: c["thresholds"].update(mape={"max": 1}), "thresholds: name 'mape'"),
    "threshold with two bounds": (
        lambda c: c["thresholds"].update({next(iter(c["thresholds"])): {"min": 0, "max": 1}}),
        "must hold at most 1 entry",
    ),
    "threshold bound that is not a number": (
        lambda c: c["thresholds"].update({next(iter(c["thresholds"])): {"min": "high"}}),
        ".min must be a number",
    ),
    "threshold bound that is neither min nor max": (
        lambda c: c["thresholds"].update({next(iter(c["thresholds"])): {"at_least": 1}}),
        "has an unknown field; allowed are min, max",
    ),
    "reserved hyperparameter": (
        lambda c: c["hyperparameters"].update(sagemaker_program="x.py"),
        "hyperparameters: name 'sagemaker_program' is not allowed",
    ),
    "hyperparameter the pipeline sets": (
        lambda c: c["hyperparameters"].update(target_column="y"),
        "hyperparameters: name 'target_column' is not allowed",
    ),
    "hyperparameter that is a boolean": (
        lambda c: c["hyperparameters"].update(early_stop=True),
        "hyperparameters.early_stop must be a number or a string",
    ),
    "instance type that is not one": (
        lambda c: c["parameters"].update(TrainingInstanceType="m5.large"),
        "parameters.TrainingInstanceType: 'm5.large' is not allowed (expected an instance type",
    ),
    "instance count of zero": (lambda c: c["parameters"].update(TrainingInstanceCount=0), "must be >= 1"),
    "instance count written with a decimal point": (
        lambda c: c["parameters"].update(TrainingInstanceCount=1.0),
        "parameters.TrainingInstanceCount must be a whole number",
    ),
    "instance count that is text": (
        lambda c: c["parameters"].update(ProcessingInstanceCount="1"),
        "parameters.ProcessingInstanceCount must be a whole number",
    ),
    "data-quality switch that is not a boolean": (
        lambda c: c["parameters"].update(SkipDataQualityCheck="yes", RegisterNewDataQualityBaseline=True),
        "parameters.SkipDataQualityCheck must be true or false",
    ),
    "fraction of one": (lambda c: c["data"].update(test_fraction=1), "data.test_fraction must be < 1"),
    "fractions leaving nothing to train on": (
        lambda c: c["data"].update(validation_fraction=0.5, test_fraction=0.5),
        "leave rows to train on",
    ),
    "empty target column": (lambda c: c["data"].update(target_column=""), "data.target_column must not be empty"),
    "categorical column with a comma": (
        lambda c: c["data"].update(categorical_columns=["a,b"]),
        "data.categorical_columns.0: 'a,b' is not allowed",
    ),
    "negative random seed": (lambda c: c["data"].update(random_seed=-1), "data.random_seed must be >= 0"),
    "approval status SageMaker does not know": (
        lambda c: c["parameters"].update(ModelApprovalStatus="Maybe"),
        "ModelApprovalStatus must be one of",
    ),
    "data source that does not exist": (lambda c: c["data"].update(source="ftp"), "data.source must be one of"),
    "Athena source without a query": (
        lambda c: use_athena(c, AthenaQuery=None),
        "parameters.AthenaQuery is missing",
    ),
    "Athena query that is blank": (
        lambda c: use_athena(c, AthenaQuery="  "),
        "parameters.AthenaQuery: '  ' is not allowed (expected not empty",
    ),
    "Athena query longer than the API allows": (
        lambda c: use_athena(c, AthenaQuery="x" * 4097),
        "parameters.AthenaQuery is longer than 4096 characters",
    ),
    "Athena workgroup with a space": (
        lambda c: use_athena(c, AthenaWorkGroup="my group"),
        "parameters.AthenaWorkGroup: 'my group' is not allowed (expected a workgroup name",
    ),
    "MLflow tracking URI that is not a managed MLflow ARN": (
        lambda c: c["parameters"].update(MlflowTrackingUri="http://mlflow.internal:5000"),
        "parameters.MlflowTrackingUri: 'http://mlflow.internal:5000' is not allowed (expected empty (no tracking) or",
    ),
    "empty registry list": (
        lambda c: c["model_registry"].update(content_types=[]),
        "model_registry.content_types must not be empty",
    ),
    "tuning objective of another problem type": (
        lambda c: tune(c, objective_metric="mape"),
        "tuning.objective_metric must be one of",
    ),
    "tuning strategy this script cannot use": (
        lambda c: tune(c, strategy="Hyperband"),
        "tuning.strategy must be one of",
    ),
    "tuning with more parallel jobs than jobs": (
        lambda c: tune(c, max_parallel_jobs=5),
        "tuning.max_parallel_jobs must not exceed tuning.max_jobs",
    ),
    "tuning range of an unlisted hyperparameter": (
        lambda c: tune(c, ranges={"not_a_hyperparameter": {"type": "Integer", "min": 1, "max": 3}}),
        "tune only hyperparameters listed",
    ),
    "tuning range with min above max": (
        lambda c: tune(c, ranges={next(iter(c["hyperparameters"])): {"type": "Continuous", "min": 3, "max": 1}}),
        "needs numbers min < max",
    ),
    "Integer tuning range with a fraction": (
        lambda c: tune(c, ranges={next(iter(c["hyperparameters"])): {"type": "Integer", "min": 0.5, "max": 3}}),
        ".min must be a whole number",
    ),
    "tuning range of an unknown type": (
        lambda c: tune(c, ranges={next(iter(c["hyperparameters"])): {"type": "Categorical", "min": 1, "max": 3}}),
        ".type must be one of Integer, Continuous",
    ),
    "tuning range with an unknown scaling": (
        lambda c: tune(
            c, ranges={next(iter(c["hyperparameters"])): {"type": "Continuous", "min": 1, "max": 3, "scaling": "Log"}}
        ),
        ".scaling must be one of",
    ),
    "bias facet that is not a categorical column": (
        lambda c: c["responsible_ai"]["facet"].update(column="bmi"),
        "responsible_ai.facet.column 'bmi' must be one of data.categorical_columns",
    ),
    "bias metric Clarify does not define": (
        lambda c: c["responsible_ai"]["thresholds"].update(XYZ={"max": 1}),
        "responsible_ai.thresholds: name 'XYZ'",
    ),
    "bias threshold with min above max": (
        lambda c: c["responsible_ai"]["thresholds"].update(DI={"min": 2, "max": 1}),
        "responsible_ai.thresholds.DI needs min < max",
    ),
    "label threshold on the wrong problem type": (
        lambda c: (
            c["responsible_ai"].update(label_threshold=1)
            if c["problem_type"] != "regression"
            else c["responsible_ai"].pop("label_threshold")
        ),
        "responsible_ai.label_threshold is needed for regression and only there",
    ),
    "model card risk rating the schema lacks": (
        lambda c: c["responsible_ai"].update(risk_rating="Severe"),
        "responsible_ai.risk_rating must be one of",
    ),
}


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/team-tracking",
        "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-abc123",
    ],
)
def test_a_managed_mlflow_arn_is_a_valid_tracking_uri(arn, config, tmp_path):
    path = tmp_path / "input.json"
    path.write_text(json.dumps({**config, "parameters": {**config["parameters"], "MlflowTrackingUri": arn}}))
    assert load_config(path)["parameters"]["MlflowTrackingUri"] == arn


@pytest.mark.parametrize("case", list(BAD_CONFIGS), ids=list(BAD_CONFIGS))
def test_bad_config_fails_with_one_line_and_no_output(case, config, tmp_path, capsys, monkeypatch):
    mutate, expected = BAD_CONFIGS[case]
    bad = copy.deepcopy(config)
    mutate(bad)
    path = tmp_path / "input.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(pipeline_config.ConfigError, match=re.escape(expected)):
        load_config(path)
    monkeypatch.setenv("BUILD_ID", BUILD_ID)
    assert cli.main(["pipeline", "definition", "--repo-root", str(REPO_ROOT), "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and expected in captured.err


def test_the_config_of_this_repository_and_a_tuned_one_are_accepted(config):
    tuned = copy.deepcopy(config)
    tune(tuned)
    pipeline_config.check(tuned, pipeline_config.read_json(REPO_ROOT / pipeline_config.SCHEMA), pipeline)


def test_a_config_that_is_not_an_object_is_refused(tmp_path):
    path = tmp_path / "input.json"
    path.write_text("[]")
    with pytest.raises(pipeline_config.ConfigError, match="input.json: the file must be an object"):
        load_config(path)


def test_running_the_module_as_a_script_points_at_the_kit_and_fails():
    module = REPO_ROOT / "ml_pipelines" / "training" / "ml-pipeline-training.py"
    result = subprocess.run([sys.executable, str(module), "upload-code"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: run the pipeline's commands with mlops-kit pipeline (see mlops-kit pipeline --help)"
    ]
