"""Data quality in Model Monitor's file formats: statistics.json, constraints.json and
constraint_violations.json (schemas: https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html,
.../model-monitor-byoc-constraints.html, .../model-monitor-interpreting-violations.html).

The one implementation of the method: the training pipeline's baseline (a local run's
QualityCheck step), the batch inference pipeline's drift check (the same step, run locally) and
`mlops-kit monitor` on an endpoint's captured traffic all call it.

Types are inferred per column (Integral, Fractional, String, or Unknown when every value is
missing). Numeric distributions are 10 equal-width buckets plus the sorted values as the KLL
sketch's single compactor level (exact for up to `SKETCH_K` values, evenly thinned beyond).

Where the local numbers differ from Model Monitor's:
- Model Monitor summarises a distribution in a KLL sketch (approximate quantiles, rank error of
  about 1-2 % at its sketch size) and compares sketches; here the baseline keeps the sorted values
  themselves (up to 2048, evenly thinned beyond) and the current data is used whole, so the
  distance is the exact two-sample Kolmogorov-Smirnov statistic (numpy; tests compare it with
  scipy.stats.ks_2samp) against those values. Near the threshold the two can decide differently.
- Model Monitor's "Robust" comparison method is not documented in detail; both methods here are
  the KS statistic for numbers and the L-infinity distance of frequencies for strings (the
  documented categorical_drift_method).
- std_dev is the population standard deviation of the exact values.
"""

from __future__ import annotations

import csv
import math
import re
import statistics as stats
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

BUCKETS = 10
SKETCH_K = 2048
SKETCH_C = 0.64
MAX_DOMAIN = 20
_INTEGER = re.compile(r"^[+-]?\d+$")
MONITORING_CONFIG = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 0.1,
    "domain_content_threshold": 0.1,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}

Table = dict[str, list[str]]


def read_csv(paths: Iterable[Path], header: bool) -> Table:
    """Columns of every CSV file (values as text); headerless columns are named `_c0`, `_c1`, ..."""
    columns: Table = {}
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]
        if not rows:
            continue
        names = rows[0] if header else [f"_c{index}" for index in range(len(rows[0]))]
        for row in rows[1:] if header else rows:
            for name, value in zip(names, row, strict=False):
                columns.setdefault(name, []).append(value.strip())
    return columns


