"""Checks of a definition without the SDK: its steps, what each step waits for, the rules of the
pipeline service, and the input shape (from botocore's service model) of the AWS API each step
calls. Unlike `parse`, which stops at the first problem the runner cannot get past, these list
every problem, for tests and for the pipeline module's commands.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from .errors import DefinitionError
from .expressions import get_targets
from .parse import walk

NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")
STEP_REFERENCE = re.compile(r"^Steps\.([A-Za-z0-9\-_]+)\.")
PARAMETER_REFERENCE = re.compile(r"^Parameters\.(.+)$")
PARAMETER_TYPES = {"String": str, "Integer": int, "Float": (int, float), "Boolean": bool}

# The API each step type calls with its Arguments, and the name the service fills in at run time.
STEP_APIS = {
    "Processing": ("CreateProcessingJob", "ProcessingJobName"),
    "QualityCheck": ("CreateProcessingJob", "ProcessingJobName"),
    "ClarifyCheck": ("CreateProcessingJob", "ProcessingJobName"),
    "Training": ("CreateTrainingJob", "TrainingJobName"),
    "Tuning": ("CreateHyperParameterTuningJob", "HyperParameterTuningJobName"),
    "Transform": ("CreateTransformJob", "TransformJobName"),
    "Model": ("CreateModel", "ModelName"),
    "RegisterModel": ("CreateModelPackage", None),
}
RUNTIME_NAME = "placeholder-name"
CONDITION_TYPES = {"Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo", "In", "Not", "Or"}


# --------------------------------------------------------------------------- structure


def iter_steps(definition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every step, including those inside condition branches, in document order."""
    return (step for step, _gate in walk(definition.get("Steps", []), None))


