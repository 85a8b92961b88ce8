"""The training pipeline. Its module file is named `ml-pipeline-training.py` (the repository
layout's convention), which Python cannot import by name: `load()` imports it by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

MODULE_PATH = Path(__file__).resolve().with_name("ml-pipeline-training.py")
MODULE_NAME = "ml_pipelines.training.ml_pipeline_training"


def load() -> ModuleType:
    """The training pipeline module (`build_definition`, `upload_code`, ...), imported once."""
    if MODULE_NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(MODULE_NAME, MODULE_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[MODULE_NAME]
