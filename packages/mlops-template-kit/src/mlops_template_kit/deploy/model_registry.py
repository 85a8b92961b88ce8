"""Find the model to deploy: the newest Approved package of the project's model package group."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from mlops_template_kit.deploy.errors import DeployError

APPROVED = "Approved"


@dataclass(frozen=True)
class ApprovedModel:
    """What the deployment needs to know about the approved model package."""

    arn: str
    group: str
    version: int
    model_data_url: str
    image: str
    evaluation_uri: str = ""
    baseline_statistics_uri: str = ""
    baseline_constraints_uri: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (written to build/model_package.json for later stages)."""
        return asdict(self)


def _approved_summaries(sagemaker_client: Any, group: str) -> list[dict[str, Any]]:
    paginator = sagemaker_client.get_paginator("list_model_packages")
    pages = paginator.paginate(
        ModelPackageGroupName=group,
        ModelApprovalStatus=APPROVED,
        SortBy="CreationTime",
        SortOrder="Descending",
    )
    try:
        return [summary for page in pages for summary in page["ModelPackageSummaryList"]]
    except ClientError as problem:
        message = problem.response["Error"].get("Message", str(problem))
        raise DeployError(f"cannot list the model packages of group {group!r}: {message}") from None


def _s3_uri(metrics: dict[str, Any], *path: str) -> str:
    node: Any = metrics
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, str) else ""


def _from_description(description: dict[str, Any]) -> ApprovedModel:
    containers = description.get("InferenceSpecification", {}).get("Containers", [])
    if not containers or not containers[0].get("ModelDataUrl"):
        raise DeployError(f"model package {description['ModelPackageArn']} has no container with a ModelDataUrl")
    metrics = description.get("ModelMetrics", {})
    drift = description.get("DriftCheckBaselines", {})
    # The data-quality baseline may be registered as a metric or as a drift-check baseline.
    statistics = _s3_uri(drift, "ModelDataQuality", "Statistics", "S3Uri") or _s3_uri(
        metrics, "ModelDataQuality", "Statistics", "S3Uri"
    )
    constraints = _s3_uri(drift, "ModelDataQuality", "Constraints", "S3Uri") or _s3_uri(
        metrics, "ModelDataQuality", "Constraints", "S3Uri"
    )
    return ApprovedModel(
        arn=description["ModelPackageArn"],
        group=description["ModelPackageGroupName"],
        version=int(description.get("ModelPackageVersion", 0)),
        model_data_url=containers[0]["ModelDataUrl"],
        image=containers[0].get("Image", ""),
        evaluation_uri=_s3_uri(metrics, "ModelQuality", "Statistics", "S3Uri"),
        baseline_statistics_uri=statistics,
        baseline_constraints_uri=constraints,
        metadata=dict(description.get("CustomerMetadataProperties", {})),
    )


def newest_approved(sagemaker_client: Any, group: str) -> ApprovedModel:
    """The newest Approved package of `group`; DeployError when none is approved.

    Sorted here as well as by the API, so a page boundary or an API that ignores SortBy cannot
    pick an older package; ties on CreationTime go to the higher version number.
    """
    summaries = _approved_summaries(sagemaker_client, group)
    if not summaries:
        raise DeployError(
            f"no Approved model package in group {group!r}: approve one in the model registry "
            "(Studio, or `aws sagemaker update-model-package --model-approval-status Approved`)"
        )
    newest = max(summaries, key=lambda s: (s["CreationTime"], s.get("ModelPackageVersion", 0)))
    description = sagemaker_client.describe_model_package(ModelPackageName=newest["ModelPackageArn"])
    return _from_description(description)


# --- multi-account projects: the stage accounts read the group's models -----------------------

# What a stage account needs of the group (SageMaker Developer Guide, "Set up discoverability"
# for model package groups shared across accounts: these three actions on the group and its
# packages, https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-ram-discover.html).
# The principal is the stage account: which of its principals SageMaker checks when a model names
# a package of another account (the CreateModel caller, the stage's CloudFormation role, or the
# model's execution role) is not documented, so the account is named and stage_access.yaml gives
# the read to both; cross-account access needs that identity policy too (IAM User Guide,
# "Cross-account policy evaluation logic",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
# No aws:PrincipalArn condition: the documented examples name principals only.
STAGE_READ_ACTIONS = [
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
]
POLICY_VERSION = "2012-10-17"


def stage_statement_sid(account_id: str) -> str:
    """One statement per stage account: sharing again replaces it, other statements stay."""
    return f"SageMakerProjectStage{account_id}"


def group_arn(model: ApprovedModel) -> str:
    """The group's ARN, from its package's ARN (arn:<partition>:sagemaker:<region>:<account>:model-package/...)."""
    prefix = model.arn.split(":model-package/", 1)[0]
    return f"{prefix}:model-package-group/{model.group}"


def stage_read_statement(model: ApprovedModel, account_id: str) -> dict[str, Any]:
    """Lets account `account_id` read the group and its packages (package ARNs hold the group's
    name in lower case, as SageMaker returns them)."""
    group = group_arn(model)
    partition = group.split(":")[1]
    packages = group.replace(":model-package-group/", ":model-package/")
    resources = [group, *dict.fromkeys([f"{packages}/*", f"{packages.lower()}/*"])]
    return {
        "Sid": stage_statement_sid(account_id),
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": list(STAGE_READ_ACTIONS),
        "Resource": resources,
    }


def merged_policy(current: str | None, statement: dict[str, Any]) -> dict[str, Any]:
    """The group policy with `statement` in place of any statement with its Sid."""
    policy = json.loads(current) if current else {"Version": POLICY_VERSION, "Statement": []}
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept = [entry for entry in statements if entry.get("Sid") != statement["Sid"]]
    return {**policy, "Statement": [*kept, statement]}


def _current_policy(sagemaker_client: Any, group: str) -> str | None:
    try:
        return sagemaker_client.get_model_package_group_policy(ModelPackageGroupName=group)["ResourcePolicy"]
    except ClientError as problem:
        # A group without a policy answers ResourceNotFound (or a validation error naming the policy).
        if problem.response["Error"]["Code"] in ("ResourceNotFound", "ValidationException"):
            return None
        raise DeployError(f"cannot read the policy of model package group {group!r}: {_message(problem)}") from None


def share_with_stage_account(sagemaker_client: Any, model: ApprovedModel, account_id: str) -> bool:
    """Let the stage account read the model's group, merged into the group's policy; True if it
    changed. Idempotent: an up-to-date policy is left alone."""
    current = _current_policy(sagemaker_client, model.group)
    wanted = merged_policy(current, stage_read_statement(model, account_id))
    if current and json.loads(current) == wanted:
        return False
    try:
        sagemaker_client.put_model_package_group_policy(
            ModelPackageGroupName=model.group, ResourcePolicy=json.dumps(wanted)
        )
    except ClientError as problem:
        raise DeployError(
            f"cannot let account {account_id} read model package group {model.group!r}: {_message(problem)}; "
            "the group's owner must allow it (README, Multi-account deployment)"
        ) from None
    return True


def _message(problem: ClientError) -> str:
    return problem.response["Error"].get("Message", str(problem))
