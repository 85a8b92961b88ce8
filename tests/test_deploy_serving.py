"""The deploy repo's local endpoint serves a model bundle built elsewhere, as SageMaker would.

The bundle here is built the way the build/train repository builds one (an XGBoost model saved
as model.json, metadata.json, code/inference.py importing a neighbour package), but by this test,
so the serving contract is checked on its own: the framework-container routes, the SageMaker
runtime route through boto3, and the Lambda handler unchanged against it.
"""

from __future__ import annotations

import http.client
import importlib
import importlib.util
import json
import sys
import tarfile
from pathlib import Path

import boto3
import numpy as np
import pytest
import xgboost
from botocore.exceptions import ClientError
from sklearn.datasets import load_diabetes

from tests import bakery

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
ENDPOINT = "diabetes-progression-p-localdemo001-staging"

INFERENCE = '''"""Serving handler of the test bundle: raw records in, progression predictions out."""

import io
import json
from pathlib import Path

import numpy as np
import xgboost

from encoding.records import to_matrix


def model_fn(model_dir):
    booster = xgboost.Booster()
    booster.load_model(str(Path(model_dir) / "model.json"))
    metadata = json.loads((Path(model_dir) / "metadata.json").read_text())
    return booster, metadata["raw_feature_columns"]


def input_fn(body, content_type):
    text = body.decode() if isinstance(body, bytes) else body
    if content_type.startswith("application/json"):
        document = json.loads(text)
        return document["instances"] if isinstance(document, dict) else document
    if content_type.startswith("text/csv"):
        return [line.split(",") for line in text.splitlines() if line.strip()]
    raise ValueError(f"unsupported content type {content_type}")


def predict_fn(records, model):
    booster, columns = model
    return booster.inplace_predict(to_matrix(records, columns))


def output_fn(prediction, accept):
    if accept == "text/csv":
        return "\\n".join(f"{value:.6f}" for value in prediction) + "\\n", "text/csv"
    return json.dumps({"predictions": [{"prediction": float(value)} for value in prediction]}), "application/json"
'''

ENCODING = '''"""Turns raw records (dicts or CSV rows) into the model's feature matrix."""

import numpy as np

SEX = {"F": 1.0, "M": 2.0}


def to_matrix(records, columns):
    rows = []
    for record in records:
        values = [record[name] for name in columns] if isinstance(record, dict) else record
        if len(values) != len(columns):
            raise ValueError(f"a record needs {len(columns)} values")
        rows.append([SEX[value] if value in SEX else float(value) for value in values])
    return np.asarray(rows, dtype=float)
'''


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """model.tar.gz of a small XGBoost regressor trained on scikit-learn's diabetes data."""
    data = load_diabetes(as_frame=True, scaled=False)
    features = data.data.copy()
    booster = xgboost.train(
        {"max_depth": 3, "eta": 0.3, "objective": "reg:squarederror", "seed": 7},
        xgboost.DMatrix(features[FEATURES].to_numpy(), label=data.target.to_numpy()),
        num_boost_round=25,
    )
    root = tmp_path_factory.mktemp("xgboost-bundle")
    content = root / "content"
    (content / "code" / "encoding").mkdir(parents=True)
    booster.save_model(str(content / "model.json"))
    metadata = {"framework": "xgboost", "problem_type": "regression", "raw_feature_columns": FEATURES}
    (content / "metadata.json").write_text(json.dumps(metadata))
    (content / "code" / "inference.py").write_text(INFERENCE)
    (content / "code" / "encoding" / "__init__.py").write_text("")
    (content / "code" / "encoding" / "records.py").write_text(ENCODING)
    archive = root / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(content.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(content)), recursive=False)
    return archive


@pytest.fixture(scope="module")
def deploy_repo(baked, tmp_path_factory) -> Path:
    """The default deploy repository (a copy of the run's shared bake); the local endpoint it
    serves with is the kit's (mlops_template_kit.local_endpoint)."""
    return bakery.private_copy(baked("deploy", {}), tmp_path_factory.mktemp("deploy"))


@pytest.fixture(scope="module")
def endpoint(deploy_repo, bundle):
    server = importlib.import_module("mlops_template_kit.local_endpoint.server")
    with server.RunningEndpoint(bundle, ENDPOINT) as running:
        yield running


