"""Tests of check_bias and the metrics behind it: Clarify's formulas, exact SHAP, a planted feature, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import training_argv

from shared_libraries import defaults, responsible_ai

FACET = ["--facet-column", "sex", "--facet-value", "F"]
THRESHOLD = ["--label-threshold", "140"] if defaults.PROBLEM_TYPE == "regression" else []


def run(check_bias, model_dir: Path, prepared: Path, output_dir: Path, *extra: str) -> int:
    argv = ["--model-dir", str(model_dir), "--train-dir", str(prepared / "train"), "--test-dir"]
    argv += [str(prepared / "test"), "--output-dir", str(output_dir), "--shap-rows", "4", "--shap-background", "4"]
    return check_bias.main([*argv, *extra])


def test_pre_training_metrics_follow_clarifys_formulas():
    # Group a: 6 rows, 4 positive; group d (the facet): 2 rows, 0 positive.
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    facet = np.array([False] * 6 + [True] * 2)
    metrics = responsible_ai.pre_training_bias(labels, facet)
    assert metrics["CI"] == pytest.approx((6 - 2) / 8)
    assert metrics["DPL"] == pytest.approx(4 / 6)
    assert metrics["KL"] == float("inf")  # group d has no positive label at all
    assert metrics["TVD"] == pytest.approx(4 / 6)
    assert metrics["KS"] == pytest.approx(4 / 6)
    assert metrics["LP"] == pytest.approx(np.sqrt(2) * 4 / 6)
    assert 0 < metrics["JS"] < np.log(2)


def test_post_training_metrics_follow_clarifys_formulas():
    labels = np.array([1, 0, 1, 0, 1, 0])
    predicted = np.array([1, 0, 1, 1, 0, 0])
    facet = np.array([False, False, False, True, True, True])
    metrics = responsible_ai.post_training_bias(labels, predicted, facet)
    assert metrics["DPPL"] == pytest.approx(2 / 3 - 1 / 3)
    assert metrics["DI"] == pytest.approx((1 / 3) / (2 / 3))
    assert metrics["AD"] == pytest.approx(1 - 1 / 3)
    assert metrics["RD"] == pytest.approx(1 - 0)


def test_a_facet_that_does_not_split_the_data_is_refused():
    with pytest.raises(responsible_ai.InputError, match="two non-empty groups"):
        responsible_ai.pre_training_bias(np.array([0, 1]), np.array([True, True]))


@pytest.mark.parametrize("features", [3, responsible_ai.EXACT_SHAP_MAX_FEATURES + 2])
def test_shap_values_of_a_linear_model_are_its_weights_times_the_offset_from_the_background(features):
    # For f(x) = w.x the Shapley value of feature i is w_i (x_i - mean of the background's x_i).
    rng = np.random.default_rng(0)
    weights = rng.normal(size=features)
    rows, background = rng.normal(size=(3, features)), rng.normal(size=(5, features))
    values = responsible_ai.shapley_values(lambda matrix: matrix @ weights, rows, background)
    assert values == pytest.approx(weights * (rows - background.mean(axis=0)))


def test_writes_clarify_analysis_and_the_gate_report(tmp_path, check_bias, model_archive_dir, prepared_dir):
    assert run(check_bias, model_archive_dir, prepared_dir, tmp_path, *FACET, *THRESHOLD) == 0
    analysis = json.loads((tmp_path / "analysis.json").read_text())
    pre = analysis["pre_training_bias_metrics"]["facets"]["sex"][0]
    assert pre["value_or_threshold"] == "F"
    assert [metric["name"] for metric in pre["metrics"]] == list(responsible_ai.PRE_TRAINING)
    gate = json.loads((tmp_path / "bias_report.json").read_text())
    assert set(responsible_ai.BIAS_METRICS) <= set(gate)
    shap = analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    assert list(gate["top_features"]) == list(shap)[: len(gate["top_features"])]


def test_shap_ranks_a_planted_informative_feature_first(tmp_path, check_bias, prepare_data, train_model, problem_type):
    # Only `planted` decides the label; every other column is noise.
    rng = np.random.default_rng(7)
    rows = 120
    planted = rng.normal(size=rows)
    frame = pd.DataFrame({"id": range(rows), "sex": rng.choice(["F", "M"], rows), "planted": planted})
    for name in ("noise_a", "noise_b", "noise_c"):
        frame[name] = rng.normal(size=rows)
    target = defaults.TARGET_COLUMN
    frame[target] = (planted > 0).astype(int) if problem_type == "binary_classification" else 140 + 50 * planted
    raw, prepared, model = (tmp_path / name for name in ("raw", "prepared", "model"))
    raw.mkdir()
    frame.to_csv(raw / "records.csv", index=False)
    argv = ["--input-dir", str(raw), "--output-dir", str(prepared), "--problem-type", problem_type]
    assert prepare_data.main([*argv, "--target-column", target]) == 0
    assert train_model.main(training_argv(prepared, model, tmp_path / "out", "--problem_type", problem_type)) == 0
    assert run(check_bias, model, prepared, tmp_path / "bias", *FACET, *THRESHOLD) == 0
    top = json.loads((tmp_path / "bias" / "bias_report.json").read_text())["top_features"]
    assert next(iter(top)) == "planted"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--facet-column", "bmi", "--facet-value", "F"], "facet column 'bmi' must be one of the categorical"),
        (["--facet-column", "sex", "--facet-value", "X"], "facet value 'X' does not occur in 'sex'"),
    ],
)
def test_rejects_a_bad_facet_in_one_line_and_writes_nothing(
    tmp_path, check_bias, model_archive_dir, prepared_dir, capsys, extra, expected
):
    assert run(check_bias, model_archive_dir, prepared_dir, tmp_path / "out", *extra, *THRESHOLD) == 2
    error = capsys.readouterr().err
    assert expected in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
