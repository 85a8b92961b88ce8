"""Check every stage's inference_config.json against the repository's schema and rules."""

from __future__ import annotations

import argparse

from mlops_template_kit.deploy.errors import run_cli
from mlops_template_kit.deploy.settings import add_repo_root_argument, chosen_repo_root, config_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_repo_root_argument(parser)


def run(args: argparse.Namespace) -> int:
    def check() -> int:
        repo_root = chosen_repo_root(args.repo_root)
        from mlops_template_kit.deploy import inference_config

        return inference_config.main(config_dir(repo_root))

    return run_cli(check)
