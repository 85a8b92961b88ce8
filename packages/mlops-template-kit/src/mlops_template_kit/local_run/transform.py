"""Transform steps: a batch transform job on this machine, answered by the local endpoint's container.

The model is the SageMaker model the step names (DescribeModel): its container's ModelDataUrl,
or the model package it names (DescribeModelPackage), as a batch stack's model does. The bundle
is unpacked into the sandbox and served by `local_endpoint.server.ModelContainer`, the same
`model_fn` / `input_fn` / `predict_fn` / `output_fn` calls the local endpoint makes, so batch and
real-time inference run one serving path.

Each object under the input S3 prefix is split (`SplitType` None: the whole object is one
record; Line: each line is one), grouped into requests (`BatchStrategy` SingleRecord: one record
each; MultiRecord: as many as fit in MaxPayloadInMB), and the answers are joined (`AssembleWith`
Line: a newline after each; None: as they are) into `<S3OutputPath>/<key under the prefix>.out`.
A request over MaxPayloadInMB or an error answer fails the step, naming the object.
(SageMaker API reference: TransformInput, TransformOutput, CreateTransformJob;
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html)
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

from .context import Job
from .errors import StepFailed
from .storage import join_uri

MEGABYTE = 1024 * 1024
# CreateTransformJob, MaxPayloadInMB: "The default value is 6 MB"; 0 means no limit (HTTP chunked
# encoding). https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sagemaker/aws.sdk.kotlin.services.sagemaker.model/-create-transform-job-request/max-payload-in-mb.html
DEFAULT_MAX_PAYLOAD_MB = 6
# BatchStrategy's default is not documented; it only matters once SplitType splits the objects.
DEFAULT_STRATEGY = "MultiRecord"
SPLIT_TYPES = ("None", "Line")
BATCH_STRATEGIES = ("SingleRecord", "MultiRecord")
ASSEMBLY = {"None": b"", "Line": b"\n"}


def run(job: Job) -> dict[str, Any]:
    """Run a transform job; its properties are the request plus the job's name and status."""
    arguments = job.arguments
    transform_input, transform_output = arguments.get("TransformInput") or {}, arguments.get("TransformOutput") or {}
    _refuse_unsupported(arguments, transform_input)
    container = load_model(job, arguments["ModelName"])
    source = transform_input["DataSource"]["S3DataSource"]["S3Uri"]
    objects = job.run.storage.objects(source)
    if not objects:
        raise StepFailed(f"no input objects under {source}")
    requests = Requests(
        split=transform_input.get("SplitType", "None"),
        strategy=arguments.get("BatchStrategy", DEFAULT_STRATEGY),
        max_bytes=int(arguments.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)) * MEGABYTE,
    )
    separator = ASSEMBLY[transform_output.get("AssembleWith", "None")]
    bucket = source.removeprefix("s3://").split("/", 1)[0]
    for item in objects:
        body = _read(job, bucket, item["Key"], transform_input.get("CompressionType", "None"))
        answers = [
            _answer(container, payload, transform_input.get("ContentType"), transform_output.get("Accept"), item)
            for payload in requests.payloads(body, item["Relative"])
        ]
        output = b"".join(answer + separator for answer in answers)
        # Kept in the sandbox for inspection, like a processing step's outputs.
        target = job.sandbox / "output" / f"{item['Relative']}.out"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(output)
        job.run.storage.upload_file(target, join_uri(transform_output["S3OutputPath"], f"{item['Relative']}.out"))
    return {
        **arguments,
        "TransformJobName": job.job_name,
        "TransformJobArn": job.run.arn("transform-job", job.job_name),
        "TransformJobStatus": "Completed",
    }


