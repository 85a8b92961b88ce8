"""Start, stop or show the local AWS services (S3 and model registry) that outlive a run; approve a model.

    mlops-kit local-aws start   --port N   # moto on 127.0.0.1:N, detached; loads the saved state
    mlops-kit local-aws stop               # saves the state under .local-aws/state, stops the server
    mlops-kit local-aws status             # where they answer, or that nothing runs
    mlops-kit local-aws approve --port N   # the newest model package of the project's group: Approved

The build-train Makefile passes LOCAL_AWS_PORT (tools/environment.mk, shared with the deploy
repository, which finds the services on the same port).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from . import service
from .errors import LocalAwsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`mlops-kit local-aws` options."""
    parser.add_argument("action", choices=["start", "stop", "status", "approve"])
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"loopback port of the services (default: ${service.PORT_VARIABLE}; the Makefiles pass it)",
    )
    parser.add_argument(
        "--repo", type=Path, default=Path("."), metavar="DIR", help="the build-train repository (default: here)"
    )


def _region(repo: Path) -> str:
    from ..pipeline.settings import sdk_region

    return sdk_region(repo)


def _port(args: argparse.Namespace) -> int:
    text = args.port if args.port is not None else os.environ.get(service.PORT_VARIABLE)
    try:
        port = int(text) if text is not None else 0
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise LocalAwsError(
            f"give the port with --port or {service.PORT_VARIABLE}: a number from 1 to 65535, not {text!r}"
        )
    return port


def start(args: argparse.Namespace, folder: service.Folder) -> str:
    running = service.find(folder)
    if running:
        return f"local AWS services already running at {running.url} (pid {running.pid})"
    from . import state

    started = service.spawn(folder, _port(args))
    try:
        counts = state.load(service.client_factory(started.url, _region(args.repo)), folder.state_dir)
    except Exception as problem:  # noqa: BLE001 - a server we cannot fill must not keep running
        service.terminate(started.pid)
        service.forget(folder)
        raise LocalAwsError(
            f"cannot load the saved state {folder.state_dir} ({problem}): move it away to start empty"
        ) from None
    loaded = f"; loaded {_counted(counts)} from {folder.state_dir}" if any(counts.values()) else ""
    return f"local AWS services (S3, SageMaker model registry) running at {started.url} (pid {started.pid}){loaded}"


def stop(args: argparse.Namespace, folder: service.Folder) -> str:
    running = service.find(folder)
    if not running:
        return "local AWS services are not running (nothing to stop)"
    from . import state

    try:
        counts = state.save(service.client_factory(running.url, _region(args.repo)), folder.state_dir)
    except Exception as problem:  # noqa: BLE001 - keep the server (and its data) when saving fails
        raise LocalAwsError(
            f"cannot save the state to {folder.state_dir} ({problem}); the services keep running"
        ) from None
    service.terminate(running.pid)
    service.forget(folder)
    return f"stopped the local AWS services at {running.url}; saved {_counted(counts)} to {folder.state_dir}"


def status(args: argparse.Namespace, folder: service.Folder) -> str:
    running = service.find(folder)
    if running:
        return f"local AWS services running at {running.url} (pid {running.pid}); log {folder.log_file}"
    return "local AWS services are not running (make local-aws-start starts them)"


def approve(args: argparse.Namespace, folder: service.Folder) -> str:
    url = service.running_endpoint(_port(args))
    if not url:
        raise LocalAwsError(
            f"the local AWS services are not running on port {_port(args)}: make local-aws-start, then make local-run"
        )
    from ..pipeline import repo as pipeline_repo
    from ..pipeline.settings import SettingsError
    from .approve import approve_newest

    try:
        settings = pipeline_repo.settings_of(args.repo)
    except SettingsError as problem:
        raise LocalAwsError(str(problem)) from None
    arn = approve_newest(service.client_factory(url, settings.region)("sagemaker"), settings.model_package_group)
    return f"approved {arn}"


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{number} {what}" for what, number in counts.items())


ACTIONS: dict[str, Callable[[argparse.Namespace, service.Folder], str]] = {
    "start": start,
    "stop": stop,
    "status": status,
    "approve": approve,
}


def run(args: argparse.Namespace) -> int:
    """Run one action; its outcome as one line (on stderr with a non-zero exit when refused)."""
    args.repo = args.repo.resolve()
    folder = service.Folder(args.repo / service.FOLDER_NAME)
    try:
        print(ACTIONS[args.action](args, folder))
    except LocalAwsError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0
