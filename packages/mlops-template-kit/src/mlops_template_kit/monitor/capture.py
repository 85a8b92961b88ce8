"""Model Monitor's data-capture format: one JSON line per request, written by the local endpoint
and read by `mlops-kit monitor`.

A line (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html; the record
layout as SageMaker writes it to S3, e.g. aws/amazon-sagemaker-examples' model monitor notebooks):
    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                        "data": "...", "encoding": "JSON"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<caller's id>", "inferenceTime": "2026-...Z"},
     "eventVersion": "0"}
`encoding` is CSV or JSON for the content types the endpoint's CaptureContentTypeHeader lists (here
text/csv and application/json), BASE64 otherwise. `inferenceId` is the InferenceId the caller
passed to InvokeEndpoint (header X-Amzn-SageMaker-Inference-Id, botocore's sagemaker-runtime
model); Model Monitor merges ground truth on it when present, else on `eventId`
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html).
Files go where SageMaker puts them under the capture destination:
<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlops_template_kit.monitor.errors import MonitorError

# The processing engine runs this module on the scikit-learn image's Python 3.10, which has no
# datetime.UTC (3.11): timezone.utc is the same object.
UTC = timezone.utc  # noqa: UP017

CSV, JSON = "text/csv", "application/json"
ENCODINGS = {CSV: "CSV", JSON: "JSON"}
VARIANT = "AllTraffic"
EVENT_VERSION = "0"
# Lines kept in memory before a write: one write per batch keeps capture off the request's path.
FLUSH_EVERY = 256


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def encode(payload: bytes, content_type: str | None, mode: str) -> dict[str, str]:
    """One side (INPUT or OUTPUT) of a captured request, as endpointInput/endpointOutput."""
    encoding = ENCODINGS.get(_media_type(content_type), "BASE64")
    if encoding != "BASE64":
        try:
            data = payload.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if encoding == "BASE64":
        data = base64.b64encode(payload).decode("ascii")
    return {"observedContentType": content_type or "", "mode": mode, "data": data, "encoding": encoding}


def record(
    request: bytes,
    request_type: str | None,
    response: bytes,
    response_type: str | None,
    inference_id: str | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """The capture line of one request and its response."""
    metadata = {"eventId": str(uuid.uuid4())}
    if inference_id:
        metadata["inferenceId"] = inference_id
    moment = when or datetime.now(UTC)
    metadata["inferenceTime"] = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return {
        "captureData": {
            "endpointInput": encode(request, request_type, "INPUT"),
            "endpointOutput": encode(response, response_type, "OUTPUT"),
        },
        "eventMetadata": metadata,
        "eventVersion": EVENT_VERSION,
    }


class CaptureWriter:
    """Buffered, thread-safe writer of capture lines under `root`, one file per writer and hour."""

    def __init__(self, root: Path, endpoint_name: str, variant: str = VARIANT) -> None:
        self.folder = Path(root) / endpoint_name / variant
        self._name = f"{datetime.now(UTC):%Y-%m-%dT%H-%M-%S}-{uuid.uuid4().hex[:8]}.jsonl"
        self._lines: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.written = 0

    def add(self, line: dict[str, Any]) -> None:
        """Keep one capture line; written with the next full batch or at close()."""
        hour = line["eventMetadata"]["inferenceTime"][:13].replace("-", "/").replace("T", "/")
        with self._lock:
            self._lines.append((hour, json.dumps(line, separators=(",", ":"))))
            if len(self._lines) >= FLUSH_EVERY:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        by_hour: dict[str, list[str]] = {}
        for hour, text in self._lines:
            by_hour.setdefault(hour, []).append(text)
        for hour, texts in by_hour.items():
            path = self.folder / hour / self._name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write("\n".join(texts) + "\n")
        self.written += len(self._lines)
        self._lines = []

    close = flush


@dataclass(frozen=True)
class Event:
    """One captured request: its merge key, the input and output as text, and their content types."""

    event_id: str
    inference_id: str
    input_type: str
    input_text: str
    output_type: str
    output_text: str

    @property
    def key(self) -> str:
        """What ground truth is merged on: the caller's inference id, else the event id."""
        return self.inference_id or self.event_id


def jsonl_files(location: Path, what: str) -> list[Path]:
    """The .jsonl files at `location` (a file, or a folder searched recursively); MonitorError if none."""
    location = Path(location)
    if location.is_file():
        return [location]
    if not location.is_dir():
        raise MonitorError(f"{what} {location} does not exist")
    files = sorted(location.rglob("*.jsonl"))
    if not files:
        raise MonitorError(f"{what} {location} holds no .jsonl files")
    return files


