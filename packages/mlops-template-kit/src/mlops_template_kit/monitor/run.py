"""One monitoring run: captured traffic (and ground truth) checked against the baseline, the
reports written into an output folder all at once, and what a violation starts.

Output, in Model Monitor's file names (one folder per monitoring type, as its schedules write):
    <output>/data-quality/statistics.json, constraint_violations.json
    <output>/model-quality/statistics.json, constraints.json, constraint_violations.json  (with ground truth)
    <output>/summary.json   what ran, the counts, and the violations found
The folder is built beside its destination and renamed into place: an error leaves the previous
reports as they were, never a half-written set.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_template_kit.monitor import capture, data_quality, model_quality
from mlops_template_kit.monitor.errors import MonitorError

STATISTICS, CONSTRAINTS, VIOLATIONS = "statistics.json", "constraints.json", "constraint_violations.json"
DATA_QUALITY, MODEL_QUALITY, SUMMARY = "data-quality", "model-quality", "summary.json"


@dataclass(frozen=True)
class Baseline:
    """The data-quality baseline registered with the model (statistics.json, constraints.json)."""

    statistics: dict[str, Any]
    constraints: dict[str, Any]

    @property
    def feature_names(self) -> list[str]:
        return [feature["name"] for feature in self.constraints.get("features", [])]


@dataclass
class Result:
    """What one run found; `reports` maps relative file names to their documents."""

    records: int
    data_violations: list[dict[str, str]] = field(default_factory=list)
    model_violations: list[dict[str, str]] = field(default_factory=list)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def violations(self) -> list[dict[str, str]]:
        return self.data_violations + self.model_violations

    def summary_line(self) -> str:
        """One line naming what drifted or degraded."""
        features = sorted({v["feature_name"] for v in self.data_violations})
        metrics = sorted({v["metric_name"] for v in self.model_violations})
        parts = [f"{len(self.data_violations)} data-quality violation(s) ({', '.join(features) or 'none'})"]
        parts.append(f"{len(self.model_violations)} model-quality violation(s) ({', '.join(metrics) or 'none'})")
        return f"{self.records} captured records: " + ", ".join(parts)


def read_baseline_folder(folder: Path) -> Baseline:
    """statistics.json and constraints.json of a folder; MonitorError naming a missing or bad file."""
    documents = []
    for name in (STATISTICS, CONSTRAINTS):
        path = Path(folder) / name
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MonitorError(f"baseline {path} does not exist") from None
        except ValueError:
            raise MonitorError(f"baseline {path} is not JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("features"), list):
            raise MonitorError(f"baseline {path} has no features list (Model Monitor's {name} format)")
        documents.append(document)
    return Baseline(*documents)


def captured_table(events: list[capture.Event], feature_names: list[str]) -> data_quality.Table:
    """Columns of every captured input record (values as text; '' where a record lacks the column)."""
    rows = [row for event in events for row in capture.input_rows(event, feature_names)]
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: [row.get(name, "") for row in rows] for name in names}


def check_data_quality(
    events: list[capture.Event], baseline: Baseline, drift_threshold: float | None
) -> tuple[dict, dict, int]:
    """(statistics, violations, record count) of the captured inputs against the baseline."""
    table = captured_table(events, baseline.feature_names)
    if not table:
        raise MonitorError("the capture holds no readable input records (text/csv or application/json)")
    constraints = data_quality.with_drift_threshold(baseline.constraints, drift_threshold)
    found = data_quality.violations(table, constraints, baseline.statistics)
    return data_quality.statistics(table), found, len(next(iter(table.values())))


def check_model_quality(
    events: list[capture.Event], ground_truth: Path, problem_type: str, configured: dict[str, Any]
) -> dict[str, dict]:
    """The model-quality files of the captured predictions merged with the ground truth."""
    merged = model_quality.merge(events, model_quality.read_ground_truth(ground_truth))
    statistics = model_quality.statistics(merged, problem_type)
    constraints = model_quality.constraints(configured, problem_type)
    return {
        STATISTICS: statistics,
        CONSTRAINTS: constraints,
        VIOLATIONS: model_quality.violations(statistics, constraints, problem_type),
    }


def monitor(
    capture_location: Path,
    baseline: Baseline | None,
    problem_type: str,
    monitoring: dict[str, Any],
    ground_truth: Path | None = None,
) -> Result:
    """Every report of one run, computed in memory (nothing is written here)."""
    events = capture.read(capture_location)
    data_settings = monitoring.get("data_quality") or {"enabled": True}
    model_settings = monitoring.get("model_quality") or {"enabled": True, "constraints": {}}
    result = Result(records=0)
    if data_settings.get("enabled", True):
        if baseline is None:
            raise MonitorError("data quality needs the model's baseline: give --baseline registry or a folder")
        statistics, found, result.records = check_data_quality(events, baseline, data_settings.get("drift_threshold"))
        result.data_violations = found["violations"]
        result.reports[f"{DATA_QUALITY}/{STATISTICS}"] = statistics
        result.reports[f"{DATA_QUALITY}/{VIOLATIONS}"] = found
    if ground_truth is not None and model_settings.get("enabled", True):
        files = check_model_quality(events, ground_truth, problem_type, model_settings.get("constraints") or {})
        result.model_violations = files[VIOLATIONS]["violations"]
        result.reports.update({f"{MODEL_QUALITY}/{name}": document for name, document in files.items()})
        result.records = result.records or files[STATISTICS]["dataset"]["item_count"]
    result.reports[SUMMARY] = {
        "records": result.records,
        "data_quality_violations": result.data_violations,
        "model_quality_violations": result.model_violations,
    }
    return result


def write_reports(output: Path, reports: dict[str, dict[str, Any]]) -> None:
    """Write every report into a folder beside `output`, then swap it into place."""
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        for name, document in reports.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        previous = output.with_name(f".{output.name}-previous")
        if output.exists():
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(output, previous)
        os.replace(staging, output)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
