"""Feature branches: each trains in its own pipeline, model package group and S3 prefix.

A feature branch build upserts `<pipeline>-<slug>`, registers into `<main group>-<slug>` (created
by the build's upsert when missing) and writes under `<project>/branches/<slug>/`. When the branch is merged or
deleted, `cleanup` removes all three; only main's group is ever promoted. `approve_merged` finds
the model a merged commit produced (by `MetadataProperties.CommitId`) and approves it.

Only boto3 is used here: `mlops-kit pipeline cleanup-branch` and `approve-merged` need no SageMaker SDK.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from mlops_template_kit.pipeline import settings as project_settings

# DeleteObjects takes at most 1000 keys per request.
DELETE_BATCH = 1000
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
NOT_FOUND = re.compile(r"does not exist|not found|could not find|cannot find|could not be found", re.IGNORECASE)


class BranchError(RuntimeError):
    """A branch operation could not finish; the message says what is missing or what failed."""


@dataclass
class Cleanup:
    """What `cleanup` removed."""

    pipeline: str | None = None
    objects: int = 0
    packages: int = 0
    group: str | None = None

    def lines(self, settings: project_settings.Settings, branch: str) -> list[str]:
        """One line per kind of resource, saying what was removed or that nothing was there."""
        prefix = settings.branch_prefix_uri(branch)
        return [
            f"pipeline {self.pipeline}: deleted" if self.pipeline else "pipeline: none to delete",
            f"{prefix}: {self.objects} objects deleted",
            f"model package group {self.group}: deleted with {self.packages} model packages"
            if self.group
            else "model package group: kept (pass --delete-group to delete it)",
        ]


def _not_found(error: ClientError) -> bool:
    """Whether a SageMaker call failed only because the resource is already gone.

    DeletePipeline names this error ResourceNotFound; the model registry answers with a
    ValidationException that says the resource does not exist.
    """
    details = error.response.get("Error", {})
    if details.get("Code") == "ResourceNotFound":
        return True
    return details.get("Code") == "ValidationException" and bool(NOT_FOUND.search(details.get("Message", "")))


def feature_settings(settings: project_settings.Settings, branch: str) -> project_settings.Settings:
    """The settings a build of `branch` would have (what cleanup and approval look at)."""
    project_settings.check_branch(branch)
    if branch == project_settings.main_branch():
        raise project_settings.SettingsError(
            f"{branch!r} is the main branch (MAIN_BRANCH): its pipeline, group and data are never cleaned up"
        )
    return replace(settings, branch=branch)


def cleanup(
    settings: project_settings.Settings, branch: str, delete_group: bool, sagemaker_client: Any, s3_client: Any
) -> Cleanup:
    """Remove a merged or deleted feature branch's pipeline, S3 prefix and (optionally) its group.

    Safe to repeat: what is already gone is skipped.
    """
    feature = feature_settings(settings, branch)
    removed = Cleanup()
    try:
        sagemaker_client.delete_pipeline(PipelineName=feature.pipeline_name)
        removed.pipeline = feature.pipeline_name
    except ClientError as error:
        if not _not_found(error):
            raise
    removed.objects = delete_prefix(s3_client, feature.bucket, feature.key_prefix + "/")
    if delete_group:
        removed.packages, deleted = delete_group_with_packages(sagemaker_client, feature.model_package_group)
        removed.group = feature.model_package_group if deleted else None
    return removed


def delete_prefix(client: Any, bucket: str, prefix: str) -> int:
    """Delete every object under `prefix` (which must end with '/').

    The project's artifact bucket is not versioned (the managed launch role cannot turn versioning
    on), so deleting the current objects removes the branch's data; no `s3:ListBucketVersions` or
    `s3:DeleteObjectVersion` is needed, and the CodeBuild role has neither.
    """
    if not prefix.endswith("/"):
        raise ValueError(f"prefix {prefix!r} must end with '/' so it cannot match a sibling branch")
    keys = list(_current_objects(client, bucket, prefix))
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        answer = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise BranchError(f"could not delete s3://{bucket}/{first['Key']}: {first['Code']} {first.get('Message')}")
    return len(keys)


def _current_objects(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, str]]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield {"Key": item["Key"]}


def delete_group_with_packages(client: Any, group: str) -> tuple[int, bool]:
    """Delete every model package of `group`, then the group; (packages deleted, group deleted)."""
    arns = [package["ModelPackageArn"] for package in _packages(client, group)]
    for arn in arns:
        client.delete_model_package(ModelPackageName=arn)
    try:
        client.delete_model_package_group(ModelPackageGroupName=group)
    except ClientError as error:
        if not _not_found(error):
            raise
        return len(arns), False
    return len(arns), True


def _packages(client: Any, group: str) -> Iterator[dict[str, Any]]:
    """The group's model package summaries, newest first; nothing when the group does not exist."""
    try:
        for page in client.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"
        ):
            yield from page.get("ModelPackageSummaryList", [])
    except ClientError as error:
        if not _not_found(error):
            raise


def find_by_commit(client: Any, group: str, commit: str) -> dict[str, Any] | None:
    """The newest model package of `group` built from `commit` (a full hash, or a prefix of 7+ characters)."""
    for summary in _packages(client, group):
        package = client.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        recorded = (package.get("MetadataProperties") or {}).get("CommitId", "").lower()
        if recorded and (recorded.startswith(commit) or commit.startswith(recorded)):
            return package
    return None


def approve_merged(
    settings: project_settings.Settings, commit: str, branch: str | None, client: Any
) -> tuple[str, str]:
    """Approve the model package built from the merged `commit`; (its ARN, the group it is in).

    Main's group is searched first (its builds are the ones that get promoted), then the feature
    branch's group when `branch` is given. A package that is already approved is left as it is.
    """
    commit = commit.lower()
    if not COMMIT.match(commit):
        raise project_settings.SettingsError(f"--commit {commit!r} is not a commit hash (7 to 40 hexadecimal digits)")
    groups = [settings.main_model_package_group]
    if branch:
        groups.append(feature_settings(settings, branch).model_package_group)
    for group in groups:
        package = find_by_commit(client, group, commit)
        if package is None:
            continue
        arn = package["ModelPackageArn"]
        if package.get("ModelApprovalStatus") != "Approved":
            client.update_model_package(
                ModelPackageArn=arn,
                ModelApprovalStatus="Approved",
                ApprovalDescription=f"Approved on merge of commit {commit}",
            )
        return arn, group
    raise BranchError(
        f"no model package built from commit {commit} in {' or '.join(groups)}: "
        "has the pipeline of that commit registered its model yet?"
    )
