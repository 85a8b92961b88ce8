"""CloudFormation templates as data: YAML with short-form intrinsics (!Ref, !Sub, ...) and an
evaluator of the intrinsic functions our templates use, for given parameter values.

Why here: the authorization harness reads policies out of our own templates (authz.roles.with_platform)
and the tests check template shapes; both need the same reading of a template, so it lives once,
in the harness, and the tests import it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml


class CfnLoader(yaml.SafeLoader):
    """YAML loader that accepts CloudFormation short-form tags (!Ref, !Sub, ...)."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"Fn::{suffix}" if suffix not in ("Ref", "Condition") else suffix: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load(path: Path) -> dict:
    """One CloudFormation template file (YAML or JSON) as a dict."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=CfnLoader)


_NO_VALUE = object()


class Unresolvable(ValueError):
    """An intrinsic function the evaluator does not model."""


def resolve(node: object, template: dict, values: Mapping[str, str], conditions: Mapping[str, bool] | None = None):
    """Evaluate a template fragment the way CloudFormation would for the given parameter and
    pseudo-parameter values. GetAtt resolves to `<Resource>.<Attribute>` placeholders."""
    return _Evaluator(template, values, conditions or {}).run(node)


class _Evaluator:
    def __init__(self, template: dict, values: Mapping[str, str], conditions: Mapping[str, bool]):
        self.template, self.values, self.conditions = template, values, conditions
        self.functions = {
            "Ref": self.ref,
            "Fn::GetAtt": self.get_att,
            "Fn::Sub": self.sub,
            "Fn::FindInMap": lambda argument: self.template["Mappings"][argument[0]][self.run(argument[1])][
                self.run(argument[2])
            ],
            "Fn::Select": lambda argument: self.run(argument[1])[int(self.run(argument[0]))],
            "Fn::Split": lambda argument: self.run(argument[1]).split(argument[0]),
            "Fn::Join": lambda argument: argument[0].join(self.run(argument[1])),
            "Fn::If": lambda argument: self.run(argument[1] if self.condition(argument[0]) else argument[2]),
            "Fn::Equals": lambda argument: self.run(argument[0]) == self.run(argument[1]),
            "Fn::And": lambda argument: all(self.run(item) for item in argument),
            "Fn::Or": lambda argument: any(self.run(item) for item in argument),
            "Fn::Not": lambda argument: not self.run(argument[0]),
            "Condition": self.condition,
        }

    def condition(self, name: str) -> bool:
        """A named condition: as given, else evaluated from the template's Conditions section."""
        if name in self.conditions:
            return self.conditions[name]
        if name not in self.template.get("Conditions", {}):
            raise Unresolvable(f"no condition {name}")
        return bool(self.run(self.template["Conditions"][name]))

    def run(self, node: object):
        # AWS::NoValue removes the list item or property it stands for.
        if isinstance(node, list):
            return [item for item in map(self.run, node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1 and next(iter(node)) in self.functions:
            ((function, argument),) = node.items()
            return self.functions[function](argument)
        evaluated = {key: self.run(value) for key, value in node.items()}
        return {key: value for key, value in evaluated.items() if value is not _NO_VALUE}

    @staticmethod
    def get_att(argument) -> str:
        """`[Resource, Attribute]`, or the short form's `Resource.Attribute` string: the resource is
        before the first dot (attribute names may hold dots, e.g. Endpoint.Address)."""
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        return ".".join(argument)

    def ref(self, name: str):
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.values:
            return self.values[name]
        if name in self.template.get("Resources", {}):
            return f"{name}.Ref"
        raise Unresolvable(f"no value for Ref {name}")

    def sub(self, argument):
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {key: self.run(value) for key, value in variables.items()}

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            return name if "." in name else str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)


def conditions_of(template: dict, values: Mapping[str, str]) -> dict[str, bool]:
    """Every condition of a template, evaluated as CloudFormation would for these parameter values."""
    return {name: _Evaluator(template, values, {}).condition(name) for name in template.get("Conditions", {})}


def live_resources(template: dict, values: Mapping[str, str]) -> dict[str, dict]:
    """The resources CloudFormation would create for these parameter values (conditions applied,
    top-level Fn::ForEach loops expanded)."""
    flags = conditions_of(template, values)
    return {
        name: resource
        for name, resource in expand_for_each(template, values).items()
        if flags.get(resource.get("Condition", ""), True)
    }


def expand_for_each(template: dict, values: Mapping[str, str]) -> dict[str, dict]:
    """Resources with each `Fn::ForEach::<Loop>: [Identifier, Collection, {KeyTemplate: Body}]`
    replaced by one copy per collection item: `${Identifier}` / `&{Identifier}` (alphanumerics only)
    in the key, `Ref: Identifier` and `${Identifier}` in the body. Source: AWS::LanguageExtensions,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-foreach.html"""
    expanded = {}
    for name, resource in template["Resources"].items():
        if not name.startswith("Fn::ForEach::"):
            expanded[name] = resource
            continue
        identifier, collection, outputs = resource
        items = resolve(collection, template, values)
        for item in items.split(",") if isinstance(items, str) else items:
            for key_template, body in outputs.items():
                key = key_template.replace(f"${{{identifier}}}", item)
                key = key.replace(f"&{{{identifier}}}", re.sub(r"[^A-Za-z0-9]", "", item))
                expanded[key] = _bind(body, identifier, item)
    return expanded


def _bind(node: object, identifier: str, item: str) -> object:
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return item
        return {key: _bind(value, identifier, item) for key, value in node.items()}
    if isinstance(node, list):
        return [_bind(value, identifier, item) for value in node]
    if isinstance(node, str):
        return node.replace(f"${{{identifier}}}", item)
    return node


@dataclass(frozen=True)
class ManagedPolicy:
    """An AWS::IAM::ManagedPolicy of a template, resolved: its document and the `Roles` entries."""

    logical_id: str
    document: dict
    roles: list[str]


# Pseudo parameter values used unless the caller gives others.
PSEUDO = {"AWS::AccountId": "123456789012", "AWS::Region": "us-east-1", "AWS::Partition": "aws"}


def managed_policies(template: dict, parameters: Mapping[str, str]) -> list[ManagedPolicy]:
    """Every AWS::IAM::ManagedPolicy CloudFormation would create for these parameter values
    (template defaults and PSEUDO fill what is not given), with intrinsics resolved."""
    values = {**PSEUDO, **defaults(template), **parameters}
    return [
        ManagedPolicy(name, resolved["PolicyDocument"], [str(role) for role in resolved.get("Roles", [])])
        for name, resource in live_resources(template, values).items()
        if resource.get("Type") == "AWS::IAM::ManagedPolicy"
        for resolved in [resolve(resource["Properties"], template, values)]
    ]


def defaults(template: dict) -> dict[str, str]:
    """The template's parameter defaults, as CloudFormation passes them (strings)."""
    return {name: str(spec["Default"]) for name, spec in template.get("Parameters", {}).items() if "Default" in spec}
