"""Feature preprocessing: one-hot encoding of categorical columns and standard scaling of numeric ones.

It is fitted on the training split only (statistics of validation or test rows must not leak into
the model) and stored as plain JSON rather than a pickle: every container, whatever its library
versions, can read it, a reviewer can diff it, and loading it cannot execute code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared_libraries.data_io import read_json, write_json
from shared_libraries.errors import InputError

FORMAT_VERSION = 1
FILENAME = "preprocessor.json"
PROBLEM_TYPES = ("binary_classification", "regression")


@dataclass(frozen=True)
class Preprocessor:
    """Fitted preprocessing: turns raw records into the numeric features the model was trained on."""

    target_column: str
    id_column: str | None
    raw_feature_columns: list[str]
    categorical_columns: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        target_column: str,
        id_column: str | None = None,
        categorical_columns: Sequence[str] = (),
    ) -> Preprocessor:
        """Learn categories, means and scales from `frame` (the training split)."""
        require_columns(frame, [target_column], "target column")
        if id_column:
            require_columns(frame, [id_column], "id column")
        require_columns(frame, categorical_columns, "categorical column")
        raw = [column for column in frame.columns if column not in (target_column, id_column)]
        if not raw:
            raise InputError(f"no feature columns: the data only holds {list(frame.columns)}")
        categorical = [column for column in raw if column in set(categorical_columns)]
        numeric = [column for column in raw if column not in set(categorical)]
        preprocessor = cls(
            target_column=target_column,
            id_column=id_column or None,
            raw_feature_columns=raw,
            categorical_columns=categorical,
            categories={column: sorted(set(_labels(frame[column]).dropna())) for column in categorical},
            means={column: _mean(frame, column) for column in numeric},
            scales={column: _scale(frame, column) for column in numeric},
        )
        _check_unique(preprocessor.feature_columns)
        return preprocessor

    @property
    def numeric_columns(self) -> list[str]:
        return [column for column in self.raw_feature_columns if column not in self.categorical_columns]

    @property
    def feature_columns(self) -> list[str]:
        """Names of the processed features, in model input order (one-hot columns where the raw column was)."""
        names: list[str] = []
        for column in self.raw_feature_columns:
            if column in self.categories:
                names.extend(one_hot_name(column, value) for value in self.categories[column])
            else:
                names.append(column)
        return names

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Processed features of raw records; other columns (id, target, extras) are ignored.

        Missing numeric values take the training mean; unseen or missing categories encode as all zeros.
        """
        require_columns(frame, self.raw_feature_columns, "feature column")
        parts: dict[str, pd.Series] = {}
        for column in self.raw_feature_columns:
            if column in self.categories:
                labels = _labels(frame[column])
                for value in self.categories[column]:
                    parts[one_hot_name(column, value)] = (labels == value).astype(float)
            else:
                values = numeric_values(frame, column).fillna(self.means[column])
                parts[column] = (values - self.means[column]) / self.scales[column]
        return pd.DataFrame(parts, index=frame.index)[self.feature_columns]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, including the derived feature names for readers of the file."""
        return {
            "format_version": FORMAT_VERSION,
            "target_column": self.target_column,
            "id_column": self.id_column,
            "raw_feature_columns": self.raw_feature_columns,
            "categorical_columns": self.categorical_columns,
            "numeric_columns": self.numeric_columns,
            "feature_columns": self.feature_columns,
            "one_hot": {"categories": self.categories},
            "standard_scaler": {"means": self.means, "scales": self.scales},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        """The preprocessor described by `to_dict()` output."""
        if data.get("format_version") != FORMAT_VERSION:
            raise InputError(f"preprocessor format_version {data.get('format_version')!r} is not {FORMAT_VERSION}")
        try:
            return cls(
                target_column=data["target_column"],
                id_column=data["id_column"],
                raw_feature_columns=list(data["raw_feature_columns"]),
                categorical_columns=list(data["categorical_columns"]),
                categories={key: list(values) for key, values in data["one_hot"]["categories"].items()},
                means={key: float(value) for key, value in data["standard_scaler"]["means"].items()},
                scales={key: float(value) for key, value in data["standard_scaler"]["scales"].items()},
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise InputError(f"preprocessor description lacks or mangles {error}") from None

    def save(self, directory: Path) -> Path:
        """Write `preprocessor.json` into `directory`."""
        return write_json(self.to_dict(), Path(directory) / FILENAME)

    @classmethod
    def load(cls, directory: Path) -> Preprocessor:
        """Read `preprocessor.json` from `directory`."""
        return cls.from_dict(read_json(Path(directory) / FILENAME, "preprocessor file"))


def one_hot_name(column: str, value: str) -> str:
    """Name of the indicator feature of `value` in categorical `column`."""
    return f"{column}_{value}"


def require_columns(frame: pd.DataFrame, columns: Iterable[str], kind: str, where: str = "the data") -> None:
    """An InputError listing what is missing and what `where` holds, unless `frame` has every column."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        names = ", ".join(repr(column) for column in missing)
        plural = "s" if len(missing) > 1 else ""
        raise InputError(f"unknown {kind}{plural} {names}: {where} has columns {list(frame.columns)}")


def numeric_values(frame: pd.DataFrame, column: str) -> pd.Series:
    """`frame[column]` as floats; an InputError naming an offending value if some are not numbers."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = frame[column][values.isna() & frame[column].notna()]
    if not bad.empty:
        raise InputError(
            f"column {column!r} holds non-numeric values such as {bad.iloc[0]!r}: "
            "declare it as a categorical column or fix the data"
        )
    return values.astype(float)


def validate_target(values: pd.Series, problem_type: str) -> pd.Series:
    """Labels checked for `problem_type`: 0/1 integers for binary classification, floats for regression."""
    if problem_type not in PROBLEM_TYPES:
        raise InputError(f"problem type {problem_type!r} is not one of {', '.join(PROBLEM_TYPES)}")
    missing = int(values.isna().sum())
    if missing:
        raise InputError(f"target column {values.name!r} has {missing} missing value(s): label or drop those rows")
    numbers = numeric_values(values.to_frame(), str(values.name))
    if problem_type == "regression":
        return numbers
    unexpected = sorted(set(numbers.unique()) - {0.0, 1.0})
    if unexpected:
        shown = ", ".join(f"{value:g}" for value in unexpected[:5])
        raise InputError(f"target column {values.name!r} must hold 0 or 1 for binary classification, found {shown}")
    return numbers.astype(int)


def _labels(values: pd.Series) -> pd.Series:
    """Category labels as strings; 2.0 and 2 read from different files become the same label '2'."""

    def as_label(value: Any) -> str | None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        return str(value)

    return values.map(as_label).astype(object)


def _mean(frame: pd.DataFrame, column: str) -> float:
    values = numeric_values(frame, column)
    if values.isna().all():
        raise InputError(f"numeric column {column!r} has no values in the training split")
    return float(values.mean())


def _scale(frame: pd.DataFrame, column: str) -> float:
    # Population standard deviation, as StandardScaler uses; a constant column keeps scale 1.
    deviation = float(numeric_values(frame, column).std(ddof=0))
    return deviation if deviation > 0 and math.isfinite(deviation) else 1.0


def _check_unique(names: list[str]) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(f"one-hot encoding produces feature names that clash with other columns: {duplicates}")
