"""Serve a model on 127.0.0.1 behind the SageMaker contracts, run tests/ against it, or benchmark it."""

from __future__ import annotations

import argparse
import os

from mlops_template_kit import naming
from mlops_template_kit.deploy.errors import run_cli
from mlops_template_kit.deploy.settings import add_repo_root_argument, chosen_repo_root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_repo_root_argument(parser)
    parser.add_argument("action", choices=["serve", "test", "bench"])
    parser.add_argument("--model", default="registry", help="registry | sample | path or s3:// URI of model.tar.gz")
    # The variables tests/README.md documents are the defaults, so they reach the tests either way.
    parser.add_argument(
        "--evaluation",
        default=os.environ.get("EVALUATION", ""),
        help="evaluation.json the ML tests compare against (default: $EVALUATION, or the registry model's)",
    )
    parser.add_argument(
        "--test-data",
        default=os.environ.get("TEST_DATA", ""),
        help="labelled raw records: CSV file, folder or s3:// prefix (default: $TEST_DATA; required with a model path)",
    )
    parser.add_argument(
        "--local-aws-port",
        type=int,
        default=None,
        metavar="PORT",
        help="without AWS_ENDPOINT_URL, use the local AWS services on this port when they run (mlops-kit local-aws)",
    )
    parser.add_argument("--stage", choices=naming.STAGES, default="staging")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--capture",
        default="",
        metavar="DIR",
        help="write answered requests in Model Monitor's data-capture format under DIR (mlops-kit monitor reads it)",
    )
    # One option, not trailing arguments: argparse cannot pass `-q`-like words through a subcommand.
    parser.add_argument("--pytest-args", default="", help='with test: options for pytest, e.g. --pytest-args="-q -x"')


def run(args: argparse.Namespace) -> int:
    def local_endpoint() -> int:
        repo_root = chosen_repo_root(args.repo_root)
        # scikit-learn, pandas and boto3 load only when the command runs.
        from mlops_template_kit.local_endpoint import run as runner

        return runner.run(args, repo_root)

    return run_cli(local_endpoint)
