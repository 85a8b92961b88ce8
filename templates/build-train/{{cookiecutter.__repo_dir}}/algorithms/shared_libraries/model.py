"""The learning algorithm, and the only module that knows which framework this repository uses.

Its hyperparameters, how it trains (with the iteration count chosen on the validation split),
predicts, saves and loads live here; steps, the notebook and the serving handler call these
functions and stay framework-neutral. Scores are the positive-class probability for binary
classification and the predicted value for regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
{%- if cookiecutter.framework == "xgboost" %}

import numpy as np
import xgboost as xgb
{%- else %}

import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
{%- endif %}

from shared_libraries.errors import InputError
{%- if cookiecutter.framework == "xgboost" %}

FRAMEWORK = "xgboost"
# XGBoost's own JSON format: readable by any XGBoost version >= 1.0, unlike a pickle.
MODEL_FILENAME = "model.json"
{%- else %}

FRAMEWORK = "sklearn"
MODEL_FILENAME = "model.joblib"
{%- endif %}


@dataclass(frozen=True)
class Hyperparameter:
    """A tunable setting: its command-line name (underscores, as SageMaker passes it), type, default and range."""

    name: str
    type: type
    default: int | float
    low: int | float
    high: int | float
    help: str

    def check(self, value: int | float) -> None:
        """An InputError unless `value` lies in [low, high]."""
        if not self.low <= value <= self.high:
            raise InputError(f"hyperparameter {self.name} must be between {self.low} and {self.high}, not {value}")


@dataclass(frozen=True)
class TrainedModel:
    model: Any
    # Boosting iterations kept: the ones that minimised the validation loss.
    best_iteration: int
{%- if cookiecutter.framework == "xgboost" %}


# Defaults chosen on the sample data; tune them for yours (the tuning step searches around them).
HYPERPARAMETERS = (
    Hyperparameter("num_round", int, 1000, 1, 100_000, "most boosting rounds; early stopping keeps the best"),
    Hyperparameter("early_stopping_rounds", int, 50, 1, 10_000, "stop after this many rounds without improvement"),
    Hyperparameter("max_depth", int, 2, 1, 20, "depth of each tree"),
    Hyperparameter("eta", float, 0.03, 0.0001, 1.0, "learning rate"),
    Hyperparameter("subsample", float, 0.8, 0.1, 1.0, "share of rows sampled for each tree"),
    Hyperparameter("colsample_bytree", float, 0.8, 0.1, 1.0, "share of features sampled for each tree"),
    Hyperparameter("min_child_weight", float, 1.0, 0.0, 1000.0, "smallest hessian sum allowed in a leaf"),
    Hyperparameter("reg_lambda", float, 1.0, 0.0, 1000.0, "L2 regularisation of leaf weights"),
    Hyperparameter("reg_alpha", float, 0.0, 0.0, 1000.0, "L1 regularisation of leaf weights"),
    Hyperparameter("seed", int, 42, 0, 2**31 - 1, "random seed"),
)
OBJECTIVES = {"binary_classification": "binary:logistic", "regression": "reg:squarederror"}
EVAL_METRICS = {"binary_classification": "logloss", "regression": "rmse"}


def fit(problem_type: str, hyperparameters: dict[str, Any], x_train, y_train, x_validation, y_validation):
    """Train with early stopping on the validation split; return a TrainedModel."""
    parameters = {
        "objective": OBJECTIVES[problem_type],
        "eval_metric": EVAL_METRICS[problem_type],
        "tree_method": "hist",
        "max_depth": hyperparameters["max_depth"],
        "eta": hyperparameters["eta"],
        "subsample": hyperparameters["subsample"],
        "colsample_bytree": hyperparameters["colsample_bytree"],
        "min_child_weight": hyperparameters["min_child_weight"],
        "lambda": hyperparameters["reg_lambda"],
        "alpha": hyperparameters["reg_alpha"],
        "seed": hyperparameters["seed"],
    }
    train = xgb.DMatrix(_matrix(x_train), label=np.asarray(y_train, dtype=float))
    validation = xgb.DMatrix(_matrix(x_validation), label=np.asarray(y_validation, dtype=float))
    booster = xgb.train(
        parameters,
        train,
        num_boost_round=hyperparameters["num_round"],
        evals=[(validation, "validation")],
        early_stopping_rounds=hyperparameters["early_stopping_rounds"],
        verbose_eval=False,
    )
    best = booster.best_iteration + 1
    # Keep only the rounds early stopping chose, so every later reader predicts with the same model.
    return TrainedModel(model=booster[:best], best_iteration=best)


def predict(model: xgb.Booster, features) -> np.ndarray:
    """Scores of processed `features` (probability of class 1, or the predicted value)."""
    return model.predict(xgb.DMatrix(_matrix(features)))


def save(model: xgb.Booster, directory: Path) -> Path:
    """Write the model into `directory`; return the file."""
    path = Path(directory) / MODEL_FILENAME
    model.save_model(str(path))
    return path


def load(directory: Path) -> xgb.Booster:
    """Read the model written by `save`."""
    return xgb.Booster(model_file=str(Path(directory) / MODEL_FILENAME))
{%- else %}


# Defaults chosen on the sample data; tune them for yours (the tuning step searches around them).
HYPERPARAMETERS = (
    Hyperparameter("max_iter", int, 500, 1, 100_000, "most boosting iterations; the validation loss picks the best"),
    Hyperparameter("learning_rate", float, 0.03, 0.0001, 1.0, "shrinkage of each tree"),
    Hyperparameter("max_depth", int, 2, 1, 20, "depth of each tree"),
    Hyperparameter("max_leaf_nodes", int, 4, 2, 1024, "leaves of each tree"),
    Hyperparameter("min_samples_leaf", int, 10, 1, 100_000, "fewest training rows in a leaf"),
    Hyperparameter("l2_regularization", float, 1.0, 0.0, 1000.0, "L2 regularisation of leaf values"),
    Hyperparameter("seed", int, 42, 0, 2**31 - 1, "random seed"),
)


def fit(problem_type: str, hyperparameters: dict[str, Any], x_train, y_train, x_validation, y_validation):
    """Train, choose the iteration count with the lowest validation loss, refit with it; return a TrainedModel.

    scikit-learn 1.4 (the SageMaker image) cannot early-stop on a given validation set, so the staged
    predictions of one long fit pick the best count. Without row subsampling, boosting is deterministic:
    the refit reproduces exactly the first trees of the long fit.
    """
    x, y = _matrix(x_train), np.asarray(y_train)
    longest = _estimator(problem_type, hyperparameters, hyperparameters["max_iter"]).fit(x, y)
    best = _best_iteration(longest, problem_type, _matrix(x_validation), np.asarray(y_validation, dtype=float))
    return TrainedModel(model=_estimator(problem_type, hyperparameters, best).fit(x, y), best_iteration=best)


def predict(model, features) -> np.ndarray:
    """Scores of processed `features` (probability of class 1, or the predicted value)."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(_matrix(features))[:, 1]
    return model.predict(_matrix(features))