def _is_float(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def numbers(values: list[str]) -> np.ndarray:
    """The finite numbers among a column's text values, in order (numpy parses a whole column at
    once; a column with any other text falls back to one value at a time)."""
    present = [value for value in values if value]
    try:
        parsed = np.asarray(present, dtype=float)
    except ValueError:
        parsed = np.fromiter((float(value) if _is_float(value) else math.nan for value in present), float, len(present))
    return parsed[np.isfinite(parsed)]


def conforms(value: str, inferred: str) -> bool:
    """Whether a present value has the inferred type (an integer is also a fractional)."""
    if inferred == "Integral":
        return bool(_INTEGER.match(value))
    if inferred == "Fractional":
        return _is_float(value)
    return True


def infer_type(values: list[str]) -> str:
    """Model Monitor's inferred_type of a column."""
    present = [value for value in values if value]
    if not present:
        return "Unknown"
    if all(_INTEGER.match(value) for value in present):
        return "Integral"
    if all(_is_float(value) for value in present):
        return "Fractional"
    return "String"


def _buckets(ordered: np.ndarray) -> list[dict[str, float]]:
    low, high = float(ordered[0]), float(ordered[-1])
    if low == high:
        return [{"lower_bound": low, "upper_bound": high, "count": float(len(ordered))}]
    width = (high - low) / BUCKETS
    edges = [low + width * index for index in range(BUCKETS)] + [high]
    counts = np.bincount(np.minimum(((ordered - low) / width).astype(int), BUCKETS - 1), minlength=BUCKETS)
    return [
        {"lower_bound": edges[index], "upper_bound": edges[index + 1], "count": float(counts[index])}
        for index in range(BUCKETS)
    ]


def _sketch(numbers: list[float]) -> list[list[float]]:
    # numbers: sorted
    if len(numbers) <= SKETCH_K:
        return [numbers]
    step = len(numbers) / SKETCH_K
    return [[numbers[int(index * step)] for index in range(SKETCH_K)]]


def _common(values: list[str]) -> dict[str, int]:
    present = sum(1 for value in values if value)
    return {"num_present": present, "num_missing": len(values) - present}


def feature_statistics(name: str, values: list[str]) -> dict[str, Any]:
    """The statistics of one column."""
    inferred = infer_type(values)
    feature: dict[str, Any] = {"name": name, "inferred_type": inferred}
    present = [value for value in values if value]
    if inferred in ("Integral", "Fractional"):
        ordered = np.sort(numbers(present))
        listed = ordered.tolist()
        feature["numerical_statistics"] = {
            "common": _common(values),
            "mean": stats.fmean(listed),
            "sum": math.fsum(listed),
            "std_dev": float(np.std(ordered)),
            "min": listed[0],
            "max": listed[-1],
            "distribution": {
                "kll": {
                    "buckets": _buckets(ordered),
                    "sketch": {"parameters": {"c": SKETCH_C, "k": float(SKETCH_K)}, "data": _sketch(listed)},
                }
            },
        }
    elif inferred == "String":
        counts = Counter(present)
        feature["string_statistics"] = {
            "common": _common(values),
            "distinct_count": float(len(counts)),
            "distribution": {
                "categorical": {
                    "buckets": [{"value": value, "count": float(count)} for value, count in sorted(counts.items())]
                }
            },
        }
    return feature


def statistics(columns: Table) -> dict[str, Any]:
    """statistics.json of a data set."""
    count = max((len(values) for values in columns.values()), default=0)
    return {
        "version": 0.0,
        "dataset": {"item_count": float(count)},
        "features": [feature_statistics(name, values) for name, values in columns.items()],
    }


def _completeness(feature: dict) -> float:
    body = feature.get("numerical_statistics") or feature.get("string_statistics")
    if not body:
        return 0.0
    common = body["common"]
    total = common["num_present"] + common["num_missing"]
    return common["num_present"] / total if total else 0.0


def constraints(statistics_document: dict[str, Any]) -> dict[str, Any]:
    """constraints.json suggested from a data set's statistics."""
    features = []
    for feature in statistics_document["features"]:
        constraint: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            "completeness": _completeness(feature),
        }
        if "numerical_statistics" in feature:
            constraint["num_constraints"] = {"is_non_negative": feature["numerical_statistics"]["min"] >= 0}
        if "string_statistics" in feature:
            buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
            if len(buckets) <= MAX_DOMAIN:
                constraint["string_constraints"] = {"domains": [bucket["value"] for bucket in buckets]}
        features.append(constraint)
    return {"version": 0.0, "features": features, "monitoring_config": MONITORING_CONFIG}


