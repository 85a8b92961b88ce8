"""Helpers to bake templates and inspect the result, shared by the template tests."""

from __future__ import annotations

import fnmatch
import itertools
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import nbformat
import yaml

from authz.template import CfnLoader
from hooks import options

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = REPO_ROOT / "templates"
VENV_BIN = Path(sys.executable).parent
PAYLOAD_GLOB = "{{cookiecutter.*}}"
# Jinja left behind by a bad render; CloudFormation dynamic references `{{resolve:...}}` are fine.
LEFTOVER_JINJA = re.compile(r"\{\{(?!resolve:)|\{%|\{#")
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache"}


def template_dir(name: str) -> Path:
    """The folder of one template (holds its cookiecutter.json)."""
    return TEMPLATES / name


def payload_dir(name: str) -> Path:
    """The `{{cookiecutter.__repo_dir}}` folder of a template."""
    (payload,) = template_dir(name).glob(PAYLOAD_GLOB)
    return payload


def choices(name: str) -> dict[str, list[str]]:
    """The template's choice variables, first value being the default."""
    declared = json.loads((template_dir(name) / "cookiecutter.json").read_text())
    return {key: value for key, value in declared.items() if isinstance(value, list) and not key.startswith("_")}


def copied_verbatim(name: str, relative: str) -> bool:
    """Whether a file is not rendered: listed in `_copy_without_render` (so any braces in it are its own)."""
    declared = json.loads((template_dir(name) / "cookiecutter.json").read_text())
    return any(fnmatch.fnmatch(relative, pattern) for pattern in declared.get("_copy_without_render", []))


def combinations(name: str) -> Iterator[dict[str, str]]:
    """Every combination of the template's choice variables."""
    declared = choices(name)
    for values in itertools.product(*declared.values()):
        yield dict(zip(declared, values, strict=True))


def supported(name: str) -> list[dict[str, str]]:
    """Combinations the template promises to generate."""
    return [combo for combo in combinations(name) if options.unsupported(name, combo) is None]


def unsupported(name: str) -> list[dict[str, str]]:
    """Combinations the pre-generation hook must refuse."""
    return [combo for combo in combinations(name) if options.unsupported(name, combo) is not None]


def covering_subset(name: str) -> list[dict[str, str]]:
    """Supported combinations that together contain every supported pair of option values
    (pairwise coverage), the defaults first. Options interact in pairs far more than in
    triples, so this keeps the slow toolchain tests small without leaving a pair unexercised."""
    combos = supported(name)
    defaults = {key: values[0] for key, values in choices(name).items()}

    def pairs(combo: dict[str, str]) -> set[tuple]:
        return set(itertools.combinations(sorted(combo.items()), 2))

    remaining = set().union(*(pairs(combo) for combo in combos))
    chosen = [next(combo for combo in combos if combo == defaults)] if defaults in combos else []
    for combo in chosen:
        remaining -= pairs(combo)
    while remaining:
        best = max(combos, key=lambda combo: len(pairs(combo) & remaining))
        chosen.append(best)
        remaining -= pairs(best)
    return chosen


# Free-text answers that some choices require (example values, valid for the hooks).
COMPANION_ANSWERS = {
    ("multi_account", "yes"): {"staging_account_id": "111111111111", "prod_account_id": "222222222222"},
}


def answers_for(combo: dict[str, str]) -> dict[str, str]:
    """The combination plus the free-text answers its choices require."""
    answers = dict(combo)
    for (key, value), extra in COMPANION_ANSWERS.items():
        if combo.get(key) == value:
            answers.update(extra)
    return answers


def combo_id(combo: dict[str, str]) -> str:
    """A readable pytest id for a combination."""
    return "-".join(f"{key}={value}" for key, value in combo.items())


def relative_files(root: Path) -> set[str]:
    """Every file below root, as POSIX paths relative to it, caches left out."""
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not IGNORED_PARTS.intersection(path.relative_to(root).parts)
    }


def expected_files(name: str, answers: dict[str, str]) -> set[str]:
    """The exact file set a bake must produce: the payload, minus what the answers prune,
    plus the shared modules the post-generation hook copies in."""
    files = relative_files(payload_dir(name))
    for pruned in options.pruned_paths(name, answers):
        files = {path for path in files if path != pruned and not path.startswith(pruned.rstrip("/") + "/")}
    return files | {options.RECORD_FILE}


def parse_structured(path: Path) -> object:
    """Parse a YAML, JSON, TOML or notebook file; raise on any syntax error."""
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix
    if suffix in (".yaml", ".yml"):
        return list(yaml.load_all(text, Loader=CfnLoader))
    if suffix == ".json":
        return json.loads(text)
    if suffix == ".toml":
        return tomllib.loads(text)
    if suffix == ".ipynb":
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
        return notebook
    raise ValueError(f"not a structured file: {path}")


STRUCTURED_SUFFIXES = {".yaml", ".yml", ".json", ".toml", ".ipynb"}


def run(command: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run a generated repo's tool with this environment's binaries first on PATH."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
