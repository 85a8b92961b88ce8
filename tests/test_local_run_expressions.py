"""Expressions of pipeline definitions, as the local executor evaluates them: Get (parameters,
execution variables, step properties), Std:Join and Std:JsonGet, on hand-written values."""

import pytest

from tests.local_run_fixtures.support import errors, expressions

ExpressionError = errors.ExpressionError

EVALUATION_URI = "s3://bucket/outputs/evaluate/evaluation.json"
DOCUMENTS = {
    EVALUATION_URI: {
        "regression_metrics": {"rmse": {"value": 4.5, "standard_deviation": 0.1}, "r2": {"value": 0.62}},
        "per fold": [{"rmse": 4.0}, {"rmse": 5.0}],
    },
    "s3://bucket/runs/abc123/summary.json": {"Output": [5, 10]},
}


def read_json(uri):
    if uri not in DOCUMENTS:
        raise ExpressionError(f"{uri} does not exist")
    return DOCUMENTS[uri]


@pytest.fixture
def scope():
    return expressions.Scope(
        parameters={"MaxRmse": 6.0, "Bucket": "bucket", "Epochs": 3, "Strict": True},
        execution={"PipelineExecutionId": "abc123", "PipelineName": "demo"},
        steps={
            "Prepare": {
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {"OutputName": "train", "S3Output": {"S3Uri": "s3://bucket/train"}},
                        {"OutputName": "test", "S3Output": {"S3Uri": "s3://bucket/test"}},
                    ]
                },
                "ProcessingJobName": "pipelines-abc123-Prepare-1",
            },
            "Train": {
                "ModelArtifacts": {"S3ModelArtifacts": "s3://bucket/models/job/output/model.tar.gz"},
                "HyperParameters": {"max_depth": "5"},
                "FinalMetricDataList": [{"MetricName": "validation:rmse", "Value": 4.2}],
            },
            "Tune": {
                "BestTrainingJob": {"TrainingJobName": "tune-002-aa", "TunedHyperParameters": {"eta": "0.1"}},
                "TrainingJobSummaries": [{"TrainingJobName": "tune-002-aa"}, {"TrainingJobName": "tune-001-bb"}],
            },
            "Evaluate": {"PropertyFiles": {"Evaluation": EVALUATION_URI}},
        },
        read_json=read_json,
    )


def get(path):
    return {"Get": path}


def json_get(path, property_file="Steps.Evaluate.PropertyFiles.Evaluation"):
    return {"Std:JsonGet": {"PropertyFile": get(property_file), "Path": path}}


def test_tokenize_reads_names_indexes_and_quoted_keys():
    tokens = expressions.tokenize("Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")
    assert tokens == ["Steps", "Prepare", "ProcessingOutputConfig", "Outputs", "train", "S3Output", "S3Uri"]
    assert expressions.tokenize('a[0]["b c"].d') == ["a", 0, "b c", "d"]


@pytest.mark.parametrize("path", ["Steps.A..B", "Steps.A[x]", "Steps.A['open"])
def test_tokenize_rejects_malformed_paths(path):
    with pytest.raises(ExpressionError, match="cannot parse path"):
        expressions.tokenize(path)


def test_get_reads_parameters_and_execution_variables(scope):
    assert scope.resolve(get("Parameters.MaxRmse")) == 6.0
    assert scope.resolve(get("Execution.PipelineExecutionId")) == "abc123"


def test_get_of_an_unknown_parameter_names_it_and_the_known_ones(scope):
    with pytest.raises(ExpressionError, match=r"no parameter 'MinAuc' \(known: Bucket, Epochs, MaxRmse, Strict\)"):
        scope.resolve(get("Parameters.MinAuc"))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("Steps.Prepare.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri", "s3://bucket/test"),
        ("Steps.Prepare.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri", "s3://bucket/train"),
        ("Steps.Train.ModelArtifacts.S3ModelArtifacts", "s3://bucket/models/job/output/model.tar.gz"),
        ("Steps.Train.HyperParameters['max_depth']", "5"),
        ("Steps.Train.FinalMetricDataList['validation:rmse'].Value", 4.2),
        ("Steps.Tune.BestTrainingJob.TrainingJobName", "tune-002-aa"),
        ("Steps.Tune.BestTrainingJob.TunedHyperParameters['eta']", "0.1"),
        ("Steps.Tune.TrainingJobSummaries[1].TrainingJobName", "tune-001-bb"),
    ],
)
def test_get_walks_step_properties(scope, path, value):
    assert scope.resolve(get(path)) == value


