"""The data-quality baseline registered with the stage's model: the newest Approved package's
drift-check baselines (as the deploy build resolves them), read from S3. boto3 honours
AWS_ENDPOINT_URL, so the local AWS services' registry works as AWS's does."""

from __future__ import annotations

import json
from typing import Any

from mlops_template_kit.deploy.build import split_s3_uri
from mlops_template_kit.deploy.model_registry import newest_approved
from mlops_template_kit.monitor.errors import MonitorError
from mlops_template_kit.monitor.run import Baseline


def _read_json(s3_client: Any, uri: str) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3_uri(uri)
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (BotoCoreError, ClientError) as problem:
        raise MonitorError(f"cannot read the baseline {uri}: {problem}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise MonitorError(f"the baseline {uri} is not JSON") from None


def registered_baseline(group: str, region: str) -> Baseline:
    """The baseline of the newest Approved model of `group`; MonitorError when it has none."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        model = newest_approved(boto3.client("sagemaker", region_name=region), group)
    except (BotoCoreError, ClientError) as problem:
        raise MonitorError(
            f"cannot reach the model registry ({problem}): start the local one (make local-aws-start in the "
            "build-train repository), set AWS_ENDPOINT_URL, or give BASELINE=<folder with statistics.json "
            "and constraints.json>"
        ) from None
    if not (model.baseline_statistics_uri and model.baseline_constraints_uri):
        raise MonitorError(
            f"model package {model.arn} has no data-quality baseline (train with data_quality_baseline=yes)"
        )
    s3 = boto3.client("s3", region_name=region)
    return Baseline(_read_json(s3, model.baseline_statistics_uri), _read_json(s3, model.baseline_constraints_uri))
