"""The kit's model cards: the schema snapshot is what sagemaker-core's shapes say, content is checked
against it and against the CreateModelCard / ModelPackageModelCard API shapes, and the Markdown an
auditor reads carries every number of the card."""

from __future__ import annotations

import json

import pytest
from botocore.session import get_session
from botocore.validate import ParamValidator

from mlops_template_kit import model_card
from scripts import model_card_schema

EVALUATION = {"binary_classification_metrics": {"auc": {"value": 0.85, "standard_deviation": 0.02}}}
ANALYSIS = {
    "version": "1.0",
    "pre_training_bias_metrics": {
        "label": "y",
        "label_value_or_threshold": "1",
        "facets": {"sex": [{"value_or_threshold": "F", "metrics": [{"name": "CI", "description": "", "value": -0.1}]}]},
    },
    "post_training_bias_metrics": {
        "label": "y",
        "label_value_or_threshold": "1",
        "facets": {"sex": [{"value_or_threshold": "F", "metrics": [{"name": "DI", "description": "", "value": 0.9}]}]},
    },
    "explanations": {
        "kernel_shap": {"label0": {"global_shap_values": {"bmi": 0.3, "age": 0.1}, "expected_value": 0.5}}
    },
}


def package_content(**changes) -> str:
    arguments = {
        "intended_use": "triage",
        "risk_rating": "Medium",
        "problem_type": "binary_classification",
        "training_data": "s3://bucket/input/",
        "reports": {
            "evaluation": "s3://bucket/evaluation.json",
            "bias and explainability": "s3://bucket/analysis.json",
        },
        "lineage": {"commit": "abc123", "build_id": "20261203T000000Z-abc123"},
        **changes,
    }
    return model_card.package_card_content(**arguments)


def full_card(**changes) -> dict:
    arguments = {
        "description": "xgboost model",
        "model_artifact": "s3://bucket/model.tar.gz",
        "evaluation": EVALUATION,
        "analysis": ANALYSIS,
        "lineage": {"model package": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"},
        **changes,
    }
    return model_card.full_card(json.loads(package_content()), **arguments)


def test_the_schema_snapshot_is_what_the_pinned_sagemaker_core_says():
    on_disk = json.loads(model_card.SCHEMA_FILE.read_text(encoding="utf-8"))
    assert on_disk == model_card_schema.snapshot(), "run `python -m scripts.model_card_schema`"
    # The service refuses unknown fields; the snapshot must too (pydantic alone would drop them).
    assert on_disk["additionalProperties"] is False
    assert on_disk["$defs"]["IntendedUses"]["additionalProperties"] is False


def test_the_package_card_fits_the_create_model_package_shape():
    request = {"ModelCardContent": package_content(), "ModelCardStatus": "Draft"}
    operation = get_session().get_service_model("sagemaker").operation_model("CreateModelPackage")
    shape = operation.input_shape.members["ModelCard"]
    assert not ParamValidator().validate(request, shape).has_errors()
    content = json.loads(request["ModelCardContent"])
    assert "model_package_details" not in content and "model_overview" not in content


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"risk_rating": "Severe"}, "model card intended_uses.risk_rating: 'Severe' is not one of"),
        ({"intended_use": "x" * 2049}, "model card intended_uses.intended_uses: "),
        ({"lineage": {"commit": 7}}, "model card additional_information.custom_details.commit: 7 is not of type"),
    ],
)
def test_content_the_schema_refuses_names_the_field(changes, expected):
    with pytest.raises(model_card.ModelCardError, match="^" + expected.replace("(", r"\(")):
        package_content(**changes)


def test_the_package_schema_keeps_only_two_overview_fields():
    card = {"model_overview": {"model_description": "not in a package card"}}
    with pytest.raises(model_card.ModelCardError, match="model_overview"):
        model_card.validate(card, model_card.package_schema())
    model_card.validate(card, model_card.full_schema())


def test_the_run_card_carries_the_numbers_and_is_a_valid_create_model_card_request():
    card = full_card()
    request = model_card.create_model_card_request("diabetes-progression-p-1-1", card)
    assert json.loads(request["Content"]) == card
    groups = {
        detail["name"]: {group["name"]: group["metric_data"] for group in detail.get("metric_groups", [])}
        for detail in card["evaluation_details"]
    }
    bias = groups["bias and explainability"]
    assert bias["pre-training bias, sex=F"] == [{"name": "CI", "type": "number", "value": -0.1}]
    assert [metric["name"] for metric in bias["mean absolute SHAP value (top features)"]] == ["bmi", "age"]
    assert groups["evaluation"]["binary_classification_metrics"][0] == {"name": "auc", "type": "number", "value": 0.85}
    assert card["additional_information"]["custom_details"]["commit"] == "abc123"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("x" * 64, "ModelCardName is longer than 63"), ("model_card", "ModelCardName 'model_card' does not match")],
)
def test_a_card_name_the_api_refuses_is_caught_before_any_call(name, expected):
    with pytest.raises(model_card.ModelCardError, match=f"CreateModelCard refuses the request: {expected}"):
        model_card.create_model_card_request(name, full_card())


