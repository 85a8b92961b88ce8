"""A definition build parses each botocore service model once: every session made inside
one_service_model_loader shares one data loader, and sessions made after it get their own again."""

from __future__ import annotations

import boto3
import botocore.session

from mlops_template_kit.pipeline.loader import one_service_model_loader


def loader_of(session: boto3.Session):
    return session._session.get_component("data_loader")


def test_sessions_made_inside_share_one_loader_and_its_parsed_models():
    with one_service_model_loader():
        first, second = boto3.Session(region_name="us-east-1"), boto3.Session(region_name="eu-west-1")
        assert loader_of(first) is loader_of(second)
        model = loader_of(first).load_service_model("sagemaker", "service-2")
        assert loader_of(second).load_service_model("sagemaker", "service-2") is model


def test_sessions_made_after_get_their_own_loader_again():
    original = botocore.session.create_loader
    with one_service_model_loader():
        inside = boto3.Session(region_name="us-east-1")
    assert botocore.session.create_loader is original
    after = boto3.Session(region_name="us-east-1")
    assert loader_of(after) is not loader_of(inside)


def test_later_builds_in_the_process_reuse_the_first_builds_loader_as_does_the_sdks_endpoint_lookup():
    """A process that builds many definitions (the data-layout check) parses each model once."""
    import botocore.loaders

    with one_service_model_loader():
        first = loader_of(boto3.Session(region_name="us-east-1"))
    with one_service_model_loader():
        again = loader_of(boto3.Session(region_name="us-east-1"))
        endpoints = botocore.loaders.create_loader()  # what sagemaker.core's image URI lookup calls
    assert again is first and endpoints is first
    assert botocore.loaders.create_loader() is not first


SHARED_IN_A_TEST_PROCESS = """
import boto3, botocore.loaders
from mlops_template_kit import testing

def loader(region):
    return boto3.Session(region_name=region)._session.get_component("data_loader")

assert loader("us-east-1") is not loader("us-east-1")
testing.pytest_configure(None)
testing.pytest_configure(None)  # a second call wraps nothing again
first = loader("us-east-1")
assert loader("eu-west-1") is first and botocore.loaders.create_loader() is first
print("shared")
"""


def test_the_test_plugin_makes_every_later_session_of_the_process_share_one_loader():
    """The plugin the generated repositories' pytest settings load (-p mlops_template_kit.testing);
    in its own process, as the sharing is for the rest of the process."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", SHARED_IN_A_TEST_PROCESS], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "shared", result.stderr[-2000:]
