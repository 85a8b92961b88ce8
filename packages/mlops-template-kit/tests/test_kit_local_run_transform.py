"""The local runner's Transform step: a batch transform job answered by the local endpoint's
container code, on the model a SageMaker model names (directly or through its model package)."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from pathlib import Path

import boto3
import pandas as pd
import pytest

from mlops_template_kit.local_endpoint.server import ModelContainer, extract_bundle
from mlops_template_kit.local_run import transform
from mlops_template_kit.local_run.command import main
from mlops_template_kit.local_run.errors import StepFailed

pytestmark = pytest.mark.usefixtures("offline")

BUCKET = "transform-test"
MODEL = "batch-model"
OUTPUT = f"s3://{BUCKET}/out/transform"
TARGETS = ("id", "progression", "high_progression")


@pytest.fixture
def aws(monkeypatch, sample_bundle):
    """A fresh moto server holding the sample bundle, registered as a package a model names."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    s3, sagemaker = (boto3.client(name, region_name="us-east-1") for name in ("s3", "sagemaker"))
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(sample_bundle.model_data), BUCKET, "models/model.tar.gz")
    sagemaker.create_model_package_group(ModelPackageGroupName="group")
    package = sagemaker.create_model_package(
        ModelPackageGroupName="group",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": f"s3://{BUCKET}/models/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    # As the batch stack creates it: the model names the package, not the artifact.
    sagemaker.create_model(
        ModelName=MODEL,
        PrimaryContainer={"ModelPackageName": package},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/model",
    )
    try:
        yield s3
    finally:
        server.stop()


@pytest.fixture
def records(sample_bundle) -> pd.DataFrame:
    frame = pd.read_csv(sample_bundle.test_data).head(12)
    return frame.drop(columns=[column for column in TARGETS if column in frame and column != "id"])


def put_csv(s3, key: str, frame: pd.DataFrame, header: bool = True) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=frame.to_csv(index=False, header=header).encode())


def definition(**overrides) -> dict:
    """One Transform step as the SDK writes it, then a step reading its output path."""
    arguments = {
        "ModelName": {"Get": "Parameters.ModelName"},
        "BatchStrategy": "SingleRecord",
        "MaxPayloadInMB": 6,
        "TransformInput": {
            "ContentType": "text/csv",
            "SplitType": "None",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in/"}},
        },
        "TransformOutput": {"Accept": "application/json", "AssembleWith": "None", "S3OutputPath": OUTPUT},
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"},
    }
    for key, value in overrides.items():
        target = arguments
        *path, last = key.split("__")
        for part in path:
            target = target[part]
        target[last] = value
    return {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "ModelName", "Type": "String", "DefaultValue": MODEL}],
        "Steps": [
            {"Name": "Batch", "Type": "Transform", "Arguments": arguments},
            {
                "Name": "Done",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "Equals",
                            "LeftValue": {"Get": "Steps.Batch.TransformOutput.S3OutputPath"},
                            "RightValue": OUTPUT,
                        }
                    ],
                    "IfSteps": [],
                    "ElseSteps": [],
                },
            },
        ],
    }


