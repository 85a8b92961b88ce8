"""A local stand-in for a SageMaker endpoint: the model bundle behind a real HTTP server.

The bundle (model.tar.gz: model files, metadata.json, code/inference.py) is loaded and served
through its serving functions exactly as the framework container calls them:
`model_fn(model_dir)` once, then `input_fn(body, content_type)` -> `predict_fn(data, model)` ->
`output_fn(prediction, accept)` per request, where `output_fn` may return the body or a
`(body, content_type)` pair. As in the container, text/csv and application/json bodies reach
`input_fn` as text, a missing Content-Type means application/json, a missing or `*/*` Accept
means SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (application/json). An exception in a serving function
answers what the framework containers answer (see `status_for`): its own 4xx `status_code`, 415 or
406 for an unsupported format, else 500; the body names the reason in one line.

Two sets of routes:
- the container contract: `GET /ping`, `POST /invocations`;
- the SageMaker runtime API: `POST /endpoints/<name>/invocations`, so
  `boto3.client("sagemaker-runtime", endpoint_url=...)` (or AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME)
  works unchanged. A model failure there is a `ModelError` (HTTP 424) carrying the container's
  status and message, as InvokeEndpoint reports it.

With a capture folder, every answered request (status 200) is also written in Model Monitor's
data-capture format (mlops_template_kit.monitor.capture), its X-Amzn-SageMaker-Inference-Id header
(InvokeEndpoint's InferenceId) as the record's inferenceId; lines are buffered and written in
batches, and at stop.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from mlops_template_kit.deploy.errors import DeployError

JSON = "application/json"
UTF8_TYPES = (JSON, "text/csv")
DEFAULT_CONTENT_TYPE = JSON
PROGRAM = "inference.py"
CODE_DIR = "code"
# A local safety limit on request bodies (real-time InvokeEndpoint payloads are a few MB).
MAX_BODY_BYTES = 25 * 1024 * 1024
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"
RUNTIME_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")
LOCAL_ACCOUNT = "000000000000"


@dataclass(frozen=True)
class Answer:
    """What the model container answers to one request."""

    status: int
    body: bytes
    content_type: str


def extract_bundle(model_data: Path, destination: Path) -> Path:
    """Unpack model.tar.gz into `destination` (as SageMaker does into /opt/ml/model)."""
    model_data = Path(model_data)
    if model_data.is_dir():
        return model_data
    if not model_data.is_file():
        raise DeployError(f"model bundle {model_data} does not exist")
    try:
        with tarfile.open(model_data, "r:gz") as archive:
            archive.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as problem:
        raise DeployError(f"model bundle {model_data} is not a readable .tar.gz: {problem}") from None
    return destination


def _import_program(code_dir: Path) -> ModuleType:
    script = code_dir / PROGRAM
    if not script.is_file():
        raise DeployError(f"the model bundle has no {CODE_DIR}/{PROGRAM} (the serving handler)")
    # The container puts the submit directory on sys.path so the handler can import its neighbours.
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    # A unique module name keeps two bundles served by one process apart.
    name = f"serving_handler_{abs(hash(str(code_dir)))}"
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    # Registered first: dataclasses look their module up while the file runs.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    for function in ("model_fn", "input_fn", "predict_fn", "output_fn"):
        if not callable(getattr(module, function, None)):
            raise DeployError(f"{CODE_DIR}/{PROGRAM} does not define {function}()")
    return module


class ModelContainer:
    """The serving functions of one bundle, called as the framework container calls them."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = Path(model_dir)
        self.handler = _import_program(self.model_dir / CODE_DIR)
        self.model = self.handler.model_fn(str(self.model_dir))
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)

    def _accept(self, accept: str | None) -> str:
        return self.default_accept if not accept or accept == "*/*" else accept

    def predict(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[Any, str]:
        """input_fn -> predict_fn -> output_fn; returns (serialised body, content type). A serving
        function's exception comes out as HandlerFailure naming the phase it failed in."""
        content_type = content_type or DEFAULT_CONTENT_TYPE
        accept = self._accept(accept)
        media_type = content_type.split(";")[0].strip().lower()
        data: bytes | str = body.decode("utf-8", errors="replace") if media_type in UTF8_TYPES else body
        parsed = _call(INPUT_PHASE, self.handler.input_fn, data, content_type)
        prediction = _call(PREDICT_PHASE, self.handler.predict_fn, parsed, self.model)
        result = _call(OUTPUT_PHASE, self.handler.output_fn, prediction, accept)
        if isinstance(result, tuple):
            return result[0], result[1]
        return result, accept

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Answer:
        """One /invocations request: 200 with the prediction, or the container's error status with
        a JSON body {"error": <exception class>, "error-message": <one line>}."""
        try:
            payload, response_type = self.predict(body, content_type, accept)
        except HandlerFailure as failure:
            document = {"error": type(failure.problem).__name__, "error-message": one_line_reason(failure.problem)}
            return Answer(status_for(failure), json.dumps(document).encode("utf-8"), JSON)
        encoded = payload if isinstance(payload, bytes) else str(payload).encode("utf-8")
        return Answer(HTTPStatus.OK, encoded, response_type)


INPUT_PHASE, PREDICT_PHASE, OUTPUT_PHASE = "input_fn", "predict_fn", "output_fn"


class HandlerFailure(Exception):
    """A serving function raised `problem` while handling one request."""

    def __init__(self, phase: str, problem: Exception) -> None:
        super().__init__(f"{phase}: {problem}")
        self.phase = phase
        self.problem = problem


def _call(phase: str, function: Any, *arguments: Any) -> Any:
    try:
        return function(*arguments)
    except Exception as problem:  # any handler error becomes an HTTP answer, as in the container
        raise HandlerFailure(phase, problem) from problem


# The framework containers' rules, copied so a client gets the same status here as from a real
# endpoint:
# - sagemaker-inference-toolkit, Transformer.transform (src/sagemaker_inference/transformer.py): an
#   exception derived from sagemaker_inference.errors.BaseInferenceToolkitError answers its
#   `status_code` (with `message`); any other exception answers 500.
# - sagemaker-containers, Transformer._default_transform_fn (src/sagemaker_containers/_transformer.py):
#   UnsupportedFormatError raised by input_fn answers 415 Unsupported Media Type, by output_fn 406
#   Not Acceptable.
# Through InvokeEndpoint any of these reaches the caller as ModelError carrying OriginalStatusCode
# (botocore reference, SageMakerRuntime.Client.exceptions.ModelError: "returned 4xx or 5xx error code").
UNSUPPORTED_FORMAT = "UnsupportedFormatError"
UNSUPPORTED_FORMAT_STATUS = {INPUT_PHASE: HTTPStatus.UNSUPPORTED_MEDIA_TYPE, OUTPUT_PHASE: HTTPStatus.NOT_ACCEPTABLE}


def status_for(failure: HandlerFailure) -> int:
    """The HTTP status a framework container answers for a serving function's exception."""
    declared = getattr(failure.problem, "status_code", None)
    if isinstance(declared, int) and 400 <= declared < 600:
        return declared
    if type(failure.problem).__name__ == UNSUPPORTED_FORMAT and failure.phase in UNSUPPORTED_FORMAT_STATUS:
        return UNSUPPORTED_FORMAT_STATUS[failure.phase]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def one_line_reason(problem: Exception) -> str:
    """The exception's message on one line (the toolkit's errors keep it in `message`)."""
    message = getattr(problem, "message", None)
    text = message if isinstance(message, str) else str(problem)
    return " ".join(text.split()) or type(problem).__name__


def _model_error(endpoint: str, answer: Answer) -> tuple[int, dict[str, Any]]:
    kind = "client" if answer.status < 500 else "server"
    original = answer.body.decode("utf-8", errors="replace")
    log_group = f"/aws/sagemaker/Endpoints/{endpoint}"
    return HTTPStatus.FAILED_DEPENDENCY, {
        "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
        "Message": f'Received {kind} error ({answer.status}) from primary with message "{original}". '
        f"See the log group {log_group} for more information.",
        "OriginalStatusCode": answer.status,
        "OriginalMessage": original,
        "LogStreamArn": f"arn:aws:logs:local:{LOCAL_ACCOUNT}:log-group:{log_group}",
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Small request/response pairs: Nagle's algorithm would add tens of milliseconds.
    disable_nagle_algorithm = True
    server: LocalEndpointServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_error_json(self, status: int, error_type: str, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode("utf-8")
        # botocore reads the error code from this header for rest-json services.
        self._send(status, body, JSON, {"x-amzn-ErrorType": error_type})

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send_error_json(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "ValidationError",
                {"message": f"request body of {length} bytes exceeds the local limit of {MAX_BODY_BYTES}"},
            )
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._send(HTTPStatus.OK, b"", JSON)
        else:
            self._send_error_json(HTTPStatus.NOT_FOUND, "NotFound", {"message": f"no route GET {self.path}"})

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        content_type, accept = self.headers.get("Content-Type"), self.headers.get("Accept")
        if self.path == "/invocations":
            answer = self.server.container.invoke(body, content_type, accept)
            self._capture(body, content_type, answer)
            self._send(answer.status, answer.body, answer.content_type)
            return
        match = RUNTIME_PATH.match(self.path.split("?")[0])
        if not match:
            self._send_error_json(HTTPStatus.NOT_FOUND, "NotFound", {"message": f"no route POST {self.path}"})
            return
        self._runtime_invoke(match["name"], body, content_type, accept)

    def _runtime_invoke(self, name: str, body: bytes, content_type: str | None, accept: str | None) -> None:
        if name != self.server.endpoint_name:
            message = f"Endpoint {name} of account {LOCAL_ACCOUNT} not found."
            self._send_error_json(HTTPStatus.BAD_REQUEST, "ValidationError", {"message": message})
            return
        answer = self.server.container.invoke(body, content_type, accept)
        if answer.status != HTTPStatus.OK:
            status, document = _model_error(name, answer)
            self._send_error_json(status, "ModelError", document)
            return
        self._capture(body, content_type, answer)
        self._send(answer.status, answer.body, answer.content_type, {"x-Amzn-Invoked-Production-Variant": "AllTraffic"})

    def _capture(self, body: bytes, content_type: str | None, answer: Answer) -> None:
        # Before the answer is sent (a buffered append, microseconds): a client holding its answer
        # knows the request is captured, so switching or closing the capture loses nothing.
        writer = self.server.capture
        if writer is None or answer.status != HTTPStatus.OK:
            return
        from mlops_template_kit.monitor import capture

        inference_id = self.headers.get(INFERENCE_ID_HEADER)
        # A request without Content-Type was read as JSON (as the container does): captured as such.
        request_type = content_type or DEFAULT_CONTENT_TYPE
        writer.add(capture.record(body, request_type, answer.body, answer.content_type, inference_id))


class LocalEndpointServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on 127.0.0.1 serving one model bundle under one endpoint name."""

    daemon_threads = True
    # Many clients connect at once in load tests; the default backlog of 5 would refuse some.
    request_queue_size = 128

    def __init__(
        self, container: ModelContainer, endpoint_name: str, port: int = 0, verbose: bool = False, capture: Any = None
    ) -> None:
        self.container = container
        self.endpoint_name = endpoint_name
        self.verbose = verbose
        # A monitor.capture.CaptureWriter, or None: nothing is captured.
        self.capture = capture
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing its keep-alive connection is normal; anything else is reported.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        """Base URL: use it as the sagemaker-runtime endpoint_url or POST {url}/invocations."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class RunningEndpoint:
    """A local endpoint serving in a background thread; a context manager that stops it on exit."""

    def __init__(
        self,
        model_data: Path,
        endpoint_name: str,
        port: int = 0,
        verbose: bool = False,
        capture_dir: Path | None = None,
    ) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="local-endpoint-")
        model_dir = extract_bundle(Path(model_data), Path(self._workdir.name))
        self.server = LocalEndpointServer(ModelContainer(model_dir), endpoint_name, port, verbose)
        if capture_dir is not None:
            self.capture_to(Path(capture_dir))
        self._thread = threading.Thread(target=self.server.serve_forever, name="local-endpoint", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def endpoint_name(self) -> str:
        return self.server.endpoint_name

    def capture_to(self, capture_dir: Path | None) -> None:
        """Write the requests answered from now on under `capture_dir` (None: stop capturing); what
        the previous folder's writer still holds is written first."""
        from mlops_template_kit.monitor.capture import CaptureWriter

        previous = self.server.capture
        self.server.capture = None if capture_dir is None else CaptureWriter(Path(capture_dir), self.endpoint_name)
        if previous is not None:
            previous.close()

    def start(self) -> RunningEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
        self.capture_to(None)
        self._workdir.cleanup()

    def __enter__(self) -> RunningEndpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
