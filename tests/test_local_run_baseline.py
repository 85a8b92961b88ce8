"""Data-quality baselines in Model Monitor's formats, and the drift check against them."""

import random

import pytest

from tests.local_run_fixtures.support import baseline


def table(count=200, seed=0, shift=0.0, missing_every=0):
    rng = random.Random(seed)
    return {
        "age": [str(rng.randint(20, 80)) for _ in range(count)],
        "bmi": [
            "" if missing_every and index % missing_every == 0 else f"{rng.gauss(26 + shift, 4):.3f}"
            for index in range(count)
        ],
        "sex": [rng.choice(["F", "M"]) for _ in range(count)],
        "empty": ["" for _ in range(count)],
    }


def test_statistics_have_model_monitors_structure_and_values():
    columns = {"x": ["1", "2", "3", ""], "y": ["0.5", "1.5", "-2", "4"], "s": ["a", "b", "a", "a"]}
    statistics = baseline.statistics(columns)
    assert set(statistics) == {"version", "dataset", "features"}
    assert statistics["dataset"] == {"item_count": 4.0}
    features = {feature["name"]: feature for feature in statistics["features"]}
    assert [features[name]["inferred_type"] for name in "xys"] == ["Integral", "Fractional", "String"]
    x = features["x"]["numerical_statistics"]
    assert x["common"] == {"num_present": 3, "num_missing": 1}
    assert (x["mean"], x["sum"], x["min"], x["max"]) == (2.0, 6.0, 1.0, 3.0)
    assert x["std_dev"] == pytest.approx((2 / 3) ** 0.5)
    kll = x["distribution"]["kll"]
    assert sum(bucket["count"] for bucket in kll["buckets"]) == 3
    assert kll["sketch"]["data"] == [[1.0, 2.0, 3.0]]
    strings = features["s"]["string_statistics"]
    assert strings["distinct_count"] == 2
    assert strings["distribution"]["categorical"]["buckets"] == [
        {"value": "a", "count": 3.0},
        {"value": "b", "count": 1.0},
    ]


def test_every_value_missing_is_unknown():
    features = baseline.statistics(table())["features"]
    assert [feature["inferred_type"] for feature in features if feature["name"] == "empty"] == ["Unknown"]


def test_constraints_suggested_from_statistics():
    constraints = baseline.constraints(baseline.statistics(table(missing_every=10)))
    assert set(constraints) == {"version", "features", "monitoring_config"}
    features = {feature["name"]: feature for feature in constraints["features"]}
    assert features["age"]["num_constraints"] == {"is_non_negative": True}
    assert features["bmi"]["completeness"] == pytest.approx(0.9)
    assert features["sex"]["string_constraints"] == {"domains": ["F", "M"]}
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"


def test_headerless_csv_columns_are_numbered(tmp_path):
    (tmp_path / "a.csv").write_text("1,x\n2,y\n")
    assert baseline.read_csv([tmp_path / "a.csv"], header=False) == {"_c0": ["1", "2"], "_c1": ["x", "y"]}
    (tmp_path / "b.csv").write_text("n,s\n3,z\n")
    assert baseline.read_csv([tmp_path / "b.csv"], header=True) == {"n": ["3"], "s": ["z"]}


def check(current, reference):
    statistics = baseline.statistics(reference)
    return baseline.violations(current, baseline.constraints(statistics), statistics)["violations"]


def kinds(violations):
    return sorted((violation["feature_name"], violation["constraint_check_type"]) for violation in violations)


def test_data_like_the_baseline_passes():
    assert check(table(seed=1), table(seed=0)) == []


def test_missing_extra_and_retyped_columns_are_violations():
    current = table(seed=1)
    current.pop("sex")
    current["height"] = ["170"] * 200
    current["age"] = ["old"] * 200
    assert kinds(check(current, table())) == [
        ("age", "data_type_check"),
        ("height", "extra_column_check"),
        ("sex", "missing_column_check"),
    ]


def test_incomplete_and_out_of_domain_values_are_violations():
    current = table(seed=1, missing_every=2)
    current["sex"] = ["X"] * 200
    found = kinds(check(current, table()))
    assert ("bmi", "completeness_check") in found
    assert ("sex", "categorical_values_check") in found


def test_a_shifted_distribution_is_drift():
    found = check(table(seed=1, shift=6.0), table(seed=0))
    assert kinds(found) == [("bmi", "baseline_drift_check")]
    assert "exceeds 0.1" in found[0]["description"]
