"""The S3 data layout of the artifact bucket, as a check every build can be held to.

    s3://<bucket>/<project>/input/...                                   raw data, shared by every branch
    s3://<bucket>/<prefix>/code/<build-id>/...                          the step code and input.json of a build
    s3://<bucket>/<prefix>/ml-pipeline-outputs/<build-id>/<step>/...    what each step of that build wrote

`<prefix>` is `<project>` for the main branch and `<project>/branches/<slug>` for a feature
branch; a feature branch that reads its own data (BRANCH_INPUT=own) has `<prefix>/input/`.
The check is written from the layout itself, not from `Settings.s3_uri`, so it catches a URI
builder that drifts from it.

    python -m ml_pipelines.data_layout    # check this build's definition, code upload and build spec
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mlops_template_kit import naming

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_SPEC = REPO_ROOT / "build_spec.yml"
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
            re.escape(own if branch_input else project) + "/input",
            re.escape(own) + f"/code/{build}",
            re.escape(own) + f"/ml-pipeline-outputs/{build}/(?:{step_names})",
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
    names, pending = [], list(definition.get("Steps", []))
    while pending:
        step = pending.pop(0)
        names.append(step["Name"])
        arguments = step.get("Arguments") or {}
        pending += arguments.get("IfSteps", []) + arguments.get("ElseSteps", [])
    return names


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


def check_this_build() -> list[str]:
    """Problems of the build the environment describes (as CI would run it): definition, upload, build spec."""
    from ml_pipelines import settings as project_settings
    from ml_pipelines import training

    pipeline = training.load()
    build = project_settings.from_env()
    definition = json.loads(pipeline.build_definition(build, pipeline.load_config()))
    uploads = [uri for uri, _ in pipeline.code_uploads(build)]
    return check_build(build, definition, uploads, BUILD_SPEC.read_text(encoding="utf-8"))


def main() -> int:
    """Print every URI outside the layout; 0 when there is none."""
    found = check_this_build()
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print("every S3 URI of this build follows the data layout")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
