"""`python -m ml_pipelines.local_run`: run the training pipeline, or a given definition, locally.

Without `--definition` it does the whole loop: local AWS, artifact bucket, sample data, step
code upload, the pipeline definition built by `ml_pipelines/training/ml-pipeline-training.py`,
then the run and its results table. Exit codes: 0 the pipeline succeeded, 1 it failed (a step or
a Fail step), 2 the input was wrong (arguments, definition, parameters).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from .errors import DefinitionError, LocalRunError

PROG = "python -m ml_pipelines.local_run"


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"local-run: error: {message} (see --help)\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = _Parser(prog=PROG, description="Run the SageMaker pipeline definition on this machine.")
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
        "--work-dir", type=Path, default=Path(".local-run"), help="sandboxes and cache (default .local-run)"
    )
    parser.add_argument("--no-cache", action="store_true", help="run every step even when a cached result exists")
    parser.add_argument("--tuning-trials", type=int, default=3, help="training trials of a tuning step (default 3)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    args = parser.parse_args(argv)
    # Steps run with their sandbox as working directory: every path handed to them is absolute.
    args.work_dir = args.work_dir.resolve()
    if args.tuning_trials < 1:
        parser.error("--tuning-trials must be at least 1")
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
    from . import definition, execution

    checked = definition.load_file(args.definition)
    parameters = checked.resolve_parameters(parameter_values(args))
    return execution.execute_with_local_aws(checked, parameters, args.pipeline_name or args.definition.stem, args)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    try:
        if args.definition:
            return run_definition(args)
        from . import project

        return project.run(args, parameter_values(args))
    except LocalRunError as error:
        print(f"local-run: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("local-run: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
