"""CI build step: resolve the Approved model and render every stage's stacks into build/."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops_template_kit.deploy.errors import run_cli
from mlops_template_kit.deploy.settings import add_repo_root_argument, chosen_repo_root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_repo_root_argument(parser)
    parser.add_argument("--output-dir", type=Path, default=None, help="where to write (default: build/ of the repo)")


def run(args: argparse.Namespace) -> int:
    def build() -> int:
        repo_root = chosen_repo_root(args.repo_root)
        # boto3 and the stack machinery load only when the command runs (`--help` stays light).
        from mlops_template_kit.deploy import build as build_step

        return build_step.run(repo_root, args.output_dir)

    return run_cli(build)
