"""QualityCheck steps (DATA_QUALITY): the baseline Model Monitor would compute, and its drift check.

Baseline properties follow the lifecycle in the SageMaker developer guide: `CalculatedBaseline*`
always point at the new baseline; `BaselineUsedForDriftCheck*` point at it when
RegisterNewBaseline is true, otherwise at the baseline the check used (the supplied one, or the
DriftCheckBaselines of the group's latest Approved model package). When the check is skipped
and no earlier baseline exists, the new one is used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops_template_kit.monitor import data_quality as baseline

from . import jobs, processing
from .context import Job
from .errors import StepFailed
from .storage import join_uri

STATISTICS = "statistics.json"
CONSTRAINTS = "constraints.json"
VIOLATIONS = "constraint_violations.json"
PROCESSING = "/opt/ml/processing"


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _header(environment: dict) -> bool:
    try:
        dataset_format = json.loads(environment.get("dataset_format") or "{}")
    except ValueError:
        raise StepFailed(f"dataset_format {environment.get('dataset_format')!r} is not JSON") from None
    if "csv" not in dataset_format:
        raise StepFailed(f"dataset_format {dataset_format} does not run locally: only csv does")
    return bool((dataset_format["csv"] or {}).get("header", True))


def run(job: Job) -> dict[str, Any]:
    """Compute the baseline, run the drift check unless skipped, and publish both."""
    if job.fields.get("CheckType") != "DATA_QUALITY":
        raise StepFailed(f"check type {job.fields.get('CheckType')!r} does not run locally: only DATA_QUALITY does")
    columns, output_dir = _read_dataset(job), _output_dir(job)
    new = _write_baseline(columns, output_dir, _output_uri(job))
    skip, register_new = _flag(job.fields.get("SkipCheck")), _flag(job.fields.get("RegisterNewBaseline"))
    # An earlier baseline matters to a check, or as the drift baseline when no new one is registered.
    previous = None if skip and register_new else _previous_baseline(job)
    found = [] if skip else _check(job, columns, previous, output_dir)
    job.run.storage.upload_dir(output_dir, _output_uri(job))
    if found and _flag(job.fields.get("FailOnViolation", True)):
        summary = "; ".join(
            f"{v['feature_name']}: {v['constraint_check_type']} ({v['description']})" for v in found[:5]
        )
        raise StepFailed(f"{len(found)} data-quality violations against the baseline: {summary}")
    used = new if register_new or previous is None else previous
    return {
        **job.arguments,
        "CalculatedBaselineStatistics": new["statistics"],
        "CalculatedBaselineConstraints": new["constraints"],
        "BaselineUsedForDriftCheckStatistics": used["statistics"],
        "BaselineUsedForDriftCheckConstraints": used["constraints"],
    }


def _read_dataset(job: Job) -> baseline.Table:
    """Stage the baseline dataset input and read its CSV files."""
    environment = job.arguments.get("Environment") or {}
    processing.stage_inputs(job, job.arguments.get("ProcessingInputs") or [])
    source = jobs.local_path(
        environment.get("dataset_source", f"{PROCESSING}/input/baseline_dataset_input"), job.sandbox
    )
    return baseline.read_csv(sorted(path for path in source.rglob("*") if path.is_file()), _header(environment))


def _output_dir(job: Job) -> Path:
    environment = job.arguments.get("Environment") or {}
    folder = jobs.local_path(environment.get("output_path", f"{PROCESSING}/output"), job.sandbox)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _output_uri(job: Job) -> str:
    outputs = (job.arguments.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    if not outputs or not (outputs[0].get("S3Output") or {}).get("S3Uri"):
        raise StepFailed("the check has no S3 output for its baseline")
    return outputs[0]["S3Output"]["S3Uri"]


def _write_baseline(columns: baseline.Table, output_dir: Path, output_uri: str) -> dict[str, str]:
    """statistics.json and constraints.json of the dataset; their S3 URIs once uploaded."""
    calculated = baseline.statistics(columns)
    _write(output_dir / STATISTICS, calculated)
    _write(output_dir / CONSTRAINTS, baseline.constraints(calculated))
    return {"statistics": join_uri(output_uri, STATISTICS), "constraints": join_uri(output_uri, CONSTRAINTS)}


def _write(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


def _check(job: Job, columns: baseline.Table, previous: dict | None, output_dir: Path) -> list[dict]:
    if previous is None:
        raise StepFailed(
            "no baseline to check against: supply SuppliedBaselineConstraints, approve a model package with "
            f"DriftCheckBaselines in group {job.fields.get('ModelPackageGroupName')!r}, or skip the check"
        )
    storage = job.run.storage
    reference_statistics = storage.read_json(previous["statistics"]) if previous.get("statistics") else None
    report = baseline.violations(columns, storage.read_json(previous["constraints"]), reference_statistics)
    _write(output_dir / VIOLATIONS, report)
    return report["violations"]


def _previous_baseline(job: Job) -> dict[str, str] | None:
    """The supplied baseline, else the one of the group's latest Approved model package."""
    supplied = job.fields.get("SuppliedBaselineConstraints")
    if supplied:
        return {"constraints": supplied, "statistics": job.fields.get("SuppliedBaselineStatistics") or ""}
    group = job.fields.get("ModelPackageGroupName")
    if not group:
        return None
    client = job.run.clients("sagemaker")
    try:
        listed = client.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
    except client.exceptions.ClientError:
        return None
    if not listed:
        return None
    package = client.describe_model_package(ModelPackageName=listed[0]["ModelPackageArn"])
    quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    if not quality.get("Constraints"):
        return None
    return {
        "constraints": quality["Constraints"]["S3Uri"],
        "statistics": (quality.get("Statistics") or {}).get("S3Uri", ""),
    }