def _records(count: int) -> list[dict]:
    data = load_diabetes(as_frame=True, scaled=False).data.head(count)
    data["sex"] = data["sex"].map({1.0: "F", 2.0: "M"})
    return json.loads(data[FEATURES].to_json(orient="records"))


def _runtime(endpoint):
    return boto3.client("sagemaker-runtime", endpoint_url=endpoint.url, region_name="us-east-1")


def test_container_routes_answer_ping_and_invocations(endpoint):
    host, port = endpoint.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request("GET", "/ping")
    ping = connection.getresponse()
    assert ping.status == 200 and ping.read() == b""
    connection.request(
        "POST", "/invocations", body="59,M,32.1,101,157,93.2,38,4,4.8598,87", headers={"Content-Type": "text/csv"}
    )
    response = connection.getresponse()
    assert response.status == 200
    # No Accept header: the container's default, application/json.
    assert json.loads(response.read())["predictions"][0]["prediction"] > 0


def test_runtime_route_serves_boto3_unchanged(endpoint):
    body = json.dumps({"instances": _records(5)})
    response = _runtime(endpoint).invoke_endpoint(
        EndpointName=ENDPOINT, Body=body, ContentType="application/json", Accept="application/json"
    )
    predictions = [row["prediction"] for row in json.loads(response["Body"].read())["predictions"]]
    assert len(predictions) == 5 and all(25 <= value <= 346 for value in predictions)
    as_csv = _runtime(endpoint).invoke_endpoint(
        EndpointName=ENDPOINT, Body="59,M,32.1,101,157,93.2,38,4,4.8598,87", ContentType="text/csv", Accept="text/csv"
    )
    assert as_csv["ContentType"] == "text/csv"
    assert float(as_csv["Body"].read()) == pytest.approx(predictions[0], rel=1e-5)


def test_a_bad_record_is_a_model_error_carrying_the_handlers_message(endpoint):
    with pytest.raises(ClientError) as raised:
        _runtime(endpoint).invoke_endpoint(EndpointName=ENDPOINT, Body="1,2,3", ContentType="text/csv")
    assert raised.value.response["Error"]["Code"] == "ModelError"
    assert "needs 10 values" in raised.value.response["OriginalMessage"]


@pytest.fixture
def handler(deploy_repo, endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", endpoint.url)
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    monkeypatch.setenv("FEATURE_COLUMNS", ",".join(FEATURES))
    monkeypatch.setenv("MAX_PAYLOAD_BYTES", "10000")
    monkeypatch.setenv("MAX_RECORDS", "50")
    path = deploy_repo / "app_infra" / "lambda" / "invoke_endpoint" / "handler.py"
    spec = importlib.util.spec_from_file_location("deploy_handler_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _event(body: str, content_type: str = "application/json") -> dict:
    return {"httpMethod": "POST", "headers": {"Content-Type": content_type}, "body": body, "isBase64Encoded": False}


def test_lambda_handler_predicts_through_the_local_endpoint(handler):
    answer = handler.lambda_handler(_event(json.dumps({"instances": _records(3)})), None)
    assert answer["statusCode"] == 200, answer["body"]
    assert len(json.loads(answer["body"])["predictions"]) == 3


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"instances": [', "application/json", 400),
        ('{"instances": [{"age": 50}]}', "application/json", 400),
        ("age=50", "application/x-www-form-urlencoded", 415),
        (json.dumps({"instances": [{"pad": "x" * 20000}]}), "application/json", 413),
        ("1,2,3\n4,5,6", "text/csv", 400),
    ],
    ids=["malformed", "missing columns", "wrong content type", "oversize", "short CSV rows"],
)
def test_lambda_handler_answers_bad_requests_with_a_4xx(handler, body, content_type, status):
    answer = handler.lambda_handler(_event(body, content_type), None)
    assert answer["statusCode"] == status
    assert json.loads(answer["body"])["message"]


@pytest.mark.slow
def test_benchmark_measures_every_series_in_one_run(deploy_repo, bundle, capsys):
    benchmark = importlib.import_module("mlops_template_kit.local_endpoint.benchmark")
    report = benchmark.run_benchmark(
        bundle, "59,M,32.1,101,157,93.2,38,4,4.8598,87", requests=50, concurrent_requests=4
    )
    with capsys.disabled():
        print("\n" + benchmark.format_report(report))
    assert [row["clients"] for row in report["series"]] == [1, 1, 32, 1]
    assert all(np.isfinite(row["p99_ms"]) and row["throughput_rps"] > 0 for row in report["series"])
