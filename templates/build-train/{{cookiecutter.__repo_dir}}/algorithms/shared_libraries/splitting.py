"""Random train/validation/test split, stratified on the label for classification."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from shared_libraries.errors import InputError


class Splits(NamedTuple):
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def check_fractions(validation_fraction: float, test_fraction: float) -> None:
    """An InputError unless both fractions are in (0, 1) and leave rows for training."""
    for name, value in (("validation", validation_fraction), ("test", test_fraction)):
        if not 0 < value < 1:
            raise InputError(f"{name} fraction must be between 0 and 1 (exclusive), not {value}")
    if validation_fraction + test_fraction >= 1:
        raise InputError(
            f"validation fraction {validation_fraction} + test fraction {test_fraction} leave no rows for training"
        )


def split_frame(
    frame: pd.DataFrame,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: pd.Series | None = None,
) -> Splits:
    """Split `frame`; with `stratify` (the labels) every split keeps each label's share.

    Rows keep their original order inside each split, so the output is easy to compare across runs.
    """
    check_fractions(validation_fraction, test_fraction)
    groups = [frame.index] if stratify is None else [group.index for _, group in stratify.groupby(stratify)]
    rng = np.random.default_rng(seed)
    assigned: dict[str, list] = {"train": [], "validation": [], "test": []}
    for index in groups:
        shuffled = rng.permutation(np.asarray(index))
        n_test = round(len(shuffled) * test_fraction)
        n_validation = round(len(shuffled) * validation_fraction)
        assigned["test"].extend(shuffled[:n_test])
        assigned["validation"].extend(shuffled[n_test : n_test + n_validation])
        assigned["train"].extend(shuffled[n_test + n_validation :])
    splits = Splits(**{name: frame.loc[sorted(rows)] for name, rows in assigned.items()})
    _check_not_empty(splits, len(frame))
    if stratify is not None:
        _check_every_label_everywhere(splits, stratify)
    return splits


def _check_not_empty(splits: Splits, rows: int) -> None:
    for name, part in splits._asdict().items():
        if part.empty:
            raise InputError(f"the {name} split is empty: {rows} rows are too few for the requested fractions")


def _check_every_label_everywhere(splits: Splits, labels: pd.Series) -> None:
    # A split without one of the classes makes AUC undefined and early stopping meaningless.
    expected = set(labels.unique())
    for name, part in splits._asdict().items():
        missing = expected - set(labels.loc[part.index].unique())
        if missing:
            shown = ", ".join(str(value) for value in sorted(missing))
            raise InputError(f"the {name} split has no row labelled {shown}: add data or raise the {name} fraction")
