"""The kit's local endpoint follows the framework container and the SageMaker runtime contracts."""

from __future__ import annotations

import http.client
import json
import tarfile
import threading
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from mlops_template_kit.deploy.errors import DeployError
from mlops_template_kit.local_endpoint.server import ModelContainer, RunningEndpoint, extract_bundle

ENDPOINT = "local-test-endpoint"
JSON = "application/json"
CSV = "text/csv"

# Every test here talks to 127.0.0.1 only; boto3's runtime client gets fake credentials.
pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture(scope="module")
def endpoint(sample_bundle):
    with RunningEndpoint(sample_bundle.model_data, ENDPOINT) as running:
        yield running


@pytest.fixture(scope="module")
def features(sample_bundle) -> pd.DataFrame:
    frame = pd.read_csv(sample_bundle.test_data)
    return frame.drop(columns=[c for c in ("id", "progression", "high_progression") if c in frame])


def _post(endpoint, path: str, body: bytes, headers: dict) -> tuple[int, bytes, dict]:
    host, port = endpoint.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, payload, {key.lower(): value for key, value in response.getheaders()}


def _runtime(endpoint):
    return boto3.client("sagemaker-runtime", endpoint_url=endpoint.url, region_name="us-east-1")


def test_ping_answers_200(endpoint):
    host, port = endpoint.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", "/ping")
    assert connection.getresponse().status == 200


def test_invocations_with_csv_and_json(endpoint, features):
    rows = features.head(3)
    status, body, headers = _post(endpoint, "/invocations", rows.to_csv(index=False, header=False).encode(), {
        "Content-Type": CSV,
        "Accept": JSON,
    })  # fmt: skip
    assert status == 200 and headers["content-type"] == JSON
    from_csv = json.loads(body)["predictions"]
    payload = json.dumps({"instances": json.loads(rows.to_json(orient="records"))}).encode()
    status, body, _ = _post(endpoint, "/invocations", payload, {"Content-Type": JSON, "Accept": JSON})
    assert status == 200
    assert json.loads(body)["predictions"] == from_csv
    assert len(from_csv) == 3


def test_missing_content_type_and_any_accept_mean_json(endpoint, features):
    payload = json.dumps({"instances": json.loads(features.head(1).to_json(orient="records"))}).encode()
    status, body, headers = _post(endpoint, "/invocations", payload, {"Accept": "*/*"})
    assert status == 200 and headers["content-type"] == JSON
    assert len(json.loads(body)["predictions"]) == 1


def test_csv_accept_gets_csv(endpoint, features):
    body = features.head(2).to_csv(index=False, header=False).encode()
    status, payload, headers = _post(endpoint, "/invocations", body, {"Content-Type": CSV, "Accept": CSV})
    assert status == 200 and headers["content-type"] == CSV
    assert len(payload.decode().strip().splitlines()) == 2


def _one_csv_row(features: pd.DataFrame) -> str:
    return features.head(1).to_csv(index=False, header=False)


