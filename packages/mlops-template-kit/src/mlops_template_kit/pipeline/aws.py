"""The training pipeline's AWS side: the code upload, and the SageMaker calls CI makes (upsert,
ensure the model package group, start, wait). boto3 only, imported when a call is made."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .settings import LOCAL_ROLE_ARN, Settings, SettingsError

# Where a build-train repository keeps the step code and the config a build ships, from its root.
ALGORITHMS = Path("algorithms")
CONFIG = Path("ml_pipelines") / "training" / "input.json"
SKIPPED_FOLDERS = {"__pycache__", "test", ".ipynb_checkpoints", ".pytest_cache"}


def _client(service: str, settings: Settings) -> Any:
    import boto3

    return boto3.client(service, region_name=settings.region)


# --------------------------------------------------------------------------- code upload


def code_files(algorithms_dir: Path) -> list[Path]:
    """The step code a build ships: every file under algorithms/ but tests and caches, sorted."""
    return sorted(
        path
        for path in algorithms_dir.rglob("*")
        if path.is_file()
        and not SKIPPED_FOLDERS.intersection(path.relative_to(algorithms_dir).parts[:-1])
        and path.suffix != ".pyc"
    )


def source_dir_archive(algorithms_dir: Path) -> bytes:
    """sourcedir.tar.gz of the step code, byte-identical for identical files (no times, no owners)."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for path in code_files(algorithms_dir):
            info = tarfile.TarInfo(path.relative_to(algorithms_dir).as_posix())
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def code_uploads(settings: Settings, repo_root: Path) -> list[tuple[str, bytes]]:
    """What `upload-code` writes: (S3 URI, body) of algorithms/ (as files and as sourcedir.tar.gz) and input.json."""
    algorithms_dir = repo_root / ALGORITHMS
    uploads = [
        (settings.algorithms_uri() + path.relative_to(algorithms_dir).as_posix(), path.read_bytes())
        for path in code_files(algorithms_dir)
    ]
    uploads.append((settings.source_dir_uri(), source_dir_archive(algorithms_dir)))
    uploads.append((settings.config_uri(), (repo_root / CONFIG).read_bytes()))
    return uploads


def upload_code(settings: Settings, repo_root: Path, s3_client: Any = None) -> list[str]:
    """Upload algorithms/ (as files and as sourcedir.tar.gz) and input.json under code/<build-id>/."""
    client = s3_client or _client("s3", settings)
    uploads = code_uploads(settings, repo_root)
    for uri, body in uploads:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        # The bucket's default encryption (KMS) applies; no per-object key overrides it.
        client.put_object(Bucket=bucket, Key=key, Body=body)
    return [uri for uri, _ in uploads]


# --------------------------------------------------------------------------- SageMaker calls


def project_tags(settings: Settings) -> list[dict[str, str]]:
    """The tags SageMaker Projects uses to list a project's resources."""
    return [
        {"Key": "sagemaker:project-name", "Value": settings.project_name},
        {"Key": "sagemaker:project-id", "Value": settings.project_id},
    ]


def upsert(settings: Settings, definition: str, sagemaker_client: Any = None) -> str:
    """Create the pipeline, or update it when it exists; return its ARN."""
    from botocore.exceptions import ClientError

    if settings.role_arn == LOCAL_ROLE_ARN and not os.environ.get("AWS_ENDPOINT_URL"):
        raise SettingsError("SAGEMAKER_PIPELINE_ROLE_ARN must name the pipeline's IAM role")
    client = sagemaker_client or _client("sagemaker", settings)
    request = {
        "PipelineName": settings.pipeline_name,
        "PipelineDefinition": definition,
        "PipelineDescription": f"Training pipeline of SageMaker project {settings.project_name}",
        "RoleArn": settings.role_arn,
    }
    tags = project_tags(settings)
    try:
        return client.create_pipeline(**request, Tags=tags)["PipelineArn"]
    except ClientError as error:
        if not already_exists(error):
            raise
    arn = client.update_pipeline(**request)["PipelineArn"]
    client.add_tags(ResourceArn=arn, Tags=tags)
    return arn


def ensure_model_package_group(settings: Settings, sagemaker_client: Any = None) -> bool:
    """Create the model package group this build registers into unless it exists; True when created.

    The project's product does not create it: the SageMaker Projects launch role has no
    sagemaker:CreateModelPackageGroup (AWS managed policy AmazonSageMakerAdmin-
    ServiceCatalogProductsServiceRolePolicy v12). The platform stack lets the build role create
    groups carrying the project's tags; the project's teardown deletes them.
    """
    from botocore.exceptions import ClientError

    client = sagemaker_client or _client("sagemaker", settings)
    name = settings.model_package_group
    try:
        client.describe_model_package_group(ModelPackageGroupName=name)
        return False
    except ClientError as error:
        if not missing(error):
            raise
    description = f"Models trained by SageMaker project {settings.project_name}"
    if settings.branch:
        description += f" on feature branch {settings.branch}"
    try:
        client.create_model_package_group(
            ModelPackageGroupName=name, ModelPackageGroupDescription=description, Tags=project_tags(settings)
        )
    except ClientError as error:
        if not already_exists(error):  # a concurrent build created it first
            raise
        return False
    return True


def missing(error: Any) -> bool:
    """DescribeModelPackageGroup reports a missing group as a validation error that says so."""
    details = error.response.get("Error", {})
    return details.get("Code") in ("ValidationException", "ResourceNotFound") and any(
        text in details.get("Message", "").lower() for text in ("does not exist", "not found", "could not find")
    )


def already_exists(error: Any) -> bool:
    """CreatePipeline reports a name collision as a validation error, not a dedicated code."""
    details = error.response.get("Error", {})
    return details.get("Code") in ("ValidationException", "ResourceInUse") and any(
        text in details.get("Message", "") for text in ("already exists", "already existing", "must be unique")
    )


def start(settings: Settings, overrides: Mapping[str, str] | None = None, sagemaker_client: Any = None) -> str:
    """Start an execution named after the build; return its ARN."""
    client = sagemaker_client or _client("sagemaker", settings)
    request: dict[str, Any] = {
        "PipelineName": settings.pipeline_name,
        "PipelineExecutionDisplayName": settings.build_id,
        "PipelineExecutionDescription": f"Build {settings.build_id}",
    }
    if overrides:
        request["PipelineParameters"] = [{"Name": name, "Value": value} for name, value in overrides.items()]
    return client.start_pipeline_execution(**request)["PipelineExecutionArn"]


def wait(execution_arn: str, sagemaker_client: Any, poll_seconds: float = 30.0) -> str:
    """Wait for an execution to finish; return its final status."""
    while True:
        status = sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)[
            "PipelineExecutionStatus"
        ]
        if status not in ("Executing", "Stopping"):
            return status
        time.sleep(poll_seconds)
