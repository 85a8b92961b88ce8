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


def test_shap_values_of_grouped_columns_are_the_values_of_their_raw_feature():
    # Columns 1 and 2 are one player (the one-hot columns of a categorical): its value is their joint effect.
    rng = np.random.default_rng(1)
    weights = np.array([1.0, 2.0, -3.0])
    rows, background = rng.normal(size=(2, 3)), rng.normal(size=(4, 3))
    values = responsible_ai.shapley_values(lambda m: m @ weights, rows, background, players=np.array([0, 1, 1]))
    offsets = weights * (rows - background.mean(axis=0))
    assert values == pytest.approx(np.column_stack([offsets[:, 0], offsets[:, 1] + offsets[:, 2]]))
    with pytest.raises(responsible_ai.InputError, match="without gaps"):
        responsible_ai.shapley_values(lambda m: m @ weights, rows, background, players=np.array([0, 2, 2]))


@pytest.fixture(scope="module")
def bias_output(tmp_path_factory, check_bias, model_archive_dir, prepared_dir) -> Path:
    output = tmp_path_factory.mktemp("bias")
    assert run(check_bias, model_archive_dir, prepared_dir, output, *FACET, *THRESHOLD) == 0
    return output


def test_writes_clarify_analysis_and_the_gate_report(bias_output, bundle_dir):
    analysis = json.loads((bias_output / "analysis.json").read_text())
    pre = analysis["pre_training_bias_metrics"]["facets"]["sex"][0]
    assert pre["value_or_threshold"] == "F"
    assert [metric["name"] for metric in pre["metrics"]] == list(responsible_ai.PRE_TRAINING)
    gate = json.loads((bias_output / "bias_report.json").read_text())
    assert set(responsible_ai.BIAS_METRICS) <= set(gate)
    shap = analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    assert list(gate["top_features"]) == list(shap)[: len(gate["top_features"])]
    # Attributions of the raw features the endpoint receives: `sex`, not its one-hot columns.
    metadata = json.loads((bundle_dir / "metadata.json").read_text())
    assert sorted(shap) == sorted(metadata["raw_feature_columns"])


def test_writes_the_clarify_analysis_configuration_of_the_run(bias_output, bundle_dir):
    config = json.loads((bias_output / "analysis_config.json").read_text())
    metadata = json.loads((bundle_dir / "metadata.json").read_text())
    target, raw = metadata["target_column"], metadata["raw_feature_columns"]
    assert config["dataset_type"] == "text/csv"
    assert config["headers"] == [*raw, target] and config["label"] == target
    assert config["facet"] == [{"name_or_index": "sex", "value_or_threshold": ["F"]}]
    classification = defaults.PROBLEM_TYPE == "binary_classification"
    assert config["label_values_or_threshold"] == ([1] if classification else [140.0])
    assert ("probability_threshold" in config) == classification
    methods = config["methods"]
    assert methods["pre_training_bias"]["methods"] == list(responsible_ai.PRE_TRAINING)
    assert methods["post_training_bias"]["methods"] == list(responsible_ai.POST_TRAINING)
    shap = methods["shap"]
    assert len(shap["baseline"]) == 4 and all(len(row) == len(raw) for row in shap["baseline"])
    assert {row[raw.index("sex")] for row in shap["baseline"]} <= {"F", "M"}
    assert shap["num_samples"] == 2 ** len(raw) and shap["agg_method"] == "mean_abs"
    assert config["predictor"]["content_type"] == "text/csv" and config["predictor"]["label"] == 0


def test_the_analysis_configuration_passes_the_sagemaker_sdks_schema_of_it(bias_output):
    # The SDK validates every analysis configuration it hands to a Clarify job against this schema.
    from sagemaker.core.clarify import ANALYSIS_CONFIG_SCHEMA_V1_0
    from schema import SchemaError

    config = json.loads((bias_output / "analysis_config.json").read_text())
    ANALYSIS_CONFIG_SCHEMA_V1_0.validate(config)
    config["facet"] = [{"value_or_threshold": ["F"]}]  # a facet must name its column
    with pytest.raises(SchemaError):
        ANALYSIS_CONFIG_SCHEMA_V1_0.validate(config)


def test_the_baseline_rows_are_the_raw_records_of_the_background(bundle_dir, check_bias):
    from shared_libraries.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    records = pd.DataFrame({column: [None, None] for column in bundle.preprocessor.raw_feature_columns}).assign(
        sex=["M", "F"], bmi=[20.0, 31.5]
    )
    processed = bundle.preprocessor.transform(records)
    rows = check_bias.raw_records(bundle.preprocessor, processed)
    back = pd.DataFrame(rows, columns=bundle.preprocessor.raw_feature_columns)
    assert list(back["sex"]) == ["M", "F"] and list(back["bmi"]) == pytest.approx([20.0, 31.5])


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
