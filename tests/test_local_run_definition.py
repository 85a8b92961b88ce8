"""Reading and checking definitions before anything runs: order, dependencies, parameters, and
one clear error for every kind of broken definition."""

import json

import pytest

from tests.local_run_fixtures import support
from tests.local_run_fixtures.support import definition, errors, steps


def parse(document):
    return definition.parse(document, "test definition")


def test_steps_run_after_what_they_read_and_branches_after_their_condition():
    checked = parse(support.fixture_pipeline())
    assert checked.order == (
        "PrepareData",
        "TrainModel",
        "EvaluateModel",
        "DataQualityBaseline",
        "CheckRmse",
        "RegisterModel",
        "RmseTooHigh",
    )
    assert checked.dependencies["RegisterModel"] == {"CheckRmse", "DataQualityBaseline", "EvaluateModel", "TrainModel"}
    assert checked.dependencies["CheckRmse"] == {"EvaluateModel"}
    assert checked.steps["RmseTooHigh"].gate == ("CheckRmse", False)
    assert checked.steps["RegisterModel"].gate == ("CheckRmse", True)


def test_depends_on_orders_steps_without_data_between_them():
    document = support.fixture_pipeline()
    document["Steps"].insert(0, document["Steps"].pop(3))  # DataQualityBaseline first in the file
    support.find_step(document, "PrepareData")["DependsOn"] = ["DataQualityBaseline"]
    with pytest.raises(errors.DefinitionError, match="depend on each other in a cycle"):
        parse(document)
    support.find_step(document, "PrepareData").pop("DependsOn")
    support.find_step(document, "TrainModel")["DependsOn"] = ["DataQualityBaseline"]
    order = parse(document).order
    assert order.index("DataQualityBaseline") < order.index("TrainModel")


def test_every_step_type_the_definition_accepts_has_a_handler():
    assert set(steps.HANDLERS) == set(definition.STEP_TYPES)


def test_text_that_is_not_json_is_reported_with_its_position():
    with pytest.raises(errors.DefinitionError, match=r"pipeline.json is not JSON: .* line 1 column 2"):
        definition.loads("{Steps: []}", "pipeline.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("Steps"), "needs a 'Steps' list"),
        (lambda d: d.update(Version="2019-01-01"), "definition version '2019-01-01' is not supported"),
        (
            lambda d: support.find_step(d, "TrainModel").update(Type="EMR"),
            "step TrainModel: unsupported step type 'EMR'",
        ),
        (
            lambda d: support.find_step(d, "RegisterModel").update(Name="PrepareData"),
            "step name PrepareData is used twice",
        ),
        (
            lambda d: support.find_step(d, "PrepareData")["Arguments"]["AppSpecification"]["ContainerArguments"].append(
                {"Get": "Parameters.Seed"}
            ),
            "step PrepareData: broken reference Parameters.Seed: parameter 'Seed' is not declared",
        ),
        (
            lambda d: support.find_step(d, "TrainModel")["Arguments"]["HyperParameters"].update(
                seed={"Std:Format": {"Values": []}}
            ),
            "step TrainModel: unsupported expression 'Std:Format'",
        ),
        (
            lambda d: support.find_step(d, "TrainModel")["Arguments"]["HyperParameters"].update(
                seed={"Get": "Execution.StartTime"}
            ),
            "'StartTime' is not an execution variable",
        ),
        (
            lambda d: support.find_step(d, "EvaluateModel").update(DependsOn=["Validate"]),
            "step EvaluateModel: DependsOn names step 'Validate'",
        ),
    ],
)
def test_broken_definitions_are_named(change, message):
    document = support.fixture_pipeline()
    change(document)
    with pytest.raises(errors.DefinitionError, match=message):
        parse(document)


