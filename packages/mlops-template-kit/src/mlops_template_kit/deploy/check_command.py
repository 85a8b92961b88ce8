"""Check every stage's inference_config.json against the repository's schema and rules."""

from __future__ import annotations

import argparse

from mlops_template_kit.deploy.errors import run_cli
from mlops_template_kit.deploy.settings import add_repo_root_argument, use_repo_root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_repo_root_argument(parser)


def run(args: argparse.Namespace) -> int:
    def check() -> int:
        use_repo_root(args.repo_root)
        from mlops_template_kit.deploy import inference_config

        return inference_config.main()

    return run_cli(check)
