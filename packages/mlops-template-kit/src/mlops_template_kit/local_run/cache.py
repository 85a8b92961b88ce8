"""Step caching, as SageMaker Pipelines does it, kept on disk under `.local-run/cache/<pipeline>/`.

Like SageMaker: only steps whose `CacheConfig.Enabled` is true are cached, an entry expires
after `ExpireAfter` (an ISO 8601 duration), the key is built from the step type's cache-key
attributes (the developer guide's "Default cache key attributes by pipeline step type"), and a
hit propagates the earlier run's properties, output URIs included. Unlike SageMaker, the key
also covers the content (ETag and size) of every S3 object those attributes point at, and of
the tables an Athena input queries: a local build id stays the same from run to run, so code or
data changes must show in the content.
A hit writes the earlier outputs back to S3, since a fresh emulator starts empty.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from . import athena
from .context import Job
from .errors import DefinitionError

KEY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    "Tuning": ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions"),
    "QualityCheck": (
        "AppSpecification",
        "Environment",
        "ProcessingInputs",
        "CheckType",
        "SkipCheck",
        "RegisterNewBaseline",
        "FailOnViolation",
        "SuppliedBaselineStatistics",
        "SuppliedBaselineConstraints",
        "ModelPackageGroupName",
    ),
}
_DURATION = re.compile(
    r"^P?(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$",
    re.IGNORECASE,
)
_DAYS = {"years": 365, "months": 30, "weeks": 7, "days": 1}


def parse_duration(text: str) -> timedelta:
    """`P30D`, `PT1H`, `P1Y2M`, or the short forms `30d`, `T16m` the developer guide shows."""
    match = _DURATION.match(str(text).strip())
    if not match or not any(match.groupdict().values()):
        raise DefinitionError(f"CacheConfig ExpireAfter {text!r} is not an ISO 8601 duration such as P30D or PT1H")
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    days = sum(parts.get(name, 0) * factor for name, factor in _DAYS.items())
    return timedelta(
        days=days, hours=parts.get("hours", 0), minutes=parts.get("minutes", 0), seconds=parts.get("seconds", 0)
    )


def _s3_uris(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith('"s3://'):
        # A JSON-encoded hyperparameter such as sagemaker_submit_directory.
        yield from _s3_uris(_json_string(value))
    elif isinstance(value, str) and value.startswith("s3://"):
        yield value
    elif isinstance(value, dict):
        # A dataset definition's S3 URI is where its query result goes, not something it reads.
        for key, item in value.items():
            if key != "DatasetDefinition":
                yield from _s3_uris(item)
    elif isinstance(value, list):
        for item in value:
            yield from _s3_uris(item)


def _content_uris(job: Job, attributes: dict[str, Any]) -> list[str]:
    """Every S3 prefix whose objects the step reads: its inputs, and the tables an Athena input queries."""
    uris = set(_s3_uris(attributes))
    if any(athena.uses_athena(item) for item in job.arguments.get("ProcessingInputs") or []):
        uris.add(athena.tables_uri())
    return sorted(uris)


def _json_string(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


class StepCache:
    """Cache entries of one pipeline, one folder per step and key."""

    def __init__(self, root: Path, enabled: bool = True) -> None:
        self.root = root
        self.enabled = enabled

    def key(self, job: Job) -> str | None:
        """The cache key of a step about to run, or None when the step is not cached."""
        config = job.fields.get("CacheConfig") or {}
        if not self.enabled or job.step.type not in KEY_ATTRIBUTES or config.get("Enabled") is not True:
            return None
        attributes = {name: job.arguments.get(name, job.fields.get(name)) for name in KEY_ATTRIBUTES[job.step.type]}
        storage = job.run.storage
        contents = {
            uri: [[item["Relative"], item["ETag"], item["Size"]] for item in storage.objects(uri)]
            for uri in _content_uris(job, attributes)
        }
        local = {"tuning_trials": job.run.options.tuning_trials} if job.step.type == "Tuning" else {}
        material = json.dumps(
            {"type": job.step.type, "attributes": attributes, "contents": contents, "local": local}, sort_keys=True
        )
        return hashlib.sha256(material.encode()).hexdigest()

    def _entry(self, job: Job, key: str) -> Path:
        return self.root / job.step.name / key[:32]

    def lookup(self, job: Job, key: str) -> dict[str, Any] | None:
        """The properties of an unexpired earlier run with this key, its outputs written back to S3."""
        entry = self._entry(job, key)
        try:
            record = json.loads((entry / "entry.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        expire_after = (job.fields.get("CacheConfig") or {}).get("ExpireAfter")
        if expire_after and time.time() - record["created"] > parse_duration(expire_after).total_seconds():
            return None
        objects = [(item["uri"], entry / item["file"]) for item in record["objects"]]
        if not all(path.is_file() for _, path in objects):
            return None
        for uri, path in objects:
            job.run.storage.upload_file(path, uri)
        return record["properties"]

    def store(self, job: Job, key: str, properties: dict[str, Any], written: list[tuple[str, Path]]) -> None:
        """Keep a successful run's properties and the objects it wrote."""
        entry = self._entry(job, key)
        staging = entry.with_name(entry.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "objects").mkdir(parents=True)
        objects = []
        for index, (uri, path) in enumerate(written):
            name = f"objects/{index:05d}"
            shutil.copyfile(path, staging / name)
            objects.append({"uri": uri, "file": name})
        record = {"created": time.time(), "properties": properties, "objects": objects}
        (staging / "entry.json").write_text(json.dumps(record), encoding="utf-8")
        shutil.rmtree(entry, ignore_errors=True)
        staging.rename(entry)
