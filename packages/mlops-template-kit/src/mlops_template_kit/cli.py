"""`mlops-kit`: the one command behind the generated repositories' Makefile targets.

Each subcommand lives in its own module with `add_arguments(parser)` and `run(args)`; modules
import heavy libraries inside the functions that need them, so `--help` and light commands stay
fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib import metadata

DISTRIBUTION = "mlops-template-kit"
DESCRIPTION = "The platform commands behind a generated repository's Makefile targets."


# subcommand -> (one-line help, module holding `add_arguments` and `run`)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "update": ("apply a newer template version as a reviewable change", "mlops_template_kit.update"),
    # deploy repositories (issue 11): inference configs, build and deploy steps, local endpoint
    "check-config": ("check every stage's inference_config.json", "mlops_template_kit.deploy.check_command"),
    "deploy-build": ("CI build step: stacks of every stage", "mlops_template_kit.deploy.build_command"),
    "deploy": ("CI deploy step, trigger, stage access", "mlops_template_kit.deploy.deploy_command"),
    "local-endpoint": ("serve, test or benchmark a model locally", "mlops_template_kit.local_endpoint.command"),
    # build-train: the local runner (issue 11, slice 2)
    "local-run": ("run the build-train pipeline on this machine", "mlops_template_kit.local_run.command"),
    # build-train: local S3 and model registry that outlive a run, and the local approval (issue 13)
    "local-aws": (
        "start, stop or show the local AWS services; approve locally",
        "mlops_template_kit.local_aws.command",
    ),
    "data-layout": ("check a build's S3 URIs against the data layout", "mlops_template_kit.data_layout"),
    # build-train: the training pipeline's commands (issue 11, slice 3)
    "pipeline": ("build, upload and run the build-train pipeline", "mlops_template_kit.pipeline.command"),
    # deploy: Model Monitor's checks on captured traffic, locally, and what a violation starts (issue 14)
    "monitor": ("check captured traffic against the model's baseline", "mlops_template_kit.monitor.command"),
}


def version() -> str:
    """The installed kit's version (what the generated repository pins)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand; each one's options come from its own module."""
    parser = argparse.ArgumentParser(prog="mlops-kit", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (summary, module_name) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=summary, description=module.__doc__.splitlines()[0])
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand; its return value is the exit code."""
    args = build_parser().parse_args(argv)
    code = args.run(args)
    if argv is None and getattr(args, "exit_without_teardown", False):
        exit_without_teardown(code)
    return code


def exit_without_teardown(code: int) -> None:
    """End the process once its output is flushed, skipping the interpreter's teardown: after the
    SageMaker SDK built a pipeline definition, freeing its ~300k objects one by one took a fifth
    of the command's time. Only for commands that have written everything and hold nothing open
    (they ask with `exit_without_teardown=True`); only from the command line, never in-process."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
