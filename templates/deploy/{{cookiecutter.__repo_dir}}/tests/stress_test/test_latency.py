"""Concurrent load on the stage: latency percentiles and error rate within the stage's thresholds.

Clients, requests and thresholds come from inference_config/<stage>/inference_config.json
(`tests.stress`). Each request carries one record, as interactive callers send them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from mlops_template_kit.local_endpoint.benchmark import percentile

JSON = "application/json"


def _load(call, clients: int, per_client: int) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal errors
        own, failed = [], 0
        for _ in range(per_client):
            start = time.perf_counter()
            try:
                call()
            except Exception:  # every failure counts towards the error rate
                failed += 1
            own.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(own)
            errors += failed

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - started


def _series(path: str, clients: int, latencies: list[float], errors: int, wall: float) -> dict:
    return {
        "path": path,
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "throughput_rps": len(latencies) / wall if wall else 0.0,
    }


def _report(row: dict) -> None:
    destination = os.environ.get("STRESS_REPORT")
    if not destination:
        return
    path = Path(destination)
    report = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"series": []}
    report["series"].append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")


def _check(row: dict, limits: dict) -> None:
    assert row["errors"] / row["requests"] <= limits["max_error_rate"], row
    assert row["p50_ms"] <= limits["p50_ms"], row
    assert row["p95_ms"] <= limits["p95_ms"], row
    assert row["p99_ms"] <= limits["p99_ms"], row


@pytest.fixture(scope="module")
def limits(target) -> dict:
    return target.config["tests"]["stress"]


@pytest.fixture(scope="module")
def one_record(target) -> str:
    return json.dumps({"instances": json.loads(target.features(1).to_json(orient="records"))})


def test_endpoint_under_concurrent_load(target, limits, one_record):
    clients = [target.runtime() for _ in range(limits["clients"])]
    local = threading.local()
    assignments = iter(clients)
    assignment_lock = threading.Lock()

    def call() -> None:
        if not hasattr(local, "client"):
            with assignment_lock:
                local.client = next(assignments)
        target.invoke(one_record, JSON, JSON, client=local.client)["Body"].read()

    latencies, errors, wall = _load(call, limits["clients"], limits["requests_per_client"])
    row = _series("endpoint", limits["clients"], latencies, errors, wall)
    _report(row)
    _check(row, limits)


def test_api_under_concurrent_load(target, limits, one_record):
    if "api" not in target.config:
        pytest.skip("this stage has no API (api_gateway=no)")

    def call() -> None:
        response = target.call_api(one_record)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {response.body}")

    latencies, errors, wall = _load(call, limits["clients"], limits["requests_per_client"])
    row = _series("api", limits["clients"], latencies, errors, wall)
    _report(row)
    _check(row, limits)