def _violation(name: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": name, "constraint_check_type": check, "description": description}


def _feature_violations(constraint: dict, values: list[str], config: dict) -> list[dict[str, str]]:
    name, inferred = constraint["name"], constraint.get("inferred_type")
    present = [value for value in values if value]
    found = []
    completeness = len(present) / len(values) if values else 0.0
    if completeness < constraint.get("completeness", 0.0) - 1e-12:
        found.append(
            _violation(
                name, "completeness_check", f"completeness {completeness:.4f} is below {constraint['completeness']:.4f}"
            )
        )
    parsed = numbers(present) if inferred in ("Integral", "Fractional") else None
    if inferred == "Fractional":
        mismatched = len(present) - len(parsed)
    else:
        mismatched = sum(1 for value in present if not conforms(value, inferred))
    if present and mismatched / len(present) > config.get("datatype_check_threshold", 0.1):
        found.append(_violation(name, "data_type_check", f"{mismatched} of {len(present)} values are not {inferred}"))
    domains = (constraint.get("string_constraints") or {}).get("domains")
    outside = sum(1 for value in present if domains is not None and value not in domains)
    if present and outside / len(present) > config.get("domain_content_threshold", 0.1):
        found.append(
            _violation(
                name, "categorical_values_check", f"{outside} of {len(present)} values are outside the baseline domain"
            )
        )
    if constraint.get("num_constraints", {}).get("is_non_negative") and parsed is not None and (parsed < 0).any():
        found.append(_violation(name, "data_type_check", "negative values where the baseline had none"))
    return found


def _numeric_distance(baseline: dict, values: list[str]) -> float:
    """The largest gap between two empirical CDFs (the two-sample Kolmogorov-Smirnov statistic)."""
    reference = np.sort(
        np.fromiter((x for level in baseline["distribution"]["kll"]["sketch"]["data"] for x in level), float)
    )
    current = np.sort(numbers(values))
    if not reference.size or not current.size:
        return 0.0
    points = np.union1d(reference, current)
    reference_cdf = np.searchsorted(reference, points, side="right") / reference.size
    current_cdf = np.searchsorted(current, points, side="right") / current.size
    return float(np.max(np.abs(reference_cdf - current_cdf)))


def _categorical_distance(baseline: dict, values: list[str]) -> float:
    """L-infinity distance between two categorical frequency distributions."""
    reference = {bucket["value"]: bucket["count"] for bucket in baseline["distribution"]["categorical"]["buckets"]}
    current = Counter(value for value in values if value)
    total_reference, total_current = sum(reference.values()) or 1, sum(current.values()) or 1
    keys = set(reference) | set(current)
    return max(
        (abs(reference.get(k, 0) / total_reference - current.get(k, 0) / total_current) for k in keys), default=0.0
    )


def drift_distance(baseline_feature: dict, values: list[str]) -> float | None:
    """The feature's distance from its baseline distribution (numeric: KS, categorical: L-infinity);
    None for a baseline feature without a distribution."""
    if "numerical_statistics" in baseline_feature:
        return _numeric_distance(baseline_feature["numerical_statistics"], values)
    if "string_statistics" in baseline_feature:
        return _categorical_distance(baseline_feature["string_statistics"], values)
    return None


def drift_distances(columns: Table, baseline_statistics: dict) -> dict[str, float]:
    """feature -> distance of every baseline feature the data has: what the processing engine
    publishes as feature_baseline_drift_<feature> (Model Monitor's metric name)."""
    distances = {}
    for feature in baseline_statistics.get("features", []):
        name = feature.get("name")
        distance = drift_distance(feature, columns[name]) if name in columns else None
        if distance is not None:
            distances[name] = distance
    return distances


def _drift(baseline_feature: dict, values: list[str], config: dict) -> dict[str, str] | None:
    distribution = config.get("distribution_constraints") or {}
    if distribution.get("perform_comparison", "Enabled") != "Enabled":
        return None
    if "numerical_statistics" in baseline_feature:
        distance = _numeric_distance(baseline_feature["numerical_statistics"], values)
        threshold = distribution.get("comparison_threshold", 0.1)
    elif "string_statistics" in baseline_feature:
        distance = _categorical_distance(baseline_feature["string_statistics"], values)
        threshold = distribution.get("categorical_comparison_threshold", 0.1)
    else:
        return None
    if distance <= threshold:
        return None
    return _violation(baseline_feature["name"], "baseline_drift_check", f"distance {distance:.4f} exceeds {threshold}")


def violations(columns: Table, baseline_constraints: dict, baseline_statistics: dict | None) -> dict[str, Any]:
    """constraint_violations.json of a data set checked against a baseline."""
    config = baseline_constraints.get("monitoring_config") or MONITORING_CONFIG
    expected = {feature["name"]: feature for feature in baseline_constraints.get("features", [])}
    found = [_violation(name, "missing_column_check", "column is missing") for name in expected if name not in columns]
    found += [
        _violation(name, "extra_column_check", "column is not in the baseline")
        for name in columns
        if name not in expected
    ]
    for name, constraint in expected.items():
        if name in columns:
            found += _feature_violations(constraint, columns[name], config)
    reference = {feature["name"]: feature for feature in (baseline_statistics or {}).get("features", [])}
    for name, feature in reference.items():
        drift = _drift(feature, columns[name], config) if name in columns else None
        if drift:
            found.append(drift)
    return {"violations": found}


def with_drift_threshold(baseline_constraints: dict, threshold: float | None) -> dict:
    """A copy of constraints.json whose numeric drift threshold is the stage's `drift_threshold`
    (inference_config.json realtime.monitoring.data_quality: Model Monitor's
    distribution_constraints.comparison_threshold); None keeps the baseline's."""
    if threshold is None:
        return baseline_constraints
    config = dict(baseline_constraints.get("monitoring_config") or MONITORING_CONFIG)
    config["distribution_constraints"] = {
        **(config.get("distribution_constraints") or {}),
        "comparison_threshold": threshold,
    }
    return {**baseline_constraints, "monitoring_config": config}
