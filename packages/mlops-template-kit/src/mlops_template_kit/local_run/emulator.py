"""The local AWS a run talks to: the endpoint in `AWS_ENDPOINT_URL`, or a moto server started here.

Every client is plain boto3, so the same code would talk to AWS; the endpoint variable is the
only switch. A server someone else started (another repo's run, `make demo`) is reused as is.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
# Credentials and region a local emulator accepts; only filled in where nothing is set.
OFFLINE_DEFAULTS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextmanager
def local_aws(region: str | None = None, running: str | None = None) -> Iterator[str]:
    """Yield the endpoint URL to use: `AWS_ENDPOINT_URL` when set, else `running` (the local AWS
    services of `mlops-kit local-aws`, which outlive the run), else a moto server on 127.0.0.1
    started for the duration of the `with` block.

    The endpoint is exported through `AWS_ENDPOINT_URL` so that the step subprocesses reach the
    same S3; the environment is restored afterwards.
    """
    existing = os.environ.get(ENDPOINT_VARIABLE)
    if existing:
        yield existing
        return
    saved = {name: os.environ.get(name) for name in (*OFFLINE_DEFAULTS, ENDPOINT_VARIABLE, "AWS_REGION")}
    for name, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if region:
        os.environ.setdefault("AWS_DEFAULT_REGION", region)
    server = None if running else start_server()
    try:
        if server:
            host, port = server.get_host_and_port()
            running = f"http://{host}:{port}"
        os.environ[ENDPOINT_VARIABLE] = running
        threading.Thread(target=warm_up, daemon=True).start()
        yield running
    finally:
        if server:
            server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def warm_up() -> None:
    """Make the emulator load its SageMaker and STS services while the first steps run.

    moto imports a service on its first request (about a second for SageMaker); done here, in
    the background, it overlaps with the steps' subprocesses instead of delaying registration.
    Best effort: a failure only means the first real request pays the cost.
    """
    try:
        import boto3

        session = boto3.session.Session()
        session.client("sts").get_caller_identity()
        session.client("sagemaker").list_model_package_groups(MaxResults=1)
    except Exception:  # noqa: BLE001 - warming up must never break a run
        return


def start_server():
    """Start moto's threaded server on a free loopback port, quietly."""
    # Imported here: moto is only needed when no endpoint was given, and it is slow to import.
    from moto.server import ThreadedMotoServer

    # One log line per request would drown the steps' own output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server