def _refuse_unsupported(arguments: dict[str, Any], transform_input: dict[str, Any]) -> None:
    """One line naming a setting this runner does not emulate, before anything runs."""
    data_type = (transform_input.get("DataSource") or {}).get("S3DataSource", {}).get("S3DataType", "S3Prefix")
    if data_type != "S3Prefix":
        raise StepFailed(f"only S3Prefix transform input runs locally (not {data_type})")
    if transform_input.get("SplitType", "None") not in SPLIT_TYPES:
        split = transform_input["SplitType"]
        raise StepFailed(f"SplitType {split} does not run locally (only {', '.join(SPLIT_TYPES)})")
    if arguments.get("BatchStrategy", DEFAULT_STRATEGY) not in BATCH_STRATEGIES:
        raise StepFailed(f"unknown BatchStrategy {arguments['BatchStrategy']!r}")
    processing = arguments.get("DataProcessing") or {}
    filters = {processing.get("InputFilter", "$"), processing.get("OutputFilter", "$")}
    if processing.get("JoinSource", "None") != "None" or filters != {"$"}:
        raise StepFailed("DataProcessing (input/output filters, JoinSource) does not run locally")


def load_model(job: Job, model_name: str) -> Any:
    """The serving container of SageMaker model `model_name`, its bundle unpacked into the sandbox."""
    from ..deploy.errors import DeployError
    from ..local_endpoint.server import ModelContainer, extract_bundle

    model_data_url = model_data_of(job.run.clients("sagemaker"), model_name)
    archive = job.sandbox / "model.tar.gz"
    job.run.storage.download_object(model_data_url, archive)
    model_dir = job.sandbox / "opt" / "ml" / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        return ModelContainer(extract_bundle(archive, model_dir))
    except DeployError as error:
        raise StepFailed(f"model {model_name} ({model_data_url}): {error}") from None


def model_data_of(sagemaker: Any, model_name: str) -> str:
    """The model.tar.gz a SageMaker model serves: its container's, or its model package's."""
    try:
        model = sagemaker.describe_model(ModelName=model_name)
    except sagemaker.exceptions.ClientError as error:
        message = error.response["Error"].get("Message", "")
        raise StepFailed(f"model {model_name!r} does not exist ({message})") from None
    container = model.get("PrimaryContainer") or next(iter(model.get("Containers") or []), {})
    if container.get("ModelDataUrl"):
        return container["ModelDataUrl"]
    if container.get("ModelPackageName"):
        package = sagemaker.describe_model_package(ModelPackageName=container["ModelPackageName"])
        containers = package.get("InferenceSpecification", {}).get("Containers") or [{}]
        if containers[0].get("ModelDataUrl"):
            return containers[0]["ModelDataUrl"]
    raise StepFailed(f"model {model_name!r} has no ModelDataUrl, directly or through its model package")


def _read(job: Job, bucket: str, key: str, compression: str) -> bytes:
    body = job.run.storage.client.get_object(Bucket=bucket, Key=key)["Body"].read()
    if compression == "Gzip":
        return gzip.decompress(body)
    if compression not in ("None", None):
        raise StepFailed(f"CompressionType {compression} is not one of None, Gzip")
    return body


def _answer(container: Any, payload: bytes, content_type: str | None, accept: str | None, item: dict) -> bytes:
    answer = container.invoke(payload, content_type, accept)
    if answer.status != 200:
        message = answer.body.decode("utf-8", errors="replace")
        raise StepFailed(f"the model answered {answer.status} for {item['Key']}: {message}")
    return answer.body


class Requests:
    """How one input object becomes request bodies."""

    def __init__(self, split: str, strategy: str, max_bytes: int) -> None:
        self.split, self.strategy, self.max_bytes = split, strategy, max_bytes

    def payloads(self, body: bytes, name: str) -> Iterator[bytes]:
        """The request bodies of one object, each within the payload limit."""
        records = [body] if self.split == "None" else [line for line in body.splitlines(keepends=True) if line.strip()]
        for payload in self._batches(records):
            if self.max_bytes and len(payload) > self.max_bytes:
                raise StepFailed(
                    f"{name}: a request of {len(payload)} bytes exceeds MaxPayloadInMB "
                    f"({self.max_bytes // MEGABYTE} MB); split the input (SplitType Line) or raise the limit"
                )
            yield payload

    def _batches(self, records: list[bytes]) -> Iterator[bytes]:
        if self.strategy == "SingleRecord":
            yield from records
            return
        batch = b""
        for record in records:
            if batch and self.max_bytes and len(batch) + len(record) > self.max_bytes:
                yield batch
                batch = b""
            batch += record
        if batch:
            yield batch
