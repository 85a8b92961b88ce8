"""Which parameters can change a resource? Lets a template evaluated under hundreds of parameter
combinations resolve each resource again only when one of those parameters changes.

Conservative by construction: a resource depends on every parameter its properties or condition
name (through Conditions), and on everything the resources it refers to depend on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def _names(node: object, template: dict) -> Iterator[tuple[str, str]]:
    """("parameter" | "resource" | "condition", name) for every reference in a template fragment."""
    resources = template.get("Resources", {})
    if isinstance(node, list):
        for item in node:
            yield from _names(item, template)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            yield from _ref(value, resources)
        elif key == "Fn::GetAtt":
            yield ("resource", value[0] if isinstance(value, list) else value.split(".")[0])
        elif key == "Condition" and isinstance(value, str):
            yield ("condition", value)
        elif key == "Fn::If":
            yield ("condition", value[0])
            yield from _names(value[1:], template)
        elif key == "Fn::Sub":
            yield from _sub_names(value, template)
        else:
            yield from _names(value, template)


def _ref(name: str, resources: dict) -> Iterator[tuple[str, str]]:
    if name != "AWS::NoValue":  # removes a value; depends on nothing
        yield ("resource" if name in resources else "parameter", name)


def _sub_names(argument: object, template: dict) -> Iterator[tuple[str, str]]:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    for name in _SUB_VARIABLE.findall(text):
        if name in variables:
            continue
        base = name.split(".")[0]
        yield ("resource" if "." in name or base in template.get("Resources", {}) else "parameter", base)
    yield from _names(variables, template)


def parameters_of(template: dict) -> dict[str, frozenset[str]]:
    """Resource logical id -> the parameters (pseudo parameters included) it may depend on.
    Fn::ForEach loops are left out (their copies get no entry: callers treat them as depending on all)."""
    walker = _Walker(template)
    return {
        name: frozenset(walker.resource(name, set()))
        for name, body in walker.resources.items()
        if isinstance(body, dict)
    }


class _Walker:
    def __init__(self, template: dict):
        self.template, self.resources = template, template.get("Resources", {})

    def condition(self, name: str, seen: set[str]) -> set[str]:
        """Parameters a named condition depends on (through the conditions it names)."""
        if name in seen or name not in self.template.get("Conditions", {}):
            return set()
        seen.add(name)
        return self._collect(self.template["Conditions"][name], seen, set())

    def resource(self, name: str, visiting: set[str]) -> set[str]:
        """Parameters a resource depends on, and those of every resource it refers to."""
        if name in visiting or not isinstance(self.resources.get(name), dict):
            return set()
        body = self.resources[name]
        fragment = {"Properties": body.get("Properties", {}), "Condition": body.get("Condition")}
        return self._collect(fragment, set(), visiting | {name})

    def _collect(self, node: object, seen: set[str], visiting: set[str]) -> set[str]:
        found: set[str] = set()
        for kind, ref in _names(node, self.template):
            if kind == "parameter":
                found.add(ref)
            elif kind == "condition":
                found |= self.condition(ref, seen)
            else:
                found |= self.resource(ref, visiting)
        return found
