"""CI deploy step: deploy a stage's stacks from build/, the model-approval trigger, stage access or teardown."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops_template_kit import naming
from mlops_template_kit.deploy.errors import run_cli
from mlops_template_kit.deploy.settings import add_repo_root_argument, chosen_repo_root

# The role the deploy project's CodeBuild runs as; deploy.stacks.CODEBUILD_ROLE_NAME is the
# default, named here only in the help so `--help` loads no AWS library.
EXAMPLES = """examples:
  mlops-kit deploy --stage staging|prod [--build-dir build]
  mlops-kit deploy --trigger                       # the model-approval rule, in the registry's account
  mlops-kit deploy --stage staging --teardown      # remove what the deploy step created
administrators, once (app_infra/stage_access/stage_access.yaml):
  mlops-kit deploy --stage-access --every-project [--attach-to-role NAME]
  mlops-kit deploy --stage-access --stage prod --tooling-account-id 111122223333"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_repo_root_argument(parser)
    parser.add_argument(
        "--stage", choices=naming.STAGES, help="the stage to deploy, tear down, or (with --stage-access) give access to"
    )
    parser.add_argument("--trigger", action="store_true", help="deploy the model-approval rule")
    parser.add_argument("--teardown", action="store_true", help="delete everything deployed for --stage")
    parser.add_argument("--build-dir", type=Path, default=None, help="the build output (default: build/ of the repo)")
    admin = parser.add_argument_group(
        "administrators, once", "the stage-access stack: runtime roles, CloudFormation service role, deploy policy"
    )
    admin.add_argument("--stage-access", action="store_true", help="deploy the stage-access stack")
    admin.add_argument(
        "--every-project", action="store_true", help="single-account projects: every project's stages of this account"
    )
    admin.add_argument(
        "--attach-to-role",
        default=None,
        help="with --every-project: the role the deploy CodeBuild runs as "
        "(default AmazonSageMakerServiceCatalogProductsCodeBuildRole)",
    )
    admin.add_argument("--tooling-account-id", default="", help="with --stage: the account of the deploy pipeline")
    admin.add_argument(
        "--tooling-deploy-role-arn",
        default="",
        help="with --stage: the tooling role that may assume the deploy role (default: its deploy CodeBuild role)",
    )


def run(args: argparse.Namespace) -> int:
    def deploy() -> int:
        repo_root = chosen_repo_root(args.repo_root)
        from mlops_template_kit.deploy import deploy as deploy_step

        return deploy_step.run(args, repo_root)

    return run_cli(deploy)
