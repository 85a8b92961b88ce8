"""`make test-local` and `make bench`: the promotion tests and the benchmark against a local endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app_infra.local_endpoint import benchmark
from app_infra.local_endpoint.benchmark import percentile
from app_infra.settings import REPO_ROOT


@pytest.mark.slow
def test_promotion_tests_pass_against_the_local_endpoint(tmp_path):
    """tests/ (integration, stress, ML) run unchanged against the sample model served locally."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "app_infra.local_endpoint", "test", "--model", "sample", "-q"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


@pytest.mark.slow
def test_benchmark_reports_every_series(sample_bundle):
    record = "59,M,32.1,101,157,93.2,38,4,4.8598,87"
    report = benchmark.run_benchmark(sample_bundle.model_data, record, requests=20, concurrent_requests=2)
    names = [(row["name"], row["clients"]) for row in report["series"]]
    assert names == [
        ("in-process predict", 1),
        ("HTTP /invocations", 1),
        ("HTTP /invocations", 32),
        ("boto3 invoke_endpoint", 1),
    ]
    assert report["series"][2]["requests"] == 64
    assert "serving_overhead_p50_ms" in report
    assert json.dumps(report)
    assert "serving overhead" in benchmark.format_report(report)


def test_percentile_uses_nearest_rank():
    values = [float(value) for value in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0


def test_a_registry_out_of_reach_is_one_line(tmp_path):
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "app_infra.local_endpoint", "serve", "--model", "registry"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("ERROR: cannot reach the model registry") and result.stderr.count("\n") == 1


def test_a_missing_bundle_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "app_infra.local_endpoint", "serve", "--model", str(tmp_path / "model.tar.gz")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr == f"ERROR: model bundle {tmp_path / 'model.tar.gz'} does not exist\n"
