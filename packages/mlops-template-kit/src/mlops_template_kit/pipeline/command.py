"""Build, upload and run a build-train repository's training pipeline (what its build spec runs).

    mlops-kit pipeline definition      the pipeline definition JSON, built offline
    mlops-kit pipeline mermaid         the steps as a Mermaid flowchart (--readme rewrites its diagram)
    mlops-kit pipeline build-id        a new build id: UTC time + short commit
    mlops-kit pipeline upload-code     algorithms/ + input.json under code/<build-id>/
    mlops-kit pipeline upsert          create or update the pipeline, and its model package group
    mlops-kit pipeline start           start an execution (--wait: fail unless it succeeds)
    mlops-kit pipeline cleanup-branch  delete a merged feature branch's pipeline and data (multi-branch)
    mlops-kit pipeline approve-merged  approve the model package of a merged commit (multi-branch)

Settings come from the environment, else the repository's `.cruft.json`; the step graph from the
repository's `ml_pipelines/training/ml-pipeline-training.py`; everything else from input.json.
Exit codes: 0 done; 1 an AWS call failed (or `start --wait` did not succeed); 2 bad settings or
config, printed as one line. `build-id` and `--help` do not import the SageMaker SDK.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import settings as project_settings
from .config import ConfigError

# name -> (help, handler name, needs multi-branch)
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "definition": ("print the pipeline definition JSON (offline)", "_definition", False),
    "mermaid": ("print the pipeline's steps as a Mermaid flowchart (offline)", "_mermaid", False),
    "build-id": ("print a new build id: UTC timestamp and short commit hash", "_build_id", False),
    "upload-code": ("upload algorithms/ and input.json under code/<build-id>/", "_upload_code", False),
    "upsert": ("create or update the pipeline in SageMaker", "_upsert", False),
    "start": ("start a pipeline execution", "_start", False),
    "cleanup-branch": ("delete a merged or deleted feature branch's pipeline and data", "_cleanup_branch", True),
    "approve-merged": ("approve the model package built from a merged commit", "_approve_merged", True),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`mlops-kit pipeline <command>`, each with --repo-root and --config."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--repo-root", type=Path, default=None, help="the build-train repository (default: the working directory)"
    )
    common.add_argument("--config", type=Path, help="pipeline config (default: ml_pipelines/training/input.json)")
    commands = parser.add_subparsers(dest="pipeline_command", required=True, metavar="command")
    for name, (text, handler, _) in COMMANDS.items():
        command = commands.add_parser(name, help=text, description=text, parents=[common])
        # The definition and the diagram only print: the process may skip the SDK's teardown.
        command.set_defaults(handler=handler, exit_without_teardown=name in ("definition", "mermaid"))
        if name == "mermaid":
            command.add_argument("--readme", type=Path, help="rewrite the diagram block of this README instead")
        if name == "start":
            command.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE")
            command.add_argument("--wait", action="store_true", help="wait for the execution; fail unless it succeeds")
        if name == "cleanup-branch":
            command.add_argument("--branch", required=True, help="the feature branch, as git names it")
            command.add_argument(
                "--delete-group",
                action="store_true",
                help="also delete its model package group and every package in it",
            )
        if name == "approve-merged":
            command.add_argument("--commit", help="the merged commit, full or 7+ characters (default: this build's)")
            command.add_argument("--branch", help="also search this feature branch's model package group")


def run(args: argparse.Namespace) -> int:
    """Run one command: bad settings or config print one line and return 2, AWS errors 1."""
    from ..definition import DefinitionError

    try:
        if COMMANDS[args.pipeline_command][2] and not project_settings.multi_branch(repo(args)):
            raise project_settings.SettingsError(
                f"{args.pipeline_command} needs a multi-branch repository (multi_branch is no in .cruft.json, "
                "MULTI_BRANCH unset)"
            )
        handler: Callable[[argparse.Namespace], int] = globals()[args.handler]
        # Importing the SDK turns on INFO logging of every AWS call; a command's output says enough.
        for name in ("botocore", "boto3", "urllib3"):
            logging.getLogger(name).setLevel(logging.WARNING)
        return handler(args)
    except (project_settings.SettingsError, ConfigError, DefinitionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        problem = _aws_problem(error)
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return 1


def _aws_problem(error: Exception) -> str | None:
    """The one line for a failed AWS call or a branch operation that could not finish (exit 1);
    None for anything else. botocore is only looked at when a command has imported it."""
    if "botocore" not in sys.modules:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    from .branches import BranchError

    if isinstance(error, BranchError):
        return str(error)
    return f"AWS call failed: {error}" if isinstance(error, BotoCoreError | ClientError) else None


def repo(args: argparse.Namespace) -> Path:
    """The build-train repository the command works on: --repo-root, else the working directory."""
    return (args.repo_root or Path.cwd()).resolve()


def built(args: argparse.Namespace) -> tuple[project_settings.Settings, dict[str, Any], str]:
    """Settings, config and definition JSON of this build (imports the SDK)."""
    from . import repo as repository

    root = repo(args)
    repository.module_path(root)  # a folder that is not a build-train repository is named as such first
    return repository.build(root, project_settings.from_env(root), args.config)


def _definition(args: argparse.Namespace) -> int:
    _, _, definition = built(args)
    print(json.dumps(json.loads(definition), indent=2))
    return 0


def _mermaid(args: argparse.Namespace) -> int:
    from .. import definition as definitions

    diagram = definitions.mermaid(json.loads(built(args)[2]))
    if args.readme is None:
        print(diagram)
        return 0
    try:
        readme = args.readme.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {args.readme}: {error.strerror}") from None
    args.readme.write_text(definitions.with_readme_diagram(readme, diagram), encoding="utf-8")
    print(f"updated the pipeline diagram in {args.readme}")
    return 0


def _build_id(args: argparse.Namespace) -> int:
    print(project_settings.new_build_id(commit=project_settings.current_commit(repo(args))))
    return 0


def _upload_code(args: argparse.Namespace) -> int:
    from . import aws, config
    from . import repo as repository

    root = repo(args)
    module = repository.load(root)
    settings = project_settings.from_env(root)
    config.load(root, module, args.config)  # refuse to ship a config the pipeline cannot read
    for uri in aws.upload_code(settings, root):
        print(uri)
    return 0


def _upsert(args: argparse.Namespace) -> int:
    import boto3

    from .. import definition as definitions
    from . import aws

    settings, _, definition = built(args)
    definitions.check(json.loads(definition))
    client = boto3.client("sagemaker", region_name=settings.region)
    arn = aws.upsert(settings, definition, client)
    # The pipeline registers into the group when it runs: it must exist before `start`.
    if aws.ensure_model_package_group(settings, client):
        where = f" for branch {settings.branch}" if settings.branch else ""
        print(f"created model package group {settings.model_package_group}{where}")
    print(arn)
    return 0


def _start(args: argparse.Namespace) -> int:
    import boto3

    from . import aws

    overrides = dict(_parameter_override(text) for text in args.parameter)
    settings, _, definition = built(args)
    declared = {parameter["Name"] for parameter in json.loads(definition)["Parameters"]}
    unknown = sorted(set(overrides) - declared)
    if unknown:
        raise ConfigError(f"unknown pipeline parameter {unknown[0]}; declared: {', '.join(sorted(declared))}")
    client = boto3.client("sagemaker", region_name=settings.region)
    arn = aws.start(settings, overrides, client)
    print(arn)
    if not args.wait:
        return 0
    status = aws.wait(arn, client)
    print(status)
    return 0 if status == "Succeeded" else 1


def _cleanup_branch(args: argparse.Namespace) -> int:
    import boto3

    from . import branches

    settings = project_settings.from_env(repo(args))
    sagemaker_client = boto3.client("sagemaker", region_name=settings.region)
    s3_client = boto3.client("s3", region_name=settings.region)
    removed = branches.cleanup(settings, args.branch, args.delete_group, sagemaker_client, s3_client)
    for line in removed.lines(settings, args.branch):
        print(line)
    return 0


def _approve_merged(args: argparse.Namespace) -> int:
    import boto3

    from . import branches

    settings = project_settings.from_env(repo(args))
    if args.commit is None and settings.branch:
        # The build spec runs this after every build when APPROVE_ON_MERGE=true; only main's models are promoted.
        print(f"nothing to approve: this is a build of feature branch {settings.branch}")
        return 0
    commit = args.commit or settings.commit_id
    if not commit:
        raise project_settings.SettingsError("this build's commit is unknown: pass --commit or set COMMIT_ID")
    client = boto3.client("sagemaker", region_name=settings.region)
    arn, group = branches.approve_merged(settings, commit, args.branch, client)
    print(f"approved {arn} (group {group})")
    return 0


def _parameter_override(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise ConfigError(f"--parameter {text!r}: expected Name=Value")
    return name, value
