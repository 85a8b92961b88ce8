"""Model quality in Model Monitor's formats: ground truth merged with captured predictions, the
metrics file and the violations of the stage's constraints.

Ground truth is JSON lines, one per captured request
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html):
    {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "<id>"}, "eventVersion": "0"}
`eventId` is the request's inferenceId when the caller gave one, else its captured eventId; a request
of several records carries one label per CSV line (or a JSON list). Metrics and their layout
(`regression_metrics` mae/mse/rmse/r2, `binary_classification_metrics` with confusion_matrix,
recall, precision, accuracy, rates, auc, f0_5/f1/f2, each {"value", "standard_deviation"}) follow
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html, as does the
standard deviation: only from 200 records on, the spread of the metric over five random 80 % samples
(seeded here, so a rerun gives the same file). Constraints are `<problem>_constraints` {metric:
{threshold, comparison_operator}}; a violation names `metric_name`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mlops_template_kit.monitor import capture
from mlops_template_kit.monitor.errors import MonitorError

# The processing engine runs this module on the scikit-learn image's Python 3.10, which has no
# datetime.UTC (3.11): timezone.utc is the same object.
UTC = timezone.utc  # noqa: UP017

REGRESSION, BINARY = "regression", "binary_classification"
METRICS_KEY = {REGRESSION: "regression_metrics", BINARY: "binary_classification_metrics"}
CONSTRAINTS_KEY = {REGRESSION: "regression_constraints", BINARY: "binary_classification_constraints"}
MIN_RECORDS_FOR_DEVIATION = 200
SAMPLES, SAMPLE_SHARE, SEED = 5, 0.8, 0


@dataclass(frozen=True)
class Merged:
    """Labels and the model's answers, record by record, of the requests that have ground truth."""

    labels: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray | None
    unmatched_ground_truth: int


def _labels(text: str, where: str) -> list[float]:
    stripped = text.strip()
    try:
        value = json.loads(stripped) if stripped.startswith("[") else None
        values = value if isinstance(value, list) else [line for line in stripped.splitlines() if line.strip()]
        labels = [float(item) for item in values]
    except (TypeError, ValueError):
        raise MonitorError(f"{where}: groundTruthData.data {text[:40]!r} is not a number (or one per line)") from None
    if not labels or not all(math.isfinite(label) for label in labels):
        raise MonitorError(f"{where}: groundTruthData.data holds no finite label")
    return labels


def read_ground_truth(location: Path) -> dict[str, list[float]]:
    """eventId -> labels of every ground-truth line under `location`; MonitorError for a missing,
    empty or malformed file, naming the line."""
    found: dict[str, list[float]] = {}
    for where, line in capture.json_lines(capture.jsonl_files(location, "ground truth")):
        metadata = line.get("eventMetadata")
        if "groundTruthData" not in line or not isinstance(metadata, dict) or not metadata.get("eventId"):
            raise MonitorError(
                f"{where}: not a ground-truth line (groundTruthData and eventMetadata.eventId are required)"
            )
        found[str(metadata["eventId"])] = _labels(
            capture.decode(line["groundTruthData"], where, "groundTruthData"), where
        )
    if not found:
        raise MonitorError(f"ground truth {location} holds no records")
    return found


def merge(events: list[capture.Event], truth: dict[str, list[float]]) -> Merged:
    """Each labelled request's labels next to its predictions; MonitorError when nothing matches or
    a request's label count differs from its prediction count."""
    labels, predicted, probabilities = [], [], []
    used = 0
    for event in events:
        if event.key not in truth:
            continue
        used += 1
        answers = capture.predictions(event)
        if len(answers) != len(truth[event.key]) or not all("prediction" in answer for answer in answers):
            raise MonitorError(
                f"ground truth of event {event.key} has {len(truth[event.key])} label(s) for "
                f"{len(answers)} readable prediction(s) in its captured response"
            )
        labels += truth[event.key]
        predicted += [answer["prediction"] for answer in answers]
        probabilities += [answer.get("probability", math.nan) for answer in answers]
    if not used:
        raise MonitorError(
            f"none of the {len(truth)} ground-truth records matches a captured request (eventMetadata.eventId must be "
            "the request's inferenceId, or its eventId when the caller gave none)"
        )
    probability = np.asarray(probabilities, float)
    return Merged(
        np.asarray(labels, float),
        np.asarray(predicted, float),
        None if np.isnan(probability).any() else probability,
        len(truth) - used,
    )


def _regression(labels: np.ndarray, predicted: np.ndarray, _probability: np.ndarray | None) -> dict[str, float]:
    errors = labels - predicted
    mse = float(np.mean(errors**2))
    spread = float(np.sum((labels - labels.mean()) ** 2))
    r2 = 1.0 - float(np.sum(errors**2)) / spread if spread else math.nan
    return {"mae": float(np.mean(np.abs(errors))), "mse": mse, "rmse": math.sqrt(mse), "r2": r2}


