"""The steps of a definition as a Mermaid flowchart, and the README block that shows it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .checks import dependencies, iter_steps
from .errors import DefinitionError


def mermaid(definition: Mapping[str, Any]) -> str:
    """The steps as a Mermaid flowchart: one node per step, one arrow per wait (branches labelled)."""
    shapes = {"Condition": ("{", "}"), "Fail": ("([", "])"), "RegisterModel": ("[(", ")]")}
    lines = ["flowchart TD"]
    for step in iter_steps(definition):
        label = step["Name"] if step["Type"] in shapes else f"{step['Name']}<br/>{step['Type']}"
        opening, closing = shapes.get(step["Type"], ("[", "]"))
        lines.append(f'    {_node(step["Name"])}{opening}"{label}"{closing}')
    for name, edges in dependencies(definition).items():
        for other, reason in edges:
            arrow = f" -->|{reason}| " if reason in ("if", "else") else " --> "
            lines.append(f"    {_node(other)}{arrow}{_node(name)}")
    return "\n".join(lines)


def _node(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


DIAGRAM_START = "<!-- pipeline-diagram:start -->"
DIAGRAM_END = "<!-- pipeline-diagram:end -->"


def readme_diagram(readme: str) -> str:
    """The Mermaid source between the README's diagram markers (empty when there is none)."""
    if DIAGRAM_START not in readme or DIAGRAM_END not in readme:
        raise DefinitionError(f"the README has no {DIAGRAM_START} ... {DIAGRAM_END} block")
    block = readme.split(DIAGRAM_START, 1)[1].split(DIAGRAM_END, 1)[0].strip()
    return block.removeprefix("```mermaid").removesuffix("```").strip()


def with_readme_diagram(readme: str, diagram: str) -> str:
    """The README with its diagram block replaced by `diagram`."""
    readme_diagram(readme)  # raises when the markers are missing
    head, rest = readme.split(DIAGRAM_START, 1)
    tail = rest.split(DIAGRAM_END, 1)[1]
    return f"{head}{DIAGRAM_START}\n```mermaid\n{diagram}\n```\n{DIAGRAM_END}{tail}"
