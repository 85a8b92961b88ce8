"""Each botocore service model is parsed once per process: a definition build, and the test plugin
(mlops_template_kit.testing), make every later botocore session share one data loader.

Each check runs in a fresh process: this suite's own runs load the test plugin, which already
shares the loader."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PRELUDE = """
import boto3, botocore.loaders, botocore.session
from pathlib import Path

def loader(region="us-east-1"):
    return boto3.Session(region_name=region)._session.get_component("data_loader")

assert loader() is not loader(), "botocore's default: a loader per session"
"""

CHECKS = {
    "sessions share one loader and its parsed models, the SDK's endpoint lookup included": """
        from mlops_template_kit.pipeline.loader import share_for_the_process

        share_for_the_process()
        share_for_the_process()  # a second call wraps nothing again
        first, second = loader(), loader("eu-west-1")
        assert first is second and botocore.loaders.create_loader() is first
        model = first.load_service_model("sagemaker", "service-2")
        assert second.load_service_model("sagemaker", "service-2") is model
    """,
    "the test plugin shares it": """
        from mlops_template_kit import testing

        testing.pytest_configure(None)
        assert loader() is loader("eu-west-1")
    """,
    "a definition build shares it for the rest of the process": """
        from mlops_template_kit.pipeline import sdk

        sdk.offline_definition("us-east-1", "bucket", lambda session: type("P", (), {"definition": lambda self: ""})())
        assert loader() is loader("eu-west-1")
    """,
}


@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
def test_loader_sharing(check):
    script = PRELUDE + textwrap.dedent(CHECKS[check]) + "\nprint('ok')\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
