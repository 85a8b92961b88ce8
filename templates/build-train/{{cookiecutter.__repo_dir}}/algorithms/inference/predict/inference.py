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
Unsupported content types and malformed bodies raise ValueError with the reason.
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

CSV = "text/csv"
JSON = "application/json"
ANY = "*/*"


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
    text = request_body.decode("utf-8") if isinstance(request_body, bytes | bytearray) else str(request_body)
    if not text.strip():
        raise ValueError("the request body is empty: send at least one record")
    if media_type == CSV:
        return _csv_records(text)
    if media_type == JSON:
        return _json_records(text)
    raise ValueError(f"unsupported content type {request_content_type!r}: send {CSV} or {JSON}")


def predict_fn(input_data: Records, model: ModelBundle) -> pd.DataFrame:
    """Predictions for the parsed records."""
    columns = model.metadata["raw_feature_columns"]
    records = input_data.rows if input_data.named else _name_columns(input_data.rows, columns)
    return model.predict_records(records)


def output_fn(prediction: pd.DataFrame, accept: str | None) -> tuple[str, str]:
    """Serialise predictions as the client accepts; returns (body, content type) as the containers expect."""
    for media_type in [_media_type(part) for part in (accept or ANY).split(",")]:
        if media_type in (JSON, ANY):
            return json.dumps({"predictions": prediction.to_dict(orient="records")}), JSON
        if media_type == CSV:
            return prediction.to_csv(header=False, index=False), CSV
    raise ValueError(f"unsupported accept type {accept!r}: ask for {JSON} or {CSV}")


def _media_type(content_type: str | None) -> str:
    # "text/csv; charset=utf-8" -> "text/csv"
    return (content_type or "").split(";")[0].strip().lower()


def _csv_records(text: str) -> Records:
    try:
        rows = pd.read_csv(io.StringIO(text), header=None, dtype=str, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"malformed CSV body: {error}") from None
    return Records(rows, named=False)


def _json_records(text: str) -> Records:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed JSON body: {error}") from None
    instances = body.get("instances") if isinstance(body, dict) else body
    if not isinstance(instances, list) or not instances or not all(isinstance(item, dict) for item in instances):
        raise ValueError('JSON body must be {"instances": [{column: value, ...}, ...]} or a non-empty list of records')
    return Records(pd.DataFrame.from_records(instances), named=True)


def _name_columns(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Give CSV rows their column names: from a header row when there is one, else by position."""
    first = [str(value).strip() for value in rows.iloc[0]]
    if set(columns) <= set(first):
        named = rows.iloc[1:].set_axis(first, axis=1)
        if named.empty:
            raise ValueError("the CSV body holds a header row but no records")
        return named.reset_index(drop=True)
    if rows.shape[1] != len(columns):
        raise ValueError(
            f"CSV rows have {rows.shape[1]} values, expected {len(columns)} ({', '.join(columns)}) "
            "or a header row naming the columns"
        )
    return rows.set_axis(columns, axis=1)
