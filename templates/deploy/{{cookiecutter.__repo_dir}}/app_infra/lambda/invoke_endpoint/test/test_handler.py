"""The inference function: predictions for valid requests, a clear 4xx for bad ones, never a 5xx.

It runs unchanged against a local endpoint serving a real model: boto3's sagemaker-runtime
client is pointed at it with AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, as in `make test-local`.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import sys
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.stub import ANY, Stubber
from mlops_template_kit.local_endpoint.server import RunningEndpoint

HANDLER = Path(__file__).resolve().parents[1] / "handler.py"
# Named as the project names stage endpoints (<name>-<id>-<stage>), which its role may invoke.
ENDPOINT = "demo-p-localdemo001-staging"
MAX_RECORDS = 20
MAX_PAYLOAD = 20_000


def _load_handler():
    spec = importlib.util.spec_from_file_location("invoke_endpoint_handler_under_test", HANDLER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def endpoint(sample_bundle):
    with RunningEndpoint(sample_bundle.model_data, ENDPOINT) as running:
        yield running


@pytest.fixture(scope="module")
def records(sample_bundle) -> list[dict]:
    return json.loads(pd.read_csv(sample_bundle.test_data).to_json(orient="records"))


@pytest.fixture
def handler(endpoint, monkeypatch, records):
    columns = [name for name in records[0] if name not in ("id", "progression", "high_progression")]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", endpoint.url)
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    monkeypatch.setenv("MAX_RECORDS", str(MAX_RECORDS))
    monkeypatch.setenv("MAX_PAYLOAD_BYTES", str(MAX_PAYLOAD))
    monkeypatch.setenv("FEATURE_COLUMNS", ",".join(columns))
    return _load_handler()


def _features(records: list[dict], count: int) -> list[dict]:
    return [
        {key: value for key, value in row.items() if key not in ("id", "progression", "high_progression")}
        for row in records[:count]
    ]


def _event(body: str | None, content_type: str = "application/json", **extra) -> dict:
    headers = {"Content-Type": content_type} if content_type else {}
    headers.update(extra.pop("headers", {}))
    return {
        "httpMethod": "POST",
        "path": "/predict",
        "headers": headers,
        "body": body,
        "isBase64Encoded": False,
    } | extra


def test_json_request_gets_one_prediction_per_record(handler, records):
    answer = handler.lambda_handler(_event(json.dumps({"instances": _features(records, 3)})), None)
    assert answer["statusCode"] == 200, answer["body"]
    predictions = json.loads(answer["body"])["predictions"]
    assert len(predictions) == 3
    assert all("prediction" in row for row in predictions)


def test_csv_request_with_header(handler, records):
    rows = _features(records, 4)
    header = ",".join(rows[0])
    body = "\n".join([header, *(",".join(str(value) for value in row.values()) for row in rows)])
    answer = handler.lambda_handler(_event(body, "text/csv; charset=utf-8"), None)
    assert answer["statusCode"] == 200, answer["body"]
    assert len(json.loads(answer["body"])["predictions"]) == 4


def test_csv_accept_is_passed_on(handler, records):
    body = json.dumps({"instances": _features(records, 2)})
    answer = handler.lambda_handler(_event(body, headers={"accept": "text/csv"}), None)
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "text/csv"
    assert len(answer["body"].strip().splitlines()) == 2


def test_base64_body_is_decoded(handler, records):
    body = base64.b64encode(json.dumps({"instances": _features(records, 1)}).encode()).decode()
    answer = handler.lambda_handler(_event(body, isBase64Encoded=True), None)
    assert answer["statusCode"] == 200, answer["body"]


BAD_REQUESTS = {
    "malformed JSON": (_event('{"instances": [{"age": 50'), 400, "not valid JSON"),
    "JSON without records": (_event('{"rows": []}'), 400, "instances"),
    "empty record list": (_event('{"instances": []}'), 400, "no records"),
    "record that is not an object": (_event('{"instances": [[1, 2, 3]]}'), 400, "not an object"),
    "nested value": (_event('{"instances": [{"age": {"years": 50}}]}'), 400, "nested"),
    "no body": (_event(None), 400, "no body"),
    "bad base64": (_event("%%%", isBase64Encoded=True), 400, "base64"),
    "wrong content type": (_event("age=50", "application/x-www-form-urlencoded"), 415, "content type"),
    "no content type": (_event("{}", ""), 415, "content type"),
    "unsupported accept": (_event("{}", headers={"Accept": "application/xml"}), 406, "accept"),
    "oversize payload": (_event(json.dumps({"instances": [{"pad": "x" * MAX_PAYLOAD}]})), 413, "limit"),
    "GET": (_event("{}", httpMethod="GET"), 405, "POST"),
    "ragged CSV": (_event("1,2,3\n4,5", "text/csv"), 400, "fields"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_requests_get_a_clear_4xx(handler, case):
    event, status, words = BAD_REQUESTS[case]
    answer = handler.lambda_handler(event, None)
    assert answer["statusCode"] == status
    message = json.loads(answer["body"])["message"]
    assert words in message and "\n" not in message


def test_too_many_records_is_413(handler, records):
    body = json.dumps({"instances": _features(records, MAX_RECORDS + 1)})
    answer = handler.lambda_handler(_event(body), None)
    assert answer["statusCode"] == 413


def test_a_record_missing_a_model_column_is_400(handler, records):
    record = _features(records, 1)[0]
    del record["bmi"]
    answer = handler.lambda_handler(_event(json.dumps({"instances": [record]})), None)
    assert answer["statusCode"] == 400
    assert "bmi" in json.loads(answer["body"])["message"]


def test_values_the_model_cannot_read_are_422(handler, records):
    record = _features(records, 1)[0] | {"bmi": "tall"}
    answer = handler.lambda_handler(_event(json.dumps({"instances": [record]})), None)
    assert answer["statusCode"] == 422
    assert "must hold numbers" in json.loads(answer["body"])["message"]


def _stubbed_runtime(handler, error_code: str, status: int):
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("invoke_endpoint", service_error_code=error_code, http_status_code=status)
    stubber.activate()
    handler._runtime_client = client
    return stubber


def test_endpoint_throttling_is_429(handler, records):
    _stubbed_runtime(handler, "ThrottlingException", 400)
    answer = handler.lambda_handler(_event(json.dumps({"instances": _features(records, 1)})), None)
    assert answer["statusCode"] == 429


def test_a_missing_endpoint_is_a_gateway_error_not_a_crash(handler, records, monkeypatch):
    monkeypatch.setenv("ENDPOINT_NAME", "no-such-endpoint")
    answer = handler.lambda_handler(_event(json.dumps({"instances": _features(records, 1)})), None)
    assert answer["statusCode"] == 502
    assert "ValidationError" in json.loads(answer["body"])["message"]


@pytest.mark.parametrize("original,expected", [(400, 422), (415, 415), (406, 406), (500, 422)])
def test_a_model_error_is_422_unless_the_container_named_another_client_error(handler, records, original, expected):
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        http_status_code=424,
        modeled_fields={"OriginalStatusCode": original, "OriginalMessage": "cannot read 'tall'"},
    )
    stubber.activate()
    handler._runtime_client = client
    answer = handler.lambda_handler(_event(json.dumps({"instances": _features(records, 1)})), None)
    assert answer["statusCode"] == expected
    assert "cannot read 'tall'" in json.loads(answer["body"])["message"]


def _recording_runtime(handler, expected_id: str | None) -> Stubber:
    """The runtime client answers once; it checks the InferenceId the function sends."""
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stubber = Stubber(client)
    expected = {"EndpointName": ENDPOINT, "Body": ANY, "ContentType": ANY, "Accept": ANY, "InferenceId": ANY}
    if expected_id is not None:
        expected["InferenceId"] = expected_id
    stubber.add_response(
        "invoke_endpoint", {"Body": io.BytesIO(b'{"predictions": []}'), "ContentType": "application/json"}, expected
    )
    stubber.activate()
    handler._runtime_client = client
    return stubber


def test_the_callers_inference_id_reaches_the_endpoint_and_comes_back(handler, records):
    stubber = _recording_runtime(handler, "order-42")
    event = _event(json.dumps({"instances": _features(records, 1)}), headers={"X-Inference-Id": "order-42"})
    answer = handler.lambda_handler(event, None)
    assert answer["statusCode"] == 200, answer["body"]
    assert answer["headers"]["X-Inference-Id"] == "order-42"
    stubber.assert_no_pending_responses()


def test_without_an_inference_id_one_is_made_and_returned(handler, records):
    stubber = _recording_runtime(handler, None)
    answer = handler.lambda_handler(_event(json.dumps({"instances": _features(records, 1)})), None)
    assert answer["statusCode"] == 200, answer["body"]
    assert len(answer["headers"]["X-Inference-Id"]) == 36
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("bad", [" starts-with-space", "x" * 65, "tab\there"])
def test_a_bad_inference_id_is_refused_before_the_endpoint(handler, records, bad):
    event = _event(json.dumps({"instances": _features(records, 1)}), headers={"X-Inference-Id": bad})
    answer = handler.lambda_handler(event, None)
    assert answer["statusCode"] == 400
    assert "X-Inference-Id" in json.loads(answer["body"])["message"]