def area_under_roc(truth: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic: the chance a positive scores above a negative, ties
    counting half (tests compare it with scikit-learn's roc_auc_score); NaN without both classes."""
    positives = int(np.sum(truth == 1))
    negatives = len(truth) - positives
    if not positives or not negatives:
        return math.nan
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0
    ranks = average_rank[inverse]
    return float((ranks[truth == 1].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def _ratio(top: float, bottom: float) -> float:
    return top / bottom if bottom else math.nan


def _binary(labels: np.ndarray, predicted: np.ndarray, probability: np.ndarray | None) -> dict[str, float]:
    truth, guess = labels.astype(int), predicted.astype(int)
    tp, tn = int(np.sum((truth == 1) & (guess == 1))), int(np.sum((truth == 0) & (guess == 0)))
    fp, fn = int(np.sum((truth == 0) & (guess == 1))), int(np.sum((truth == 1) & (guess == 0)))
    recall, precision = _ratio(tp, tp + fn), _ratio(tp, tp + fp)

    def f_beta(beta: float) -> float:
        return _ratio((1 + beta**2) * precision * recall, beta**2 * precision + recall)

    auc = area_under_roc(truth, probability) if probability is not None else math.nan
    return {
        "recall": recall,
        "precision": precision,
        "accuracy": _ratio(tp + tn, len(truth)),
        "true_positive_rate": recall,
        "true_negative_rate": _ratio(tn, tn + fp),
        "false_positive_rate": _ratio(fp, fp + tn),
        "false_negative_rate": _ratio(fn, fn + tp),
        "auc": auc,
        "f0_5": f_beta(0.5),
        "f1": f_beta(1.0),
        "f2": f_beta(2.0),
    }


CALCULATORS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray | None], dict[str, float]]] = {
    REGRESSION: _regression,
    BINARY: _binary,
}


def _json_number(value: float) -> float | str:
    return float(value) if math.isfinite(value) else "NaN"


def _deviations(merged: Merged, calculate: Callable) -> dict[str, float]:
    count = len(merged.labels)
    if count < MIN_RECORDS_FOR_DEVIATION:
        return {}
    rng = np.random.default_rng(SEED)
    runs = []
    for _ in range(SAMPLES):
        pick = rng.choice(count, size=int(count * SAMPLE_SHARE), replace=False)
        probability = None if merged.probabilities is None else merged.probabilities[pick]
        runs.append(calculate(merged.labels[pick], merged.predictions[pick], probability))
    return {name: float(np.std([run[name] for run in runs])) for name in runs[0]}


def statistics(merged: Merged, problem_type: str) -> dict[str, Any]:
    """The model-quality statistics file of the merged records."""
    calculate = CALCULATORS[problem_type]
    values = calculate(merged.labels, merged.predictions, merged.probabilities)
    spread = _deviations(merged, calculate)
    metrics: dict[str, Any] = {}
    if problem_type == BINARY:
        truth, guess = merged.labels.astype(int), merged.predictions.astype(int)
        metrics["confusion_matrix"] = {
            str(actual): {str(said): int(np.sum((truth == actual) & (guess == said))) for said in (0, 1)}
            for actual in (0, 1)
        }
    for name, value in values.items():
        metrics[name] = {"value": _json_number(value), "standard_deviation": _json_number(spread.get(name, math.nan))}
    return {
        "version": 0.0,
        "dataset": {
            "item_count": len(merged.labels),
            "evaluation_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
        METRICS_KEY[problem_type]: metrics,
    }


def constraints(configured: dict[str, dict[str, Any]], problem_type: str) -> dict[str, Any]:
    """constraints.json of the stage's model_quality.constraints (inference_config.json)."""
    return {"version": 0.0, CONSTRAINTS_KEY[problem_type]: configured}


def violations(
    statistics_document: dict[str, Any], constraints_document: dict[str, Any], problem_type: str
) -> dict[str, Any]:
    """constraint_violations.json: each metric on the wrong side of its threshold, or not computed."""
    metrics = statistics_document[METRICS_KEY[problem_type]]
    found = []
    for name, rule in constraints_document.get(CONSTRAINTS_KEY[problem_type], {}).items():
        operator, threshold = rule["comparison_operator"], float(rule["threshold"])
        value = (metrics.get(name) or {}).get("value")
        if not isinstance(value, float):
            found.append(
                {
                    "metric_name": name,
                    "constraint_check_type": operator,
                    "description": f"Metric {name} could not be computed from the merged records",
                }
            )
            continue
        broken = value > threshold if operator == "GreaterThanThreshold" else value < threshold
        if broken:
            found.append(
                {
                    "metric_name": name,
                    "constraint_check_type": operator,
                    "description": f"Metric {name} with {value:.4g} was {operator} '{threshold:g}'",
                }
            )
    return {"violations": found}
