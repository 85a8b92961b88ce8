"""Condition steps' conditions: every comparison, In, Not, Or, the step's implicit And, nesting,
and the operands SageMaker hands them (parameters, property-file values)."""

import pytest

from tests.local_run_fixtures.support import conditions, errors, expressions


def compare(kind, left, right):
    return {"Type": kind, "LeftValue": left, "RightValue": right}


def identity(value):
    return value


def evaluate(condition):
    return conditions.evaluate(condition, identity)


@pytest.mark.parametrize(
    ("kind", "left", "right", "expected"),
    [
        ("Equals", 1, 1.0, True),
        ("Equals", "Approved", "Approved", True),
        ("Equals", "Approved", "approved", False),
        ("Equals", True, True, True),
        ("Equals", True, 1, False),
        ("Equals", "0.5", 0.5, True),
        ("GreaterThan", 0.9, 0.8, True),
        ("GreaterThan", 0.8, 0.8, False),
        ("GreaterThanOrEqualTo", 0.8, 0.8, True),
        ("GreaterThanOrEqualTo", 0.7, 0.8, False),
        ("LessThan", 3, 4.5, True),
        ("LessThan", 4.5, 4.5, False),
        ("LessThanOrEqualTo", 4.5, 4.5, True),
        ("LessThanOrEqualTo", 4.6, 4.5, False),
        ("LessThan", "abc", "abd", True),
        ("GreaterThan", "10", 9, True),
    ],
)
def test_comparisons(kind, left, right, expected):
    assert evaluate(compare(kind, left, right)) is expected


@pytest.mark.parametrize(("left", "right"), [("high", 0.5), (True, 0.5), (None, 1)])
def test_ordering_values_that_do_not_compare_is_an_error_not_false(left, right):
    with pytest.raises(errors.ExpressionError, match="GreaterThan cannot compare"):
        evaluate(compare("GreaterThan", left, right))


def test_in_checks_membership_by_value():
    assert evaluate({"Type": "In", "QueryValue": "ml.m5.large", "Values": ["ml.m5.large", "ml.c5.xlarge"]})
    assert evaluate({"Type": "In", "QueryValue": 2, "Values": [1.0, 2.0]})
    assert not evaluate({"Type": "In", "QueryValue": "ml.p3.2xlarge", "Values": ["ml.m5.large"]})


def test_not_and_or():
    true, false = compare("Equals", 1, 1), compare("Equals", 1, 2)
    assert evaluate({"Type": "Not", "Condition": false})
    assert not evaluate({"Type": "Not", "Condition": true})
    assert evaluate({"Type": "Or", "Conditions": [false, true]})
    assert not evaluate({"Type": "Or", "Conditions": [false, false]})


def test_the_step_ands_its_conditions():
    true, false = compare("Equals", 1, 1), compare("Equals", 1, 2)
    assert conditions.evaluate_all([true, true], identity)
    assert not conditions.evaluate_all([true, false], identity)
    assert conditions.evaluate_all([], identity)


def test_nested_and_or_not():
    # not (a > 1 or b in [x, y]) and (c <= 3 or not d == e)
    nested = [
        {
            "Type": "Not",
            "Condition": {
                "Type": "Or",
                "Conditions": [compare("GreaterThan", 0.5, 1), {"Type": "In", "QueryValue": "z", "Values": ["x", "y"]}],
            },
        },
        {
            "Type": "Or",
            "Conditions": [
                compare("LessThanOrEqualTo", 5, 3),
                {"Type": "Not", "Condition": compare("Equals", "d", "e")},
            ],
        },
    ]
    assert conditions.evaluate_all(nested, identity)
    nested[1]["Conditions"][1]["Condition"] = compare("Equals", "d", "d")
    assert not conditions.evaluate_all(nested, identity)


def test_every_operand_is_evaluated_so_a_broken_reference_always_fails():
    broken = compare("Equals", {"Get": "Parameters.Missing"}, 1)
    scope = expressions.Scope(parameters={}, execution={}, steps={}, read_json=lambda uri: {})
    with pytest.raises(errors.ExpressionError, match="Missing"):
        conditions.evaluate_all([compare("Equals", 1, 2), broken], scope.resolve)


def test_operands_come_from_parameters_and_property_files():
    scope = expressions.Scope(
        parameters={"MinAuc": 0.8},
        execution={},
        steps={"Evaluate": {"PropertyFiles": {"Report": "s3://b/evaluation.json"}}},
        read_json=lambda uri: {"binary_classification_metrics": {"auc": {"value": 0.85}}},
    )
    auc = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"},
            "Path": "binary_classification_metrics.auc.value",
        }
    }
    assert conditions.evaluate(compare("GreaterThanOrEqualTo", auc, {"Get": "Parameters.MinAuc"}), scope.resolve)
    assert not conditions.evaluate(compare("LessThan", auc, {"Get": "Parameters.MinAuc"}), scope.resolve)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"Type": "NotEquals", "LeftValue": 1, "RightValue": 2}, "unsupported condition type 'NotEquals'"),
        ({"Type": "Equals", "LeftValue": 1}, "missing RightValue"),
        ({"Type": "In", "QueryValue": 1}, "missing Values"),
        ({"LeftValue": 1}, "needs a 'Type'"),
    ],
)
def test_malformed_conditions_are_named(condition, message):
    with pytest.raises(errors.ExpressionError, match=message):
        evaluate(condition)