def test_a_renamed_output_is_reported_with_the_outputs_that_exist(scope):
    with pytest.raises(ExpressionError) as raised:
        scope.resolve(get("Steps.Prepare.ProcessingOutputConfig.Outputs['training'].S3Output.S3Uri"))
    message = str(raised.value)
    assert "Steps.Prepare.ProcessingOutputConfig.Outputs['training']" in message
    assert "found: train, test" in message


def test_get_of_a_step_that_did_not_run_says_so(scope):
    with pytest.raises(ExpressionError, match="step 'Register' has not run"):
        scope.resolve(get("Steps.Register.ModelPackageArn"))


def test_join_turns_every_value_into_text(scope):
    joined = {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                get("Parameters.Bucket"),
                get("Execution.PipelineExecutionId"),
                get("Parameters.Epochs"),
            ],
        }
    }
    assert scope.resolve(joined) == "s3://bucket/abc123/3"
    flags = {"Std:Join": {"Values": [get("Parameters.Strict"), "-", get("Parameters.MaxRmse")]}}
    assert scope.resolve(flags) == "true-6.0"


def test_joins_nest_and_resolve_inside_structures(scope):
    inner = {"Std:Join": {"On": "-", "Values": ["run", get("Execution.PipelineExecutionId")]}}
    value = {"Args": ["--name", {"Std:Join": {"On": "/", "Values": [get("Parameters.Bucket"), inner]}}], "n": 1}
    assert scope.resolve(value) == {"Args": ["--name", "bucket/run-abc123"], "n": 1}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("regression_metrics.rmse.value", 4.5),
        ("$.regression_metrics.r2.value", 0.62),
        ("$['per fold'][1].rmse", 5.0),
        ("regression_metrics.rmse", {"value": 4.5, "standard_deviation": 0.1}),
    ],
)
def test_json_get_reads_a_property_file_with_json_path(scope, path, value):
    assert scope.resolve(json_get(path)) == value


def test_json_get_reads_a_json_object_in_s3_at_a_joined_uri(scope):
    uri = {
        "Std:Join": {"On": "/", "Values": ["s3://bucket/runs", get("Execution.PipelineExecutionId"), "summary.json"]}
    }
    assert scope.resolve({"Std:JsonGet": {"S3Uri": uri, "Path": "Output[1]"}}) == 10


def test_a_wrong_json_path_names_the_property_file_and_the_missing_key(scope):
    with pytest.raises(ExpressionError) as raised:
        scope.resolve(json_get("regression_metrics.rmse.valu"))
    message = str(raised.value)
    assert "Steps.Evaluate.PropertyFiles.Evaluation" in message
    assert "'valu'" in message and "found: standard_deviation, value" in message


def test_an_undeclared_property_file_is_reported(scope):
    with pytest.raises(ExpressionError, match="Steps.Evaluate.PropertyFiles.Report"):
        scope.resolve(json_get("a", property_file="Steps.Evaluate.PropertyFiles.Report"))


def test_a_missing_json_object_is_reported_with_its_uri(scope):
    with pytest.raises(ExpressionError, match="s3://bucket/none.json does not exist"):
        scope.resolve({"Std:JsonGet": {"S3Uri": "s3://bucket/none.json", "Path": "a"}})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Std:Concat": {"Values": []}}, "unsupported expression 'Std:Concat'"),
        ({"Get": "Pipeline.Name"}, "unsupported reference"),
        ({"Std:JsonGet": {"Path": "a"}}, "needs 'Path' and one of"),
        ({"Std:Join": {"On": "/"}}, "Std:Join needs"),
    ],
)
def test_malformed_expressions_are_named(scope, value, message):
    with pytest.raises(ExpressionError, match=message):
        scope.resolve(value)


def test_iter_references_finds_gets_inside_functions():
    value = {"a": [{"Std:Join": {"On": "", "Values": [get("Parameters.X"), json_get("p")]}}], "b": get("Execution.Y")}
    found = sorted(reference.text for reference in expressions.iter_references(value))
    assert found == ["Execution.Y", "Parameters.X", "Steps.Evaluate.PropertyFiles.Evaluation"]
