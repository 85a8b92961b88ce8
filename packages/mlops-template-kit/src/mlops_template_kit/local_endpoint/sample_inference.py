"""Serving handler of the sample bundle (becomes code/inference.py inside its model.tar.gz).

It follows the framework-container contract the build/train repository's handler follows:
raw records in as text/csv (with or without a header row) or application/json
({"instances": [...]} or a list of records); {"predictions": [...]} or CSV lines out.
A request it cannot serve raises RequestError (a ValueError) with a one-line reason and the HTTP
status the container answers: 400 for a malformed body, 415 for an unsupported content type, 406
for an unsupported Accept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

CSV = "text/csv"
JSON = "application/json"
BAD_REQUEST, NOT_ACCEPTABLE, UNSUPPORTED_MEDIA_TYPE = 400, 406, 415

try:
    # In a container built on the SageMaker inference toolkit, an exception of this class answers its
    # own status_code instead of 500 (sagemaker_inference/transformer.py, Transformer.transform).
    from sagemaker_inference.errors import BaseInferenceToolkitError as _StatusError
except ImportError:  # elsewhere (the kit's local endpoint reads the same attributes)

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


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def model_fn(model_dir: str) -> dict[str, Any]:
    """Load the fitted scikit-learn pipeline and the metadata that names its columns."""
    directory = Path(model_dir)
    metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    return {"pipeline": joblib.load(directory / "model.joblib"), "metadata": metadata}


def input_fn(request_body: bytes | str, request_content_type: str | None) -> pd.DataFrame | list[list[str]]:
    """Named records (a DataFrame) for JSON and headed CSV; positional rows for CSV without a header."""
    media_type = _media_type(request_content_type)
    if media_type not in (CSV, JSON):  # before decoding: another format's bytes need not be text
        raise RequestError(
            f"unsupported content type {request_content_type!r}: send {CSV} or {JSON}", UNSUPPORTED_MEDIA_TYPE
        )
    try:
        text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    except UnicodeDecodeError:
        raise RequestError(f"the {media_type} body is not UTF-8 text") from None
    if not text.strip():
        raise RequestError("the request body is empty: send at least one record")
    if media_type == JSON:
        try:
            body = json.loads(text)
        except json.JSONDecodeError as problem:
            raise RequestError(f"malformed JSON body: {problem}") from None
        records = body.get("instances") if isinstance(body, dict) else body
        if not isinstance(records, list) or not records or not all(isinstance(item, dict) for item in records):
            raise RequestError('JSON body must be {"instances": [{column: value, ...}, ...]} or a list of records')
        return pd.DataFrame.from_records(records)
    rows = [line.split(",") for line in text.splitlines() if line.strip()]
    return [[value.strip() for value in row] for row in rows]


def _named(rows: pd.DataFrame | list[list[str]], columns: list[str]) -> pd.DataFrame:
    if isinstance(rows, pd.DataFrame):
        missing = [name for name in columns if name not in rows.columns]
        if missing:
            raise RequestError(f"records lack the column(s) {', '.join(missing)}")
        return rows[columns]
    if set(columns) <= set(rows[0]):
        header, rows = rows[0], rows[1:]
        if not rows:
            raise RequestError("the CSV body holds a header row but no records")
        return pd.DataFrame(rows, columns=header)[columns]
    widths = {len(row) for row in rows}
    if widths != {len(columns)}:
        raise RequestError(
            f"CSV rows must hold {len(columns)} values ({', '.join(columns)}) or start with a header row"
        )
    return pd.DataFrame(rows, columns=columns)


def predict_fn(input_data: pd.DataFrame | list[list[str]], model: dict[str, Any]) -> pd.DataFrame:
    """`prediction` (and `probability` for classification) for every record."""
    metadata = model["metadata"]
    records = _named(input_data, metadata["raw_feature_columns"])
    numeric = [name for name in records.columns if name not in set(metadata["categorical_columns"])]
    try:
        records = records.astype(dict.fromkeys(numeric, float))
    except (TypeError, ValueError):
        raise RequestError(f"columns {', '.join(numeric)} must hold numbers") from None
    pipeline = model["pipeline"]
    if metadata["problem_type"] == "binary_classification":
        probability = pipeline.predict_proba(records)[:, 1]
        return pd.DataFrame({"prediction": (probability >= 0.5).astype(int), "probability": probability})
    return pd.DataFrame({"prediction": pipeline.predict(records)})


def output_fn(prediction: pd.DataFrame, accept: str | None) -> tuple[str, str]:
    """Serialise as the client accepts; (body, content type) as the framework containers expect."""
    media_type = _media_type(accept)
    if media_type in (JSON, "*/*", ""):
        return json.dumps({"predictions": prediction.to_dict(orient="records")}), JSON
    if media_type == CSV:
        return prediction.to_csv(header=False, index=False), CSV
    raise RequestError(f"unsupported accept type {accept!r}: ask for {JSON} or {CSV}", NOT_ACCEPTABLE)