def test_a_renamed_output_fails_naming_the_reading_step_and_the_reference():
    document = support.fixture_pipeline()
    outputs = support.find_step(document, "PrepareData")["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    outputs[0]["OutputName"] = "training"
    with pytest.raises(errors.DefinitionError) as raised:
        parse(document)
    message = str(raised.value)
    assert message.startswith("step TrainModel: broken reference ")
    assert "Steps.PrepareData.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri" in message
    assert "found: training, test" in message


def test_a_reference_to_a_property_file_that_is_not_declared_fails():
    document = support.fixture_pipeline()
    support.find_step(document, "EvaluateModel")["PropertyFiles"][0]["PropertyFileName"] = "Metrics"
    with pytest.raises(errors.DefinitionError, match="step CheckRmse: .*declares no property file 'Evaluation'"):
        parse(document)


def test_a_property_file_reading_an_output_the_step_lacks_fails():
    document = support.fixture_pipeline()
    support.find_step(document, "EvaluateModel")["PropertyFiles"][0]["OutputName"] = "report"
    with pytest.raises(errors.DefinitionError, match="reads output 'report', which step EvaluateModel does not have"):
        parse(document)


def test_a_reference_to_a_step_that_does_not_exist_fails():
    document = support.fixture_pipeline()
    channel = support.find_step(document, "TrainModel")["Arguments"]["InputDataConfig"][0]
    channel["DataSource"]["S3DataSource"]["S3Uri"] = {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train']"}
    with pytest.raises(errors.DefinitionError, match="there is no step 'Prepare'"):
        parse(document)


def test_references_to_runtime_properties_are_accepted():
    document = support.fixture_pipeline()
    register = support.find_step(document, "RegisterModel")
    register["Arguments"]["ModelPackageDescription"] = {
        "Std:Join": {
            "On": " ",
            "Values": [{"Get": "Steps.TrainModel.TrainingJobName"}, {"Get": "Steps.CheckRmse.Outcome"}],
        }
    }
    assert "RegisterModel" in parse(document).steps


def test_parameter_values_are_coerced_to_the_declared_types():
    checked = parse(support.fixture_pipeline())
    values = checked.resolve_parameters({"TestFraction": "0.3", "ModelApprovalStatus": "Approved"})
    assert values["TestFraction"] == 0.3
    assert values["MaxRmse"] == 10.0
    assert values["ModelApprovalStatus"] == "Approved"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"MinAuc": "0.9"}, "undeclared parameter MinAuc"),
        ({"TestFraction": "a quarter"}, "parameter TestFraction is Float: 'a quarter' is not a valid value"),
        ({"ModelApprovalStatus": "Yes"}, "must be one of PendingManualApproval, Approved, Rejected"),
    ],
)
def test_bad_parameter_values_are_named(given, message):
    with pytest.raises(errors.DefinitionError, match=message):
        parse(support.fixture_pipeline()).resolve_parameters(given)


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [("Integer", "3", 3), ("Integer", 4, 4), ("Boolean", "TRUE", True), ("Boolean", False, False), ("String", 5, "5")],
)
def test_parameter_coercion(kind, text, value):
    assert definition.Parameter("P", kind).coerce(text) == value


@pytest.mark.parametrize(("kind", "text"), [("Integer", "3.5"), ("Integer", True), ("Boolean", "yes"), ("Float", "x")])
def test_parameter_coercion_refuses_other_types(kind, text):
    with pytest.raises(errors.DefinitionError, match=f"parameter P is {kind}"):
        definition.Parameter("P", kind).coerce(text)


def test_a_parameter_without_default_must_be_given():
    document = support.fixture_pipeline()
    document["Parameters"].append({"Name": "Owner", "Type": "String"})
    with pytest.raises(errors.DefinitionError, match="parameter Owner has no default: pass --param Owner="):
        parse(document).resolve_parameters({})


def test_load_file_reports_a_missing_file(tmp_path):
    with pytest.raises(errors.DefinitionError, match="cannot read definition .*absent.json"):
        definition.load_file(tmp_path / "absent.json")


def test_the_fixture_is_the_json_the_sdk_would_emit():
    # Keys the SDK emits and the executor must not trip over (nulls, empty structures, metadata).
    document = json.loads((support.FIXTURES / "pipeline.json").read_text())
    quality = support.find_step(document, "DataQualityBaseline")
    assert quality["SuppliedBaselineStatistics"] is None
    assert parse(document).experiment == {
        "ExperimentName": {"Get": "Execution.PipelineName"},
        "TrialName": {"Get": "Execution.PipelineExecutionId"},
    }