# Malformed requests, each answered 4xx with one line saying what is wrong (never a 500).
MALFORMED = {
    "empty body": (lambda features: b"", {"Content-Type": CSV}, 400, "empty"),
    "bad JSON": (lambda features: b"{broken", {"Content-Type": JSON}, 400, "malformed JSON"),
    "JSON without records": (lambda features: b'{"rows": []}', {"Content-Type": JSON}, 400, "instances"),
    "a CSV row too short": (
        lambda features: _one_csv_row(features).rsplit(",", 1)[0].encode(),
        {"Content-Type": CSV},
        400,
        "must hold",
    ),
    "a CSV row too long": (
        lambda features: (_one_csv_row(features).strip() + ",1\n").encode(),
        {"Content-Type": CSV},
        400,
        "must hold",
    ),
    "CSV rows of uneven widths": (
        lambda features: (_one_csv_row(features) + "1,2\n").encode(),
        {"Content-Type": CSV},
        400,
        "must hold",
    ),
    "a non-numeric value": (
        lambda features: ("abc," + _one_csv_row(features).split(",", 1)[1]).encode(),
        {"Content-Type": CSV},
        400,
        "must hold numbers",
    ),
    "a JSON record lacking a column": (
        lambda features: json.dumps({"instances": [{"age": 1}]}).encode(),
        {"Content-Type": JSON},
        400,
        "lack the column",
    ),
    "an unknown content type": (
        lambda features: b"\x93NUMPY",
        {"Content-Type": "application/x-npy"},
        415,
        "content type",
    ),
    "an unacceptable Accept": (
        lambda features: _one_csv_row(features).encode(),
        {"Content-Type": CSV, "Accept": "application/x-protobuf"},
        406,
        "accept type",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_a_malformed_request_gets_a_4xx_with_a_one_line_reason(endpoint, features, case):
    make_body, headers, expected_status, reason = MALFORMED[case]
    status, body, response_headers = _post(endpoint, "/invocations", make_body(features), headers)
    assert status == expected_status
    assert response_headers["content-type"] == JSON
    error = json.loads(body)
    assert error["error"] == "RequestError"
    assert reason in error["error-message"] and "\n" not in error["error-message"]


def test_an_unexpected_handler_error_is_still_a_500(tmp_path):
    """Only errors that declare a client status (or an unsupported format) are 4xx: a bug in the
    handler stays a 500, as in the framework containers."""
    handler = DATACLASS_HANDLER.replace("return Records(", "raise KeyError('weights')\n    return Records(")
    archive = _bundle(
        tmp_path,
        {"weights.json": '{"weight": 2}', "code/inference.py": handler, "code/helpers/__init__.py": "",
         "code/helpers/scale.py": "def factor():\n    return 10\n"},
    )  # fmt: skip
    with RunningEndpoint(archive, "custom") as running:
        status, body, _ = _post(running, "/invocations", b"1,2", {"Content-Type": CSV})
    assert status == 500 and json.loads(body)["error"] == "KeyError"


FORMAT_HANDLER = """
class UnsupportedFormatError(Exception):
    pass


def model_fn(model_dir):
    return None


def input_fn(body, content_type):
    if content_type != "text/csv":
        raise UnsupportedFormatError(content_type)
    return body


def predict_fn(data, model):
    return data


def output_fn(prediction, accept):
    if accept != "text/csv":
        raise UnsupportedFormatError(accept)
    return prediction, "text/csv"
"""


def test_an_unsupported_format_error_is_415_from_input_fn_and_406_from_output_fn(tmp_path):
    """sagemaker-containers' rule (_transformer.py, _default_transform_fn), for handlers that raise it."""
    archive = _bundle(tmp_path, {"code/inference.py": FORMAT_HANDLER})
    with RunningEndpoint(archive, "formats") as running:
        assert _post(running, "/invocations", b"1", {"Content-Type": "image/png"})[0] == 415
        assert _post(running, "/invocations", b"1", {"Content-Type": CSV, "Accept": "image/png"})[0] == 406
        assert _post(running, "/invocations", b"1", {"Content-Type": CSV, "Accept": CSV})[0] == 200


def test_runtime_api_works_through_boto3(endpoint, features):
    response = _runtime(endpoint).invoke_endpoint(
        EndpointName=ENDPOINT, Body=features.head(2).to_csv(index=False), ContentType=CSV, Accept=JSON
    )
    assert response["ContentType"] == JSON
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert len(json.loads(response["Body"].read())["predictions"]) == 2


def test_runtime_api_reports_model_errors_like_sagemaker(endpoint):
    with pytest.raises(ClientError) as raised:
        _runtime(endpoint).invoke_endpoint(EndpointName=ENDPOINT, Body=b"{broken", ContentType=JSON)
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert "malformed JSON" in error["OriginalMessage"]


def test_runtime_api_refuses_an_unknown_endpoint(endpoint):
    with pytest.raises(ClientError) as raised:
        _runtime(endpoint).invoke_endpoint(EndpointName="another-endpoint", Body=b"{}", ContentType=JSON)
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "another-endpoint" in raised.value.response["Error"]["Message"]


def test_concurrent_clients_all_get_answers(endpoint, features):
    body = features.head(1).to_csv(index=False, header=False).encode()
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(5):
            status, _, _ = _post(endpoint, "/invocations", body, {"Content-Type": CSV})
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 80


def _bundle(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "bundle"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return archive


# A handler shaped like the build/train repository's: a dataclass, a helper package next to it,
# and (body, content type) returned by output_fn.
DATACLASS_HANDLER = """
import json
from dataclasses import dataclass

from helpers.scale import factor


@dataclass(frozen=True)
class Records:
    values: list


def model_fn(model_dir):
    with open(f"{model_dir}/weights.json") as handle:
        return json.load(handle)


def input_fn(body, content_type):
    return Records([float(value) for value in body.split(",")])


def predict_fn(data, model):
    return [value * model["weight"] * factor() for value in data.values]


def output_fn(prediction, accept):
    return json.dumps({"predictions": prediction}), "application/json"
"""


def test_handlers_with_dataclasses_and_neighbour_packages_are_served(tmp_path):
    archive = _bundle(
        tmp_path,
        {
            "weights.json": '{"weight": 2}',
            "code/inference.py": DATACLASS_HANDLER,
            "code/helpers/__init__.py": "",
            "code/helpers/scale.py": "def factor():\n    return 10\n",
        },
    )
    with RunningEndpoint(archive, "custom") as running:
        response = _runtime(running).invoke_endpoint(EndpointName="custom", Body=b"1,2", ContentType=CSV)
        assert json.loads(response["Body"].read()) == {"predictions": [20.0, 40.0]}


def test_a_bundle_without_a_serving_handler_is_refused(tmp_path):
    archive = _bundle(tmp_path, {"metadata.json": "{}"})
    with pytest.raises(DeployError, match="code/inference.py"):
        ModelContainer(extract_bundle(archive, tmp_path / "extracted"))


def test_a_handler_missing_a_serving_function_is_refused(tmp_path):
    archive = _bundle(tmp_path, {"code/inference.py": "def model_fn(model_dir):\n    return None\n"})
    with pytest.raises(DeployError, match="input_fn"):
        ModelContainer(extract_bundle(archive, tmp_path / "extracted"))


def test_a_file_that_is_not_a_bundle_is_refused(tmp_path):
    broken = tmp_path / "model.tar.gz"
    broken.write_bytes(b"plain text")
    with pytest.raises(DeployError, match="not a readable"):
        extract_bundle(broken, tmp_path / "out")
