"""Measure bias and explain the trained model in Clarify's formats, plus the report the bias gates read.

Pre-training bias is measured on the training split's labels, post-training bias on the model's
predictions for the test split, and SHAP feature attributions on a few test rows against a
background sample of training rows. The facet is one value of a categorical column (its one-hot
feature after preprocessing). Labels and predictions are made binary the way Clarify does it: the
positive class for classification, "above --label-threshold" for regression. SHAP values are those
of the raw features the endpoint receives (a categorical column's one-hot features count as one).
analysis_config.json records the settings in Clarify's analysis configuration format; the model is
registered with it and analysis.json as its bias and feature-attribution drift baselines.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

# SageMaker runs this file as a plain script with only its own folder on sys.path: add the algorithms/ root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from shared_libraries import responsible_ai  # noqa: E402
from shared_libraries.bundle import ModelBundle, load_bundle  # noqa: E402
from shared_libraries.data_io import read_csv_dir, write_json  # noqa: E402
from shared_libraries.errors import InputError, report  # noqa: E402
from shared_libraries.metrics import DECISION_THRESHOLD  # noqa: E402
from shared_libraries.preprocessing import one_hot_name, require_columns, validate_target  # noqa: E402

STEP = "check_bias"
ANALYSIS_FILENAME = "analysis.json"
CONFIG_FILENAME = "analysis_config.json"
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


def analyze(args: argparse.Namespace) -> tuple[dict, dict]:
    """Clarify's analysis.json and analysis_config.json for the bundle in --model-dir on the splits in
    --train-dir and --test-dir."""
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
    explanation = explain(bundle, train[features], test[features], args)
    classification = problem == "binary_classification"
    label_value = "1" if classification else f"{args.label_threshold:g}"
    analysis = responsible_ai.clarify_analysis(
        target, label_value, args.facet_column, args.facet_value, pre, post, explanation.shap, explanation.expected
    )
    config = responsible_ai.analysis_config(
        headers=[*bundle.preprocessor.raw_feature_columns, target],
        label=target,
        label_value=1 if classification else args.label_threshold,
        facet_column=args.facet_column,
        facet_value=args.facet_value,
        probability_threshold=DECISION_THRESHOLD if classification else None,
        baseline=explanation.baseline,
        num_samples=explanation.num_samples,
        seed=args.random_seed,
    )
    return analysis, config


@dataclass(frozen=True)
class Explanation:
    shap: dict[str, float]  # global SHAP value per raw feature, largest first
    expected: float  # the background's mean score
    baseline: list[list]  # the background rows as raw records
    num_samples: int  # coalitions evaluated per explained row


def explain(bundle: ModelBundle, train: pd.DataFrame, test: pd.DataFrame, args) -> Explanation:
    """Global SHAP values of the model's score (probability or prediction) per raw feature."""
    rng = np.random.default_rng(args.random_seed)
    rows = test.to_numpy()[rng.permutation(len(test))[: args.shap_rows]]
    background = train.to_numpy()[rng.permutation(len(train))[: args.shap_background]]
    score = "probability" if bundle.problem_type == "binary_classification" else "prediction"
    columns = list(train.columns)
    raw = bundle.preprocessor.raw_feature_columns
    players = raw_feature_of(bundle.preprocessor, columns)

    def predict(matrix: np.ndarray) -> np.ndarray:
        return bundle.predict_processed(pd.DataFrame(matrix, columns=columns))[score].to_numpy()

    values = responsible_ai.shapley_values(predict, rows, background, seed=args.random_seed, players=players)
    return Explanation(
        shap=responsible_ai.global_shap(raw, values),
        expected=float(np.mean(predict(background))),
        baseline=raw_records(bundle.preprocessor, pd.DataFrame(background, columns=columns)),
        num_samples=responsible_ai.coalitions_per_row(len(raw)),
    )


def raw_feature_of(preprocessor, columns: list[str]) -> np.ndarray:
    """For each processed column, the index of the raw feature it comes from."""
    origin = {}
    for index, column in enumerate(preprocessor.raw_feature_columns):
        values = preprocessor.categories.get(column)
        for name in [one_hot_name(column, value) for value in values] if values is not None else [column]:
            origin[name] = index
    return np.array([origin[column] for column in columns])


def raw_records(preprocessor, processed: pd.DataFrame) -> list[list]:
    """Processed rows back as the raw records they encode (a row with no category set gets null)."""
    records = []
    for _, row in processed.iterrows():
        record = []
        for column in preprocessor.raw_feature_columns:
            if column in preprocessor.categories:
                present = [value for value in preprocessor.categories[column] if row[one_hot_name(column, value)] == 1]
                record.append(present[0] if present else None)
            else:
                record.append(float(row[column] * preprocessor.scales[column] + preprocessor.means[column]))
        records.append(record)
    return records


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
        analysis, config = analyze(args)
    except InputError as error:
        return report(STEP, error)
    gate = gate_report(analysis, args.facet_column)
    write_json(config, args.output_dir / CONFIG_FILENAME)
    write_json(analysis, args.output_dir / ANALYSIS_FILENAME)
    write_json(gate, args.output_dir / REPORT_FILENAME)
    for name in responsible_ai.BIAS_METRICS:
        print(f"bias:{name}={gate[name]['value']}")
    print("top features: " + ", ".join(f"{name} ({value:.4f})" for name, value in gate["top_features"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
