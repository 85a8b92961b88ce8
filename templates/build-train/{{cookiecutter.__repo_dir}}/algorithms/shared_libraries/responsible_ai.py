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
Columns can be grouped into one player (the one-hot columns of a categorical feature), so the
values are those of the raw features the endpoint receives, as Clarify explains them.

`analysis_config` writes the run's settings as Clarify's analysis configuration file, the file a
Clarify job or monitor reads:
https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-configure-analysis.html
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
SAMPLED_SHAP_PERMUTATIONS = 64
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


def shapley_values(
    predict: Predict, rows: np.ndarray, background: np.ndarray, seed: int = 0, players: np.ndarray | None = None
) -> np.ndarray:
    """SHAP values (rows x players) of `predict` for `rows`, absent features taken from `background`.

    `players[column]` is the player a column belongs to (default: every column its own player); the
    columns of one player are present or absent together.
    """
    rows, background = np.atleast_2d(rows).astype(float), np.atleast_2d(background).astype(float)
    if rows.shape[1] != background.shape[1]:
        raise InputError("rows and background must have the same features")
    players = np.arange(rows.shape[1]) if players is None else np.asarray(players, dtype=int)
    if players.shape != (rows.shape[1],) or set(players) != set(range(int(players.max()) + 1)):
        raise InputError("players must give every column a player numbered from 0 without gaps")
    if players.max() + 1 <= EXACT_SHAP_MAX_FEATURES:
        return _exact_shapley(predict, rows, background, players)
    return _sampled_shapley(predict, rows, background, players, np.random.default_rng(seed))


def coalitions_per_row(players: int) -> int:
    """How many coalitions the SHAP values of one row evaluate (Clarify's `num_samples`)."""
    if players <= EXACT_SHAP_MAX_FEATURES:
        return 2**players
    return SAMPLED_SHAP_PERMUTATIONS * (players + 1)


def _coalition_values(
    predict: Predict, rows: np.ndarray, background: np.ndarray, masks: np.ndarray, players: np.ndarray
) -> np.ndarray:
    """v(S) for every row and coalition S of players: the mean prediction with the columns of players
    outside S taken from the background."""
    columns = masks[:, players]
    mixed = np.where(columns[None, :, None, :], rows[:, None, None, :], background[None, None, :, :])
    scores = np.asarray(predict(mixed.reshape(-1, rows.shape[1])), dtype=float)
    return scores.reshape(len(rows), len(masks), len(background)).mean(axis=2)


def _exact_shapley(predict: Predict, rows: np.ndarray, background: np.ndarray, players: np.ndarray) -> np.ndarray:
    count = int(players.max()) + 1
    codes = np.arange(2**count)
    masks = ((codes[:, None] >> np.arange(count)) & 1).astype(bool)
    values = _coalition_values(predict, rows, background, masks, players)
    sizes = masks.sum(axis=1)
    weights = np.array([factorial(s) * factorial(count - s - 1) / factorial(count) for s in range(count)])
    result = np.zeros((len(rows), count))
    for player in range(count):
        without = codes[~masks[:, player]]
        with_player = without | (1 << player)
        result[:, player] = (values[:, with_player] - values[:, without]) @ weights[sizes[without]]
    return result


def _sampled_shapley(
    predict: Predict, rows: np.ndarray, background: np.ndarray, players: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    count = int(players.max()) + 1
    result = np.zeros((len(rows), count))
    for _ in range(SAMPLED_SHAP_PERMUTATIONS):
        order = rng.permutation(count)
        masks = np.zeros((count + 1, count), dtype=bool)
        for position, player in enumerate(order):
            masks[position + 1 :, player] = True
        values = _coalition_values(predict, rows, background, masks, players)
        result[:, order] += np.diff(values, axis=1)
    return result / SAMPLED_SHAP_PERMUTATIONS


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


def analysis_config(
    *,
    headers: list[str],
    label: str,
    label_value: float | int,
    facet_column: str,
    facet_value: str,
    probability_threshold: float | None,
    baseline: list[list],
    num_samples: int,
    seed: int,
) -> dict:
    """Clarify's analysis configuration of this run: what analysis.json was computed from, and what a
    bias or explainability monitor needs to compute the same numbers on captured endpoint traffic
    (https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-configure-analysis.html;
    the monitors read a subset of the same parameters:
    https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-config-json-monitor-bias-parameters.html and
    https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-config-json-monitor-model-explainability-parameters.html).

    `headers` are the columns of a record as the endpoint receives it, with the label; the endpoint
    answers text/csv `prediction[,probability]` (algorithms/inference/predict/inference.py), hence
    the predictor's column indexes.
    """
    predictor = {"content_type": "text/csv", "accept_type": "text/csv", "label": 0}
    config = {
        "version": "1.0",
        "dataset_type": "text/csv",
        "headers": headers,
        "label": label,
        "label_values_or_threshold": [label_value],
        "facet": [{"name_or_index": facet_column, "value_or_threshold": [facet_value]}],
        "methods": {
            "pre_training_bias": {"methods": list(PRE_TRAINING)},
            "post_training_bias": {"methods": list(POST_TRAINING)},
            "shap": {
                "baseline": baseline,
                "num_samples": num_samples,
                "agg_method": "mean_abs",
                "use_logit": False,
                "save_local_shap_values": False,
                "seed": seed,
            },
        },
        "predictor": predictor,
    }
    if probability_threshold is not None:
        config["probability_threshold"] = float(probability_threshold)
        predictor["probability"] = 1
    return config
