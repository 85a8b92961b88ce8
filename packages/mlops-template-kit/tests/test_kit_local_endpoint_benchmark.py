"""The local endpoint's benchmark: every series measured, percentiles by nearest rank."""

from __future__ import annotations

import json

import pytest

from mlops_template_kit.local_endpoint import benchmark
from mlops_template_kit.local_endpoint.benchmark import percentile

pytestmark = pytest.mark.usefixtures("offline")


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
