"""Benchmark of the local endpoint: what serving over HTTP adds to the model's own predict time.

One run measures, for single-record requests:
- in-process: input_fn -> predict_fn -> output_fn called directly (no HTTP);
- over HTTP: POST /invocations on keep-alive connections at 1 and 32 concurrent clients
  (p50/p99 latency and throughput); at one client in rounds alternating with in-process calls;
- through boto3's sagemaker-runtime client at 1 client (what the Lambda handler and tests use).
The serving overhead is the HTTP p50 at one client minus the in-process p50.
"""

from __future__ import annotations

import http.client
import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3

from mlops_template_kit.local_endpoint.server import RunningEndpoint

CSV = "text/csv"
JSON = "application/json"
WARM_UP = 20
ROUND = 20


@dataclass(frozen=True)
class Measurement:
    """Latencies (milliseconds) of one series and its throughput."""

    name: str
    clients: int
    latencies_ms: list[float]
    wall_seconds: float

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.wall_seconds if self.wall_seconds else 0.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank on the sorted values)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def _timed(call: Callable[[], None], count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def measure_single_client(endpoint: RunningEndpoint, body: bytes, count: int) -> tuple[Measurement, Measurement]:
    """In-process predict and HTTP at one client, measured in alternating rounds.

    Alternating keeps the comparison fair on a busy machine: whatever else runs slows both
    series alike, so their difference is the serving overhead.
    """
    container = endpoint.server.container
    host, port = endpoint.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Content-Type": CSV, "Accept": JSON}

    def direct() -> None:
        container.predict(body, CSV, JSON)

    def over_http() -> None:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"benchmark request failed: HTTP {response.status}")

    _timed(direct, WARM_UP)
    _timed(over_http, WARM_UP)
    series: dict[str, list[float]] = {"direct": [], "http": []}
    walls = {"direct": 0.0, "http": 0.0}
    for _ in range(max(1, count // ROUND)):
        for name, call in (("direct", direct), ("http", over_http)):
            start = time.perf_counter()
            series[name] += _timed(call, ROUND)
            walls[name] += time.perf_counter() - start
    connection.close()
    return (
        Measurement("in-process predict", 1, series["direct"], walls["direct"]),
        Measurement("HTTP /invocations", 1, series["http"], walls["http"]),
    )


def measure_http(endpoint: RunningEndpoint, body: bytes, clients: int, per_client: int) -> Measurement:
    host, port = endpoint.server.server_address[:2]
    results: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        headers = {"Content-Type": CSV, "Accept": JSON}

        def call() -> None:
            connection.request("POST", "/invocations", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(f"HTTP {response.status}")

        call()  # open the connection before the clock starts
        barrier.wait()
        results[index] = _timed(call, per_client)
        connection.close()

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} benchmark requests failed, first: {failures[0]}")
    return Measurement("HTTP /invocations", clients, [value for series in results for value in series], wall)


def measure_boto3(endpoint: RunningEndpoint, body: bytes, count: int) -> Measurement:
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )

    def call() -> None:
        runtime.invoke_endpoint(EndpointName=endpoint.endpoint_name, Body=body, ContentType=CSV, Accept=JSON)

    call()
    start = time.perf_counter()
    latencies = _timed(call, count)
    return Measurement("boto3 invoke_endpoint", 1, latencies, time.perf_counter() - start)


def run_benchmark(model_data: Path, record_csv: str, requests: int = 400, concurrent_requests: int = 25) -> dict:
    """Measure everything in one run; returns the figures (milliseconds, requests per second)."""
    body = record_csv.encode("utf-8")
    with RunningEndpoint(model_data, "benchmark") as endpoint:
        in_process, single = measure_single_client(endpoint, body, requests)
        series = [
            in_process,
            single,
            measure_http(endpoint, body, 32, concurrent_requests),
            measure_boto3(endpoint, body, requests // 2),
        ]
    return {
        "series": [
            {
                "name": m.name,
                "clients": m.clients,
                "requests": len(m.latencies_ms),
                "p50_ms": round(m.p50, 3),
                "p99_ms": round(m.p99, 3),
                "mean_ms": round(statistics.fmean(m.latencies_ms), 3),
                "throughput_rps": round(m.throughput, 1),
            }
            for m in series
        ],
        "serving_overhead_p50_ms": round(single.p50 - in_process.p50, 3),
    }


def format_report(report: dict) -> str:
    """The figures as a table."""
    lines = [f"{'series':<24}{'clients':>8}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}"]
    for row in report["series"]:
        lines.append(
            f"{row['name']:<24}{row['clients']:>8}{row['requests']:>10}"
            f"{row['p50_ms']:>10.3f}{row['p99_ms']:>10.3f}{row['throughput_rps']:>10.1f}"
        )
    lines.append(f"serving overhead at p50, 1 client: {report['serving_overhead_p50_ms']:.3f} ms")
    return "\n".join(lines)
