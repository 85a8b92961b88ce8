"""Read a pipeline definition, check it before anything runs, and order its steps.

Checked up front, so a wiring mistake costs seconds rather than a full run: JSON syntax, the
definition version, step names and types, every expression's syntax, every parameter a `Get`
names, every step a `Get` or `DependsOn` names, and every reference into another step's
arguments (a renamed processing output, a property file that does not exist).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import expressions
from .errors import DefinitionError, ExpressionError

VERSION = "2020-12-01"
PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")

# Properties a step only has once it ran (its Describe* response beyond the request it was given).
RUNTIME_PROPERTIES: dict[str, frozenset[str]] = {
    "Processing": frozenset(
        {
            "ProcessingJobName",
            "ProcessingJobArn",
            "ProcessingJobStatus",
            "ExitMessage",
            "FailureReason",
            "PropertyFiles",
        }
    ),
    "Training": frozenset(
        {
            "TrainingJobName",
            "TrainingJobArn",
            "TrainingJobStatus",
            "ModelArtifacts",
            "FinalMetricDataList",
            "OutputDataConfig",
        }
    ),
    "Tuning": frozenset(
        {
            "HyperParameterTuningJobName",
            "HyperParameterTuningJobArn",
            "HyperParameterTuningJobStatus",
            "BestTrainingJob",
            "TrainingJobSummaries",
            "TrainingJobStatusCounters",
            "ObjectiveStatusCounters",
        }
    ),
    "QualityCheck": frozenset(
        {
            "CalculatedBaselineStatistics",
            "CalculatedBaselineConstraints",
            "BaselineUsedForDriftCheckStatistics",
            "BaselineUsedForDriftCheckConstraints",
        }
    ),
    "RegisterModel": frozenset(
        {"ModelPackageArn", "ModelPackageVersion", "ModelPackageName", "ModelPackageStatus", "ModelApprovalStatus"}
    ),
    "Transform": frozenset({"TransformJobName", "TransformJobArn", "TransformJobStatus", "FailureReason"}),
    "Model": frozenset({"ModelName", "ModelArn"}),
    "Condition": frozenset({"Outcome"}),
    "Fail": frozenset(),
}
STEP_TYPES = tuple(RUNTIME_PROPERTIES)


@dataclass(frozen=True)
class Parameter:
    """A declared pipeline parameter."""

    name: str
    type: str
    default: Any = None
    enum: tuple[str, ...] | None = None

    def coerce(self, value: Any) -> Any:
        """Turn a given value (text from the command line, or JSON) into the parameter's type."""
        try:
            typed = _COERCE[self.type](value)
        except (TypeError, ValueError):
            raise DefinitionError(f"parameter {self.name} is {self.type}: {value!r} is not a valid value") from None
        if self.enum and typed not in self.enum:
            raise DefinitionError(f"parameter {self.name} must be one of {', '.join(self.enum)}, not {typed!r}")
        return typed


def _integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(value)


def _string(value: Any) -> str:
    if isinstance(value, dict | list):
        raise ValueError(value)
    return expressions.to_text(value)


_COERCE = {"String": _string, "Integer": _integer, "Float": _float, "Boolean": _boolean}


@dataclass(frozen=True)
class Step:
    """One step of the definition; `gate` is the (condition step, outcome) a branch step waits for."""

    name: str
    type: str
    spec: dict
    index: int
    gate: tuple[str, bool] | None = None

    @property
    def arguments(self) -> dict:
        """The step's `Arguments` (the request of the job it starts)."""
        return self.spec.get("Arguments") or {}

    def expression_fields(self) -> dict:
        """Every part of the step that may hold expressions (a condition's branches are steps of their own)."""
        fields = {key: value for key, value in self.spec.items() if key not in ("Name", "Type", "PropertyFiles")}
        if self.type == "Condition":
            fields["Arguments"] = {"Conditions": self.arguments.get("Conditions")}
        return fields


