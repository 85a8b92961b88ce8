"""Save the local services' S3 objects and model registry to a folder, and load them back.

Through plain boto3 against the server, so the format is ours and does not depend on moto's
internals (its request recorder replays every request, reads included, to the URL it was recorded
at, and grows with every run). `stop` saves before the server goes, `start` loads into the fresh
server. A saved state is written to a new folder and swapped in whole, so a failed save leaves
the previous one as it was.

    state/manifest.json     buckets (name, region), objects (bucket, key, file), model package
                            groups and model packages (their CreateModelPackage request)
    state/objects/<n>       the objects' bodies
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
OBJECTS = "objects"
FORMAT_VERSION = 1
# DescribeModelPackage fields that CreateModelPackage takes back as they are (the API reference's
# request syntax of CreateModelPackage: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html).
PACKAGE_FIELDS = (
    "ModelPackageGroupName",
    "ModelPackageDescription",
    "InferenceSpecification",
    "SourceAlgorithmSpecification",
    "ValidationSpecification",
    "CertifyForMarketplace",
    "ModelApprovalStatus",
    "MetadataProperties",
    "ModelMetrics",
    "CustomerMetadataProperties",
    "DriftCheckBaselines",
    "Domain",
    "Task",
    "SamplePayloadUrl",
    "AdditionalInferenceSpecifications",
)

# service name -> a boto3 client of the local services (region-bound for S3 bucket creation)
ClientFactory = Callable[..., Any]


def _pages(client: Any, operation: str, key: str, **request: Any) -> Iterator[dict]:
    for page in client.get_paginator(operation).paginate(**request):
        yield from page.get(key, [])


def _bucket_region(s3: Any, bucket: str) -> str:
    # GetBucketLocation answers None for us-east-1 (API reference, GetBucketLocation: "Buckets in
    # Region us-east-1 have a LocationConstraint of null").
    return s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"


def _save_s3(s3: Any, target: Path) -> tuple[list[dict], list[dict]]:
    buckets, objects = [], []
    (target / OBJECTS).mkdir(parents=True)
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        buckets.append({"name": name, "region": _bucket_region(s3, name)})
        for item in _pages(s3, "list_objects_v2", "Contents", Bucket=name):
            file_name = str(len(objects))
            body = s3.get_object(Bucket=name, Key=item["Key"])["Body"]
            with open(target / OBJECTS / file_name, "wb") as handle:
                shutil.copyfileobj(body, handle)
            objects.append({"bucket": name, "key": item["Key"], "file": file_name})
    return buckets, objects


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _save_registry(sagemaker: Any) -> tuple[list[dict], list[dict]]:
    groups, packages = [], []
    for group in _pages(sagemaker, "list_model_package_groups", "ModelPackageGroupSummaryList"):
        name = group["ModelPackageGroupName"]
        groups.append({"name": name, "description": group.get("ModelPackageGroupDescription", "")})
        summaries = list(
            _pages(sagemaker, "list_model_packages", "ModelPackageSummaryList", ModelPackageGroupName=name)
        )
        # Versions in order, so the restored packages get the same version numbers and ARNs.
        for summary in sorted(summaries, key=lambda item: item.get("ModelPackageVersion", 0)):
            described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            packages.append(_jsonable({field: described[field] for field in PACKAGE_FIELDS if field in described}))
    return groups, packages


def save(clients: ClientFactory, state_dir: Path) -> dict[str, int]:
    """Write every bucket, object, model package group and package to `state_dir`; the counts."""
    partial = state_dir.with_name(state_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    buckets, objects = _save_s3(clients("s3"), partial)
    groups, packages = _save_registry(clients("sagemaker"))
    manifest = {
        "version": FORMAT_VERSION,
        "buckets": buckets,
        "objects": objects,
        "groups": groups,
        "packages": packages,
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    previous = state_dir.with_name(state_dir.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    if state_dir.exists():
        state_dir.rename(previous)
    partial.rename(state_dir)
    shutil.rmtree(previous, ignore_errors=True)
    return {"objects": len(objects), "model packages": len(packages)}


def _create_bucket(clients: ClientFactory, name: str, region: str) -> None:
    s3 = clients("s3", region)
    # CreateBucket outside us-east-1 needs the region as LocationConstraint (API reference, CreateBucket).
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **location)


def load(clients: ClientFactory, state_dir: Path) -> dict[str, int]:
    """Put a saved state into a fresh server; the counts (zero when nothing was saved)."""
    manifest_path = state_dir / MANIFEST
    if not manifest_path.is_file():
        return {"objects": 0, "model packages": 0}
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for bucket in manifest["buckets"]:
        _create_bucket(clients, bucket["name"], bucket["region"])
    s3 = clients("s3")
    for item in manifest["objects"]:
        with open(state_dir / OBJECTS / item["file"], "rb") as handle:
            s3.put_object(Bucket=item["bucket"], Key=item["key"], Body=handle)
    sagemaker = clients("sagemaker")
    for group in manifest["groups"]:
        description = {"ModelPackageGroupDescription": group["description"]} if group["description"] else {}
        sagemaker.create_model_package_group(ModelPackageGroupName=group["name"], **description)
    for request in manifest["packages"]:
        sagemaker.create_model_package(**request)
    return {"objects": len(manifest["objects"]), "model packages": len(manifest["packages"])}
