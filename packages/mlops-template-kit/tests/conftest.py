"""Fixtures of the kit's own tests: a real sample model bundle, and no way to reach AWS."""

from __future__ import annotations

import pytest

OFFLINE = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
REACHING_OUT = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_PROFILE", "AWS_SESSION_TOKEN")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a fixed region; no endpoint override sends a call anywhere."""
    for name in REACHING_OUT:
        monkeypatch.delenv(name, raising=False)
    for name, value in OFFLINE.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def sample_bundle(tmp_path_factory: pytest.TempPathFactory):
    """The local endpoint's sample model (regression), trained once per test session."""
    # scikit-learn loads only for the tests that serve a model.
    from mlops_template_kit.local_endpoint.sample_bundle import build_sample_bundle

    return build_sample_bundle(tmp_path_factory.mktemp("bundle"), "regression")
