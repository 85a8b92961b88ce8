"""A pytest plugin for the test sessions of the kit's repositories (`-p mlops_template_kit.testing`
in their pytest settings).

Tests make a fresh boto3 session per test (each inside its own moto), and a fresh botocore session
parses botocore's service models and endpoint data again: in a deploy repository's suite that was
about a seventh of its time. Here every botocore session of the test process shares one data
loader; the data is botocore's own files, the same for every session.
"""

from __future__ import annotations

from .pipeline.loader import share_for_the_process


def pytest_configure(config) -> None:
    share_for_the_process()