def save(model, directory: Path) -> Path:
    """Write the model into `directory`; return the file."""
    path = Path(directory) / MODEL_FILENAME
    joblib.dump(model, path)
    return path


def load(directory: Path):
    """Read the model written by `save`. joblib files are pickles: only load bundles from your own bucket."""
    return joblib.load(Path(directory) / MODEL_FILENAME)


def _estimator(problem_type: str, hyperparameters: dict[str, Any], iterations: int):
    estimator = (
        HistGradientBoostingClassifier if problem_type == "binary_classification" else HistGradientBoostingRegressor
    )
    return estimator(
        max_iter=iterations,
        learning_rate=hyperparameters["learning_rate"],
        max_depth=hyperparameters["max_depth"],
        max_leaf_nodes=hyperparameters["max_leaf_nodes"],
        min_samples_leaf=hyperparameters["min_samples_leaf"],
        l2_regularization=hyperparameters["l2_regularization"],
        early_stopping=False,
        random_state=hyperparameters["seed"],
    )


def _best_iteration(estimator, problem_type: str, x_validation: np.ndarray, y_validation: np.ndarray) -> int:
    if problem_type == "binary_classification":
        losses = [_log_loss(y_validation, stage[:, 1]) for stage in estimator.staged_predict_proba(x_validation)]
    else:
        losses = [float(np.mean((stage - y_validation) ** 2)) for stage in estimator.staged_predict(x_validation)]
    return int(np.argmin(losses)) + 1


def _log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    clipped = np.clip(probabilities, 1e-15, 1 - 1e-15)
    return float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped)))
{%- endif %}


def default_hyperparameters() -> dict[str, Any]:
    """Every hyperparameter at its default value."""
    return {parameter.name: parameter.default for parameter in HYPERPARAMETERS}


def _matrix(features) -> np.ndarray:
    # Plain float arrays: column order is fixed by the preprocessor, names would only add checks to fail.
    return np.asarray(features, dtype=float)
