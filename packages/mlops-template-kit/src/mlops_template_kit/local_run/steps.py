"""One handler per step type; each returns the step's properties (what `Get` can read)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..definition.expressions import to_text
from . import conditions, processing, quality, registry, training, transform, tuning
from .context import Job
from .errors import StepFailed


def run_condition(job: Job) -> dict[str, Any]:
    """Evaluate the (already resolved) conditions; `Outcome` is "True" or "False" as in SageMaker."""
    outcome = conditions.evaluate_all(job.arguments.get("Conditions"), lambda value: value)
    return {"Outcome": "True" if outcome else "False"}


def run_fail(job: Job) -> dict[str, Any]:
    """A Fail step ends the execution with its error message."""
    message = to_text(job.arguments.get("ErrorMessage")) or "(no error message)"
    raise StepFailed(f"Fail step reached: {message}")


HANDLERS: dict[str, Callable[[Job], dict[str, Any]]] = {
    "Processing": processing.run,
    "Training": training.run,
    "Tuning": tuning.run,
    "Transform": transform.run,
    "QualityCheck": quality.run,
    "RegisterModel": registry.register,
    "Model": registry.create_model,
    "Condition": run_condition,
    "Fail": run_fail,
}


def execute(job: Job) -> dict[str, Any]:
    """Run one step with the handler of its type."""
    return HANDLERS[job.step.type](job)
