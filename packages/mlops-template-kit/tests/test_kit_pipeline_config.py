"""Loading input.json: the repository's schema first, each refusal one line naming the field and
what is allowed; then the pipeline module's own `check_config`."""

from __future__ import annotations

import json

import pytest
from conftest import PIPELINE_CONFIG

from mlops_template_kit.pipeline import config, repo

SCHEMA_REFUSALS = {
    "missing field": ({"low": 1, "high": 2}, "input.json: message is missing"),
    "wrong type": ({**PIPELINE_CONFIG, "low": "one"}, "input.json: low must be a number"),
    "empty string": ({**PIPELINE_CONFIG, "message": ""}, "input.json: message must not be empty"),
    "not in the list": ({**PIPELINE_CONFIG, "level": "loud"}, "input.json: level must be one of debug, info"),
    "pattern with its description": (
        {**PIPELINE_CONFIG, "code": "abc"},
        "input.json: code: 'abc' is not allowed (expected upper-case letters)",
    ),
    "unknown field": ({**PIPELINE_CONFIG, "extra": 1}, "input.json: the file has an unknown field; allowed are"),
    "not an object": ([], "input.json: the file must be an object"),
}


@pytest.mark.parametrize("case", list(SCHEMA_REFUSALS), ids=list(SCHEMA_REFUSALS))
def test_the_schema_refuses_in_one_line_naming_the_field(case, build_train_repo, tmp_path):
    document, expected = SCHEMA_REFUSALS[case]
    path = tmp_path / "input.json"
    path.write_text(json.dumps(document))
    with pytest.raises(config.ConfigError) as refused:
        config.load(build_train_repo, repo.load(build_train_repo), path)
    assert str(refused.value).startswith(expected) and "\n" not in str(refused.value)


def test_the_modules_check_config_runs_after_the_schema(build_train_repo, tmp_path):
    path = tmp_path / "input.json"
    path.write_text(json.dumps({**PIPELINE_CONFIG, "low": 3}))
    with pytest.raises(config.ConfigError, match="input.json: low must be below high"):
        config.load(build_train_repo, repo.load(build_train_repo), path)
    # Without a module (or one without check_config) only the schema applies.
    assert config.load(build_train_repo, None, path)["low"] == 3


def test_a_good_config_is_returned_as_read(build_train_repo):
    assert config.load(build_train_repo, repo.load(build_train_repo)) == PIPELINE_CONFIG


@pytest.mark.parametrize("broken", ["input.json", "input.schema.json"])
def test_an_unreadable_config_or_schema_is_one_line(broken, build_train_repo):
    (build_train_repo / "ml_pipelines" / "training" / broken).write_text("{not json")
    with pytest.raises(config.ConfigError, match=f"^{broken}: cannot read it as JSON"):
        config.load(build_train_repo)


def test_a_property_name_is_reported_as_the_name():
    schema = {"type": "object", "propertyNames": {"enum": ["auc", "f1"]}}
    with pytest.raises(config.ConfigError, match="input.json: the file: name 'rmse' must be one of auc, f1"):
        config.check({"rmse": 1}, schema)


@pytest.mark.parametrize(
    "schema, value, expected",
    [
        ({"minimum": 1}, 0, "x must be >= 1"),
        ({"exclusiveMinimum": 0}, 0, "x must be > 0"),
        ({"maximum": 1}, 2, "x must be <= 1"),
        ({"exclusiveMaximum": 1}, 1, "x must be < 1"),
        ({"const": "a"}, "b", "x must be 'a'"),
        ({"maxLength": 2}, "abc", "x is longer than 2 characters"),
        ({"minItems": 1}, [], "x must not be empty"),
        ({"maxProperties": 1}, {"a": 1, "b": 2}, "x must hold at most 1 entry"),
        ({"type": ["number", "string"]}, True, "x must be a number or a string"),
        ({"type": "integer"}, 1.0, "x must be a whole number"),
        ({"type": "integer"}, True, "x must be a whole number"),
        ({"not": {"const": 1}}, 1, "x: 1 is not allowed"),
    ],
)
def test_each_schema_keyword_says_what_is_allowed(schema, value, expected):
    with pytest.raises(config.ConfigError) as refused:
        config.check({"x": value}, {"type": "object", "properties": {"x": schema}})
    assert str(refused.value) == f"input.json: {expected}"
