"""Batch inference: the pipeline definition (ml-pipeline-inference.py) and its postprocessing step."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PIPELINE_SCRIPT = Path(__file__).with_name("ml-pipeline-inference.py")


def pipeline_module() -> ModuleType:
    """The pipeline script as a module (its file name, like the training pipeline's, has hyphens)."""
    spec = importlib.util.spec_from_file_location("ml_pipeline_inference", PIPELINE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # Registered first: dataclasses look their module up while the file runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
