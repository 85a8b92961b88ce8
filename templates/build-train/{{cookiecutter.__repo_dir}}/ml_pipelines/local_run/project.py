"""The default command: this repository's training pipeline, end to end, on this machine.

The same steps CI takes, pointed at local AWS: settings from the environment (the local build
id is fixed, so unchanged code keeps its S3 location and the step cache works), the definition
built by the pipeline module, the step code uploaded by its `upload-code` function, and the
bundled sample data as the input when the input prefix is empty.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from . import definition as definitions
from .context import Clients
from .emulator import local_aws
from .errors import LocalRunError
from .execution import execute
from .report import Console
from .storage import Storage, join_uri

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_MODULE = REPO_ROOT / "ml_pipelines" / "training" / "ml-pipeline-training.py"
ALGORITHMS = REPO_ROOT / "algorithms"


def load_pipeline_module(path: Path = PIPELINE_MODULE) -> ModuleType:
    """Import `ml-pipeline-training.py` (its file name is not an importable module name)."""
    if not path.is_file():
        raise LocalRunError(f"the pipeline module {path} does not exist")
    spec = importlib.util.spec_from_file_location("ml_pipeline_training", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(module: ModuleType) -> tuple[Any, dict, str]:
    """Settings, configuration and definition JSON, as `ml-pipeline-training.py definition` builds them."""
    try:
        settings = module.project_settings.from_env()
        config = module.load_config()
        return settings, config, module.build_definition(settings, config)
    except (module.project_settings.SettingsError, module.ConfigError) as error:
        raise LocalRunError(str(error)) from None


def write_sample_data(storage: Storage, input_uri: str, problem_type: str) -> str | None:
    """Upload the bundled sample data set when the input prefix holds nothing; its S3 URI."""
    if storage.objects(input_uri):
        return None
    if str(ALGORITHMS) not in sys.path:
        sys.path.insert(0, str(ALGORITHMS))
    from shared_libraries import sample_data

    with tempfile.TemporaryDirectory() as folder:
        written = sample_data.write_sample_data(Path(folder), problem_type)
        uri = join_uri(input_uri, written.name)
        storage.upload_file(written, uri)
    return uri


def run(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """Build, upload and run the repository's training pipeline against local AWS."""
    console = Console()
    started = time.monotonic()
    module = load_pipeline_module()
    settings, config, text = build(module)
    checked = definitions.loads(text, f"the definition of {PIPELINE_MODULE.name}")
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
        sample = write_sample_data(storage, input_uri, config["problem_type"])
        if sample:
            console.say(f"Wrote the sample data set to {sample}")
        uploaded = module.upload_code(settings, s3_client=clients("s3"))
        console.say(f"Uploaded {len(uploaded)} code files under {settings.code_uri()}")
        return execute(checked, parameters, settings.pipeline_name, args, clients)
