"""Tests of evaluate_model on the model trained from the tiny data set: report form, values and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from shared_libraries import defaults, metrics
from shared_libraries.bundle import load_bundle

STEP_DIR = Path(__file__).resolve().parents[1]
DAMAGES = ["no-model", "corrupt-archive", "no-target"]
if defaults.PROBLEM_TYPE == "binary_classification":
    # A test split with one class has no AUC; for regression a constant target is still measurable.
    DAMAGES.append("one-class")


def run(evaluate_model, model_dir: Path, test_dir: Path, output_dir: Path, *extra: str) -> int:
    argv = ["--model-dir", str(model_dir), "--test-dir", str(test_dir), "--output-dir", str(output_dir)]
    return evaluate_model.main([*argv, *extra])


def test_writes_sagemaker_model_quality_metrics(
    tmp_path, evaluate_model, model_archive_dir, prepared_dir, problem_type
):
    assert run(evaluate_model, model_archive_dir, prepared_dir / "test", tmp_path) == 0
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert list(evaluation) == [metrics.REPORT_KEYS[problem_type]]
    values = evaluation[metrics.REPORT_KEYS[problem_type]]
    assert tuple(values) == metrics.METRIC_NAMES[problem_type]
    assert all(set(metric) == {"value", "standard_deviation"} for metric in values.values())
    # Nine test rows: a metric may be perfect in every resample (spread 0), but not all of them.
    assert all(metric["standard_deviation"] >= 0 for metric in values.values())
    assert any(metric["standard_deviation"] > 0 for metric in values.values())


def test_values_are_the_metrics_of_the_models_test_predictions(
    tmp_path, evaluate_model, model_archive_dir, bundle_dir, prepared_dir, problem_type
):
    assert run(evaluate_model, model_archive_dir, prepared_dir / "test", tmp_path) == 0
    values = json.loads((tmp_path / "evaluation.json").read_text())[metrics.REPORT_KEYS[problem_type]]
    test = pd.read_csv(prepared_dir / "test" / "test.csv")
    bundle = load_bundle(bundle_dir)
    predictions = bundle.predict_processed(test)
    scores = predictions["probability" if problem_type == "binary_classification" else "prediction"]
    expected = metrics.metrics_for(problem_type)(test[bundle.metadata["target_column"]], scores)
    assert {name: metric["value"] for name, metric in values.items()} == pytest.approx(expected)


def test_accepts_an_extracted_bundle_too(tmp_path, evaluate_model, bundle_dir, prepared_dir):
    assert run(evaluate_model, bundle_dir, prepared_dir / "test", tmp_path) == 0
    assert (tmp_path / "evaluation.json").is_file()


@pytest.mark.parametrize("damage", DAMAGES)
def test_rejects_bad_input_in_one_line_and_writes_nothing(
    tmp_path, evaluate_model, model_archive_dir, prepared_dir, capsys, damage
):
    model_dir, test_dir = model_archive_dir, prepared_dir / "test"
    test = pd.read_csv(prepared_dir / "test" / "test.csv")
    target = test.columns[0]
    expected = {
        "no-model": "no model.tar.gz or metadata.json",
        "corrupt-archive": "is not a readable tar.gz archive",
        "no-target": f"unknown target column {target!r}: the test split has columns",
        "one-class": "AUC needs both classes",
    }[damage]
    if damage == "no-model":
        model_dir = tmp_path / "empty"
        model_dir.mkdir()
    elif damage == "corrupt-archive":
        model_dir = tmp_path / "corrupt"
        model_dir.mkdir()
        (model_dir / "model.tar.gz").write_bytes(b"not a tarball")
    else:
        test_dir = tmp_path / "test"
        test_dir.mkdir()
        damaged = test.drop(columns=target) if damage == "no-target" else test.assign(**{target: 1})
        damaged.to_csv(test_dir / "test.csv", index=False)
    output_dir = tmp_path / "evaluation"
    assert run(evaluate_model, model_dir, test_dir, output_dir) == 2
    err = capsys.readouterr().err
    assert err.startswith("evaluate_model: error: ") and err.count("\n") == 1 and expected in err
    assert not output_dir.exists()


def test_rejects_too_few_bootstrap_resamples(evaluate_model, capsys):
    with pytest.raises(SystemExit):
        evaluate_model.parse_args(["--bootstrap-resamples", "1"])
    assert "--bootstrap-resamples must be at least 2" in capsys.readouterr().err


def test_runs_as_a_plain_script(tmp_path, model_archive_dir, prepared_dir):
    argv = ["--model-dir", str(model_archive_dir), "--test-dir", str(prepared_dir / "test")]
    result = subprocess.run(
        [sys.executable, str(STEP_DIR / "__main__.py"), *argv, "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "evaluation.json").is_file()