def run(tmp_path: Path, document: dict, capsys, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(document))
    code = main(["--definition", str(path), "--work-dir", str(tmp_path / "work"), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def read(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def expected(sample_bundle, tmp_path: Path, body: bytes) -> list[dict]:
    """What the local endpoint's container answers for the same body."""
    container = ModelContainer(extract_bundle(sample_bundle.model_data, tmp_path / "expected"))
    return json.loads(container.invoke(body, "text/csv", "application/json").body)["predictions"]


def test_each_object_becomes_one_out_file_with_the_models_predictions(aws, records, sample_bundle, tmp_path, capsys):
    put_csv(aws, "in/part-1.csv", records.head(7))
    put_csv(aws, "in/nested/part-2.csv", records.tail(5))
    code, out, err = run(tmp_path, definition(), capsys)
    assert code == 0, err
    assert "<== Batch: succeeded" in out and "outcome True" in out
    for key, rows in (("part-1.csv", 7), ("nested/part-2.csv", 5)):
        predictions = json.loads(read(aws, f"out/transform/{key}.out"))["predictions"]
        assert len(predictions) == rows
        assert predictions == expected(sample_bundle, tmp_path / key, read(aws, f"in/{key}"))


def test_line_split_records_are_batched_and_assembled_line_by_line(aws, records, tmp_path, capsys):
    features = records.drop(columns=["id"])
    put_csv(aws, "in/rows.csv", features, header=False)
    document = definition(
        BatchStrategy="MultiRecord",
        TransformInput__SplitType="Line",
        TransformOutput__Accept="text/csv",
        TransformOutput__AssembleWith="Line",
    )
    code, _, err = run(tmp_path, document, capsys)
    assert code == 0, err
    lines = read(aws, "out/transform/rows.csv.out").decode().splitlines()
    assert len([line for line in lines if line.strip()]) == len(features)


def test_a_model_error_fails_the_step_naming_the_object(aws, records, tmp_path, capsys):
    put_csv(aws, "in/broken.csv", records.drop(columns=["id", "age"]), header=False)
    code, _, err = run(tmp_path, definition(), capsys)
    assert code == 1
    assert "step Batch: the model answered 400 for in/broken.csv" in err
    assert "Traceback" not in err


def test_an_unknown_model_fails_with_its_name(aws, records, tmp_path, capsys):
    put_csv(aws, "in/part.csv", records)
    code, _, err = run(tmp_path, definition(), capsys, "--param", "ModelName=not-deployed")
    assert code == 1
    assert "step Batch: model 'not-deployed' does not exist" in err


def test_an_empty_input_prefix_fails_the_step(aws, tmp_path, capsys):
    code, _, err = run(tmp_path, definition(), capsys)
    assert code == 1
    assert f"step Batch: no input objects under s3://{BUCKET}/in/" in err


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"TransformInput__SplitType": "RecordIO"}, "SplitType RecordIO does not run locally"),
        ({"TransformInput__DataSource__S3DataSource__S3DataType": "ManifestFile"}, "only S3Prefix transform input"),
        ({"DataProcessing": {"JoinSource": "Input"}}, "DataProcessing"),
    ],
)
def test_settings_it_does_not_emulate_are_named(aws, records, tmp_path, capsys, override, message):
    put_csv(aws, "in/part.csv", records)
    code, _, err = run(tmp_path, definition(**override), capsys)
    assert code == 1
    assert message in err


def test_a_request_over_the_payload_limit_is_refused():
    requests = transform.Requests(split="None", strategy="SingleRecord", max_bytes=10)
    with pytest.raises(StepFailed, match=r"big.csv: a request of 11 bytes exceeds MaxPayloadInMB"):
        list(requests.payloads(b"x" * 11, "big.csv"))


def test_multi_record_batches_fill_up_to_the_limit_and_zero_means_no_limit():
    lines = b"aaaa\nbbbb\ncccc\n\n"
    assert list(transform.Requests("Line", "MultiRecord", 10).payloads(lines, "f")) == [b"aaaa\nbbbb\n", b"cccc\n"]
    single = transform.Requests("Line", "SingleRecord", 10)
    assert list(single.payloads(lines, "f")) == [b"aaaa\n", b"bbbb\n", b"cccc\n"]
    assert list(transform.Requests("None", "MultiRecord", 0).payloads(lines * 9, "f")) == [lines * 9]


def test_a_model_with_its_artifact_named_directly_is_found(aws):
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    sagemaker.create_model(
        ModelName="direct",
        PrimaryContainer={"Image": "image", "ModelDataUrl": f"s3://{BUCKET}/models/model.tar.gz"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/model",
    )
    assert transform.model_data_of(sagemaker, "direct") == f"s3://{BUCKET}/models/model.tar.gz"
    assert transform.model_data_of(sagemaker, MODEL) == f"s3://{BUCKET}/models/model.tar.gz"
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1")
