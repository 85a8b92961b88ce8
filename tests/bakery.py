"""Helpers to bake templates and inspect the result, shared by the template tests."""

from __future__ import annotations

import fcntl
import fnmatch
import functools
import hashlib
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import yaml

from authz.template import CfnLoader
from hooks import options
from scripts.bake import bake

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = REPO_ROOT / "templates"
VENV_BIN = Path(sys.executable).parent
PAYLOAD_GLOB = "{{cookiecutter.*}}"
# Jinja left behind by a bad render; CloudFormation dynamic references `{{resolve:...}}` and GitHub
# Actions expressions `${{ ... }}` (a rendered workflow's own, kept by {% raw %}) are fine.
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{(?!resolve:)|\{%|\{#")
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


# Options rotated through the rows instead of multiplied into them (cookiecutter-data-science's
# habit): `ci` only chooses which CI system's files a repo holds (hooks/options.py CI_FILES), so
# tripling every bake for it would buy nothing. Each row takes the next value in turn; pairs with a
# rotated option are not required of the covering array, and tests/test_ci_oidc.py bakes every CI
# system with the options its files depend on.
ROTATED = ("ci",)


def rotate(name: str, rows: Iterator[dict[str, str]] | list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows with each rotated option set to its values in turn, the first row to the default."""
    rotated = {key: values for key, values in choices(name).items() if key in ROTATED}
    return [
        {**row, **{key: values[index % len(values)] for key, values in rotated.items()}}
        for index, row in enumerate(rows)
    ]


def combinations(name: str) -> Iterator[dict[str, str]]:
    """Every combination of the template's choice variables, the rotated ones taken in turn."""
    declared = {key: values for key, values in choices(name).items() if key not in ROTATED}
    rows = (dict(zip(declared, values, strict=True)) for values in itertools.product(*declared.values()))
    # Keys in declaration order, so combination ids read as before.
    order = list(choices(name))
    yield from ({key: row[key] for key in order} for row in rotate(name, list(rows)))


def effective_choices(name: str, combo: dict[str, str]) -> dict[str, str]:
    """The choice answers a combination is generated with (hooks/options.py IGNORED)."""
    effective = options.effective(name, combo)
    return {key: str(effective[key]) for key in combo}


def supported(name: str) -> list[dict[str, str]]:
    """One combination per distinct repo the template generates: those whose answers are all
    effective. A combination setting an option that does not apply (e.g. batch with api_gateway=yes)
    generates the same repo as its effective one, so it is not baked again."""
    return [combo for combo in combinations(name) if effective_choices(name, combo) == combo]


def ignored(name: str) -> list[dict[str, str]]:
    """Combinations answering an option that does not apply: they generate an effective one's repo."""
    return [combo for combo in combinations(name) if effective_choices(name, combo) != combo]


Pair = tuple[tuple[str, str], tuple[str, str]]


def value_pairs(combo: dict[str, str]) -> set[Pair]:
    """Every pair of (option, value) settings one combination exercises together (rotated options
    left out: they are taken in turn, not paired)."""
    return set(itertools.combinations(sorted((k, v) for k, v in combo.items() if k not in ROTATED), 2))


def supported_pairs(name: str) -> set[Pair]:
    """Every pair of option values that some generated repo holds: the pairs a covering array must
    contain. A pair with an option that does not apply (batch with api_gateway=yes) is don't-care:
    no repo is generated with it, so it is not required."""
    return set().union(*(value_pairs(combo) for combo in supported(name)))


def missing_pairs(name: str, rows: list[dict[str, str]]) -> set[Pair]:
    """Supported pairs of option values that no row of `rows` exercises; a row exercises the pairs
    of its effective answers (what its bake holds), not of the ones it sets."""
    held = (value_pairs(effective_choices(name, row)) for row in rows)
    return supported_pairs(name) - set().union(set(), *held)


@functools.cache
def covering_subset(name: str) -> list[dict[str, str]]:
    """Supported combinations that together hold every supported pair of option values (a strength-2
    covering array), the defaults first.

    Greedy, each next row covering most of the pairs still missing, then every row the others make
    redundant dropped; ties are broken by seeded random choices and the smallest of COVERING_SEEDS tries is
    kept, so the array is the same on every run and machine (test ids and xdist collection depend on
    that). For the two templates this reaches the optimum: 6 rows for build-train (six two-valued
    options need 6) and 8 for deploy (no 7 rows hold every pair beside the defaults, found by
    exhaustive search), where a plain first-on-tie greedy took 7 and 10.

    Strength 2 because option interactions in these templates are between two options (a rule
    names two, a pruned file depends on one); no maintained covering-array package is in this
    repo's pinned requirements."""
    tries = (_greedy_covering(name, random.Random(seed)) for seed in range(COVERING_SEEDS))
    return rotate(name, min(tries, key=len))


COVERING_SEEDS = 16


def _greedy_covering(name: str, rng: random.Random) -> list[dict[str, str]]:
    combos = [(combo, value_pairs(combo)) for combo in supported(name)]
    defaults = {key: values[0] for key, values in choices(name).items()}
    chosen = [defaults] if any(combo == defaults for combo, _ in combos) else []
    remaining = missing_pairs(name, chosen)
    while remaining:
        most = max(len(pairs & remaining) for _, pairs in combos)
        best, pairs = rng.choice([(combo, pairs) for combo, pairs in combos if len(pairs & remaining) == most])
        chosen.append(best)
        remaining -= pairs
    for row in reversed(chosen[1:]):  # the defaults stay first, whatever else covers their pairs
        others = [other for other in chosen if other is not row]
        if not missing_pairs(name, others):
            chosen = others
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


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on a file: xdist workers are processes, so a lock in memory would not do."""
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_bake(root: Path, name: str, answers: dict[str, str]) -> Path:
    """The bake of `name` with `answers` under root, made by the first caller and reused by every
    later one, in this process or another xdist worker of the same run. Callers must not change
    it: a test that runs tools writing into the repo works on `private_copy` of it."""
    # Spelled-out defaults and left-out ones are one bake: key on the complete choice answers.
    answers = {key: values[0] for key, values in choices(name).items()} | dict(answers)
    key = hashlib.sha256(json.dumps([name, answers], sort_keys=True).encode()).hexdigest()[:16]
    folder = root / f"{name}-{key}"
    marker = root / f"{folder.name}.done"  # beside the bake, so the bake holds only its own files
    root.mkdir(parents=True, exist_ok=True)
    with exclusive(root / f"{folder.name}.lock"):
        if not marker.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that died mid-bake
            marker.write_text(bake(name, folder, answers).name)
    return folder / marker.read_text()


def private_copy(shared: Path, destination: Path) -> Path:
    """A copy of a shared bake a test may write into (a copy takes ~30 ms, a bake 0.3-0.7 s)."""
    return Path(shutil.copytree(shared, destination / shared.name, symlinks=True))


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
    # Not the outer make's settings: under `make test` they would make a generated repo's make a
    # sub-make of ours (its "Entering directory" lines, our flags and job server).
    inherited = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env = {**inherited, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