def test_a_bias_metric_without_a_value_is_left_out_rather_than_breaking_the_card():
    analysis = json.loads(json.dumps(ANALYSIS))
    analysis["post_training_bias_metrics"]["facets"]["sex"][0]["metrics"][0]["value"] = None  # NaN in Clarify
    card = full_card(analysis=analysis)
    (detail,) = [item for item in card["evaluation_details"] if item["name"] == "bias and explainability"]
    assert {"name": "post-training bias, sex=F", "metric_data": []} in detail["metric_groups"]


def test_markdown_shows_every_section_and_number(tmp_path):
    json_path, markdown_path = model_card.write(tmp_path, full_card(), "diabetes-1")
    markdown = markdown_path.read_text(encoding="utf-8")
    for text in ("# Model card: diabetes-1", "## Intended use", "triage", "Risk rating: Medium", "s3://bucket/input/"):
        assert text in markdown
    for text in ("| CI | -0.1 |", "| DI | 0.9 |", "| bmi | 0.3 |", "| auc | 0.85 |", "| commit | abc123 |"):
        assert text in markdown
    assert json.loads(json_path.read_text(encoding="utf-8"))["intended_uses"]["intended_uses"] == "triage"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model_card.json", "model_card.md"]


# --- the local run's card -------------------------------------------------------------------------


def run_card_setting(tmp_path, content: str):
    """A finished run that registered one package whose request carries `content` as its card."""
    from types import SimpleNamespace

    from mlops_template_kit.definition import Definition, Step
    from mlops_template_kit.definition.expressions import Scope

    reports = {"s3://b/evaluation.json": EVALUATION, "s3://b/analysis.json": ANALYSIS}
    arguments = {
        "ModelCard": {"ModelCardContent": content, "ModelCardStatus": "Draft"},
        "ModelMetrics": {
            "ModelQuality": {"Statistics": {"S3Uri": "s3://b/evaluation.json"}},
            "Explainability": {"Report": {"S3Uri": {"Std:Join": {"On": "/", "Values": ["s3://b", "analysis.json"]}}}},
        },
        "InferenceSpecification": {"Containers": [{"ModelDataUrl": "s3://b/model.tar.gz"}]},
        "ModelPackageDescription": "xgboost model of build b1",
    }
    step = Step("RegisterModel", "RegisterModel", {"Arguments": arguments}, 0)
    definition = Definition({}, {"RegisterModel": step}, {"RegisterModel": frozenset()}, ("RegisterModel",))
    package = {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:1:model-package/g/3", "ModelPackageGroupName": "g"}
    package["ModelPackageVersion"] = 3
    scope = Scope(
        parameters={},
        execution={"PipelineExecutionArn": "arn:aws:sagemaker:us-east-1:1:pipeline/p/execution/e1"},
        steps={"RegisterModel": package},
        read_json=reports.__getitem__,
    )
    return definition, scope, SimpleNamespace(sandbox_root=tmp_path)


def test_a_local_run_writes_the_card_with_its_numbers_and_lineage(tmp_path):
    from mlops_template_kit.local_run import card

    (markdown,) = card.write_cards(*run_card_setting(tmp_path, package_content()))
    assert markdown == tmp_path / "model_card.md"
    text = markdown.read_text(encoding="utf-8")
    assert "# Model card: g-3" in text and "| DI | 0.9 |" in text and "| auc | 0.85 |" in text
    assert "| pipeline execution | arn:aws:sagemaker:us-east-1:1:pipeline/p/execution/e1 |" in text
    assert "| model artifact | s3://b/model.tar.gz |" in text


def test_a_card_the_schema_refuses_fails_the_run_naming_the_field(tmp_path):
    from types import SimpleNamespace

    from mlops_template_kit.local_run.report import Summary
    from mlops_template_kit.local_run.runner import Runner

    content = json.loads(package_content())
    content["intended_uses"]["risk_rating"] = "Severe"
    definition, scope, run = run_card_setting(tmp_path, json.dumps(content))
    summary = Summary(results=[])
    Runner._model_cards(SimpleNamespace(definition=definition, scope=scope, run=run), summary)
    assert summary.failure.startswith("model card: model card intended_uses.risk_rating: 'Severe' is not one of")
    assert list(tmp_path.iterdir()) == []
