"""Approve the newest model package of a group in the LOCAL registry.

Local only: in AWS a person reviews and approves a model in Studio, and that approval is what
starts a deployment. Here it stands in for that person so the deploy repository's `registry`
model (the newest Approved package) can be served and tested.
"""

from __future__ import annotations

from typing import Any

from .errors import LocalAwsError

APPROVED = "Approved"


def newest_package(sagemaker: Any, group: str) -> str | None:
    """The ARN of the group's highest version; None when the group holds nothing (or is missing)."""
    summaries: list[dict] = []
    try:
        for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
            summaries.extend(page.get("ModelPackageSummaryList", []))
    except sagemaker.exceptions.ResourceNotFound:
        return None
    if not summaries:
        return None
    # The version, not the creation time: packages restored after a stop and start share a second.
    return max(summaries, key=lambda item: item.get("ModelPackageVersion", 0))["ModelPackageArn"]


def approve_newest(sagemaker: Any, group: str) -> str:
    """Set the newest package of `group` to Approved; its ARN."""
    arn = newest_package(sagemaker, group)
    if arn is None:
        raise LocalAwsError(f"no model is registered in {group}: run make local-run first")
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus=APPROVED,
        ApprovalDescription="approved locally (make approve); in AWS a person approves in Studio",
    )
    return arn
