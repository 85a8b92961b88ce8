"""RegisterModel and Model steps: their arguments are a CreateModelPackage / CreateModel request,
sent as is through boto3, so botocore checks them against the real API shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from . import tracking
from .context import Job


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def ensure_group(client: Any, name: str) -> None:
    """Create the model package group unless it exists (a pipeline's first registration)."""
    try:
        client.describe_model_package_group(ModelPackageGroupName=name)
    except client.exceptions.ClientError:
        client.create_model_package_group(
            ModelPackageGroupName=name, ModelPackageGroupDescription=f"Models registered by pipeline runs into {name}"
        )


def register(job: Job) -> dict[str, Any]:
    """Create a model package version; its properties are DescribeModelPackage's answer."""
    client = job.run.clients("sagemaker")
    request = _without_nulls(job.arguments)
    if request.get("ModelPackageGroupName"):
        ensure_group(client, request["ModelPackageGroupName"])
    arn = client.create_model_package(**request)["ModelPackageArn"]
    package = _jsonable(client.describe_model_package(ModelPackageName=arn))
    if job.run.tracking_database is not None:
        problem = tracking.record_model_package(job.run.tracking_database, package)
        if problem:
            job.run.console.say(f"MLflow: the run was not tagged with model package {arn}: {problem}")
    return package


def create_model(job: Job) -> dict[str, Any]:
    """Create a SageMaker model named after the step's job."""
    client = job.run.clients("sagemaker")
    request = {**_without_nulls(job.arguments), "ModelName": job.job_name}
    arn = client.create_model(**request)["ModelArn"]
    return {**request, "ModelArn": arn}
