"""Run the repository's SageMaker pipeline, or a given definition, on this machine.

`mlops-kit local-run` (or `python -m mlops_template_kit.local_run`), from a generated build-train
repository's root or with `--repo DIR`. Without `--definition` it does the whole loop: local AWS,
artifact bucket, sample data, step code upload, the pipeline definition built as `mlops-kit
pipeline definition` builds it from the repository's step graph, then the run and its results table. Exit codes:
0 the pipeline succeeded, 1 it failed (a step or a Fail step), 2 the input was wrong (arguments,
definition, parameters).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from .errors import USER_ERRORS, DefinitionError

PROG = "python -m mlops_template_kit.local_run"


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"local-run: error: {message} (see --help)\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the command (shared by `mlops-kit local-run` and `python -m`)."""
    parser.add_argument("--definition", type=Path, metavar="FILE", help="run this definition JSON as is")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a pipeline parameter value")
    parser.add_argument(
        "--parameters",
        type=Path,
        metavar="FILE",
        help='parameter values: {"Name": value}, a PipelineParameters list, or input.json (its "parameters")',
    )
    parser.add_argument("--pipeline-name", help="name of the pipeline (scopes the step cache)")
    parser.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the build-train repository whose pipeline runs (default: the current directory)",
    )
    parser.add_argument("--work-dir", type=Path, default=None, help="sandboxes and cache (default <repo>/.local-run)")
    parser.add_argument("--no-cache", action="store_true", help="run every step even when a cached result exists")
    parser.add_argument("--tuning-trials", type=int, default=3, help="training trials of a tuning step (default 3)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    parser.add_argument(
        "--local-aws-port",
        type=int,
        default=None,
        metavar="PORT",
        help="use the local AWS services on this port when they run (mlops-kit local-aws start), so what the "
        "run registers outlives it; otherwise a transient emulator (default: $LOCAL_AWS_PORT)",
    )


def finish_arguments(args: argparse.Namespace) -> str | None:
    """Absolute paths and range checks after parsing; the usage error, if any."""
    # Steps run with their sandbox as working directory: every path handed to them is absolute.
    args.repo = args.repo.resolve()
    args.work_dir = (args.work_dir or args.repo / ".local-run").resolve()
    if args.tuning_trials < 1:
        return "--tuning-trials must be at least 1"
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line of `python -m mlops_template_kit.local_run`."""
    parser = _Parser(prog=PROG, description="Run the SageMaker pipeline definition on this machine.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    problem = finish_arguments(args)
    if problem:
        parser.error(problem)
    return args


def _parameter_file(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DefinitionError(f"cannot read parameters {path}: {error.strerror}") from None
    except ValueError as error:
        raise DefinitionError(f"parameters {path} is not JSON: {error}") from None
    if isinstance(document, list) and all(isinstance(item, dict) and "Name" in item for item in document):
        return {item["Name"]: item.get("Value") for item in document}
    if isinstance(document, dict) and isinstance(document.get("parameters"), dict):
        # ml_pipelines/training/input.json keeps the pipeline parameters under "parameters".
        return dict(document["parameters"])
    if isinstance(document, dict):
        return document
    raise DefinitionError(f"parameters {path} must be a JSON object of name: value")


def parameter_values(args: argparse.Namespace) -> dict[str, Any]:
    """Values from `--parameters`, then `--param NAME=VALUE` on top."""
    values = _parameter_file(args.parameters) if args.parameters else {}
    for item in args.param:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise DefinitionError(f"--param {item!r} must look like NAME=VALUE")
        values[name] = value
    return values


def run_definition(args: argparse.Namespace) -> int:
    """`--definition FILE`: check it, then run it against the local AWS."""
    from .. import definition
    from . import athena, execution, project
    from .tracking import with_tracking

    checked = definition.load_file(args.definition)
    parameters = checked.resolve_parameters(with_tracking(parameter_values(args), checked.parameters, args.work_dir))
    # Run from a build-train repository, an Athena step reads that repository's input as tables
    # (as a whole run does); elsewhere LOCAL_ATHENA_TABLES must say where they are.
    if not os.environ.get(athena.TABLES_VARIABLE):
        tables = project.repository_tables(args.repo)
        if tables:
            os.environ[athena.TABLES_VARIABLE] = tables
    return execution.execute_with_local_aws(checked, parameters, args.pipeline_name or args.definition.stem, args)


def run(args: argparse.Namespace) -> int:
    """Run with parsed arguments (the `mlops-kit local-run` entry); returns the exit code."""
    problem = finish_arguments(args)
    if problem:
        print(f"local-run: error: {problem} (see --help)", file=sys.stderr)
        return 2
    return execute(args)


def execute(args: argparse.Namespace) -> int:
    """Run a checked command line; errors the user must fix become one line and exit code 2."""
    try:
        if args.definition:
            return run_definition(args)
        from . import project

        return project.run(args, parameter_values(args))
    except USER_ERRORS as error:
        print(f"local-run: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("local-run: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m mlops_template_kit.local_run`; returns the exit code."""
    return execute(parse_args(argv))
