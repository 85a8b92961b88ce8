"""API Gateway (proxy integration) -> SageMaker endpoint.

The function checks the request before it reaches the model, so a bad request gets a 4xx with
a message that says what to fix instead of a model error: wrong content type (415), a body
that is too large (413), a body that does not parse or lacks the model's columns (400), values
the model cannot score (422). 5xx answers are left for an endpoint that cannot be reached (502)
or is overloaded (503; 429 when throttled). Everything it needs comes from environment
variables set by `lambda.yaml`.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

JSON = "application/json"
CSV = "text/csv"
SUPPORTED_TYPES = (JSON, CSV)
SCALAR_TYPES = (str, int, float, bool, type(None))

# Runtime errors that say the caller should retry later, with the status to pass on.
RETRYABLE = {"ThrottlingException": 429, "ServiceUnavailable": 503}

_runtime_client = None

# The request's inference id goes to the endpoint and into its captured data
# (eventMetadata.inferenceId), where Model Monitor's model-quality job joins the ground truth
# labelled with the same id (SageMaker Developer Guide, "Ingest Ground Truth labels and merge them
# with predictions", https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html).
# InvokeEndpoint's InferenceId: 1-64 characters, pattern \A\S[\p{Print}]*\z (SageMaker Runtime API
# reference, InvokeEndpoint). A caller may choose it (X-Inference-Id header); else one is made.
INFERENCE_ID_HEADER = "x-inference-id"
INFERENCE_ID = re.compile(r"^[!-~][ -~]{0,63}$")


class RequestError(Exception):
    """A request the function refuses; `status` is the 4xx status code to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What the function accepts, read from its environment."""

    max_payload_bytes: int
    max_records: int
    feature_columns: tuple[str, ...]

    @classmethod
    def from_env(cls) -> Limits:
        columns = os.environ.get("FEATURE_COLUMNS", "")
        return cls(
            max_payload_bytes=int(os.environ.get("MAX_PAYLOAD_BYTES", "1000000")),
            max_records=int(os.environ.get("MAX_RECORDS", "500")),
            feature_columns=tuple(name for name in columns.split(",") if name),
        )


def _runtime() -> Any:
    global _runtime_client
    if _runtime_client is None:
        _runtime_client = boto3.client("sagemaker-runtime")
    return _runtime_client


def _header(event: dict[str, Any], name: str) -> str:
    headers = event.get("headers") or {}
    for key, value in headers.items():
        if key.lower() == name:
            return (value or "").split(";")[0].strip().lower()
    return ""


def _body(event: dict[str, Any], limits: Limits) -> bytes:
    raw = event.get("body")
    if raw is None or raw == "":
        raise RequestError(400, "the request has no body: send records as application/json or text/csv")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(400, "the body is marked base64-encoded but is not valid base64") from None
    else:
        body = raw.encode("utf-8")
    if len(body) > limits.max_payload_bytes:
        raise RequestError(
            413, f"the body is {len(body)} bytes; the limit is {limits.max_payload_bytes} bytes: send fewer records"
        )
    return body


def _check_count(count: int, limits: Limits) -> None:
    if count == 0:
        raise RequestError(400, "the request holds no records")
    if count > limits.max_records:
        raise RequestError(413, f"the request holds {count} records; the limit is {limits.max_records}")


def _check_json(text: str, limits: Limits) -> None:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as problem:
        raise RequestError(400, f"the body is not valid JSON: {problem.msg} at position {problem.pos}") from None
    records = document.get("instances") if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise RequestError(400, 'send {"instances": [{column: value, ...}, ...]} or a list of such records')
    _check_count(len(records), limits)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise RequestError(400, f"record {index} is not an object of column: value pairs")
        if not all(isinstance(value, SCALAR_TYPES) for value in record.values()):
            raise RequestError(400, f"record {index} holds a nested value; values must be numbers, strings or null")
        missing = [name for name in limits.feature_columns if name not in record]
        if missing:
            raise RequestError(400, f"record {index} lacks the column(s) {', '.join(missing)}")


def _check_csv(text: str, limits: Limits) -> None:
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as problem:
        raise RequestError(400, f"the body is not valid CSV: {problem}") from None
    expected = len(limits.feature_columns)
    header = rows[0] if rows and expected and set(limits.feature_columns) <= set(rows[0]) else None
    records = rows[1:] if header else rows
    _check_count(len(records), limits)
    width = len(header) if header else expected or len(records[0])
    for index, row in enumerate(records):
        if len(row) != width:
            raise RequestError(400, f"CSV record {index} has {len(row)} fields; expected {width}")


def inference_id(event: dict[str, Any]) -> str:
    """The caller's X-Inference-Id (checked), else a new random id."""
    headers = event.get("headers") or {}
    given = next((value for key, value in headers.items() if key.lower() == INFERENCE_ID_HEADER), None)
    if given is None or given == "":
        return str(uuid.uuid4())
    if not INFERENCE_ID.match(given):
        raise RequestError(
            400, "the X-Inference-Id header must be 1-64 printable ASCII characters, not starting with a space"
        )
    return given


