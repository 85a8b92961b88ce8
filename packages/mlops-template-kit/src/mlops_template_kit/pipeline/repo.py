"""The one loader of a build-train repository's training pipeline module.

`ml_pipelines/training/ml-pipeline-training.py` (the repository layout's file name, which Python
cannot import by name) is imported by path. `mlops-kit pipeline`, the local runner, the data
layout check and the repository's own tests all load it here, so they all build the same pipeline.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from .settings import SettingsError, answers

PIPELINE_MODULE = Path("ml_pipelines") / "training" / "ml-pipeline-training.py"


def module_path(repo: Path) -> Path:
    """The repository's pipeline module; SettingsError when `repo` is not a build-train repository."""
    path = repo / PIPELINE_MODULE
    if not path.is_file():
        raise SettingsError(
            f"{repo} is not a build-train repository: {PIPELINE_MODULE} does not exist (see --repo-root)"
        )
    return path


def load(repo: Path) -> ModuleType:
    """The pipeline module of the repository at `repo`, imported once per file.

    The SDK needs a region when `sagemaker.mlops` is imported (a region is all it needs): the
    repository's, unless the environment names one.
    """
    path = module_path(repo).resolve()
    name = "ml_pipeline_training_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    if not (os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")):
        try:
            os.environ["AWS_DEFAULT_REGION"] = answers({**os.environ, "MLOPS_KIT_REPO_ROOT": str(repo)})["region"]
        except (SettingsError, KeyError):
            os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses and pickling look a module up by name.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