@dataclass(frozen=True)
class Definition:
    """A checked definition with its steps in a runnable order."""

    parameters: dict[str, Parameter]
    steps: dict[str, Step]
    dependencies: dict[str, frozenset[str]]
    order: tuple[str, ...]
    experiment: dict = field(default_factory=dict)

    def resolve_parameters(self, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults overridden by `given`; an undeclared name or a missing value is an error."""
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            declared = ", ".join(self.parameters) or "none"
            raise DefinitionError(f"undeclared parameter {unknown[0]} (declared: {declared})")
        values = {}
        for name, parameter in self.parameters.items():
            if name in given:
                values[name] = parameter.coerce(given[name])
            elif parameter.default is not None:
                values[name] = parameter.coerce(parameter.default)
            else:
                raise DefinitionError(f"parameter {name} has no default: pass --param {name}=<value>")
        return values


def load_file(path: Path) -> Definition:
    """Read and check a definition file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DefinitionError(f"cannot read definition {path}: {error.strerror}") from None
    return loads(text, str(path))


def loads(text: str, source: str = "definition") -> Definition:
    """Parse and check a definition's JSON text."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DefinitionError(
            f"{source} is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    return parse(document, source)


def parse(document: object, source: str = "definition") -> Definition:
    """Check a parsed definition and order its steps."""
    if not isinstance(document, dict) or not isinstance(document.get("Steps"), list):
        raise DefinitionError(f"{source} is not a pipeline definition: it needs a 'Steps' list")
    if document.get("Version", VERSION) != VERSION:
        raise DefinitionError(
            f"{source}: definition version {document.get('Version')!r} is not supported (use {VERSION})"
        )
    parameters = _parameters(document.get("Parameters") or [])
    steps = _steps(document["Steps"])
    dependencies = {name: _dependencies(step, steps, parameters) for name, step in steps.items()}
    return Definition(
        parameters, steps, dependencies, _order(steps, dependencies), document.get("PipelineExperimentConfig") or {}
    )


def _parameters(declared: list) -> dict[str, Parameter]:
    parameters: dict[str, Parameter] = {}
    for item in declared:
        name, kind = (item.get("Name"), item.get("Type", "String")) if isinstance(item, dict) else (None, None)
        if not isinstance(name, str) or kind not in PARAMETER_TYPES:
            raise DefinitionError(f"parameter {item!r} needs a Name and a Type among {', '.join(PARAMETER_TYPES)}")
        enum = tuple(item["EnumValues"]) if item.get("EnumValues") else None
        parameters[name] = Parameter(name, kind, item.get("DefaultValue"), enum)
    return parameters


def walk(specs: list, gate: tuple[str, bool] | None) -> Iterator[tuple[dict, tuple[str, bool] | None]]:
    """Every step with the condition branch holding it (`(condition, True)` for IfSteps), in document order."""
    for spec in specs:
        yield spec, gate
        if isinstance(spec, dict) and spec.get("Type") == "Condition":
            arguments = spec.get("Arguments") or {}
            yield from walk(arguments.get("IfSteps") or [], (spec.get("Name"), True))
            yield from walk(arguments.get("ElseSteps") or [], (spec.get("Name"), False))


def _steps(specs: list) -> dict[str, Step]:
    steps: dict[str, Step] = {}
    for index, (spec, gate) in enumerate(walk(specs, None)):
        name = spec.get("Name") if isinstance(spec, dict) else None
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"step {index + 1} has no Name")
        if name in steps:
            raise DefinitionError(f"step name {name} is used twice")
        kind = spec.get("Type")
        if kind not in STEP_TYPES:
            raise DefinitionError(f"step {name}: unsupported step type {kind!r} (supported: {', '.join(STEP_TYPES)})")
        steps[name] = Step(name, kind, spec, index, gate)
    return steps


def _dependencies(step: Step, steps: dict[str, Step], parameters: dict[str, Parameter]) -> frozenset[str]:
    try:
        references = list(expressions.iter_references(step.expression_fields()))
    except ExpressionError as error:
        raise DefinitionError(f"step {step.name}: {error}") from None
    needed = {reference.step for reference in references if reference.step}
    for reference in references:
        _check_reference(step, reference, steps, parameters)
    for name in step.spec.get("DependsOn") or []:
        if name not in steps:
            raise DefinitionError(
                f"step {step.name}: DependsOn names step {name!r}, which the definition does not have"
            )
        needed.add(name)
    if step.gate:
        needed.add(step.gate[0])
    return frozenset(needed)


def _check_reference(step: Step, reference: expressions.Reference, steps: dict[str, Step], parameters: dict) -> None:
    name = str(reference.tokens[0])
    problem = None
    if reference.root == "Parameters" and name not in parameters:
        problem = f"parameter {name!r} is not declared (declared: {', '.join(parameters) or 'none'})"
    elif reference.root == "Execution" and name not in expressions.EXECUTION_VARIABLES:
        problem = f"{name!r} is not an execution variable ({', '.join(expressions.EXECUTION_VARIABLES)})"
    elif reference.root == "Steps":
        problem = _step_reference_problem(reference, steps)
    if problem:
        raise DefinitionError(f"step {step.name}: broken reference {reference.text}: {problem}")


def _step_reference_problem(reference: expressions.Reference, steps: dict[str, Step]) -> str | None:
    target = steps.get(reference.step or "")
    if target is None:
        return f"there is no step {reference.step!r}"
    path = reference.tokens[1:]
    if not path:
        return "it names a step, not one of its properties"
    if path[0] == "PropertyFiles":
        return _property_file_problem(target, path)
    if path[0] in RUNTIME_PROPERTIES[target.type]:
        return None
    return _static_path_problem(target, path)


def _property_file_problem(target: Step, path: tuple) -> str | None:
    declared = {item.get("PropertyFileName"): item for item in target.spec.get("PropertyFiles") or []}
    if len(path) != 2 or path[1] not in declared:
        names = ", ".join(map(str, declared)) or "none"
        return f"step {target.name} declares no property file {expressions.render(path[1:])!r} (declares: {names})"
    output = declared[path[1]].get("OutputName")
    outputs = (target.arguments.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    if output not in {item.get("OutputName") for item in outputs}:
        return f"property file {path[1]} reads output {output!r}, which step {target.name} does not have"
    return None


def _static_path_problem(target: Step, path: tuple) -> str | None:
    """Walk the path through the target's own arguments until it meets an expression."""
    current: Any = target.arguments
    for depth, token in enumerate(path):
        if expressions.function_of(current) is not None:
            return None
        try:
            current = expressions.lookup(current, [token])
        except ExpressionError as error:
            walked = expressions.render(path[:depth]) or "its arguments"
            return f"step {target.name} has {str(error).replace('the top level', walked)}"
    return None


def _order(steps: dict[str, Step], dependencies: dict[str, frozenset[str]]) -> tuple[str, ...]:
    """Dependencies first, otherwise the order of the definition."""
    waiting = {name: set(needed) for name, needed in dependencies.items()}
    ready = [(step.index, name) for name, step in steps.items() if not waiting[name]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for other, needed in waiting.items():
            if name in needed:
                needed.discard(name)
                if not needed:
                    heapq.heappush(ready, (steps[other].index, other))
    if len(order) != len(steps):
        stuck = sorted(set(steps) - set(order), key=lambda name: steps[name].index)
        raise DefinitionError(f"steps {', '.join(stuck)} depend on each other in a cycle")
    return tuple(order)
