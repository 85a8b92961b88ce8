"""The deploy repo's sample model (mlops_template_kit.local_endpoint.sample_bundle) is tested with
the same records build-train's sample data set has (algorithms/shared_libraries/sample_data.py),
so a model a build-train bake registers can be served and tested by the deploy repo's local
endpoint. Both build the records themselves: the kit cannot import a team's algorithms/ (a deploy
repo has none), and the team's module cannot import the kit (training containers and Studio
notebook kernels do not install it); this test keeps the two equal instead."""

import importlib.util

import pytest

from mlops_template_kit.local_endpoint import sample_bundle
from tests import bakery


def build_train_sample_data():
    path = bakery.payload_dir("build-train") / "algorithms" / "shared_libraries" / "sample_data.py"
    spec = importlib.util.spec_from_file_location("build_train_sample_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("problem_type", ["binary_classification", "regression"])
def test_the_kit_sample_records_are_build_trains_sample_data(problem_type):
    expected = build_train_sample_data().load_sample_frame(problem_type)
    found = sample_bundle.sample_records(problem_type)
    assert list(found.columns) == list(expected.columns)
    assert found.equals(expected)


def test_a_changed_record_is_told_apart():
    expected = build_train_sample_data().load_sample_frame("regression")
    found = sample_bundle.sample_records("regression")
    found.loc[0, "bmi"] += 1
    assert not found.equals(expected)


def test_a_name_given_to_the_wrong_column_is_told_apart(monkeypatch):
    """The kit names scikit-learn's s1-s6 by their order: two names swapped keep every column name
    and move the values, and the frames differ."""
    names = list(sample_bundle.SERUM_NAMES)
    first, second = names.index("ldl"), names.index("hdl")
    names[first], names[second] = names[second], names[first]
    monkeypatch.setattr(sample_bundle, "SERUM_NAMES", tuple(names))
    found = sample_bundle.sample_records("regression")
    assert sorted(found.columns) == sorted(build_train_sample_data().load_sample_frame("regression").columns)
    assert not found.equals(build_train_sample_data().load_sample_frame("regression"))
