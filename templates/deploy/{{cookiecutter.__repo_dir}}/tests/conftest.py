"""What the promotion tests run against: a stage's endpoint, API and batch pipeline, real or local.

Environment (CI sets the first ones; `make test-local` sets them all for a local endpoint):
    STAGE            staging (default) | prod
    TARGET           aws (default): the deployed stage | local: a local endpoint and the Lambda
                     handler called in-process
    ENDPOINT_NAME    default: the stage's endpoint name from the naming rules
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME   the local endpoint's URL (TARGET=local)
    MODEL_DATA       model.tar.gz (path or s3://); default: build/model_package.json
    EVALUATION       the registered evaluation.json (path or s3://); default: build/model_package.json
    TEST_DATA        labelled raw records: CSV file, folder or s3:// prefix;
                     default: s3://<artifact bucket>/<project>/input/
    STRESS_REPORT    where the stress test writes its latency table (optional)
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from mlops_template_kit import naming
from mlops_template_kit.deploy import inference_config
from mlops_template_kit.deploy.build import split_s3_uri
from mlops_template_kit.deploy.deploy import stage_session
from mlops_template_kit.deploy.settings import Settings, config_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = REPO_ROOT / "build"

JSON = "application/json"
CSV = "text/csv"
HANDLER_PATH = REPO_ROOT / "app_infra" / "lambda" / "invoke_endpoint" / "handler.py"
POSTPROCESS_PATH = REPO_ROOT / "app_infra" / "batch_inference" / "postprocess" / "__main__.py"
BATCH_TIMEOUT_SECONDS = 3600
INVOKE_CHUNK = 100


def _read_bytes(session: Any, location: str) -> bytes:
    if location.startswith("s3://"):
        bucket, key = split_s3_uri(location)
        return session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return Path(location).read_bytes()


def _csv_sources(session: Any, location: str) -> list[bytes]:
    if location.startswith("s3://"):
        bucket, prefix = split_s3_uri(location)
        pages = session.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = sorted(
            item["Key"] for page in pages for item in page.get("Contents", []) if item["Key"].endswith(".csv")
        )
        return [_read_bytes(session, f"s3://{bucket}/{key}") for key in keys]
    path = Path(location)
    files = sorted(path.rglob("*.csv")) if path.is_dir() else [path]
    return [file.read_bytes() for file in files if file.is_file()]


def read_records(session: Any, location: str) -> pd.DataFrame:
    """Every CSV record at `location` (file, folder or s3:// prefix) as one frame."""
    sources = _csv_sources(session, location)
    if not sources:
        pytest.fail(f"no CSV records at {location}: set TEST_DATA to labelled raw records")
    return pd.concat([pd.read_csv(io.BytesIO(body)) for body in sources], ignore_index=True)


def read_bundle_metadata(session: Any, model_data: str) -> dict[str, Any]:
    """metadata.json of a model bundle (a model.tar.gz path or s3:// URI, or an extracted folder)."""
    if Path(model_data).is_dir():
        return json.loads((Path(model_data) / "metadata.json").read_text(encoding="utf-8"))
    with tarfile.open(fileobj=io.BytesIO(_read_bytes(session, model_data)), mode="r:gz") as archive:
        return json.loads(archive.extractfile("metadata.json").read())


def load_module(path: Path, name: str) -> Any:
    """Import a file that is not part of a package (the Lambda handler, a step script)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # Registered first: dataclasses look their module up while the file runs.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class ApiResponse:
    status: int
    body: str
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Target:
    """The stage under test and the model it serves."""

    stage: str
    mode: str
    settings: Settings
    session: Any
    config: dict[str, Any]
    endpoint_name: str
    metadata: dict[str, Any]
    evaluation: dict[str, Any] | None
    records: pd.DataFrame
    _api_call: Callable[[bytes, str, str], ApiResponse] | None = field(default=None, repr=False)

    @property
    def problem_type(self) -> str:
        return self.metadata["problem_type"]

    @property
    def feature_columns(self) -> list[str]:
        return list(self.metadata["raw_feature_columns"])

    @property
    def target_column(self) -> str:
        return self.metadata["target_column"]

    @property
    def id_column(self) -> str:
        return self.metadata.get("id_column") or ""

    def features(self, count: int | None = None) -> pd.DataFrame:
        frame = self.records[self.feature_columns]
        return frame if count is None else frame.head(count)

    def runtime(self) -> Any:
        """A new sagemaker-runtime client (one per thread in concurrent tests)."""
        return self.session.client("sagemaker-runtime")

    def invoke(self, body: bytes | str, content_type: str = JSON, accept: str = JSON, client: Any = None) -> Any:
        data = body.encode("utf-8") if isinstance(body, str) else body
        response = (client or self.runtime()).invoke_endpoint(
            EndpointName=self.endpoint_name, Body=data, ContentType=content_type, Accept=accept
        )
        return response

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Endpoint predictions for every row of `frame` (sent in chunks as JSON)."""
        client = self.runtime()
        rows = []
        for start in range(0, len(frame), INVOKE_CHUNK):
            chunk = frame.iloc[start : start + INVOKE_CHUNK]
            body = json.dumps({"instances": json.loads(chunk.to_json(orient="records"))})
            answer = json.loads(self.invoke(body, client=client)["Body"].read())
            rows.extend(answer["predictions"])
        return pd.DataFrame.from_records(rows)

    def call_api(self, body: bytes | str, content_type: str = JSON, accept: str = JSON) -> ApiResponse:
        if self._api_call is None:
            pytest.skip("this stage has no API (api_gateway=no)")
        data = body.encode("utf-8") if isinstance(body, str) else body
        return self._api_call(data, content_type, accept)


def _local_api(config: dict[str, Any], endpoint_name: str, feature_columns: list[str]) -> Callable:
    """The Lambda handler, called in-process with API Gateway proxy events."""
    handler = load_module(HANDLER_PATH, "invoke_endpoint_handler")
    api = config["api"]
    environment = {
        "ENDPOINT_NAME": endpoint_name,
        "MAX_PAYLOAD_BYTES": str(api["max_payload_bytes"]),
        "MAX_RECORDS": str(api["max_records"]),
        "FEATURE_COLUMNS": ",".join(feature_columns),
    }

    # Set once: the handler reads its settings from the environment, as in Lambda.
    os.environ.update(environment)

    def call(body: bytes, content_type: str, accept: str) -> ApiResponse:
        event = {
            "httpMethod": "POST",
            "path": "/predict",
            "headers": {"Content-Type": content_type, "Accept": accept},
            "body": body.decode("utf-8", errors="replace"),
            "isBase64Encoded": False,
        }
        answer = handler.lambda_handler(event, None)
        return ApiResponse(answer["statusCode"], answer["body"], answer["headers"]["Content-Type"])

    return call


def _aws_api(session: Any, settings: Settings, stage: str, config: dict[str, Any]) -> Callable:
    """The deployed REST API: every call is SigV4-signed (the API authorizes with IAM)."""
    cfn = session.client("cloudformation")
    stack = cfn.describe_stacks(StackName=settings.stack_name(stage, "api"))["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    url = outputs["ApiUrl"]

    def call(body: bytes, content_type: str, accept: str) -> ApiResponse:
        headers = {"Content-Type": content_type, "Accept": accept}
        request = AWSRequest(method="POST", url=url, data=body, headers=headers)
        credentials = session.get_credentials().get_frozen_credentials()
        SigV4Auth(credentials, "execute-api", settings.region).add_auth(request)
        headers = dict(request.headers)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return ApiResponse(response.status, response.read().decode("utf-8"), response.headers["Content-Type"])
        except urllib.error.HTTPError as error:
            return ApiResponse(error.code, error.read().decode("utf-8"), error.headers.get("Content-Type", ""))

    return call


def _model_package(settings: Settings) -> dict[str, Any]:
    path = BUILD_DIR / "model_package.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


@pytest.fixture(scope="session")
def target() -> Target:
    settings = Settings.from_env(REPO_ROOT)
    stage = os.environ.get("STAGE", "staging")
    mode = os.environ.get("TARGET", "aws")
    config = inference_config.load(stage, config_dir(REPO_ROOT))
    base = boto3.Session(region_name=settings.region)
    session = base if mode == "local" else stage_session(settings, stage, config, base)
    package = _model_package(settings)
    model_data = os.environ.get("MODEL_DATA") or package.get("model_data_url")
    if not model_data:
        pytest.fail("set MODEL_DATA or run the build step: the tests need the model's metadata.json")
    # Model artifacts, evaluation and test data live in the project's (tooling) account.
    metadata = read_bundle_metadata(base, model_data)
    evaluation_uri = os.environ.get("EVALUATION", package.get("evaluation_uri", ""))
    evaluation = json.loads(_read_bytes(base, evaluation_uri)) if evaluation_uri else None
    default_data = f"s3://{settings.artifact_bucket}/{naming.s3_prefix(settings.project_name)}/input/"
    records = read_records(base, os.environ.get("TEST_DATA") or default_data)
    endpoint_name = os.environ.get("ENDPOINT_NAME") or settings.endpoint_name(stage)
    api_call = None
    if "api" in config:
        features = list(metadata["raw_feature_columns"])
        api_call = (
            _local_api(config, endpoint_name, features)
            if mode == "local"
            else _aws_api(session, settings, stage, config)
        )
    return Target(stage, mode, settings, session, config, endpoint_name, metadata, evaluation, records, api_call)


def _local_batch(target: Target, workdir: Path) -> pd.DataFrame:
    """The batch pipeline's transform and postprocessing, run against the local endpoint.

    As the transform job does with SplitType None, every input file is one request; the ids are
    kept as the preprocessing step keeps them.
    """
    postprocess = load_module(POSTPROCESS_PATH, "batch_postprocess")
    records = target.records
    files = {"part-1.csv": records.iloc[: len(records) // 2], "part-2.csv": records.iloc[len(records) // 2 :]}
    ids = pd.concat([part[[target.id_column]] for part in files.values()], ignore_index=True)
    (workdir / "ids").mkdir(parents=True)
    ids.to_csv(workdir / "ids" / "ids.csv", index=False)
    (workdir / "transform").mkdir()
    client = target.runtime()
    for name, part in files.items():
        body = part.drop(columns=[target.target_column], errors="ignore").to_csv(index=False)
        answer = target.invoke(body, CSV, JSON, client=client)["Body"].read()
        (workdir / "transform" / f"{name}.out").write_bytes(answer)
    return postprocess.run(workdir / "ids", workdir / "transform", workdir / "predictions", "test")


def _aws_batch(target: Target) -> pd.DataFrame:
    """Start the stage's batch pipeline on the test records and read its predictions."""
    bucket = naming.stage_bucket(target.settings.project_id, target.stage, "batch")
    run = f"tests/{uuid.uuid4().hex[:12]}"
    s3 = target.session.client("s3")
    body = target.records.drop(columns=[target.target_column], errors="ignore").to_csv(index=False)
    s3.put_object(Bucket=bucket, Key=f"{run}/input/records.csv", Body=body.encode("utf-8"))
    sagemaker = target.session.client("sagemaker")
    name = naming.pipeline(target.settings.project_name, target.settings.project_id, f"batch-inference-{target.stage}")
    execution = sagemaker.start_pipeline_execution(
        PipelineName=name,
        PipelineParameters=[
            {"Name": "InputDataUri", "Value": f"s3://{bucket}/{run}/input/"},
            {"Name": "OutputDataUri", "Value": f"s3://{bucket}/{run}/output"},
            {"Name": "TriggeredBy", "Value": "promotion-tests"},
        ],
    )["PipelineExecutionArn"]
    deadline = time.monotonic() + BATCH_TIMEOUT_SECONDS
    status = "Executing"
    while status == "Executing" and time.monotonic() < deadline:
        time.sleep(30)
        status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution)["PipelineExecutionStatus"]
    assert status == "Succeeded", f"batch pipeline execution {execution} ended {status}"
    execution_id = execution.rsplit("/", 1)[-1]
    key = f"{run}/output/{execution_id}/predictions/predictions.csv"
    return pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


@pytest.fixture(scope="session")
def batch_predictions(target: Target, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Batch predictions of the test records, with their ids."""
    if "batch" not in target.config:
        pytest.skip("this stage has no batch inference")
    if target.mode == "local":
        return _local_batch(target, tmp_path_factory.mktemp("batch"))
    return _aws_batch(target)


@pytest.fixture(scope="session")
def predictions(target: Target, request: pytest.FixtureRequest) -> pd.DataFrame:
    """Predictions of every test record: from the endpoint, or from batch inference without one."""
    if "realtime" in target.config:
        return target.predict(target.features())
    batch = request.getfixturevalue("batch_predictions")
    return batch[[column for column in batch.columns if column != target.id_column]]
