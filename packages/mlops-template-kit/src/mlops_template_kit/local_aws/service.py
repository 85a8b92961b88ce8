"""The moto server process behind the local AWS services: start it detached, find it, stop it.

Its files live in one folder (`<repo>/.local-aws/` by default): the pid, the endpoint URL, the
server's log and the saved state (state.py). The endpoint is always http://127.0.0.1:<port>;
the port comes from the Makefiles' shared LOCAL_AWS_PORT, so the deploy repository finds the
services the build-train repository started without any variable being exported.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LocalAwsError

HOST = "127.0.0.1"
FOLDER_NAME = ".local-aws"
PORT_VARIABLE = "LOCAL_AWS_PORT"
# Starting moto's server imports Flask and its backends: a couple of seconds on a busy machine.
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
# The credentials a local emulator accepts: never real ones, whatever the environment holds.
OFFLINE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# moto answers its own configuration at this path; any other server on the port does not.
PROBE_PATH = "/moto-api/config"


def endpoint_url(port: int) -> str:
    """The URL boto3 uses for every service of the local AWS (AWS_ENDPOINT_URL)."""
    return f"http://{HOST}:{port}"


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a moto server answers at `url` (not just anything listening on the port)."""
    try:
        with urllib.request.urlopen(url + PROBE_PATH, timeout=timeout) as response:
            return 200 <= response.status < 300 and isinstance(json.loads(response.read()), dict)
    except (OSError, ValueError, urllib.error.URLError):
        return False


def running_endpoint(port: int | None) -> str | None:
    """The local services' URL when they answer on `port`; None without a port or an answer."""
    if not port:
        return None
    url = endpoint_url(port)
    return url if answers(url) else None


def client_factory(url: str, region: str) -> Callable[..., Any]:
    """boto3 clients of the local services at `url` (explicit endpoint and offline credentials, so
    neither AWS_ENDPOINT_URL nor a real profile can send these calls elsewhere)."""
    import boto3

    def client(name: str, client_region: str | None = None) -> Any:
        session = boto3.session.Session(region_name=client_region or region, **OFFLINE_CREDENTIALS)
        return session.client(name, endpoint_url=url)

    return client


@dataclass(frozen=True)
class Folder:
    """Where one repository keeps its local services' files."""

    root: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "server.pid"

    @property
    def endpoint_file(self) -> Path:
        return self.root / "endpoint"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"


@dataclass(frozen=True)
class Running:
    """A server this folder started and that still answers."""

    pid: int
    url: str


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's: not a server this folder started
        return False
    return True


def _read_pid(folder: Folder) -> int | None:
    try:
        return int(folder.pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def find(folder: Folder) -> Running | None:
    """The server this folder started, when its process lives and answers at the recorded URL.

    A pid file whose process is gone, or whose pid now belongs to a process that is not our
    server (pids are reused), is stale: it is removed and nothing is reported as running."""
    pid = _read_pid(folder)
    if pid is None:
        return None
    try:
        url = folder.endpoint_file.read_text(encoding="utf-8").strip()
    except OSError:
        url = ""
    if url and _alive(pid) and answers(url):
        return Running(pid, url)
    forget(folder)
    return None


def forget(folder: Folder) -> None:
    """Remove the pid and endpoint files (the saved state stays)."""
    folder.pid_file.unlink(missing_ok=True)
    folder.endpoint_file.unlink(missing_ok=True)


def server_command(port: int) -> list[str]:
    """moto's own server command, on loopback only."""
    return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]


def spawn(folder: Folder, port: int) -> Running:
    """Start the server detached from this process (its own session, output to the log) and wait
    until it answers; LocalAwsError when the port is taken or it does not come up."""
    url = endpoint_url(port)
    if answers(url):
        raise LocalAwsError(
            f"local AWS services already answer at {url}, started elsewhere: stop them there, "
            f"or choose another port with LOCAL_AWS_PORT=<port>"
        )
    folder.root.mkdir(parents=True, exist_ok=True)
    with open(folder.log_file, "ab") as log:
        process = subprocess.Popen(
            server_command(port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalAwsError(
                f"the local AWS server exited at start (port {port} in use?): see {folder.log_file}, "
                f"or choose another port with LOCAL_AWS_PORT=<port>"
            )
        if answers(url, timeout=0.5):
            folder.pid_file.write_text(f"{process.pid}\n", encoding="utf-8")
            folder.endpoint_file.write_text(f"{url}\n", encoding="utf-8")
            return Running(process.pid, url)
        time.sleep(0.1)
    terminate(process.pid)
    raise LocalAwsError(
        f"the local AWS server did not answer at {url} within {START_TIMEOUT_SECONDS:.0f} s: see {folder.log_file}"
    )


def terminate(pid: int) -> None:
    """SIGTERM the server and wait for it to go; SIGKILL if it does not within the timeout."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not _alive(pid) or _reaped(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _reaped(pid: int) -> bool:
    """Collect the server if it is our own child (a test starting and stopping in one process)."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return finished == pid
