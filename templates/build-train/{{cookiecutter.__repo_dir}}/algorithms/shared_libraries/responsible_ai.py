"""Bias metrics and SHAP feature attributions, written in SageMaker Clarify's report format.

SageMaker Clarify is no longer open to new customers (note on
https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-data-format.html, "Clarify
availability change"), so this repository computes the same numbers in its own processing step,
with numpy only: the framework containers that run the steps ship numpy and pandas, not `shap`.

Bias metrics follow Clarify's definitions (facet d = the sensitive group, facet a = everyone else):
https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-measure-data-bias.html (pre-training) and
https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-measure-post-training-bias.html (post-training).
SHAP values are Kernel SHAP's target, the Shapley values of the model with absent features drawn
from a background sample; up to EXACT_SHAP_MAX_FEATURES features every coalition is evaluated
(so the values are exact, not sampled), beyond that they are estimated from random permutations.
"""

from __future__ import annotations

from collections.abc import Callable
from math import factorial

import numpy as np

from shared_libraries.errors import InputError

PRE_TRAINING = {
    "CI": "Class Imbalance (CI)",
    "DPL": "Difference in Positive Proportions in Labels (DPL)",
    "KL": "Kullback-Liebler Divergence (KL)",
    "JS": "Jensen-Shannon Divergence (JS)",
    "LP": "L-p Norm (LP)",
    "TVD": "Total Variation Distance (TVD)",
    "KS": "Kolmogorov-Smirnov Distance (KS)",
}
POST_TRAINING = {
    "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
    "DI": "Disparate Impact (DI)",
    "AD": "Accuracy Difference (AD)",
    "RD": "Recall Difference (RD)",
}
BIAS_METRICS = {**PRE_TRAINING, **POST_TRAINING}
EXACT_SHAP_MAX_FEATURES = 12
Predict = Callable[[np.ndarray], np.ndarray]


def _groups(facet: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    facet = np.asarray(facet, dtype=bool)
    if facet.all() or not facet.any():
        raise InputError("the facet must split the data into two non-empty groups: check responsible_ai.facet")
    return ~facet, facet


def _label_distribution(labels: np.ndarray) -> np.ndarray:
    """[P(label = 0), P(label = 1)] of binary labels."""
    positive = float(np.mean(labels))
    return np.array([1 - positive, positive])


def pre_training_bias(labels: np.ndarray, facet: np.ndarray) -> dict[str, float]:
    """Clarify's pre-training metrics of binary `labels` for the sensitive group `facet` (a boolean mask)."""
    labels = np.asarray(labels, dtype=int)
    advantaged, disadvantaged = _groups(facet)
    n_a, n_d = int(advantaged.sum()), int(disadvantaged.sum())
    p_a, p_d = _label_distribution(labels[advantaged]), _label_distribution(labels[disadvantaged])
    middle = (p_a + p_d) / 2
    return {
        "CI": (n_a - n_d) / (n_a + n_d),
        "DPL": float(p_a[1] - p_d[1]),
        "KL": _kl(p_a, p_d),
        "JS": 0.5 * (_kl(p_a, middle) + _kl(p_d, middle)),
        "LP": float(np.sqrt(np.sum((p_a - p_d) ** 2))),
        "TVD": float(0.5 * np.sum(np.abs(p_a - p_d))),
        "KS": float(np.max(np.abs(p_a - p_d))),
    }


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q); infinite when q misses an outcome p has (as Clarify reports it)."""
    present = p > 0
    if np.any(q[present] == 0):
        return float("inf")
    return float(np.sum(p[present] * np.log(p[present] / q[present])))


def post_training_bias(labels: np.ndarray, predicted: np.ndarray, facet: np.ndarray) -> dict[str, float]:
    """Clarify's post-training metrics of binary `predicted` labels against binary `labels`."""
    labels, predicted = np.asarray(labels, dtype=int), np.asarray(predicted, dtype=int)
    advantaged, disadvantaged = _groups(facet)
    rate_a, rate_d = float(predicted[advantaged].mean()), float(predicted[disadvantaged].mean())
    return {
        "DPPL": rate_a - rate_d,
        # Undefined when group a gets no positive prediction; Clarify reports such values as NaN too.
        "DI": rate_d / rate_a if rate_a > 0 else float("nan"),
        "AD": _accuracy(labels, predicted, advantaged) - _accuracy(labels, predicted, disadvantaged),
        "RD": _recall(labels, predicted, advantaged) - _recall(labels, predicted, disadvantaged),
    }


