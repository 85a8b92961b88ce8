"""The default command: a build-train repository's training pipeline, end to end, on this machine.

The same steps CI takes, pointed at local AWS: settings from the environment (the local build
id is fixed, so unchanged code keeps its S3 location and the step cache works), the definition
and the code upload of `mlops-kit pipeline` (mlops_template_kit.pipeline), and the bundled
sample data as the input when the input prefix is empty. The repository is found from
`--repo` (default: the current directory), never from where this package is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import definition as definitions
from ..pipeline import aws
from ..pipeline import repo as pipeline_repo
from ..pipeline.config import ConfigError
from ..pipeline.settings import SettingsError
from . import athena, input_data, tracking
from .context import Clients
from .emulator import local_aws
from .errors import LocalRunError
from .execution import execute
from .report import Console
from .storage import Storage, join_uri

# Where a generated build-train repository keeps the step code, relative to its root.
ALGORITHMS = Path("algorithms")


def repository_tables(repo: Path) -> str | None:
    """The repository's S3 input prefix, which the Athena stand-in reads as tables; None when
    `repo` is not a build-train repository. Reads the repository's settings only (no SDK)."""
    if not (repo / pipeline_repo.PIPELINE_MODULE).is_file():
        return None
    try:
        return pipeline_repo.settings_of(repo).input_uri()
    except SettingsError as error:
        raise LocalRunError(str(error)) from None


def build(repo: Path) -> tuple[Any, dict, str]:
    """Settings, configuration and definition JSON, as `mlops-kit pipeline definition` builds them."""
    try:
        return pipeline_repo.build(repo)
    except (SettingsError, ConfigError) as error:
        raise LocalRunError(str(error)) from None


def sample_data_file(algorithms: Path, work_dir: Path, problem_type: str) -> Path:
    """The bundled sample data set as CSV, kept under the work dir while the code that makes it is unchanged.

    Making it imports pandas and scikit-learn (seconds); a fresh emulator needs it on every run.
    """
    library = algorithms / "shared_libraries"
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sorted(library.glob("*.py")))).hexdigest()[:16]
    folder = work_dir / "sample-data" / f"{problem_type}-{digest}"
    existing = sorted(folder.glob("*.csv"))
    if existing:
        return existing[0]
    if str(algorithms) not in sys.path:
        sys.path.insert(0, str(algorithms))
    from shared_libraries import sample_data

    folder.mkdir(parents=True, exist_ok=True)
    return sample_data.write_sample_data(folder, problem_type)


def write_sample_data(storage: Storage, input_uri: str, sample: Callable[[], Path]) -> str | None:
    """Upload the sample data set when the input prefix holds nothing; its S3 URI."""
    if storage.objects(input_uri):
        return None
    path = sample()
    uri = join_uri(input_uri, path.name)
    storage.upload_file(path, uri)
    return uri


def running_services(args: argparse.Namespace) -> str | None:
    """The URL of the local AWS services (`mlops-kit local-aws start`) when they answer on the
    port given (--local-aws-port, else LOCAL_AWS_PORT); None: the run starts its own emulator."""
    from ..local_aws import service

    port = getattr(args, "local_aws_port", None) or os.environ.get(service.PORT_VARIABLE)
    try:
        return service.running_endpoint(int(port)) if port else None
    except ValueError:
        raise LocalRunError(f"{service.PORT_VARIABLE}={port!r} is not a port number") from None


def check_input(given: dict[str, Any], repo: Path, services: str | None) -> None:
    """Refuse an InputDataUrl the run cannot read before anything is built or written."""
    value = given.get(input_data.PARAMETER)
    if value is None:
        return
    try:
        bucket = pipeline_repo.settings_of(repo).bucket
    except SettingsError as error:
        raise LocalRunError(str(error)) from None
    checker = None
    if services and not input_data.is_local(value):
        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        from ..local_aws import service

        checker = input_data.bucket_checker(service.client_factory(services, region)("s3"))
    input_data.check(value, bucket, checker)


def prepare_input(storage: Storage, given: dict[str, Any], settings: Any, console: Console) -> dict[str, Any]:
    """The parameter values with a local InputDataUrl replaced by where it was uploaded."""
    value = given.get(input_data.PARAMETER)
    if value is None or not input_data.is_local(value):
        return given
    uri, count = input_data.upload(storage, Path(value), settings.input_uri())
    console.say(f"Uploaded {count} input files from {value} to {uri}")
    return {**given, input_data.PARAMETER: uri}


def run(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """Build, upload and run the repository's training pipeline against local AWS."""
    console = Console()
    started = time.monotonic()
    services = running_services(args)
    check_input(given, args.repo, services)
    settings, config, text = build(args.repo)
    checked = definitions.loads(text, f"the definition of {pipeline_repo.PIPELINE_MODULE.name}")
    given = tracking.with_tracking(given, checked.parameters, args.work_dir)
    checked.resolve_parameters(given)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    (args.work_dir / "definition.json").write_text(text, encoding="utf-8")
    console.say(f"Built the definition of {settings.pipeline_name} in {time.monotonic() - started:.1f}s")
    # Importing the SDK turns on INFO logging of every AWS call; the run's own output says enough.
    for name in ("botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with local_aws(settings.region, services) as endpoint:
        if services:
            console.say(f"Using the local AWS services at {endpoint}: what this run registers stays there")
        clients = Clients(settings.region)
        storage = Storage(clients("s3"))
        storage.ensure_bucket(settings.bucket)
        parameters = checked.resolve_parameters(prepare_input(storage, given, settings, console))
        # The store's schema is made while the code uploads and the first steps run.
        store = tracking.prepare(parameters, args.work_dir, checked.steps.values())
        input_uri = str(parameters.get("InputDataUrl", settings.input_uri()))
        # An Athena query step reads CSV files standing in for the tables: the repository's input.
        os.environ.setdefault(athena.TABLES_VARIABLE, settings.input_uri())
        sample = write_sample_data(
            storage, input_uri, lambda: sample_data_file(args.repo / ALGORITHMS, args.work_dir, config["problem_type"])
        )
        if sample:
            console.say(f"Wrote the sample data set to {sample}")
        uploaded = aws.upload_code(settings, args.repo, s3_client=clients("s3"))
        console.say(f"Uploaded {len(uploaded)} code files under {settings.code_uri()}")
        return execute(checked, parameters, settings.pipeline_name, args, clients, store)