def json_lines(files: Iterable[Path]) -> Iterable[tuple[str, dict]]:
    """(file:line, object) of every non-empty line; MonitorError naming the line that is not a JSON object."""
    for path in files:
        with open(path, encoding="utf-8") as handle:
            for number, text in enumerate(handle, 1):
                if not text.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    value = json.loads(text)
                except ValueError:
                    raise MonitorError(f"{where}: not a JSON line") from None
                if not isinstance(value, dict):
                    raise MonitorError(f"{where}: expected a JSON object")
                yield where, value


def decode(section: Any, where: str, name: str) -> str:
    """The text of endpointInput/endpointOutput (or groundTruthData), whatever its encoding."""
    if not isinstance(section, dict) or not isinstance(section.get("data"), str):
        raise MonitorError(f"{where}: {name} has no data string")
    encoding = section.get("encoding", "CSV")
    if encoding in ("CSV", "JSON"):
        return section["data"]
    if encoding == "BASE64":
        try:
            return base64.b64decode(section["data"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise MonitorError(f"{where}: {name} is not base64 of UTF-8 text") from None
    raise MonitorError(f"{where}: {name} encoding {encoding!r} is not CSV, JSON or BASE64")


def read(location: Path) -> list[Event]:
    """Every captured request under `location`; MonitorError for a missing, empty or malformed capture."""
    events = []
    for where, line in json_lines(jsonl_files(location, "capture")):
        data, metadata = line.get("captureData"), line.get("eventMetadata")
        if not isinstance(data, dict) or not isinstance(metadata, dict) or not metadata.get("eventId"):
            raise MonitorError(f"{where}: not a capture line (captureData and eventMetadata.eventId are required)")
        given, answered = data.get("endpointInput"), data.get("endpointOutput")
        events.append(
            Event(
                event_id=str(metadata["eventId"]),
                inference_id=str(metadata.get("inferenceId") or ""),
                input_type=_media_type(given.get("observedContentType")) if isinstance(given, dict) else "",
                input_text=decode(given, where, "endpointInput") if given is not None else "",
                output_type=_media_type(answered.get("observedContentType")) if isinstance(answered, dict) else "",
                output_text=decode(answered, where, "endpointOutput") if answered is not None else "",
            )
        )
    if not events:
        raise MonitorError(f"capture {location} holds no captured requests")
    return events


def input_rows(event: Event, feature_names: list[str]) -> list[dict[str, str]]:
    """The records of one request as {column: value}. CSV rows without a header row take the
    baseline's feature names by position (Model Monitor would call them _c0, _c1, ...; see README)."""
    if event.input_type == JSON:
        try:
            body = json.loads(event.input_text)
        except ValueError:
            return []
        instances = body.get("instances") if isinstance(body, dict) else body
        rows = instances if isinstance(instances, list) else [instances]
        return [{str(k): "" if v is None else str(v) for k, v in row.items()} for row in rows if isinstance(row, dict)]
    rows = [row for row in csv.reader(io.StringIO(event.input_text)) if row]
    if rows and feature_names and set(feature_names) <= {value.strip() for value in rows[0]}:
        names, rows = [value.strip() for value in rows[0]], rows[1:]
    elif rows and len(rows[0]) == len(feature_names):
        names = feature_names
    else:
        names = [f"_c{index}" for index in range(len(rows[0]))] if rows else []
    return [dict(zip(names, (value.strip() for value in row), strict=False)) for row in rows]


def predictions(event: Event) -> list[dict[str, float]]:
    """The model's answers to one request: {"prediction": ..., "probability": ...} per record
    (the serving handler's JSON, or its CSV lines `prediction[,probability]`)."""
    if event.output_type == JSON:
        try:
            body = json.loads(event.output_text)
        except ValueError:
            return []
        answers = body.get("predictions") if isinstance(body, dict) else body
        if not isinstance(answers, list):
            return []
        return [_numbers(answer if isinstance(answer, dict) else {"prediction": answer}) for answer in answers]
    found = []
    for row in csv.reader(io.StringIO(event.output_text)):
        if row:
            found.append(_numbers(dict(zip(("prediction", "probability"), row, strict=False))))
    return found


def _numbers(answer: dict) -> dict[str, float]:
    values = {}
    for key in ("prediction", "probability"):
        try:
            values[key] = float(answer[key])
        except (KeyError, TypeError, ValueError):
            continue
    return values
