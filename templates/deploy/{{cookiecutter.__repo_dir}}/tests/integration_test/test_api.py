"""The stage's REST API (API Gateway -> Lambda -> endpoint): predictions and clear 4xx answers."""

from __future__ import annotations

import json

JSON = "application/json"
CSV = "text/csv"


def _instances(target, count: int) -> str:
    return json.dumps({"instances": json.loads(target.features(count).to_json(orient="records"))})


def test_json_request_gets_predictions(target):
    response = target.call_api(_instances(target, 5))
    assert response.status == 200, response.body
    assert len(response.json()["predictions"]) == 5


def test_csv_request_gets_predictions(target):
    response = target.call_api(target.features(3).to_csv(index=False), CSV)
    assert response.status == 200, response.body
    assert len(response.json()["predictions"]) == 3


def test_api_and_endpoint_agree(target):
    through_api = target.call_api(_instances(target, 4)).json()["predictions"]
    direct = json.loads(target.invoke(_instances(target, 4))["Body"].read())["predictions"]
    assert through_api == direct


def test_wrong_content_type_is_415(target):
    response = target.call_api("age=50", "application/x-www-form-urlencoded")
    assert response.status == 415
    assert "content type" in response.body


def test_malformed_json_is_400(target):
    response = target.call_api('{"instances": [')
    assert response.status == 400


def test_record_without_the_model_columns_is_400(target):
    record = json.loads(target.features(1).to_json(orient="records"))[0]
    record.pop(target.feature_columns[0])
    response = target.call_api(json.dumps({"instances": [record]}))
    assert response.status == 400
    assert target.feature_columns[0] in response.body or "invalid" in response.body.lower()


def test_oversize_payload_is_413(target):
    limit = target.config["api"]["max_payload_bytes"]
    response = target.call_api(json.dumps({"instances": [{"padding": "x" * limit}]}))
    assert response.status == 413
