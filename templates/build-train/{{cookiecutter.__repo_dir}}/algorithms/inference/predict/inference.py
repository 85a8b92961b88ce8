"""SageMaker serving handler for the model bundle (framework container, script mode).

The container imports this file from /opt/ml/model/code (SAGEMAKER_PROGRAM=inference.py,
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code), calls `model_fn` once, then `input_fn`,
`predict_fn` and `output_fn` for every request. Requests carry RAW records; the bundle applies
the preprocessing recorded at training time.

Requests:  text/csv (with or without a header row; without one, values follow the raw feature
           columns of metadata.json) or application/json ({"instances": [{column: value}, ...]}
           or a plain list of such records).
Responses: application/json {"predictions": [{"prediction": ..., "probability": ...}, ...]}
           or text/csv (one `prediction[,probability]` line per record).
A request it cannot serve raises RequestError (a ValueError) with a one-line reason and the HTTP
status the container answers: 400 for a malformed body or records that do not fit the model, 415
for an unsupported content type, 406 for an unsupported Accept.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

# In the bundle shared_libraries/ sits next to this file; in the repository it is in algorithms/.
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE if (HERE / "shared_libraries").is_dir() else HERE.parents[1]))

from shared_libraries.bundle import ModelBundle, load_bundle  # noqa: E402
from shared_libraries.errors import InputError  # noqa: E402

CSV = "text/csv"
JSON = "application/json"
ANY = "*/*"
BAD_REQUEST, NOT_ACCEPTABLE, UNSUPPORTED_MEDIA_TYPE = 400, 406, 415

try:
    # In a container built on the SageMaker inference toolkit, an exception of this class answers its
    # own status_code instead of 500 (sagemaker_inference/transformer.py, Transformer.transform).
    from sagemaker_inference.errors import BaseInferenceToolkitError as _StatusError
except ImportError:  # elsewhere (the local endpoint reads the same attributes)

    class _StatusError(Exception):
        def __init__(self, status_code: int, message: str, phrase: str) -> None:
            self.status_code, self.message, self.phrase = status_code, message, phrase
            super().__init__(status_code, message, phrase)


class RequestError(_StatusError, ValueError):
    """A request this model cannot serve: the client's mistake, answered with a 4xx status."""

    def __init__(self, message: str, status_code: int = BAD_REQUEST) -> None:
        super().__init__(status_code, message, message)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Records:
    """Parsed request rows; CSV rows stay positional until the model's column names are known."""

    rows: pd.DataFrame
    named: bool


def model_fn(model_dir: str) -> ModelBundle:
    """Load the bundle SageMaker extracted into `model_dir`."""
    return load_bundle(Path(model_dir))


def input_fn(request_body: bytes | str, request_content_type: str | None) -> Records:
    """Parse a CSV or JSON request body into records."""
    media_type = _media_type(request_content_type)
    if media_type not in (CSV, JSON):  # before decoding: another format's bytes need not be text
        raise RequestError(
            f"unsupported content type {request_content_type!r}: send {CSV} or {JSON}", UNSUPPORTED_MEDIA_TYPE
        )
    try:
        text = request_body.decode("utf-8") if isinstance(request_body, bytes | bytearray) else str(request_body)
    except UnicodeDecodeError:
        raise RequestError(f"the {media_type} body is not UTF-8 text") from None
    if not text.strip():
        raise RequestError("the request body is empty: send at least one record")
    return _csv_records(text) if media_type == CSV else _json_records(text)


def predict_fn(input_data: Records, model: ModelBundle) -> pd.DataFrame:
    """Predictions for the parsed records."""
    columns = model.metadata["raw_feature_columns"]
    records = input_data.rows if input_data.named else _name_columns(input_data.rows, columns)
    try:
        return model.predict_records(records)
    except InputError as problem:  # a missing column or a value that is not a number
        raise RequestError(str(problem)) from None


def output_fn(prediction: pd.DataFrame, accept: str | None) -> tuple[str, str]:
    """Serialise predictions as the client accepts; returns (body, content type) as the containers expect."""
    for media_type in [_media_type(part) for part in (accept or ANY).split(",")]:
        if media_type in (JSON, ANY):
            return json.dumps({"predictions": prediction.to_dict(orient="records")}), JSON
        if media_type == CSV:
            return prediction.to_csv(header=False, index=False), CSV
    raise RequestError(f"unsupported accept type {accept!r}: ask for {JSON} or {CSV}", NOT_ACCEPTABLE)


def _media_type(content_type: str | None) -> str:
    # "text/csv; charset=utf-8" -> "text/csv"
    return (content_type or "").split(";")[0].strip().lower()


def _csv_records(text: str) -> Records:
    try:
        rows = pd.read_csv(io.StringIO(text), header=None, dtype=str, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise RequestError(f"malformed CSV body: {error}") from None
    return Records(rows, named=False)


def _json_records(text: str) -> Records:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise RequestError(f"malformed JSON body: {error}") from None
    instances = body.get("instances") if isinstance(body, dict) else body
    if not isinstance(instances, list) or not instances or not all(isinstance(item, dict) for item in instances):
        raise RequestError(
            'JSON body must be {"instances": [{column: value, ...}, ...]} or a non-empty list of records'
        )
    return Records(pd.DataFrame.from_records(instances), named=True)


def _name_columns(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Give CSV rows their column names: from a header row when there is one, else by position."""
    first = [str(value).strip() for value in rows.iloc[0]]
    if set(columns) <= set(first):
        named = rows.iloc[1:].set_axis(first, axis=1)
        if named.empty:
            raise RequestError("the CSV body holds a header row but no records")
        return named.reset_index(drop=True)
    if rows.shape[1] != len(columns):
        raise RequestError(
            f"CSV rows have {rows.shape[1]} values, expected {len(columns)} ({', '.join(columns)}) "
            "or a header row naming the columns"
        )
    return rows.set_axis(columns, axis=1)
