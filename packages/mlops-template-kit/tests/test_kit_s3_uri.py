"""The kit's one splitter of s3:// URIs, and the caller's error type for anything else."""

from __future__ import annotations

import pytest

from mlops_template_kit import s3_uri
from mlops_template_kit.deploy.build import split_s3_uri
from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.monitor import processing
from mlops_template_kit.monitor.errors import MonitorError


def test_a_uri_splits_into_bucket_and_key():
    assert s3_uri.split("s3://bucket/a/b.json") == ("bucket", "a/b.json")
    assert s3_uri.split("s3://bucket") == ("bucket", "")
    assert processing.split_s3_uri("s3://bucket/capture/") == ("bucket", "capture")


@pytest.mark.parametrize("uri", ["https://bucket/key", "bucket/key", "s3://", "s3:///key"])
def test_anything_else_is_the_callers_error_naming_the_uri(uri):
    with pytest.raises(DeployError, match="is not an s3://bucket/key URI"):
        split_s3_uri(uri)
    with pytest.raises(MonitorError, match="is not an s3://bucket/prefix URI"):
        processing.split_s3_uri(uri)


@pytest.mark.parametrize("uri", ["s3://bucket", "s3://bucket/", "s3://bucket//"])
def test_a_prefix_is_required_where_the_caller_says_so(uri):
    with pytest.raises(MonitorError, match="is not an s3://bucket/prefix URI"):
        processing.split_s3_uri(uri)
