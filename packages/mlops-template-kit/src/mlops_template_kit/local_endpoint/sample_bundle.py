"""A small but real model bundle, so this repository can serve and test a model on its own.

The data are the build/train repository's sample data (scikit-learn's bundled diabetes data
with an `id` column, readable names, a categorical `sex` and the same labels), so a model the
build/train repository registers can be tested with the same records. The model is a
scikit-learn pipeline (one-hot encoding + scaling + gradient boosting); `code/inference.py` is
`sample_inference.py`. Nothing is downloaded.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ID_COLUMN = "id"
CATEGORICAL_COLUMNS = ["sex"]
TARGET_COLUMNS = {"binary_classification": "high_progression", "regression": "progression"}
HIGH_PROGRESSION_CUT = 140
# scikit-learn names its six blood serum measurements s1-s6; build-train's sample data gives them
# readable names, in this order (its sample_data.py, which owns the naming, maps each one).
# tests/test_sample_data_contract.py fails when the two frames differ in a name or in the values under one.
SERUM_NAMES = ("total_cholesterol", "ldl", "hdl", "cholesterol_hdl_ratio", "log_triglycerides", "glucose")
SEX_LABELS = {1: "F", 2: "M"}
RANDOM_SEED = 42
BOOTSTRAP_ROUNDS = 20


@dataclass(frozen=True)
class SampleBundle:
    """Paths of a built sample: the bundle, its evaluation and labelled raw records to test with."""

    model_data: Path
    evaluation: Path
    test_data: Path


def sample_records(problem_type: str) -> pd.DataFrame:
    """The 442 raw records with an `id` column and the label of `problem_type`."""
    from sklearn.datasets import load_diabetes

    if problem_type not in TARGET_COLUMNS:
        raise ValueError(f"problem_type must be one of {sorted(TARGET_COLUMNS)}, not {problem_type!r}")
    bunch = load_diabetes(as_frame=True, scaled=False)
    frame = bunch.data.rename(columns={f"s{number}": name for number, name in enumerate(SERUM_NAMES, 1)})
    frame["age"] = frame["age"].astype(int)
    frame["sex"] = frame["sex"].astype(int).map(SEX_LABELS)
    progression = bunch.target.astype(int)
    if problem_type == "regression":
        frame["progression"] = progression
    else:
        frame["high_progression"] = (progression > HIGH_PROGRESSION_CUT).astype(int)
    frame.insert(0, ID_COLUMN, range(1, len(frame) + 1))
    return frame


def _pipeline(problem_type: str, numeric: list[str]) -> Pipeline:
    encoder = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_COLUMNS),
            ("numeric", StandardScaler(), numeric),
        ]
    )
    estimator = (
        GradientBoostingClassifier(n_estimators=60, max_depth=2, random_state=RANDOM_SEED)
        if problem_type == "binary_classification"
        else GradientBoostingRegressor(n_estimators=60, max_depth=2, random_state=RANDOM_SEED)
    )
    return Pipeline([("preprocess", encoder), ("model", estimator)])


def _metric_values(problem_type: str, truth: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    if problem_type == "binary_classification":
        labels = (scores >= 0.5).astype(int)
        return {
            "auc": roc_auc_score(truth, scores),
            "f1": f1_score(truth, labels),
            "precision": precision_score(truth, labels, zero_division=0),
            "recall": recall_score(truth, labels),
            "accuracy": accuracy_score(truth, labels),
        }
    return {
        "rmse": float(np.sqrt(np.mean((truth - scores) ** 2))),
        "mae": mean_absolute_error(truth, scores),
        "r2": r2_score(truth, scores),
    }


def evaluation_report(problem_type: str, truth: np.ndarray, scores: np.ndarray) -> dict:
    """Metrics in SageMaker's model-quality form, with bootstrap standard deviations."""
    rng = np.random.default_rng(RANDOM_SEED)
    values = _metric_values(problem_type, truth, scores)
    resamples = []
    for _ in range(BOOTSTRAP_ROUNDS):
        index = rng.integers(0, len(truth), len(truth))
        if len(set(truth[index])) > 1:
            resamples.append(_metric_values(problem_type, truth[index], scores[index]))
    metrics = {
        name: {"value": float(value), "standard_deviation": float(np.std([r[name] for r in resamples]))}
        for name, value in values.items()
    }
    key = "binary_classification_metrics" if problem_type == "binary_classification" else "regression_metrics"
    return {key: metrics}


def _predict_scores(pipeline: Pipeline, problem_type: str, features: pd.DataFrame) -> np.ndarray:
    if problem_type == "binary_classification":
        return pipeline.predict_proba(features)[:, 1]
    return pipeline.predict(features)


def build_sample_bundle(directory: Path, problem_type: str) -> SampleBundle:
    """Train the sample model and write model.tar.gz, evaluation.json and records.csv into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    records = sample_records(problem_type)
    target = TARGET_COLUMNS[problem_type]
    features = [name for name in records.columns if name not in (ID_COLUMN, target)]
    numeric = [name for name in features if name not in CATEGORICAL_COLUMNS]
    stratify = records[target] if problem_type == "binary_classification" else None
    train, test = train_test_split(records, test_size=0.3, random_state=RANDOM_SEED, stratify=stratify)
    pipeline = _pipeline(problem_type, numeric).fit(train[features], train[target])
    scores = _predict_scores(pipeline, problem_type, test[features])
    metadata = {
        "framework": "sklearn",
        "problem_type": problem_type,
        "target_column": target,
        "id_column": ID_COLUMN,
        "raw_feature_columns": features,
        "categorical_columns": CATEGORICAL_COLUMNS,
        "feature_columns": list(pipeline.named_steps["preprocess"].get_feature_names_out()),
        "hyperparameters": {"n_estimators": 60, "max_depth": 2},
    }
    with tempfile.TemporaryDirectory() as staging:
        bundle = Path(staging)
        joblib.dump(pipeline, bundle / "model.joblib")
        (bundle / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
        (bundle / "code").mkdir()
        shutil.copyfile(Path(__file__).with_name("sample_inference.py"), bundle / "code" / "inference.py")
        with tarfile.open(directory / "model.tar.gz", "w:gz") as archive:
            for path in sorted(bundle.rglob("*")):
                archive.add(path, arcname=str(path.relative_to(bundle)), recursive=False)
    report = evaluation_report(problem_type, test[target].to_numpy(), np.asarray(scores))
    (directory / "evaluation.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    test.to_csv(directory / "records.csv", index=False)
    return SampleBundle(directory / "model.tar.gz", directory / "evaluation.json", directory / "records.csv")
