"""Helpers shared by the local-run tests: the kit's executor, a seeded emulator."""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import logging
import os
import random
import tarfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlops_template_kit import definition
from mlops_template_kit.definition import expressions
from mlops_template_kit.local_run import (
    cache,
    conditions,
    errors,
    jobs,
    report,
    steps,
    storage,
    training,
    tuning,
)
from mlops_template_kit.local_run.command import main
from mlops_template_kit.monitor import data_quality as baseline

FIXTURES = Path(__file__).resolve().parent
CODE = FIXTURES / "code"
BUCKET = "local-run-test"
PREFIX = f"s3://{BUCKET}/proj"
GROUP = "local-run-models"


__all__ = [
    "baseline",
    "cache",
    "conditions",
    "definition",
    "errors",
    "expressions",
    "jobs",
    "main",
    "report",
    "steps",
    "storage",
    "training",
    "tuning",
]


def fixture_pipeline() -> dict:
    """A fresh copy of the hand-written pipeline (prepare, train, evaluate, baseline, condition)."""
    return copy.deepcopy(json.loads((FIXTURES / "pipeline.json").read_text()))


def write(path: Path, document: object) -> Path:
    """Write a definition (or any JSON) and return its path."""
    path.write_text(json.dumps(document, indent=1))
    return path


def find_step(document: dict, name: str) -> dict:
    """A step of a definition by name, branch steps included."""
    pending = list(document["Steps"])
    while pending:
        step = pending.pop()
        if step["Name"] == name:
            return step
        arguments = step.get("Arguments") or {}
        pending += arguments.get("IfSteps", []) + arguments.get("ElseSteps", [])
    raise KeyError(name)


def sourcedir() -> bytes:
    """The training code as the sourcedir.tar.gz a framework container unpacks."""
    buffer = io.BytesIO()
    # Reproducible, like the pipeline module's archive: same code, same bytes, same cache key.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        data = (CODE / "train.py").read_bytes()
        info = tarfile.TarInfo("train.py")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sample_rows(count: int = 40, seed: int = 0) -> str:
    """CSV of y = 3 + 2x plus noise."""
    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["x", "y", "group"])
    for index in range(count):
        x = index / 4
        writer.writerow([f"{x:.2f}", f"{3 + 2 * x + rng.gauss(0, 0.5):.4f}", "ab"[index % 2]])
    return buffer.getvalue()


def seed_bucket(s3) -> None:
    """Bucket, raw data and step code the hand-written pipeline expects."""
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="proj/input/data.csv", Body=sample_rows().encode())
    for name in ("prepare.py", "evaluate.py"):
        s3.put_object(Bucket=BUCKET, Key=f"proj/code/{name}", Body=(CODE / name).read_bytes())
    s3.put_object(Bucket=BUCKET, Key="proj/code/sourcedir.tar.gz", Body=sourcedir())


@contextmanager
def emulator() -> Iterator[str]:
    """A moto server on loopback, exported through AWS_ENDPOINT_URL for the executor and its steps."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto keeps its state per process, not per server: start every emulator empty.
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")).close()
    saved = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    try:
        yield os.environ["AWS_ENDPOINT_URL"]
    finally:
        server.stop()
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved
