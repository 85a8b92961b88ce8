"""Loading a build-train repository's `input.json`: JSON Schema first, then the team's own rules.

The repository owns both the file and its schema (`ml_pipelines/training/input.schema.json`,
JSON Schema draft 2020-12). A config the schema refuses is reported as one line naming the field
and what is allowed; then the pipeline module's optional `check_config(config)` checks what a
schema cannot say (a tuning range naming a listed hyperparameter, min < max, ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

CONFIG = Path("ml_pipelines") / "training" / "input.json"
SCHEMA = Path("ml_pipelines") / "training" / "input.schema.json"
JSON_TYPES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
}


class ConfigError(ValueError):
    """input.json is malformed; the message names the field and what is allowed."""


def load(repo: Path, module: ModuleType | None = None, path: Path | None = None) -> dict[str, Any]:
    """Read `input.json` (or `path`), check it against the repository's schema and the module's
    `check_config`; raise ConfigError naming the first problem."""
    config = read_json(path or repo / CONFIG)
    check(config, read_json(repo / SCHEMA), module)
    return config


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path.name}: cannot read it as JSON ({error})") from None


def check(config: Any, schema: Mapping[str, Any], module: ModuleType | None = None) -> None:
    """Raise ConfigError on the first problem: the schema's, then the module's `check_config`."""
    import jsonschema

    # JSON Schema counts 1.0 as an integer; the SDK would then write a count or a seed as 1.0, so
    # a whole number must be written as one.
    whole = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=whole)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(f"input.json: {describe(error)}")
    check_config = getattr(module, "check_config", None)
    if check_config is not None:
        check_config(config)


# Schema keyword -> what the field must be, given the keyword's value in the schema.
ALLOWED: dict[str, Callable[[Any], str]] = {
    "type": lambda kinds: "must be " + " or ".join(JSON_TYPES.get(kind, kind) for kind in _listed(kinds)),
    "enum": lambda values: "must be one of " + ", ".join(map(str, values)),
    "const": lambda value: f"must be {value!r}",
    "minimum": lambda value: f"must be >= {value}",
    "exclusiveMinimum": lambda value: f"must be > {value}",
    "maximum": lambda value: f"must be <= {value}",
    "exclusiveMaximum": lambda value: f"must be < {value}",
    "minItems": lambda _: "must not be empty",
    "minProperties": lambda _: "must not be empty",
    "minLength": lambda _: "must not be empty",
    "maxLength": lambda value: f"is longer than {value} characters",
    "maxProperties": lambda value: f"must hold at most {value} entr{'y' if value == 1 else 'ies'}",
}


def describe(error: Any) -> str:
    """One schema error as '<field path> <what is allowed>', e.g. 'thresholds.auc.min must be a number'."""
    where = ".".join(str(part) for part in error.absolute_path)
    field = where or "the file"
    # A property name (e.g. a metric under thresholds) is reported as the name, not its value.
    named = "propertyNames" in error.absolute_schema_path
    if named:
        field = f"{field}: name {error.instance!r}"
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in error.instance)
        return f"{where + '.' if where else ''}{missing} is missing"
    if error.validator == "additionalProperties":
        allowed = ", ".join(error.schema.get("properties", {}))
        return f"{field} has an unknown field{f'; allowed are {allowed}' if allowed else ''}"
    if error.validator in ALLOWED:
        return f"{field} {ALLOWED[error.validator](error.validator_value)}"
    # pattern, not, ...: the schema's description says what is allowed.
    hint = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    subject = field if named else f"{field}: {error.instance!r}"
    return f"{subject} is not allowed{f' (expected {hint})' if hint else ''}"


def _listed(kinds: str | list[str]) -> list[str]:
    return [kinds] if isinstance(kinds, str) else kinds
