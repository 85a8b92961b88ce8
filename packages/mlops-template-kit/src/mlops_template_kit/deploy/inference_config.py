"""Load and validate `inference_config/<stage>/inference_config.json` (schema + cross-field rules).

A bad file stops the build with one line naming the file and the field, before anything is
rendered or deployed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from mlops_template_kit import naming
from mlops_template_kit.deploy.errors import DeployError

SCHEMA_FILE = "inference_config.schema.json"


def config_path(stage: str, config_dir: Path) -> Path:
    """Where the configuration of a stage lives (`config_dir`: the repository's inference_config/)."""
    return config_dir / stage / "inference_config.json"


def _field(path: list[Any]) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _schema_problem(document: dict[str, Any], config_dir: Path) -> str | None:
    schema = json.loads((config_dir / SCHEMA_FILE).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return None
    return f"{_field(list(error.absolute_path))}: {error.message}"


def _rule_problem(document: dict[str, Any]) -> str | None:
    """Rules JSON Schema cannot express: orderings between fields."""
    realtime = document.get("realtime")
    if realtime:
        scaling = realtime["autoscaling"]
        if scaling["min_capacity"] > scaling["max_capacity"]:
            return "realtime.autoscaling.min_capacity: must not exceed realtime.autoscaling.max_capacity"
        if not scaling["min_capacity"] <= realtime["initial_instance_count"] <= scaling["max_capacity"]:
            return "realtime.initial_instance_count: must lie between the autoscaling min_capacity and max_capacity"
        deployment = realtime["deployment"]
        waits = deployment["wait_interval_seconds"] + deployment.get("termination_wait_seconds", 0)
        if deployment["maximum_execution_timeout_seconds"] <= waits:
            # SageMaker requires the timeout to exceed the wait interval plus the termination wait.
            return (
                "realtime.deployment.maximum_execution_timeout_seconds: must be larger than "
                "wait_interval_seconds + termination_wait_seconds"
            )
    stress = document.get("tests", {}).get("stress")
    if stress and not stress["p50_ms"] <= stress["p95_ms"] <= stress["p99_ms"]:
        return "tests.stress: thresholds must satisfy p50_ms <= p95_ms <= p99_ms"
    return None


def validate(document: Any, stage: str, config_dir: Path) -> None:
    """Raise DeployError naming the first field that is wrong (the schema is config_dir's)."""
    if not isinstance(document, dict):
        raise DeployError("the configuration must be a JSON object")
    problem = _schema_problem(document, config_dir) or _rule_problem(document)
    if problem:
        raise DeployError(problem)
    if document["stage"] != stage:
        raise DeployError(f"stage: {document['stage']!r} does not match the folder it is in ({stage!r})")


def load(stage: str, config_dir: Path) -> dict[str, Any]:
    """The validated configuration of `stage`; DeployError (one line) when it is missing or wrong."""
    if stage not in naming.STAGES:
        raise DeployError(f"stage {stage!r} is not one of {', '.join(naming.STAGES)}")
    path = config_path(stage, config_dir)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(f"{path}: file not found") from None
    except json.JSONDecodeError as problem:
        raise DeployError(f"{path}: not valid JSON ({problem.msg} at line {problem.lineno})") from None
    try:
        validate(document, stage, config_dir)
    except DeployError as problem:
        raise DeployError(f"{path}: {problem}") from None
    return document


def main(config_dir: Path) -> int:
    """Validate every stage's configuration: `mlops-kit check-config`."""
    for stage in naming.STAGES:
        load(stage, config_dir)
        print(f"{config_path(stage, config_dir).relative_to(config_dir.parent)}: valid")
    return 0
