"""The model card of a local run: the registered package's card with the run's numbers, in the run folder.

The RegisterModel step's request carries the package card (built with the definition) and the
S3 locations of the evaluation and Clarify-format bias/SHAP reports; after the run those reports
exist, so the card gains their numbers and the run's lineage (with where its drift-check baselines
are), is validated as CreateModelCard content, and is written as model_card.json and model_card.md
next to the step sandboxes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import model_card
from ..definition import Definition
from ..definition.expressions import Scope
from .context import Run


def _report(scope: Scope, metrics: dict[str, Any], *path: str) -> dict[str, Any] | None:
    node: Any = metrics
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return scope.read_json(node) if isinstance(node, str) else None


def drift_baselines(request: dict[str, Any]) -> dict[str, str]:
    """Where the registered drift-check baselines are, for the card's lineage (what monitoring compares against)."""
    drift = request.get("DriftCheckBaselines") or {}
    places = {
        "drift baseline: data-quality constraints": ("ModelDataQuality", "Constraints"),
        "drift baseline: bias and feature attributions": ("Bias", "PostTrainingConstraints"),
        "drift baseline: Clarify analysis configuration": ("Bias", "ConfigFile"),
    }
    found = {}
    for label, (group, member) in places.items():
        uri = (drift.get(group) or {}).get(member, {}).get("S3Uri")
        if isinstance(uri, str):
            found[label] = uri
    return found


def card_name(package: dict[str, Any]) -> str:
    """A CreateModelCard name for a package version: the group name and version, cut to 63 characters."""
    version = str(package.get("ModelPackageVersion", "1"))
    group = str(package.get("ModelPackageGroupName", "model"))[: 62 - len(version)].rstrip("-")
    return f"{group}-{version}"


def write_cards(definition: Definition, scope: Scope, run: Run) -> list[Path]:
    """model_card.json and .md for every registered package whose request carries a card; the Markdown paths."""
    written = []
    for name in definition.order:
        step = definition.steps[name]
        if step.type != "RegisterModel" or name not in scope.steps:
            continue
        request = scope.resolve(step.arguments)
        package_card = request.get("ModelCard")
        if not package_card:
            continue
        package = scope.steps[name]
        metrics = request.get("ModelMetrics") or {}
        containers = (request.get("InferenceSpecification") or {}).get("Containers") or [{}]
        lineage = {
            "model package": str(package.get("ModelPackageArn")),
            "pipeline execution": str(scope.execution.get("PipelineExecutionArn")),
            **drift_baselines(request),
        }
        card = model_card.full_card(
            json.loads(package_card["ModelCardContent"]),
            description=request.get("ModelPackageDescription") or name,
            model_artifact=str(containers[0].get("ModelDataUrl")),
            evaluation=_report(scope, metrics, "ModelQuality", "Statistics", "S3Uri"),
            analysis=_report(scope, metrics, "Explainability", "Report", "S3Uri"),
            lineage=lineage,
        )
        title = card_name(package)
        model_card.create_model_card_request(title, card)
        folder = run.sandbox_root if len(written) == 0 else run.sandbox_root / name
        written.append(model_card.write(folder, card, title)[1])
    return written
