"""`make test-local` and `make bench`: the promotion tests and the benchmark against a local endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_promotion_tests_pass_against_the_local_endpoint(tmp_path):
    """tests/ (integration, stress, ML) run unchanged against the sample model served locally."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_template_kit.cli",
            "local-endpoint",
            "test",
            "--model",
            "sample",
            "--pytest-args=-q",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_a_registry_out_of_reach_is_one_line(tmp_path):
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mlops_template_kit.cli", "local-endpoint", "serve", "--model", "registry"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the model registry") and result.stderr.count("\n") == 1


def test_a_missing_bundle_is_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_template_kit.cli",
            "local-endpoint",
            "serve",
            "--model",
            str(tmp_path / "model.tar.gz"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr == f"error: model bundle {tmp_path / 'model.tar.gz'} does not exist\n"
