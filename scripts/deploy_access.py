"""`make deploy-access`: give the role Studio products run CI as what deploying stages needs.

The deploy repository's stage stacks create IAM roles, KMS keys, a Lambda function and an API;
the products' CodeBuild runs as `AmazonSageMakerServiceCatalogProductsUseRole`, and products
cannot add IAM permissions. This deploys that repository's own `deploy_role.yaml` once per
account and region with `AttachToRoleName` and "*" for project and stage: its stage policies are
attached to the use role for every project's `sagemaker-*` stage resources, together with the
right to assume the stage accounts' deploy roles of multi-account projects.

  python -m scripts.deploy_access [--use-role-name NAME] [--stack-name NAME] [--dry-run]

Creates the stack, or updates it when the template changed; a failure is one line and exit 1,
bad arguments exit 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from scripts import catalog

USE_ROLE = "AmazonSageMakerServiceCatalogProductsUseRole"
STACK_NAME = "sagemaker-projects-deploy-access"
ROLE_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")
EVERY = "*"


class DeployAccessError(RuntimeError):
    """The stack could not be created or updated; the message says why."""


def deploy_role_template() -> Path:
    """The deploy template's `deploy_role.yaml` (copied verbatim into generated repos)."""
    (payload,) = (catalog.TEMPLATES_DIR / "deploy").glob("{{cookiecutter.*}}")
    return payload / "app_infra" / "deploy_role" / "deploy_role.yaml"


def parameters(account_id: str, use_role: str) -> dict[str, str]:
    """Stack parameters: every project and stage of this account, attached to `use_role`."""
    return {
        "ProjectName": EVERY,
        "ProjectId": EVERY,
        "StageName": EVERY,
        "ToolingAccountId": account_id,
        # Artifact buckets are sagemaker-project-<id> (hooks/naming.py artifact_bucket).
        "ArtifactBucketName": f"sagemaker-project-{EVERY}",
        "RoleName": "",
        "AttachToRoleName": use_role,
    }


def _existing_stack(cloudformation, name: str) -> dict | None:
    try:
        return cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in error.response.get("Error", {}).get("Message", ""):
            return None
        raise


def deploy(cloudformation, name: str, body: str, given: dict[str, str]) -> str:
    """Create or update the stack; return what was done (created, updated or unchanged)."""
    options = {
        "StackName": name,
        "TemplateBody": body,
        "Parameters": [{"ParameterKey": key, "ParameterValue": value} for key, value in given.items()],
        "Capabilities": ["CAPABILITY_IAM"],
    }
    try:
        if _existing_stack(cloudformation, name) is None:
            cloudformation.create_stack(**options, OnFailure="DELETE")
            cloudformation.get_waiter("stack_create_complete").wait(StackName=name)
            return "created"
        try:
            cloudformation.update_stack(**options)
        except ClientError as error:
            if "No updates are to be performed" in error.response.get("Error", {}).get("Message", ""):
                return "unchanged"
            raise
        cloudformation.get_waiter("stack_update_complete").wait(StackName=name)
        return "updated"
    except WaiterError as error:
        reason = (error.last_response or {}).get("Stacks", [{}])[0].get("StackStatusReason", "see its events")
        raise DeployAccessError(f"stack {name} did not complete: {reason}") from None
    except (ClientError, BotoCoreError) as error:
        raise DeployAccessError(f"stack {name}: {error}") from None


def main(argv: list[str] | None = None) -> int:
    """Deploy the deploy-access stack in the account and region of the current credentials."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--use-role-name", default=USE_ROLE, help=f"role to attach to (default {USE_ROLE})")
    parser.add_argument("--stack-name", default=STACK_NAME, help=f"default {STACK_NAME}")
    parser.add_argument("--dry-run", action="store_true", help="print the parameters, deploy nothing")
    args = parser.parse_args(argv)
    if not ROLE_NAME.fullmatch(args.use_role_name):
        print(f"ERROR: --use-role-name {args.use_role_name!r} is not a role name (1-64 of A-Z a-z 0-9 +=,.@_-)")
        return 2
    try:
        account_id = boto3.client("sts").get_caller_identity()["Account"]
        given = parameters(account_id, args.use_role_name)
        if args.dry_run:
            for key, value in given.items():
                print(f"{key}={value}")
            return 0
        body = deploy_role_template().read_text(encoding="utf-8")
        done = deploy(boto3.client("cloudformation"), args.stack_name, body, given)
    except (DeployAccessError, ClientError, BotoCoreError) as problem:
        print(f"ERROR: {problem}")
        return 1
    print(f"stack {args.stack_name} {done}: {args.use_role_name} may deploy every project's stages in {account_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
