"""ML tests: the served model behaves like the model that was evaluated and approved.

The registered evaluation (SageMaker model-quality form) is the reference: the metric measured
on the test records may fall short of it by at most `tests.ml.metric_tolerance`, and the
distribution of the predictions must not collapse onto one class or drift away from the labels.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

CLASSIFICATION = "binary_classification"


@pytest.fixture(scope="module")
def ml_limits(target) -> dict:
    return target.config["tests"]["ml"]


@pytest.fixture(scope="module")
def labels(target) -> np.ndarray:
    if target.target_column not in target.records:
        pytest.skip(f"the test records carry no {target.target_column} label")
    return target.records[target.target_column].to_numpy(dtype=float)


def _registered(target, metric: str) -> float:
    if not target.evaluation:
        pytest.skip("no registered evaluation to compare with (EVALUATION / the model package's metrics)")
    section = "binary_classification_metrics" if target.problem_type == CLASSIFICATION else "regression_metrics"
    try:
        return float(target.evaluation[section][metric]["value"])
    except KeyError:
        pytest.skip(f"the registered evaluation has no {section}.{metric}")


def test_auc_is_close_to_the_registered_auc(target, predictions, labels, ml_limits):
    if target.problem_type != CLASSIFICATION:
        pytest.skip("AUC applies to classifiers")
    observed = roc_auc_score(labels, predictions["probability"])
    assert observed >= _registered(target, "auc") - ml_limits["metric_tolerance"]


def test_rmse_is_close_to_the_registered_rmse(target, predictions, labels, ml_limits):
    if target.problem_type == CLASSIFICATION:
        pytest.skip("RMSE applies to regressors")
    observed = float(np.sqrt(np.mean((predictions["prediction"].to_numpy() - labels) ** 2)))
    assert observed <= _registered(target, "rmse") * (1 + ml_limits["metric_tolerance"])


def test_predictions_do_not_collapse_onto_one_class(target, predictions, ml_limits):
    if target.problem_type != CLASSIFICATION:
        pytest.skip("class shares apply to classifiers")
    shares = predictions["prediction"].value_counts(normalize=True)
    assert shares.max() <= ml_limits["max_class_share"], shares.to_dict()
    assert predictions["probability"].std() > 0


def test_mean_prediction_stays_near_the_mean_label(target, predictions, labels, ml_limits):
    if target.problem_type == CLASSIFICATION:
        observed, expected, spread = predictions["probability"].mean(), labels.mean(), labels.std()
    else:
        observed, expected, spread = predictions["prediction"].mean(), labels.mean(), labels.std()
    assert abs(observed - expected) <= ml_limits["max_mean_shift_std"] * spread
