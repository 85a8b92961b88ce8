"""Measure bias and explain the trained model: Clarify-format analysis.json plus the gate's bias_report.json.

Pre-training bias is measured on the training split's labels, post-training bias on the model's
predictions for the test split, and SHAP feature attributions on a few test rows against a
background sample of training rows. The facet is one value of a categorical column (its one-hot
feature after preprocessing). Labels and predictions are made binary the way Clarify does it: the
positive class for classification, "above --label-threshold" for regression.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# SageMaker runs this file as a plain script with only its own folder on sys.path: add the algorithms/ root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from shared_libraries import responsible_ai  # noqa: E402
from shared_libraries.bundle import ModelBundle, load_bundle  # noqa: E402
from shared_libraries.data_io import read_csv_dir, write_json  # noqa: E402
from shared_libraries.errors import InputError, report  # noqa: E402
from shared_libraries.preprocessing import one_hot_name, require_columns, validate_target  # noqa: E402

STEP = "check_bias"
ANALYSIS_FILENAME = "analysis.json"
REPORT_FILENAME = "bias_report.json"
TOP_FEATURES = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=STEP, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir", type=Path, default=Path("/opt/ml/processing/input/model"), help="holds model.tar.gz"
    )
    parser.add_argument("--train-dir", type=Path, default=Path("/opt/ml/processing/input/train"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/input/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output/bias"))
    parser.add_argument("--facet-column", required=True, help="a categorical feature column")
    parser.add_argument("--facet-value", required=True, help="the value that marks the sensitive group")
    parser.add_argument(
        "--label-threshold", type=float, default=None, help="regression: labels above it count as positive"
    )
    parser.add_argument("--shap-rows", type=int, default=20, help="test rows explained")
    parser.add_argument("--shap-background", type=int, default=10, help="training rows standing in for absent features")
    parser.add_argument("--random-seed", type=int, default=42)
    args = parser.parse_args(argv)
    for name in ("shap_rows", "shap_background"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}")
    return args


def facet_mask(bundle: ModelBundle, frame: pd.DataFrame, column: str, value: str) -> np.ndarray:
    """Rows of the sensitive group: its one-hot feature is set."""
    categories = bundle.preprocessor.categories
    if column not in categories:
        raise InputError(f"facet column {column!r} must be one of the categorical columns {sorted(categories)}")
    if value not in categories[column]:
        raise InputError(f"facet value {value!r} does not occur in {column!r}; it has {categories[column]}")
    return frame[one_hot_name(column, value)].to_numpy() == 1


def binary(values: pd.Series, problem_type: str, threshold: float | None) -> np.ndarray:
    if problem_type == "binary_classification":
        return np.asarray(values, dtype=int)
    if threshold is None:
        raise InputError("a regression model needs --label-threshold (responsible_ai.label_threshold in input.json)")
    return (np.asarray(values, dtype=float) > threshold).astype(int)


def analyze(args: argparse.Namespace) -> dict:
    """Clarify's analysis.json for the bundle in --model-dir on the splits in --train-dir and --test-dir."""
    bundle = load_bundle(args.model_dir)
    train, test = read_csv_dir(args.train_dir), read_csv_dir(args.test_dir)
    target, features = bundle.metadata["target_column"], bundle.metadata["feature_columns"]
    for name, split in (("the training split", train), ("the test split", test)):
        require_columns(split, [target, *features], "column", name)
    problem = bundle.problem_type
    train_labels = binary(validate_target(train[target], problem), problem, args.label_threshold)
    test_labels = binary(validate_target(test[target], problem), problem, args.label_threshold)
    predicted = binary(bundle.predict_processed(test)["prediction"], problem, args.label_threshold)
    pre = responsible_ai.pre_training_bias(train_labels, facet_mask(bundle, train, args.facet_column, args.facet_value))
    post = responsible_ai.post_training_bias(
        test_labels, predicted, facet_mask(bundle, test, args.facet_column, args.facet_value)
    )
    shap, expected = explain(bundle, train[features], test[features], args)
    label_value = "1" if problem == "binary_classification" else f"{args.label_threshold:g}"
    return responsible_ai.clarify_analysis(
        target, label_value, args.facet_column, args.facet_value, pre, post, shap, expected
    )


def explain(bundle: ModelBundle, train: pd.DataFrame, test: pd.DataFrame, args) -> tuple[dict[str, float], float]:
    """Global SHAP values of the model's score (probability or prediction) and the background's mean score."""
    rng = np.random.default_rng(args.random_seed)
    rows = test.to_numpy()[rng.permutation(len(test))[: args.shap_rows]]
    background = train.to_numpy()[rng.permutation(len(train))[: args.shap_background]]
    score = "probability" if bundle.problem_type == "binary_classification" else "prediction"
    columns = list(train.columns)

    def predict(matrix: np.ndarray) -> np.ndarray:
        return bundle.predict_processed(pd.DataFrame(matrix, columns=columns))[score].to_numpy()

    values = responsible_ai.shapley_values(predict, rows, background, seed=args.random_seed)
    return responsible_ai.global_shap(columns, values), float(np.mean(predict(background)))


def gate_report(analysis: dict, facet_column: str) -> dict:
    """What the pipeline's bias conditions read (JsonGet paths `<metric>.value`) and the top features."""
    metrics = {}
    for section in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        for metric in analysis[section]["facets"][facet_column][0]["metrics"]:
            metrics[metric["name"]] = {"value": metric["value"]}
    shap = analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    return {**metrics, "top_features": dict(list(shap.items())[:TOP_FEATURES])}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        analysis = analyze(args)
    except InputError as error:
        return report(STEP, error)
    gate = gate_report(analysis, args.facet_column)
    write_json(analysis, args.output_dir / ANALYSIS_FILENAME)
    write_json(gate, args.output_dir / REPORT_FILENAME)
    for name in responsible_ai.BIAS_METRICS:
        print(f"bias:{name}={gate[name]['value']}")
    print("top features: " + ", ".join(f"{name} ({value:.4f})" for name, value in gate["top_features"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
