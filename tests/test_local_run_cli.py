"""`python -m mlops_template_kit.local_run` (and `mlops-kit local-run`) on bad input: one line saying
what is wrong, a non-zero exit, no traceback, nothing run."""

import json
import os
import subprocess
import sys

import pytest

from tests.local_run_fixtures import support


def local_run(tmp_path, *arguments):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    # Nothing may be started: an endpoint that refuses connections proves no AWS call is made.
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    return subprocess.run(
        [sys.executable, "-m", "mlops_template_kit.local_run", *arguments],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("local-run: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""


def test_a_definition_that_is_not_json(tmp_path):
    (tmp_path / "pipeline.json").write_text('{"Version": "2020-12-01", "Steps": [}')
    assert_one_line_error(local_run(tmp_path, "--definition", "pipeline.json"), "pipeline.json is not JSON", "line 1")


def test_a_definition_file_that_does_not_exist(tmp_path):
    assert_one_line_error(local_run(tmp_path, "--definition", "absent.json"), "cannot read definition absent.json")


def test_an_undeclared_parameter(tmp_path):
    path = support.write(tmp_path / "pipeline.json", support.fixture_pipeline())
    result = local_run(tmp_path, "--definition", str(path), "--param", "MinAuc=0.9")
    assert_one_line_error(result, "undeclared parameter MinAuc", "declared: InputDataUri")


def test_a_parameter_value_of_the_wrong_type(tmp_path):
    path = support.write(tmp_path / "pipeline.json", support.fixture_pipeline())
    result = local_run(tmp_path, "--definition", str(path), "--param", "MaxRmse=low")
    assert_one_line_error(result, "parameter MaxRmse is Float: 'low' is not a valid value")


def test_an_unknown_step_type(tmp_path):
    document = support.fixture_pipeline()
    support.find_step(document, "TrainModel")["Type"] = "EMRServerless"
    path = support.write(tmp_path / "pipeline.json", document)
    assert_one_line_error(local_run(tmp_path, "--definition", str(path)), "step TrainModel: unsupported step type")


def test_an_unsupported_expression(tmp_path):
    document = support.fixture_pipeline()
    support.find_step(document, "PrepareData")["Arguments"]["Environment"] = {"SEED": {"Std:Random": {}}}
    path = support.write(tmp_path / "pipeline.json", document)
    assert_one_line_error(local_run(tmp_path, "--definition", str(path)), "unsupported expression 'Std:Random'")


def test_a_renamed_output(tmp_path):
    document = support.fixture_pipeline()
    outputs = support.find_step(document, "PrepareData")["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    outputs[1]["OutputName"] = "holdout"
    path = support.write(tmp_path / "pipeline.json", document)
    result = local_run(tmp_path, "--definition", str(path))
    assert_one_line_error(result, "step EvaluateModel: broken reference", "Outputs['test']", "found: train, holdout")


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--param", "MaxRmse"], "--param 'MaxRmse' must look like NAME=VALUE"),
        (["--tuning-trials", "0"], "--tuning-trials must be at least 1"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--parameters", "absent.json"], "cannot read parameters absent.json"),
    ],
)
def test_bad_command_lines(tmp_path, arguments, fragment):
    path = support.write(tmp_path / "pipeline.json", support.fixture_pipeline())
    assert_one_line_error(local_run(tmp_path, "--definition", str(path), *arguments), fragment)


def test_parameter_files_in_every_accepted_form_are_checked(tmp_path):
    path = support.write(tmp_path / "pipeline.json", support.fixture_pipeline())
    forms = {
        "object.json": {"MaxRmse": "x"},
        "list.json": [{"Name": "MaxRmse", "Value": "x"}],
        "input.json": {"problem_type": "regression", "parameters": {"MaxRmse": "x"}},
    }
    for name, document in forms.items():
        (tmp_path / name).write_text(json.dumps(document))
        result = local_run(tmp_path, "--definition", str(path), "--parameters", name)
        assert_one_line_error(result, "parameter MaxRmse is Float: 'x'")


def test_a_folder_that_is_not_a_build_train_repository(tmp_path):
    # Without --definition the runner builds the repository's pipeline: it says which file it missed.
    result = local_run(tmp_path, "--repo", str(tmp_path))
    assert_one_line_error(result, f"{tmp_path} is not a build-train repository", "ml-pipeline-training.py")


def test_the_kit_command_refuses_bad_options_in_one_line(tmp_path):
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    command = [sys.executable, "-m", "mlops_template_kit.cli", "local-run", "--tuning-trials", "0"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert_one_line_error(result, "--tuning-trials must be at least 1")
