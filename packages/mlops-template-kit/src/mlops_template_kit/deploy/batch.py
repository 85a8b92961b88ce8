"""The deploy repository's batch inference pipeline definition, loaded from the repository.

The step graph (app_infra/batch_inference/ml-pipeline-inference.py) is the team's; the build and
deploy steps load it from the repository they run in."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PIPELINE_SCRIPT = "app_infra/batch_inference/ml-pipeline-inference.py"


def pipeline_module(repo_root: Path) -> ModuleType:
    """The repository's pipeline script as a module (its file name, like the training pipeline's, has hyphens)."""
    spec = importlib.util.spec_from_file_location("ml_pipeline_inference", repo_root / PIPELINE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # Registered first: dataclasses look their module up while the file runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