def _accuracy(labels: np.ndarray, predicted: np.ndarray, group: np.ndarray) -> float:
    return float(np.mean(labels[group] == predicted[group]))


def _recall(labels: np.ndarray, predicted: np.ndarray, group: np.ndarray) -> float:
    positives = group & (labels == 1)
    return float(np.mean(predicted[positives] == 1)) if positives.any() else float("nan")


def shapley_values(predict: Predict, rows: np.ndarray, background: np.ndarray, seed: int = 0) -> np.ndarray:
    """SHAP values (rows x features) of `predict` for `rows`, absent features taken from `background`."""
    rows, background = np.atleast_2d(rows).astype(float), np.atleast_2d(background).astype(float)
    if rows.shape[1] != background.shape[1]:
        raise InputError("rows and background must have the same features")
    if rows.shape[1] <= EXACT_SHAP_MAX_FEATURES:
        return _exact_shapley(predict, rows, background)
    return _sampled_shapley(predict, rows, background, np.random.default_rng(seed))


def _coalition_values(predict: Predict, rows: np.ndarray, background: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """v(S) for every row and coalition S: the mean prediction with the features outside S from the background."""
    mixed = np.where(masks[None, :, None, :], rows[:, None, None, :], background[None, None, :, :])
    scores = np.asarray(predict(mixed.reshape(-1, rows.shape[1])), dtype=float)
    return scores.reshape(len(rows), len(masks), len(background)).mean(axis=2)


def _exact_shapley(predict: Predict, rows: np.ndarray, background: np.ndarray) -> np.ndarray:
    features = rows.shape[1]
    codes = np.arange(2**features)
    masks = ((codes[:, None] >> np.arange(features)) & 1).astype(bool)
    values = _coalition_values(predict, rows, background, masks)
    sizes = masks.sum(axis=1)
    weights = np.array([factorial(s) * factorial(features - s - 1) / factorial(features) for s in range(features)])
    result = np.zeros(rows.shape)
    for feature in range(features):
        without = codes[~masks[:, feature]]
        with_feature = without | (1 << feature)
        result[:, feature] = (values[:, with_feature] - values[:, without]) @ weights[sizes[without]]
    return result


def _sampled_shapley(
    predict: Predict, rows: np.ndarray, background: np.ndarray, rng: np.random.Generator, permutations: int = 64
) -> np.ndarray:
    features = rows.shape[1]
    result = np.zeros(rows.shape)
    for _ in range(permutations):
        order = rng.permutation(features)
        masks = np.zeros((features + 1, features), dtype=bool)
        for position, feature in enumerate(order):
            masks[position + 1 :, feature] = True
        values = _coalition_values(predict, rows, background, masks)
        result[:, order] += np.diff(values, axis=1)
    return result / permutations


def global_shap(names: list[str], values: np.ndarray) -> dict[str, float]:
    """Mean absolute SHAP value per feature, largest first (Clarify's global_shap_values)."""
    means = np.abs(values).mean(axis=0)
    return {names[i]: float(means[i]) for i in np.argsort(-means, kind="stable")}


def _metric_list(values: dict[str, float], names: dict[str, str]) -> list[dict]:
    return [{"name": key, "description": names[key], "value": _number(values[key])} for key in names]


def _number(value: float) -> float | None:
    """JSON has no NaN or infinity: report such metrics as null."""
    return float(value) if np.isfinite(value) else None


def clarify_analysis(
    label: str,
    label_value: str,
    facet_column: str,
    facet_value: str,
    pre_training: dict[str, float],
    post_training: dict[str, float],
    shap: dict[str, float],
    expected_value: float,
) -> dict:
    """analysis.json as a Clarify processing job writes it
    (https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-analysis-results.html)."""

    def section(values: dict[str, float], names: dict[str, str]) -> dict:
        facets = {facet_column: [{"value_or_threshold": facet_value, "metrics": _metric_list(values, names)}]}
        return {"label": label, "facets": facets, "label_value_or_threshold": label_value}

    return {
        "version": "1.0",
        "pre_training_bias_metrics": section(pre_training, PRE_TRAINING),
        "post_training_bias_metrics": section(post_training, POST_TRAINING),
        "explanations": {"kernel_shap": {"label0": {"global_shap_values": shap, "expected_value": expected_value}}},
    }
