"""Start one execution of a checked definition and print how it went."""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Iterator
from typing import Any

from ..definition import Definition
from .context import Clients, Options, Run
from .emulator import ENDPOINT_VARIABLE, local_aws
from .report import Console
from .runner import Runner, new_execution_id
from .storage import Storage, split_uri
from .tracking import DATABASE, StorePreparation, prepare, store_folder


def options_from(args: argparse.Namespace) -> Options:
    """The local-run options of the command line."""
    return Options(use_cache=not args.no_cache, tuning_trials=args.tuning_trials)


def _literal_buckets(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("s3://"):
        yield split_uri(value)[0]
    elif isinstance(value, dict):
        for item in value.values():
            yield from _literal_buckets(item)
    elif isinstance(value, list):
        for item in value:
            yield from _literal_buckets(item)


def buckets_in(definition: Definition) -> set[str]:
    """Buckets the definition names literally; a fresh emulator needs them before steps write."""
    return {bucket for step in definition.steps.values() for bucket in _literal_buckets(step.spec) if bucket}


def execute(
    definition: Definition,
    parameters: dict[str, Any],
    pipeline_name: str,
    args: argparse.Namespace,
    clients: Clients,
    store: StorePreparation | None = None,
) -> int:
    """Run the definition; 0 when the pipeline succeeded, 1 when it failed."""
    console = Console()
    store = store or prepare(parameters, args.work_dir, definition.steps.values())
    problem = store.wait()
    if problem:
        console.say(f"MLflow: the local store {store.uri} could not be prepared: {problem}")
    run = Run(
        pipeline_name, new_execution_id(), args.work_dir, clients, Storage(clients("s3")), console, options_from(args)
    )
    if store.process is not None and not problem:
        run.tracking_database = store_folder(args.work_dir) / DATABASE
    # Objects fetched once per run, kept beside its sandboxes until the run ends (no step is named
    # with a leading dot, so the folder cannot be a step's sandbox).
    downloads = run.storage.downloads = run.sandbox_root / ".downloads"
    console.say(
        f"Pipeline {pipeline_name}: execution {run.execution_id}, {len(definition.order)} steps; "
        f"AWS calls go to {os.environ.get(ENDPOINT_VARIABLE, 'AWS')}; sandboxes in {run.sandbox_root}"
    )
    try:
        summary = Runner(definition, parameters, run, debug=args.debug).execute()
    finally:
        shutil.rmtree(downloads, ignore_errors=True)
    console.summary(summary)
    if store.process is not None and not problem:  # a store this run prepared
        console.say(f"MLflow: runs tracked in {store_folder(args.work_dir)}; browse them with `make mlflow-ui`")
    return 0 if summary.succeeded else 1


def execute_with_local_aws(
    definition: Definition, parameters: dict[str, Any], pipeline_name: str, args: argparse.Namespace
) -> int:
    """`execute` against the configured endpoint, or a local emulator started for the run."""
    with local_aws():
        clients = Clients()
        storage = Storage(clients("s3"))
        for bucket in sorted(buckets_in(definition)):
            storage.ensure_bucket(bucket)
        return execute(definition, parameters, pipeline_name, args, clients)
