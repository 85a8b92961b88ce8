"""Tests of prepare_data on the tiny raw data set in test/input (fit and transform modes, and bad input)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlops_template_kit import contract

from shared_libraries import sample_data

STEP_DIR = Path(__file__).resolve().parents[1]
RECORDS = STEP_DIR / "test" / "input" / "records.csv"
EXPECTED_FEATURES = [
    "age",
    "sex_F",
    "sex_M",
    "bmi",
    "bp",
    "total_cholesterol",
    "ldl",
    "hdl",
    "cholesterol_hdl_ratio",
    "log_triglycerides",
    "glucose",
]


def labelled_dir(tmp_path: Path, problem_type: str, change=None) -> Path:
    """A raw-data folder labelled for `problem_type`, optionally altered by `change(frame)`."""
    frame = sample_data.label(pd.read_csv(RECORDS), problem_type)
    directory = tmp_path / "raw"
    directory.mkdir(exist_ok=True)
    (change(frame) if change else frame).to_csv(directory / "records.csv", index=False)
    return directory


def run_fit(prepare_data, input_dir: Path, output_dir: Path, problem_type: str, *extra: str) -> int:
    target = sample_data.TARGET_COLUMNS[problem_type]
    argv = ["--input-dir", str(input_dir), "--output-dir", str(output_dir), "--problem-type", problem_type]
    return prepare_data.main([*argv, "--target-column", target, *extra])


def test_fit_writes_processed_splits_with_the_target_first(prepared_dir, problem_type):
    target = sample_data.TARGET_COLUMNS[problem_type]
    splits = {name: pd.read_csv(prepared_dir / name / f"{name}.csv") for name in ("train", "validation", "test")}
    assert [len(part) for part in splits.values()] == [42, 9, 9]
    for part in splits.values():
        assert list(part.columns) == [target, *EXPECTED_FEATURES]
    baseline = pd.read_csv(prepared_dir / "baseline" / "baseline.csv")
    raw_features = [column for column in EXPECTED_FEATURES if column not in ("sex_F", "sex_M")]
    raw_features.insert(1, "sex")
    assert list(baseline.columns) == raw_features
    assert len(baseline) == len(splits["train"]) and set(baseline["sex"]) <= {"F", "M"}


def test_fit_learns_scaling_from_the_training_split_only(prepared_dir):
    train = pd.read_csv(prepared_dir / "train" / "train.csv")
    validation = pd.read_csv(prepared_dir / "validation" / "validation.csv")
    assert np.allclose(train["bmi"].mean(), 0) and np.allclose(train["bmi"].std(ddof=0), 1)
    assert not np.allclose(validation["bmi"].mean(), 0)
    description = json.loads((prepared_dir / "preprocessor" / "preprocessor.json").read_text())
    raw = pd.read_csv(RECORDS)
    assert description["standard_scaler"]["means"]["bmi"] != pytest.approx(raw["bmi"].mean())
    assert description["feature_columns"] == EXPECTED_FEATURES
    assert description["one_hot"]["categories"] == {"sex": ["F", "M"]}


@pytest.mark.parametrize("problem_type", ["binary_classification", "regression"])
def test_fit_supports_both_problem_types(tmp_path, prepare_data, problem_type):
    assert run_fit(prepare_data, labelled_dir(tmp_path, problem_type), tmp_path / "out", problem_type) == 0
    target = sample_data.TARGET_COLUMNS[problem_type]
    for name in ("train", "validation", "test"):
        labels = pd.read_csv(tmp_path / "out" / name / f"{name}.csv")[target]
        if problem_type == "binary_classification":
            assert set(labels) == {0, 1}, f"{name} must hold both classes (stratified split)"


def athena_results_dir(tmp_path: Path, problem_type: str) -> Path:
    """The raw records as an Athena query with OutputFormat JSON and GZIP compression leaves them:
    gzip-compressed JSON Lines files without an extension, split in two, next to a metadata file."""
    frame = sample_data.label(pd.read_csv(RECORDS), problem_type)
    directory = tmp_path / "athena"
    directory.mkdir()
    for index, part in enumerate((frame.iloc[:25], frame.iloc[25:])):
        lines = part.to_json(orient="records", lines=True)
        (directory / f"20261122_133000_00001_abcde_{index}").write_bytes(gzip.compress(lines.encode()))
    (directory / "20261122_133000_00001_abcde.metadata").write_bytes(b"\x00binary query metadata")
    return directory


def test_fit_reads_athena_json_lines_like_the_same_records_as_csv(tmp_path, prepare_data):
    from_csv, from_json = tmp_path / "from-csv", tmp_path / "from-json"
    assert run_fit(prepare_data, labelled_dir(tmp_path, "regression"), from_csv, "regression") == 0
    athena = athena_results_dir(tmp_path, "regression")
    assert run_fit(prepare_data, athena, from_json, "regression", "--input-format", "json") == 0
    for name in ("train", "validation", "test", "baseline"):
        expected = pd.read_csv(from_csv / name / f"{name}.csv")
        pd.testing.assert_frame_equal(pd.read_csv(from_json / name / f"{name}.csv"), expected)


def test_json_input_that_is_not_json_lines_fails_in_one_line(tmp_path, prepare_data, capsys):
    (tmp_path / "athena").mkdir()
    (tmp_path / "athena" / "part-0").write_bytes(gzip.compress(b'{"id": 1}\nnot json\n'))
    assert run_fit(prepare_data, tmp_path / "athena", tmp_path / "out", "regression", "--input-format", "json") == 2
    err = capsys.readouterr().err
    assert err.startswith("prepare_data: error: ") and err.count("\n") == 1 and "not a JSON Lines file" in err
    assert not (tmp_path / "out").exists()


def test_transform_applies_the_stored_preprocessor_to_unlabelled_records(tmp_path, prepare_data, prepared_dir):
    records = pd.read_csv(RECORDS).drop(columns="progression")
    (tmp_path / "data").mkdir()
    records.to_csv(tmp_path / "data" / "records.csv", index=False)
    argv = ["--mode", "transform", "--input-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out")]
    assert prepare_data.main([*argv, "--preprocessor-dir", str(prepared_dir / "preprocessor")]) == 0
    features = pd.read_csv(tmp_path / "out" / "features" / "features.csv")
    ids = pd.read_csv(tmp_path / "out" / "ids" / "ids.csv")
    assert list(features.columns) == EXPECTED_FEATURES and len(features) == len(records)
    assert ids["id"].tolist() == records["id"].tolist()


def test_transform_mode_keeps_the_contract_batch_inference_relies_on(tmp_path, prepare_data, prepared_dir):
    """The deploy repository's batch pipeline runs this script as the kit's contract says: its
    command line, and the folders it reads afterwards. Change both together (the kit), not one."""
    (tmp_path / "data").mkdir()
    pd.read_csv(RECORDS).drop(columns="progression").to_csv(tmp_path / "data" / "records.csv", index=False)
    arguments = contract.prepare_transform_arguments(
        str(tmp_path / "data"), str(tmp_path / "out"), str(prepared_dir / "preprocessor")
    )
    assert (prepared_dir / contract.PREPROCESSOR_OUTPUT / "preprocessor.json").is_file()  # fit mode's half
    assert prepare_data.main(arguments) == 0
    written = {path.parent.name for path in (tmp_path / "out").rglob("*.csv")}
    assert written == set(contract.TRANSFORM_OUTPUTS)
    # The batch data-quality check compares these records with fit mode's baseline: same columns.
    raw = pd.read_csv(tmp_path / "out" / contract.RAW_FEATURES_OUTPUT / f"{contract.RAW_FEATURES_OUTPUT}.csv")
    assert list(raw.columns) == list(pd.read_csv(prepared_dir / "baseline" / "baseline.csv").columns)
    assert (STEP_DIR.parent.parent / contract.PREPARE_SCRIPT).resolve() == (STEP_DIR / "__main__.py").resolve()


def test_data_without_ids_keeps_row_numbers_for_batch_prediction(tmp_path, prepare_data):
    input_dir = labelled_dir(tmp_path, "regression", lambda frame: frame.drop(columns="id"))
    assert run_fit(prepare_data, input_dir, tmp_path / "fitted", "regression", "--id-column", "") == 0
    argv = ["--mode", "transform", "--input-dir", str(input_dir), "--output-dir", str(tmp_path / "out")]
    assert prepare_data.main([*argv, "--preprocessor-dir", str(tmp_path / "fitted" / "preprocessor")]) == 0
    assert pd.read_csv(tmp_path / "out" / "ids" / "ids.csv")["row"].tolist() == list(range(60))


def test_transform_refuses_records_missing_a_feature(tmp_path, prepare_data, prepared_dir, capsys):
    (tmp_path / "data").mkdir()
    pd.read_csv(RECORDS).drop(columns="bmi").to_csv(tmp_path / "data" / "records.csv", index=False)
    argv = ["--mode", "transform", "--input-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out")]
    assert prepare_data.main([*argv, "--preprocessor-dir", str(prepared_dir / "preprocessor")]) == 2
    assert "unknown feature column 'bmi'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_transform_needs_a_preprocessor(tmp_path, prepare_data, capsys):
    argv = ["--mode", "transform", "--input-dir", str(tmp_path), "--output-dir", str(tmp_path / "out")]
    assert prepare_data.main([*argv, "--preprocessor-dir", str(tmp_path / "none")]) == 2
    assert "preprocessor directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, extra, message",
    [
        (None, ["--target-column", "outcome"], "unknown target column 'outcome'"),
        (None, ["--categorical-columns", "sex,colour"], "unknown categorical column 'colour'"),
        (None, ["--categorical-columns", ""], "column 'sex' holds non-numeric values such as"),
        (None, ["--id-column", "patient"], "unknown id column 'patient'"),
        (None, ["--test-fraction", "0"], "test fraction must be between 0 and 1"),
        (lambda frame: frame.assign(bmi=frame["bmi"].astype(str).replace("32.1", "unknown")), [], "column 'bmi'"),
        (lambda frame: frame.assign(progression=None), [], "missing value"),
    ],
    ids=["target", "categorical", "undeclared-categorical", "id", "fraction", "non-numeric", "unlabelled"],
)
def test_fit_rejects_bad_input_in_one_line_and_writes_nothing(tmp_path, prepare_data, capsys, change, extra, message):
    input_dir = labelled_dir(tmp_path, "regression", change)
    assert run_fit(prepare_data, input_dir, tmp_path / "out", "regression", *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("prepare_data: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "out").exists()


def test_fit_rejects_labels_that_do_not_fit_the_problem_type(tmp_path, prepare_data, capsys):
    input_dir = labelled_dir(tmp_path, "regression")
    argv = ["--input-dir", str(input_dir), "--output-dir", str(tmp_path / "out")]
    assert prepare_data.main([*argv, "--problem-type", "binary_classification", "--target-column", "progression"]) == 2
    assert "must hold 0 or 1" in capsys.readouterr().err


def test_runs_as_a_plain_script_and_reports_a_missing_folder_without_traceback(tmp_path):
    script = STEP_DIR / "__main__.py"
    result = subprocess.run(
        [sys.executable, str(script), "--input-dir", str(tmp_path / "missing"), "--output-dir", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == f"prepare_data: error: input directory {tmp_path / 'missing'} does not exist\n"
