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
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from .loader import share_for_the_process
from .settings import Settings, SettingsError, from_env, sdk_region

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
    """The pipeline module of the repository at `repo`, imported once per file (with the
    repository's region for the SDK, unless the environment names one)."""
    path = module_path(repo).resolve()
    name = "ml_pipeline_training_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    os.environ.setdefault("AWS_DEFAULT_REGION", sdk_region(repo))
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


def settings_of(repo: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of a build of the repository at `repo` (its `.cruft.json` gives the defaults)."""
    return from_env(repo, environ)


def build(
    repo: Path, settings: Settings | None = None, config_path: Path | None = None
) -> tuple[Settings, dict[str, Any], str]:
    """Settings, config and definition JSON of the repository's pipeline, as CI builds them
    (`mlops-kit pipeline definition`); imports the SageMaker SDK."""
    from . import config

    module_path(repo)  # a folder that is not a build-train repository is named as such first
    settings = settings or settings_of(repo)
    # From the SDK's import on: some of its modules create clients when they are imported.
    share_for_the_process()
    module = load(repo)
    from . import sdk

    loaded = config.load(repo, module, config_path)
    return settings, loaded, sdk.build_definition(module.build_pipeline, settings, loaded)
