"""Model quality metrics in the form SageMaker's model registry and Model Monitor read.

Implemented with numpy only, so evaluation runs unchanged in the XGBoost and the scikit-learn
containers. Each metric comes with a standard deviation estimated by bootstrap: resampling the
test rows with replacement and measuring the spread, which tells how much a difference between
two models on a small test set means.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from shared_libraries.errors import InputError

DECISION_THRESHOLD = 0.5
REPORT_KEYS = {"binary_classification": "binary_classification_metrics", "regression": "regression_metrics"}
# Names as they appear in evaluation.json and in the `validation:<name>=<value>` lines of training.
METRIC_NAMES = {
    "binary_classification": ("f1", "precision", "recall", "auc", "accuracy"),
    "regression": ("rmse", "mae", "r2"),
}


def binary_classification_metrics(labels, probabilities, threshold: float = DECISION_THRESHOLD) -> dict[str, float]:
    """F1, precision, recall, AUC and accuracy of positive-class `probabilities` against 0/1 `labels`."""
    truth = np.asarray(labels, dtype=int)
    scores = np.asarray(probabilities, dtype=float)
    predicted = (scores >= threshold).astype(int)
    true_positive = int(np.sum((predicted == 1) & (truth == 1)))
    precision = _ratio(true_positive, int(np.sum(predicted == 1)))
    recall = _ratio(true_positive, int(np.sum(truth == 1)))
    return {
        "f1": _ratio(2 * precision * recall, precision + recall),
        "precision": precision,
        "recall": recall,
        "auc": roc_auc(truth, scores),
        "accuracy": float(np.mean(predicted == truth)),
    }


def regression_metrics(targets, predictions) -> dict[str, float]:
    """RMSE, MAE and R² of `predictions` against `targets`."""
    truth = np.asarray(targets, dtype=float)
    errors = np.asarray(predictions, dtype=float) - truth
    total = float(np.sum((truth - truth.mean()) ** 2))
    residual = float(np.sum(errors**2))
    # A constant target makes R² undefined; report 1 for a perfect fit and 0 otherwise (as scikit-learn does).
    r2 = 1 - residual / total if total > 0 else float(residual == 0)
    return {"rmse": float(np.sqrt(np.mean(errors**2))), "mae": float(np.mean(np.abs(errors))), "r2": r2}


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve: the chance a random positive scores above a random negative (ties count half)."""
    truth = np.asarray(labels, dtype=int)
    positives = int(truth.sum())
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        raise InputError("AUC needs both classes among the labels, but only one is present")
    ranks = pd.Series(np.asarray(scores, dtype=float)).rank(method="average").to_numpy()
    return float((ranks[truth == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def metrics_for(problem_type: str) -> Callable[..., dict[str, float]]:
    """The metric function of `problem_type`."""
    functions = {"binary_classification": binary_classification_metrics, "regression": regression_metrics}
    if problem_type not in functions:
        raise InputError(f"problem type {problem_type!r} is not one of {', '.join(functions)}")
    return functions[problem_type]


def bootstrap_standard_deviations(
    problem_type: str, labels, scores, resamples: int = 200, seed: int = 42
) -> dict[str, float]:
    """Standard deviation of every metric over `resamples` bootstrap resamples of the rows."""
    compute = metrics_for(problem_type)
    truth, predicted = np.asarray(labels), np.asarray(scores)
    rng = np.random.default_rng(seed)
    samples: list[dict[str, float]] = []
    for _ in range(resamples):
        rows = rng.integers(0, len(truth), len(truth))
        # A resample holding a single class has no AUC; skip it rather than bias the spread.
        if problem_type == "binary_classification" and len(np.unique(truth[rows])) < 2:
            continue
        samples.append(compute(truth[rows], predicted[rows]))
    if not samples:
        raise InputError("too few rows to estimate the spread of the metrics")
    return {name: float(np.std([sample[name] for sample in samples], ddof=1)) for name in samples[0]}


def model_quality_report(problem_type: str, labels, scores, resamples: int = 200, seed: int = 42) -> dict:
    """Metrics as SageMaker's model quality JSON: {"<kind>_metrics": {name: {value, standard_deviation}}}."""
    values = metrics_for(problem_type)(labels, scores)
    spreads = bootstrap_standard_deviations(problem_type, labels, scores, resamples, seed)
    return {
        REPORT_KEYS[problem_type]: {
            name: {"value": value, "standard_deviation": spreads[name]} for name, value in values.items()
        }
    }


def _ratio(numerator: float, denominator: float) -> float:
    # Precision with no positive prediction (and the like) is reported as 0, not as an error.
    return float(numerator / denominator) if denominator else 0.0
