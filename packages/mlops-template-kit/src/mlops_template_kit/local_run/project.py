"""The default command: a build-train repository's training pipeline, end to end, on this machine.

The same steps CI takes, pointed at local AWS: settings from the environment (the local build
id is fixed, so unchanged code keeps its S3 location and the step cache works), the definition
built by the pipeline module, the step code uploaded by its `upload-code` function, and the
bundled sample data as the input when the input prefix is empty. The repository is found from
`--repo` (default: the current directory), never from where this package is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import definition as definitions
from . import athena
from .context import Clients
from .emulator import local_aws
from .errors import LocalRunError
from .execution import execute
from .report import Console
from .storage import Storage, join_uri

# Where a generated build-train repository keeps what the run needs, relative to its root.
PIPELINE_MODULE = Path("ml_pipelines") / "training" / "ml-pipeline-training.py"
ALGORITHMS = Path("algorithms")


def pipeline_module_path(repo: Path) -> Path:
    """The repository's pipeline module; a one-line error when `repo` is not a build-train repository."""
    path = repo / PIPELINE_MODULE
    if not path.is_file():
        raise LocalRunError(f"{repo} is not a build-train repository: {PIPELINE_MODULE} does not exist (see --repo)")
    return path


def load_pipeline_module(path: Path) -> ModuleType:
    """Import `ml-pipeline-training.py` (its file name is not an importable module name).

    The repository root goes on sys.path first: the module and the Athena stand-in import the
    repository's own `ml_pipelines` package.
    """
    repo = str(path.parents[2])
    if repo not in sys.path:
        sys.path.insert(0, repo)
    spec = importlib.util.spec_from_file_location("ml_pipeline_training", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def repository_tables(repo: Path) -> str | None:
    """The repository's S3 input prefix, which the Athena stand-in reads as tables; None when
    `repo` is not a build-train repository. Reads the repository's own settings module (no SDK)."""
    if not (repo / PIPELINE_MODULE).is_file():
        return None
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    from ml_pipelines import settings

    try:
        return settings.from_env().input_uri()
    except settings.SettingsError as error:
        raise LocalRunError(str(error)) from None


def build(module: ModuleType) -> tuple[Any, dict, str]:
    """Settings, configuration and definition JSON, as `ml-pipeline-training.py definition` builds them."""
    try:
        settings = module.project_settings.from_env()
        config = module.load_config()
        return settings, config, module.build_definition(settings, config)
    except (module.project_settings.SettingsError, module.ConfigError) as error:
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


def run(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """Build, upload and run the repository's training pipeline against local AWS."""
    console = Console()
    started = time.monotonic()
    module_path = pipeline_module_path(args.repo)
    module = load_pipeline_module(module_path)
    settings, config, text = build(module)
    checked = definitions.loads(text, f"the definition of {module_path.name}")
    parameters = checked.resolve_parameters(given)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    (args.work_dir / "definition.json").write_text(text, encoding="utf-8")
    console.say(f"Built the definition of {settings.pipeline_name} in {time.monotonic() - started:.1f}s")
    # Importing the SDK turns on INFO logging of every AWS call; the run's own output says enough.
    for name in ("botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with local_aws(settings.region):
        clients = Clients(settings.region)
        storage = Storage(clients("s3"))
        storage.ensure_bucket(settings.bucket)
        input_uri = str(parameters.get("InputDataUrl", settings.input_uri()))
        # An Athena query step reads CSV files standing in for the tables: the repository's input.
        os.environ.setdefault(athena.TABLES_VARIABLE, settings.input_uri())
        sample = write_sample_data(
            storage, input_uri, lambda: sample_data_file(args.repo / ALGORITHMS, args.work_dir, config["problem_type"])
        )
        if sample:
            console.say(f"Wrote the sample data set to {sample}")
        uploaded = module.upload_code(settings, s3_client=clients("s3"))
        console.say(f"Uploaded {len(uploaded)} code files under {settings.code_uri()}")
        return execute(checked, parameters, settings.pipeline_name, args, clients)