def parse_request(event: dict[str, Any], limits: Limits) -> tuple[bytes, str, str]:
    """Validate an API Gateway proxy event: (body, content type, accept) or RequestError."""
    method = event.get("httpMethod", "POST")
    if method != "POST":
        raise RequestError(405, f"method {method} is not allowed: use POST")
    content_type = _header(event, "content-type")
    if content_type not in SUPPORTED_TYPES:
        shown = content_type or "none"
        raise RequestError(415, f"content type {shown} is not supported: use {' or '.join(SUPPORTED_TYPES)}")
    accept = _header(event, "accept")
    if accept in ("", "*/*"):
        accept = JSON
    if accept not in SUPPORTED_TYPES:
        raise RequestError(406, f"accept type {accept} is not supported: use {' or '.join(SUPPORTED_TYPES)}")
    body = _body(event, limits)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "the body is not UTF-8 text") from None
    if content_type == JSON:
        _check_json(text, limits)
    else:
        _check_csv(text, limits)
    return body, content_type, accept


def _answer(status: int, body: str, content_type: str = JSON, extra: dict[str, str] | None = None) -> dict[str, Any]:
    headers = {"Content-Type": content_type, **(extra or {})}
    return {"statusCode": status, "headers": headers, "isBase64Encoded": False, "body": body}


def _error(status: int, message: str) -> dict[str, Any]:
    return _answer(status, json.dumps({"message": message}))


def _runtime_error(problem: ClientError) -> dict[str, Any]:
    error = problem.response.get("Error", {})
    code = error.get("Code", "")
    if code in RETRYABLE:
        return _error(RETRYABLE[code], "the endpoint is busy: retry with backoff")
    if code == "ModelError":
        # The request passed every check above, so a model that cannot score it is refusing its
        # content (a value of the wrong type, say): 422 for the caller, whether the container
        # answered 400 (a bad body, as the serving toolkits say it) or failed with a 5xx. Its other
        # 4xx (415, 406) pass through. A model broken for every request still shows: the
        # endpoint's Invocation5XXErrors alarm counts these failures.
        original = int(problem.response.get("OriginalStatusCode", 500))
        status = original if 400 < original < 500 else 422
        detail = problem.response.get("OriginalMessage", "")
        return _error(status, f"the model could not score the request: {detail}"[:1000])
    return _error(502, f"the endpoint could not be called ({code})")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point: validate, invoke the endpoint, return its answer (or a clear error)."""
    try:
        body, content_type, accept = parse_request(event, Limits.from_env())
        request_id = inference_id(event)
    except RequestError as problem:
        return _error(problem.status, str(problem))
    try:
        response = _runtime().invoke_endpoint(
            EndpointName=os.environ["ENDPOINT_NAME"],
            Body=body,
            ContentType=content_type,
            Accept=accept,
            InferenceId=request_id,
        )
    except ClientError as problem:
        return _runtime_error(problem)
    # The caller labels its ground truth with this id (README, "Ground truth for model quality").
    answer = response["Body"].read().decode("utf-8")
    return _answer(200, answer, response.get("ContentType", accept), {"X-Inference-Id": request_id})
