"""Expressions of a pipeline definition, evaluated as SageMaker evaluates them.

A definition holds three kinds of expression wherever a value is expected:
`{"Get": "Parameters.X" | "Execution.X" | "Steps.S.<property path>" | "PipelineExperimentConfig.X"}`,
`{"Std:Join": {"On": sep, "Values": [...]}}` and
`{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.S.PropertyFiles.F"} | "S3Uri": ..., "Path": "a.b[0]"}}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ExpressionError

GET = "Get"
JOIN = "Std:Join"
JSON_GET = "Std:JsonGet"
FUNCTIONS = (JOIN, JSON_GET)
ROOTS = ("Parameters", "Execution", "Steps", "PipelineExperimentConfig")
EXECUTION_VARIABLES = (
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "PipelineArn",
    "StartDateTime",
    "CurrentDateTime",
    "TrainingJobName",
    "ProcessingJobName",
)

# `.Name`, `[0]`, `['key']` or `["key"]`: the path syntax of property references and JsonGet paths.
_TOKEN = re.compile(r"\.?([^.\[\]'\"]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")

Token = str | int


def tokenize(path: str) -> list[Token]:
    """Split `a.b['c'][0]` into `["a", "b", "c", 0]`; raise on anything else."""
    tokens: list[Token] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match or match.end() == position:
            raise ExpressionError(f"cannot parse path {path!r} at character {position + 1}")
        name, index, single, double = match.groups()
        tokens.append(int(index) if index is not None else next(t for t in (name, single, double) if t is not None))
        position = match.end()
    return tokens


def render(tokens: list[Token] | tuple[Token, ...]) -> str:
    """The inverse of `tokenize`, for messages."""
    text = ""
    for token in tokens:
        if isinstance(token, int):
            text += f"[{token}]"
        elif re.fullmatch(r"[A-Za-z0-9_\-:]+", token) and text:
            text += f".{token}"
        elif text:
            text += f"['{token}']"
        else:
            text = token
    return text


@dataclass(frozen=True)
class Reference:
    """A parsed `Get` path, e.g. `Steps.Train.ModelArtifacts.S3ModelArtifacts`."""

    text: str
    root: str
    tokens: tuple[Token, ...]

    @property
    def step(self) -> str | None:
        """The step a `Steps.` reference points at."""
        return str(self.tokens[0]) if self.root == "Steps" and self.tokens else None


def parse_reference(text: object) -> Reference:
    """Parse the string of a `Get`; raise `ExpressionError` naming it when it is malformed."""
    if not isinstance(text, str):
        raise ExpressionError(f"'Get' needs a string path, not {text!r}")
    tokens = tokenize(text)
    if len(tokens) < 2 or tokens[0] not in ROOTS:
        raise ExpressionError(
            f"unsupported reference {{'Get': {text!r}}}: it must start with one of {', '.join(ROOTS)}"
        )
    return Reference(text, str(tokens[0]), tuple(tokens[1:]))


def function_of(value: object) -> str | None:
    """The expression kind of a JSON value (`Get`, `Std:Join`, `Std:JsonGet`), or None for data."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (key,) = value
    if key == GET or key in FUNCTIONS:
        return key
    if key.startswith("Std:"):
        raise ExpressionError(f"unsupported expression {key!r}: supported are Get, {', '.join(FUNCTIONS)}")
    return None


def iter_references(value: object) -> Iterator[Reference]:
    """Every `Get` reference inside a JSON value, functions included."""
    kind = function_of(value)
    if kind == GET:
        yield parse_reference(value[GET])
        return
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        yield from iter_references(child)


def get_targets(value: Any) -> Iterator[str]:
    """Every `Get` target (e.g. `Parameters.X`) inside a value, malformed ones included.

    Unlike `iter_references` it never raises: the checks list every problem of a definition.
    """
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == GET and isinstance(item, str):
                yield item
            else:
                yield from get_targets(item)
    elif isinstance(value, list):
        for item in value:
            yield from get_targets(item)


def to_text(value: object) -> str:
    """How a resolved value reads once SageMaker turns it into a string (Join, arguments)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _named_item(items: list, name: str) -> Any:
    """`Outputs['train']`: the list item whose `*Name` field (OutputName, ChannelName, ...) is `name`."""
    for item in items:
        if isinstance(item, dict) and any(key.endswith("Name") and value == name for key, value in item.items()):
            return item
    raise KeyError(name)


def _names_in(current: object) -> str:
    if isinstance(current, dict):
        return ", ".join(sorted(map(str, current))) or "nothing"
    if isinstance(current, list):
        names = [
            value for item in current if isinstance(item, dict) for key, value in item.items() if key.endswith("Name")
        ]
        return ", ".join(map(str, names)) or f"{len(current)} items"
    return type(current).__name__


def lookup(document: object, tokens: list[Token] | tuple[Token, ...]) -> Any:
    """Walk `tokens` into a JSON document; a string token on a list selects an item by its name.

    Raises `ExpressionError` saying how far the walk got and what was there instead.
    """
    current = document
    for depth, token in enumerate(tokens):
        try:
            if isinstance(current, list):
                current = current[token] if isinstance(token, int) else _named_item(current, token)
            elif isinstance(current, dict) and not isinstance(token, int):
                current = current[token]
            else:
                raise KeyError(token)
        except (KeyError, IndexError):
            where = render(tokens[:depth]) or "the top level"
            raise ExpressionError(f"no {render([token])!r} under {where} (found: {_names_in(current)})") from None
    return current


def json_path(document: object, path: object) -> Any:
    """Evaluate the JsonPath subset SageMaker's JsonGet uses: `a.b[0]`, `$.a['b']`."""
    if not isinstance(path, str) or not path:
        raise ExpressionError(f"JsonGet needs a non-empty 'Path', not {path!r}")
    text = path[1:].lstrip(".") if path.startswith("$") else path
    return lookup(document, tokenize(text)) if text else document


