"""Conditions of a ConditionStep: comparisons, In, Not and Or; the step ANDs its list.

Values compare as JSON values: numbers by value (a numeric string, as a property file may
hold, is read as a number when the other side is a number), strings and booleans exactly.
Ordering a string against a number, or anything against a boolean, is an error rather than
a silent False, so a mis-wired threshold is caught instead of quietly choosing a branch.
Every operand is evaluated, even when an earlier one already decides the outcome, so a broken
reference anywhere in the conditions fails the step on every run.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from .errors import ExpressionError

Resolve = Callable[[Any], Any]

ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
}
TYPES = ("Equals", *ORDERINGS, "In", "Not", "Or")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(value: object) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _numbers(left: object, right: object) -> tuple[float, float] | None:
    """Both sides as numbers when at least one is a number and the other reads as one."""
    if not (_is_number(left) or _is_number(right)):
        return None
    pair = (_as_number(left), _as_number(right))
    return None if None in pair else pair


def equals(left: object, right: object) -> bool:
    """SageMaker's Equals on resolved values."""
    numbers = _numbers(left, right)
    if numbers is not None:
        return numbers[0] == numbers[1]
    return type(left) is type(right) and left == right


def ordered(kind: str, left: object, right: object) -> bool:
    """GreaterThan, GreaterThanOrEqualTo, LessThan, LessThanOrEqualTo on resolved values."""
    numbers = _numbers(left, right)
    if numbers is not None:
        return ORDERINGS[kind](*numbers)
    if isinstance(left, str) and isinstance(right, str):
        return ORDERINGS[kind](left, right)
    raise ExpressionError(
        f"{kind} cannot compare {left!r} ({type(left).__name__}) with {right!r} ({type(right).__name__})"
    )


def _require(condition: dict, *keys: str) -> None:
    missing = [key for key in keys if key not in condition]
    if missing:
        raise ExpressionError(f"condition {condition.get('Type')} is missing {', '.join(missing)}")


def evaluate(condition: object, resolve: Resolve) -> bool:
    """Evaluate one condition of a ConditionStep's `Conditions` list."""
    if not isinstance(condition, dict) or "Type" not in condition:
        raise ExpressionError(f"a condition needs a 'Type', not {condition!r}")
    kind = condition["Type"]
    if kind == "Equals" or kind in ORDERINGS:
        _require(condition, "LeftValue", "RightValue")
        left, right = resolve(condition["LeftValue"]), resolve(condition["RightValue"])
        return equals(left, right) if kind == "Equals" else ordered(kind, left, right)
    if kind == "In":
        _require(condition, "QueryValue", "Values")
        value = resolve(condition["QueryValue"])
        return any([equals(value, resolve(candidate)) for candidate in condition["Values"]])
    if kind == "Not":
        _require(condition, "Condition")
        return not evaluate(condition["Condition"], resolve)
    if kind == "Or":
        _require(condition, "Conditions")
        return any([evaluate(child, resolve) for child in condition["Conditions"]])
    raise ExpressionError(f"unsupported condition type {kind!r}: supported are {', '.join(TYPES)}")


def evaluate_all(conditions: object, resolve: Resolve) -> bool:
    """A ConditionStep is true when every condition of its list is (an implicit And)."""
    if not isinstance(conditions, list):
        raise ExpressionError(f"'Conditions' must be a list, not {conditions!r}")
    return all([evaluate(condition, resolve) for condition in conditions])
