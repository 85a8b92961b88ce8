"""The S3 data layout of the artifact bucket, as a check every build can be held to.

    s3://<bucket>/<project>/input/...                                   raw data, shared by every branch
    s3://<bucket>/<prefix>/code/<build-id>/...                          the step code and input.json of a build
    s3://<bucket>/<prefix>/ml-pipeline-outputs/<build-id>/<step>/...    what each step of that build wrote

`<prefix>` is `<project>` for the main branch and `<project>/branches/<slug>` for a feature
branch; a feature branch that reads its own data (BRANCH_INPUT=own) has `<prefix>/input/`.
The check is written from the layout itself, not from `Settings.s3_uri`, so it catches a URI
builder that drifts from it. The area names come from `contract`, the one definition of what a
build-train repository writes and the deploy repository reads (layout, model metadata key,
prepare_data's transform command).

    mlops-kit data-layout [--repo DIR]    # check this build's definition, code upload and build spec
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from . import contract, naming
from .definition import iter_steps

# The build spec of a build-train repository, relative to its root.
BUILD_SPEC = Path("build_spec.yml")
S3_URI = re.compile(r"s3://[^\s\"'`]+")
BRANCH_PREFIX = re.compile(r"^(?P<project>.+)/branches/[a-z0-9](-?[a-z0-9])*$")


class Layout:
    """Where one build may read and write, from its bucket, project, build id, branch and steps."""

    def __init__(
        self,
        bucket: str,
        project_name: str,
        build_id: str,
        steps: Iterable[str],
        branch: str | None = None,
        branch_input: bool = False,
    ):
        project = f"s3://{bucket}/{naming.s3_prefix(project_name)}"
        own = project
        if branch:
            prefix = naming.s3_branch_prefix(project_name, branch)
            match = BRANCH_PREFIX.match(prefix)
            if not match or match.group("project") != naming.s3_prefix(project_name):
                raise ValueError(f"branch prefix {prefix!r} is not <project>/branches/<slug>")
            own = f"s3://{bucket}/{prefix}"
        build = re.escape(build_id)
        step_names = "|".join(re.escape(step) for step in sorted(steps, key=len, reverse=True)) or "(?!)"
        areas = [
            re.escape(own if branch_input else project) + f"/{contract.INPUT_AREA}",
            re.escape(own) + f"/{contract.CODE_AREA}/{build}",
            re.escape(own) + f"/{contract.OUTPUTS_AREA}/{build}/(?:{step_names})",
        ]
        self.pattern = re.compile(f"^(?:{'|'.join(areas)})(?:/\\S*)?$")

    def problems(self, uris: Iterable[str], where: str) -> list[str]:
        """One line per URI outside the layout, naming where it was found."""
        return [f"{where}: {uri} is outside the data layout" for uri in uris if not self.pattern.match(uri)]


def uris(value: Any) -> Iterator[str]:
    """Every literal S3 URI inside a definition or any JSON value.

    JSON-encoded strings (how hyperparameters travel) are decoded; the literal head of a
    `Std:Join` is a URI like any other, so the URI it builds at run time is held to the layout.
    """
    if isinstance(value, str):
        if value.startswith('"s3://'):
            yield from uris(json.loads(value))
        elif value.startswith("s3://"):
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from uris(item)
    elif isinstance(value, list):
        for item in value:
            yield from uris(item)


def step_names(definition: Mapping[str, Any]) -> list[str]:
    """Every step name, those inside condition branches included."""
    return [step["Name"] for step in iter_steps(definition)]


def layout_of(settings: Any, definition: Mapping[str, Any]) -> Layout:
    """The layout a build with these settings and this definition must follow."""
    return Layout(
        settings.bucket,
        settings.project_name,
        settings.build_id,
        step_names(definition),
        branch=settings.branch,
        branch_input=settings.branch_input,
    )


def build_spec_uris(text: str, settings: Any) -> list[str]:
    """S3 URIs written in a build spec, with the variables CI sets replaced by this build's values."""
    values = {
        "ARTIFACT_BUCKET": settings.bucket,
        "SAGEMAKER_PROJECT_NAME": settings.project_name,
        "BUILD_ID": settings.build_id,
    }
    for name, value in values.items():
        text = text.replace("${" + name + "}", value).replace("$" + name, value)
    return S3_URI.findall(text)


def check_build(settings: Any, definition: Mapping[str, Any], uploads: Iterable[str], build_spec: str) -> list[str]:
    """Every URI of a build outside the layout: its definition, its code upload, its build spec."""
    layout = layout_of(settings, definition)
    return (
        layout.problems(uris(definition), "definition")
        + layout.problems(uploads, "upload-code")
        + layout.problems(build_spec_uris(build_spec, settings), BUILD_SPEC.name)
    )


def check_repo(repo: Path) -> list[str]:
    """Problems of the build the environment describes (as CI would run it) in the build-train
    repository at `repo`: its definition, its code upload, its build spec."""
    if not (repo / BUILD_SPEC).is_file() or not (repo / "ml_pipelines").is_dir():
        return [f"{repo} is not a build-train repository: no {BUILD_SPEC} and ml_pipelines/ (see --repo)"]
    # The repository's own pipeline module, built as `mlops-kit pipeline` builds it for CI.
    from .pipeline import aws
    from .pipeline import repo as pipeline_repo

    build, _, text = pipeline_repo.build(repo)
    definition = json.loads(text)
    uploads = [uri for uri, _ in aws.code_uploads(build, repo)]
    return check_build(build, definition, uploads, (repo / BUILD_SPEC).read_text(encoding="utf-8"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`mlops-kit data-layout` options."""
    parser.add_argument(
        "--repo", type=Path, default=Path("."), metavar="DIR", help="the build-train repository (default: here)"
    )


def run(args: argparse.Namespace) -> int:
    """Print every URI outside the layout; 0 when there is none."""
    found = check_repo(args.repo.resolve())
    for line in found:
        print(f"data-layout: {line}", file=sys.stderr)
    if not found:
        print("every S3 URI of this build follows the data layout")
    return 1 if found else 0