@dataclass
class Scope:
    """What expressions can see while a pipeline runs.

    `steps` holds the properties of every step that has finished (the shape of the Describe*
    response of its job, plus `PropertyFiles`: property file name -> S3 URI of the file);
    `read_json` fetches and parses a JSON object from S3.
    """

    parameters: Mapping[str, Any]
    execution: Mapping[str, Any]
    steps: Mapping[str, Mapping[str, Any]]
    read_json: Callable[[str], Any]
    experiment: Mapping[str, Any] | None = None

    def resolve(self, value: Any) -> Any:
        """Replace every expression inside a JSON value by its value."""
        kind = function_of(value)
        if kind == GET:
            return self.get(value[GET])
        if kind == JOIN:
            return self.join(value[JOIN])
        if kind == JSON_GET:
            return self.json_get(value[JSON_GET])
        if isinstance(value, dict):
            return {key: self.resolve(child) for key, child in value.items()}
        if isinstance(value, list):
            return [self.resolve(child) for child in value]
        return value

    def get(self, text: object) -> Any:
        """The value of one `Get` path."""
        reference = parse_reference(text)
        if reference.root == "Parameters":
            return self._from(self.parameters, reference, "parameter")
        if reference.root == "Execution":
            return self._from(self.execution, reference, "execution variable")
        if reference.root == "PipelineExperimentConfig":
            return self._from(self.resolve(self.experiment or {}), reference, "experiment setting")
        return self.step_property(reference)

    def _from(self, values: Mapping[str, Any], reference: Reference, kind: str) -> Any:
        name = str(reference.tokens[0])
        if len(reference.tokens) != 1 or name not in values:
            raise ExpressionError(
                f"{reference.text}: no {kind} {name!r} (known: {', '.join(sorted(values)) or 'none'})"
            )
        return values[name]

    def step_property(self, reference: Reference) -> Any:
        """A property of a finished step."""
        step = reference.step
        if step not in self.steps:
            raise ExpressionError(f"{reference.text}: step {step!r} has not run")
        try:
            return lookup(self.steps[step], reference.tokens[1:])
        except ExpressionError as error:
            raise ExpressionError(f"{reference.text}: step {step!r} has {error}") from None

    def join(self, spec: object) -> str:
        """`Std:Join`: resolve every value and join their text forms."""
        if not isinstance(spec, dict) or not isinstance(spec.get("Values"), list):
            raise ExpressionError(f"Std:Join needs {{'On': ..., 'Values': [...]}}, not {spec!r}")
        separator = to_text(self.resolve(spec.get("On", "")))
        return separator.join(to_text(self.resolve(value)) for value in spec["Values"])

    def json_get(self, spec: object) -> Any:
        """`Std:JsonGet`: a value out of a step's property file, or out of a JSON object in S3."""
        if not isinstance(spec, dict) or ("PropertyFile" in spec) == ("S3Uri" in spec):
            raise ExpressionError(f"Std:JsonGet needs 'Path' and one of 'PropertyFile' or 'S3Uri', not {spec!r}")
        if "S3Uri" in spec:
            uri = to_text(self.resolve(spec["S3Uri"]))
            source = uri
        else:
            uri, source = self._property_file_uri(spec["PropertyFile"])
        try:
            document = self.read_json(uri)
        except ExpressionError as error:
            raise ExpressionError(f"Std:JsonGet on {source}: {error}") from None
        try:
            return json_path(document, spec.get("Path"))
        except ExpressionError as error:
            raise ExpressionError(f"Std:JsonGet path {spec.get('Path')!r} in {source}: {error}") from None

    def _property_file_uri(self, pointer: object) -> tuple[str, str]:
        if function_of(pointer) != GET:
            raise ExpressionError(
                f"Std:JsonGet 'PropertyFile' must be a Get of Steps.<step>.PropertyFiles.<name>, not {pointer!r}"
            )
        reference = parse_reference(pointer[GET])
        if reference.root != "Steps" or len(reference.tokens) != 3 or reference.tokens[1] != "PropertyFiles":
            raise ExpressionError(
                f"{reference.text}: a property file is referenced as Steps.<step>.PropertyFiles.<name>"
            )
        return to_text(self.step_property(reference)), reference.text
