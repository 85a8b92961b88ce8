"""Find the model to deploy: the newest Approved package of the project's model package group."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from app_infra.errors import DeployError

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
