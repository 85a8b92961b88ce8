"""Tests of batch prediction (__main__.py) and of the SageMaker serving handler (inference.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared_libraries.bundle import load_bundle

STEP_DIR = Path(__file__).resolve().parents[1]
RECORDS = STEP_DIR / "test" / "input" / "records.csv"


@pytest.fixture(scope="module")
def handler():
    spec = importlib.util.spec_from_file_location("inference_handler", STEP_DIR / "inference.py")
    module = importlib.util.module_from_spec(spec)
    # Registered first, as a normal import would be: dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def served(handler, bundle_dir):
    return handler.model_fn(str(bundle_dir))


@pytest.fixture(scope="module")
def expected(bundle_dir) -> pd.DataFrame:
    return load_bundle(bundle_dir).predict_records(pd.read_csv(RECORDS))


def run(predict, model_dir: Path, input_dir: Path, output_dir: Path) -> int:
    return predict.main(["--model-dir", str(model_dir), "--input-dir", str(input_dir), "--output-dir", str(output_dir)])


# --- batch prediction ----------------------------------------------------------------------------


def test_batch_predictions_keep_ids_and_match_the_bundle(tmp_path, predict, model_archive_dir, expected, problem_type):
    assert run(predict, model_archive_dir, RECORDS.parent, tmp_path) == 0
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    columns = ["id", "prediction", "probability"] if problem_type == "binary_classification" else ["id", "prediction"]
    assert list(predictions.columns) == columns
    assert predictions["id"].tolist() == pd.read_csv(RECORDS)["id"].tolist()
    assert np.allclose(predictions[columns[1:]], expected[columns[1:]])
    if problem_type == "binary_classification":
        assert predictions["probability"].between(0, 1).all()
        assert set(predictions["prediction"]) <= {0, 1}


def test_records_without_ids_get_predictions_without_ids(tmp_path, predict, bundle_dir):
    (tmp_path / "data").mkdir()
    pd.read_csv(RECORDS).drop(columns="id").to_csv(tmp_path / "data" / "records.csv", index=False)
    assert run(predict, bundle_dir, tmp_path / "data", tmp_path / "out") == 0
    assert "id" not in pd.read_csv(tmp_path / "out" / "predictions.csv").columns


@pytest.mark.parametrize("damage", ["no-feature", "no-records", "no-model"])
def test_rejects_bad_input_in_one_line_and_writes_nothing(tmp_path, predict, bundle_dir, capsys, damage):
    input_dir, model_dir = tmp_path / "data", bundle_dir
    input_dir.mkdir()
    if damage == "no-feature":
        pd.read_csv(RECORDS).drop(columns="glucose").to_csv(input_dir / "records.csv", index=False)
    elif damage == "no-model":
        pd.read_csv(RECORDS).to_csv(input_dir / "records.csv", index=False)
        model_dir = tmp_path
    expected = {
        "no-feature": "unknown feature column 'glucose'",
        "no-records": "no *.csv file",
        "no-model": "no model.tar.gz or metadata.json",
    }[damage]
    assert run(predict, model_dir, input_dir, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.startswith("predict: error: ") and err.count("\n") == 1 and expected in err
    assert not (tmp_path / "out").exists()


# --- serving handler -----------------------------------------------------------------------------


def invoke(handler, model, body, content_type: str, accept: str = "application/json"):
    return handler.output_fn(handler.predict_fn(handler.input_fn(body, content_type), model), accept)


def test_json_instances_and_plain_records_give_the_bundle_predictions(handler, served, expected):
    records = pd.read_csv(RECORDS).to_dict(orient="records")
    for body in (json.dumps({"instances": records}), json.dumps(records).encode()):
        response, content_type = invoke(handler, served, body, "application/json")
        assert content_type == "application/json"
        predictions = pd.DataFrame(json.loads(response)["predictions"])
        assert list(predictions.columns) == list(expected.columns)
        assert np.allclose(predictions, expected)


def test_csv_with_or_without_header_gives_the_bundle_predictions(handler, served, expected):
    frame = pd.read_csv(RECORDS)
    columns = served.metadata["raw_feature_columns"]
    with_header = frame.to_csv(index=False)
    without_header = frame[columns].to_csv(index=False, header=False)
    for body in (with_header, without_header.encode()):
        response, content_type = invoke(handler, served, body, "text/csv; charset=utf-8", accept="text/csv")
        assert content_type == "text/csv"
        rows = [list(map(float, line.split(","))) for line in response.strip().splitlines()]
        assert np.allclose(rows, expected.to_numpy())


def test_any_accept_type_answers_json(handler, served):
    body = pd.read_csv(RECORDS).head(1).to_csv(index=False)
    for accept in ("*/*", None, "application/xml, application/json"):
        assert invoke(handler, served, body, "text/csv", accept)[1] == "application/json"


@pytest.mark.parametrize(
    "body, content_type, message, status",
    [
        ("a=1", "application/x-www-form-urlencoded", "unsupported content type", 415),
        ("{broken", "application/json", "malformed JSON body", 400),
        ('{"records": []}', "application/json", "JSON body must be", 400),
        ("[1, 2]", "application/json", "JSON body must be", 400),
        ("1,2,3\n", "text/csv", "CSV rows have 3 values, expected", 400),
        ("   ", "text/csv", "request body is empty", 400),
        ('[{"age": 50}]', "application/json", "unknown feature columns", 400),
    ],
)
def test_bad_requests_raise_a_client_error_with_the_reason(handler, served, body, content_type, message, status):
    """A ValueError carrying the 4xx status the container answers (the local endpoint too), not a 500."""
    with pytest.raises(ValueError, match=message) as raised:
        invoke(handler, served, body, content_type)
    assert raised.value.status_code == status


def test_a_value_that_is_not_a_number_is_a_client_error(handler, served):
    records = pd.read_csv(RECORDS).head(1).astype(object)
    records.iloc[0, records.columns.get_loc("bmi")] = "heavy"
    with pytest.raises(ValueError) as raised:
        invoke(handler, served, records.to_csv(index=False), "text/csv")
    assert raised.value.status_code == 400 and "bmi" in str(raised.value)


def test_unsupported_accept_type_is_not_acceptable(handler, served):
    body = pd.read_csv(RECORDS).head(1).to_csv(index=False)
    with pytest.raises(ValueError, match="unsupported accept type") as raised:
        invoke(handler, served, body, "text/csv", accept="application/x-parquet")
    assert raised.value.status_code == 406


def test_bundle_serves_with_only_its_own_code(tmp_path, bundle_dir):
    """What the framework container does: import code/inference.py with nothing but code/ on the path."""
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(bundle_dir / 'code')!r})\n"
        "import inference\n"
        f"model = inference.model_fn({str(bundle_dir)!r})\n"
        f"body = open({str(RECORDS)!r}).read()\n"
        "records = inference.input_fn(body, 'text/csv')\n"
        "print(inference.output_fn(inference.predict_fn(records, model), 'application/json')[0])\n"
    )
    # Nothing but the bundle's code/ folder may provide shared_libraries.
    without_pythonpath = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        env=without_pythonpath,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["predictions"]) == len(pd.read_csv(RECORDS))


def test_runs_as_a_plain_script(tmp_path, model_archive_dir):
    argv = ["--model-dir", str(model_archive_dir), "--input-dir", str(RECORDS.parent), "--output-dir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, str(STEP_DIR / "__main__.py"), *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(tmp_path / "predictions.csv")) == len(pd.read_csv(RECORDS))
