"""A definition build parses each botocore service model once: every session made inside
one_service_model_loader shares one data loader, later builds of the process reuse it, and
sessions made outside get their own again. The test plugin (mlops_template_kit.testing) shares
one loader for the rest of its process.

Each check runs in a fresh process: this suite's own runs load the test plugin, which already
shares the loader."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PRELUDE = """
import boto3, botocore.loaders, botocore.session
from mlops_template_kit.pipeline.loader import one_service_model_loader

def loader(region="us-east-1"):
    return boto3.Session(region_name=region)._session.get_component("data_loader")
"""

CHECKS = {
    "sessions made inside share one loader and its parsed models": """
        with one_service_model_loader():
            first, second = loader(), loader("eu-west-1")
            assert first is second
            model = first.load_service_model("sagemaker", "service-2")
            assert second.load_service_model("sagemaker", "service-2") is model
    """,
    "sessions made after get their own loader again": """
        original = botocore.session.create_loader
        with one_service_model_loader():
            inside = loader()
        assert botocore.session.create_loader is original
        assert loader() is not inside
    """,
    "later builds reuse the first build's loader, as does the SDK's endpoint lookup": """
        with one_service_model_loader():
            first = loader()
        with one_service_model_loader():
            again = loader()
            endpoints = botocore.loaders.create_loader()  # what sagemaker.core's image URI lookup calls
        assert again is first and endpoints is first
        assert botocore.loaders.create_loader() is not first
    """,
    "the test plugin makes every later session of the process share one loader": """
        from mlops_template_kit import testing

        assert loader() is not loader()
        testing.pytest_configure(None)
        testing.pytest_configure(None)  # a second call wraps nothing again
        first = loader()
        assert loader("eu-west-1") is first and botocore.loaders.create_loader() is first
        with one_service_model_loader():
            assert loader() is first
    """,
}


@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
def test_loader_sharing(check):
    script = PRELUDE + textwrap.dedent(CHECKS[check]) + "\nprint('ok')\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