def dependencies(definition: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """For each step, the steps it waits for and why: `data`, `depends on`, `if` or `else`.

    A step waits for every step whose properties its arguments read, for the steps in its
    DependsOn, and for the condition step whose branch holds it. Lists follow document order.
    """
    order = {step["Name"]: index for index, step in enumerate(iter_steps(definition))}
    waits: dict[str, list[tuple[str, str]]] = {}
    for step in iter_steps(definition):
        arguments = step.get("Arguments", {})
        if step.get("Type") == "Condition":
            arguments = {"Conditions": arguments.get("Conditions", [])}
        own = {key: value for key, value in step.items() if key not in ("Name", "Arguments")}
        read = {match.group(1) for target in get_targets([arguments, own]) if (match := STEP_REFERENCE.match(target))}
        read.discard(step["Name"])
        edges = [(name, "data") for name in sorted(read, key=lambda name: (order.get(name, len(order)), name))]
        edges += [(name, "depends on") for name in step.get("DependsOn", [])]
        waits[step["Name"]] = edges
    for step in iter_steps(definition):
        if step.get("Type") == "Condition":
            for branch, key in (("if", "IfSteps"), ("else", "ElseSteps")):
                for child in step["Arguments"].get(key, []):
                    waits[child["Name"]].append((step["Name"], branch))
    return waits


# --------------------------------------------------------------------------- checks


def problems(definition: Mapping[str, Any]) -> list[str]:
    """Every rule the definition breaks, one line each; empty when it is sound."""
    found = check_names(definition) + check_parameters(definition) + check_references(definition)
    for step in iter_steps(definition):
        found += check_step_arguments(step, definition)
    return found


def check(definition: Mapping[str, Any]) -> None:
    """Raise DefinitionError listing every problem, or return when there is none."""
    found = problems(definition)
    if found:
        raise DefinitionError("; ".join(found))


def check_names(definition: Mapping[str, Any]) -> list[str]:
    """Step and parameter names are unique and match `^[A-Za-z0-9\\-_]{1,64}$`."""
    found = []
    for kind, names in (
        ("step", [step.get("Name", "") for step in iter_steps(definition)]),
        ("parameter", [parameter.get("Name", "") for parameter in definition.get("Parameters", [])]),
    ):
        for name in names:
            if not NAME.fullmatch(name):
                found.append(f"{kind} name {name!r} does not match {NAME.pattern}")
        for name in sorted({name for name in names if names.count(name) > 1}):
            found.append(f"{kind} name {name!r} is used more than once")
    return found


def check_parameters(definition: Mapping[str, Any]) -> list[str]:
    """Every referenced parameter is declared, every declared one is used, defaults fit their type."""
    found = []
    declared = {}
    for parameter in definition.get("Parameters", []):
        name, kind = parameter.get("Name"), parameter.get("Type")
        declared[name] = kind
        if kind not in PARAMETER_TYPES:
            found.append(f"parameter {name!r} has type {kind!r}; allowed: {', '.join(PARAMETER_TYPES)}")
        elif "DefaultValue" in parameter and not _fits(parameter["DefaultValue"], kind):
            found.append(f"parameter {name!r} default {parameter['DefaultValue']!r} does not fit its type {kind}")
    used = set()
    for target in get_targets(definition.get("Steps", [])):
        match = PARAMETER_REFERENCE.match(target)
        if match:
            used.add(match.group(1))
    for name in sorted(used - set(declared)):
        found.append(f"parameter {name!r} is referenced but not declared")
    for name in sorted(set(declared) - used):
        found.append(f"parameter {name!r} is declared but no step uses it")
    return found


def check_references(definition: Mapping[str, Any]) -> list[str]:
    """Step references name existing steps, and property files those steps declare."""
    steps = {step["Name"]: step for step in iter_steps(definition)}
    found = []
    for name, edges in dependencies(definition).items():
        for other, _ in edges:
            if other not in steps:
                found.append(f"step {name!r} refers to step {other!r}, which does not exist")
    for target in sorted(set(get_targets(definition.get("Steps", [])))):
        match = re.match(r"^Steps\.([A-Za-z0-9\-_]+)\.PropertyFiles\.([A-Za-z0-9\-_]+)$", target)
        if match and match.group(1) in steps:
            files = {entry["PropertyFileName"] for entry in steps[match.group(1)].get("PropertyFiles", [])}
            if match.group(2) not in files:
                found.append(f"property file {target!r} is not declared by step {match.group(1)!r}")
    return found


def check_step_arguments(step: Mapping[str, Any], definition: Mapping[str, Any]) -> list[str]:
    """The step's Arguments validate against the input shape of the API the step calls.

    Expressions are replaced by a value of the type they produce: a parameter by its default
    (so a String parameter in an Integer field fails), a Join by a string, anything else by a
    value of the field's own type.
    """
    name, kind, arguments = step.get("Name"), step.get("Type"), step.get("Arguments")
    if kind == "Condition":
        return _check_conditions(name, arguments.get("Conditions", []))
    if kind == "Fail":
        message = (arguments or {}).get("ErrorMessage")
        return (
            [] if isinstance(message, str | dict) else [f"step {name!r}: ErrorMessage must be a string or expression"]
        )
    if kind not in STEP_APIS:
        return [f"step {name!r} has type {kind!r}, which these checks do not know"]
    if not isinstance(arguments, Mapping):
        return [f"step {name!r}: Arguments must be an object"]
    api, runtime_name = STEP_APIS[kind]
    shape = _operation_input(api)
    defaults = {parameter["Name"]: parameter.get("DefaultValue") for parameter in definition.get("Parameters", [])}
    found: list[str] = []
    request = _substitute(arguments, shape, defaults, f"step {name!r} ({api})", found)
    if runtime_name:
        request[runtime_name] = RUNTIME_NAME
    report = _validator().validate(request, shape)
    if report.has_errors():
        found += [
            f"step {name!r} ({api}): {line.strip()}" for line in report.generate_report().splitlines() if line.strip()
        ]
    return found


def _check_conditions(name: str, conditions: list[Any]) -> list[str]:
    found = []
    if not conditions:
        found.append(f"step {name!r} has no conditions")
    for condition in conditions:
        if not isinstance(condition, Mapping) or condition.get("Type") not in CONDITION_TYPES:
            found.append(f"step {name!r}: condition {condition!r} is not one of {sorted(CONDITION_TYPES)}")
        elif condition["Type"] not in ("Not", "Or", "In") and not {"LeftValue", "RightValue"} <= set(condition):
            found.append(f"step {name!r}: condition {condition['Type']} needs LeftValue and RightValue")
    return found


def _is_expression(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in ("Get", "Std:Join", "Std:JsonGet")


def _substitute(value: Any, shape: Any, defaults: Mapping[str, Any], where: str, found: list[str]) -> Any:
    """`value` with expressions replaced by typed placeholders; constraint breaks go to `found`."""
    if _is_expression(value):
        placeholder = _placeholder(value, shape, defaults)
        if _parameter_name(value):
            # A parameter's default is a real value the API receives unless overridden.
            found.extend(_constraint_problems(placeholder, shape, f"{where} (default of {_parameter_name(value)})"))
        return placeholder
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        return {
            key: _substitute(item, shape.members[key], defaults, f"{where}.{key}", found)
            if key in shape.members
            else item
            for key, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [
            _substitute(item, shape.member, defaults, f"{where}[{index}]", found) for index, item in enumerate(value)
        ]
    if kind == "map" and isinstance(value, Mapping):
        return {key: _substitute(item, shape.value, defaults, f"{where}.{key}", found) for key, item in value.items()}
    found.extend(_constraint_problems(value, shape, where))
    return value


def _parameter_name(expression: Mapping[str, Any]) -> str | None:
    target = expression.get("Get")
    match = PARAMETER_REFERENCE.match(target) if isinstance(target, str) else None
    return match.group(1) if match else None


def _placeholder(expression: Mapping[str, Any], shape: Any, defaults: Mapping[str, Any]) -> Any:
    if _parameter_name(expression):
        return defaults.get(_parameter_name(expression))
    ((kind, body),) = expression.items()
    if kind == "Std:Join" or (kind == "Get" and body.startswith("Execution.")):
        return "placeholder"
    return _value_of_type(shape)


def _value_of_type(shape: Any) -> Any:
    minimum = shape.metadata.get("min", 1)
    values = {
        "string": (shape.enum[0] if getattr(shape, "enum", None) else "p" * max(int(minimum), 1)),
        "integer": max(int(minimum), 1),
        "long": max(int(minimum), 1),
        "float": float(max(minimum, 1)),
        "double": float(max(minimum, 1)),
        "boolean": True,
        "list": [],
        "map": {},
        "structure": {},
        "timestamp": "2020-01-01T00:00:00Z",
    }
    return values.get(shape.type_name, "placeholder")


def _constraint_problems(value: Any, shape: Any, where: str) -> list[str]:
    """What botocore's validator leaves out: enums, maximum lengths and values, patterns."""
    found = []
    maximum = shape.metadata.get("max")
    if isinstance(value, str):
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            found.append(f"{where}: {value!r} is not one of the allowed values")
        if maximum is not None and len(value) > maximum:
            found.append(f"{where}: {len(value)} characters; the maximum is {maximum}")
        pattern = _pattern(shape.metadata.get("pattern"))
        if pattern and not pattern.search(value):
            found.append(f"{where}: {value!r} does not match {shape.metadata['pattern']}")
    elif isinstance(value, int | float) and not isinstance(value, bool) and maximum is not None and value > maximum:
        found.append(f"{where}: {value} is above the maximum {maximum}")
    return found


@cache
def _pattern(text: str | None) -> re.Pattern[str] | None:
    # AWS patterns are Java regular expressions; the few Python cannot read are left to the service.
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


def _fits(value: Any, kind: str) -> bool:
    expected = PARAMETER_TYPES[kind]
    return isinstance(value, expected) and (kind == "Boolean" or not isinstance(value, bool))


@cache
def _operation_input(api: str) -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model(api).input_shape


@cache
def _validator() -> Any:
    from botocore.validate import ParamValidator

    return ParamValidator()
