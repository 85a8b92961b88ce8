"""The stage's endpoint end to end: both request formats, both response formats, sane predictions."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from botocore.exceptions import ClientError

JSON = "application/json"
CSV = "text/csv"


def _predictions(response) -> list[dict]:
    document = json.loads(response["Body"].read())
    assert set(document) == {"predictions"}, "the response must be {'predictions': [...]}"
    return document["predictions"]


def check_prediction_schema(rows: list[dict], problem_type: str) -> None:
    for row in rows:
        assert isinstance(row["prediction"], int | float)
        if problem_type == "binary_classification":
            assert row["prediction"] in (0, 1)
            assert 0.0 <= row["probability"] <= 1.0
            assert row["prediction"] == int(row["probability"] >= 0.5)


def test_json_records_get_one_prediction_each(target):
    records = target.features(20)
    body = json.dumps({"instances": json.loads(records.to_json(orient="records"))})
    rows = _predictions(target.invoke(body, JSON, JSON))
    assert len(rows) == len(records)
    check_prediction_schema(rows, target.problem_type)


def test_csv_with_and_without_header_gives_the_same_predictions(target):
    records = target.features(10)
    headed = _predictions(target.invoke(records.to_csv(index=False), CSV, JSON))
    bare = _predictions(target.invoke(records.to_csv(index=False, header=False), CSV, JSON))
    assert headed == bare
    assert len(bare) == len(records)


def test_csv_accept_returns_one_line_per_record(target):
    records = target.features(5)
    response = target.invoke(records.to_csv(index=False, header=False), CSV, CSV)
    assert response["ContentType"].startswith(CSV)
    lines = [line for line in response["Body"].read().decode("utf-8").splitlines() if line.strip()]
    assert len(lines) == len(records)


def test_a_record_alone_and_in_a_batch_gets_the_same_prediction(target):
    records = target.features(8)
    together = target.predict(records)
    alone = pd.concat([target.predict(records.iloc[[index]]) for index in range(len(records))], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone, check_exact=False, rtol=1e-6)


def test_regression_predictions_stay_in_a_plausible_range(target):
    if target.problem_type != "regression" or target.target_column not in target.records:
        pytest.skip("range check applies to regression models with labelled test data")
    truth = target.records[target.target_column]
    predicted = target.predict(target.features())["prediction"]
    margin = truth.max() - truth.min()
    assert predicted.between(truth.min() - margin, truth.max() + margin).all()


def test_a_malformed_request_is_a_model_error_not_a_hang(target):
    with pytest.raises(ClientError) as raised:
        target.invoke(b"{not json", JSON, JSON)
    assert raised.value.response["Error"]["Code"] == "ModelError"
