"""Model cards: the content a registered model carries, validated, and rendered to Markdown.

Two forms of one content (snake_case, the model card JSON schema; snapshot in
model_card.schema.json, see scripts/model_card_schema.py):
- the model package card, built with the pipeline definition and sent in CreateModelPackage's
  `ModelCard` (its schema drops model_package_details and keeps only model_creator and
  model_artifact in model_overview:
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ModelPackageModelCard.html);
- the full card of a finished run: the package card plus the measured numbers (evaluation, bias,
  SHAP) and the run's lineage, valid as CreateModelCard `Content`, written with its Markdown
  rendering so a reviewer can read it without AWS.

Imports stay cheap (json only at module level): the definition build imports this module.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("model_card.schema.json")
PACKAGE_OVERVIEW_FIELDS = ("model_creator", "model_artifact")
MAX_CONTENT = 100_000  # CreateModelCard Content and ModelPackageModelCard ModelCardContent: 0..100000 characters
CARD_JSON = "model_card.json"
CARD_MARKDOWN = "model_card.md"
TOP_FEATURES = 5


class ModelCardError(ValueError):
    """Content the model card schema or the API shape refuses."""


@cache
def full_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@cache
def package_schema() -> dict[str, Any]:
    """The model package card's schema: the full one with model_overview cut to its two fields."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    overview = schema["$defs"]["ModelOverview"]["properties"]
    schema["$defs"]["ModelOverview"]["properties"] = {name: overview[name] for name in PACKAGE_OVERVIEW_FIELDS}
    schema["properties"].pop("model_package_details", None)
    return schema


def validate(content: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """The content as the API's JSON string; ModelCardError naming the first problem."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(content))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "the card"
        raise ModelCardError(f"model card {where}: {error.message}")
    text = json.dumps(content, sort_keys=True)
    if len(text) > MAX_CONTENT:
        raise ModelCardError(f"model card content has {len(text)} characters, the API takes {MAX_CONTENT} at most")
    return text


def package_card_content(
    *,
    intended_use: str,
    risk_rating: str,
    problem_type: str,
    training_data: str,
    reports: Mapping[str, str],
    lineage: Mapping[str, str],
) -> str:
    """The model package card (a JSON string), known before the run: where its reports will be, not their numbers."""
    content = {
        "intended_uses": {
            "purpose_of_model": f"{problem_type.replace('_', ' ')} model",
            "intended_uses": intended_use,
            "risk_rating": risk_rating,
        },
        "training_details": {"training_job_details": {"training_datasets": [training_data]}},
        "evaluation_details": [{"name": name, "metadata": {"report": uri}} for name, uri in sorted(reports.items())],
        "additional_information": {"custom_details": dict(sorted(lineage.items()))},
    }
    return validate(content, package_schema())


def _simple_metrics(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": name, "type": "number", "value": float(value)}
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]


def evaluation_groups(evaluation: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Metric groups of a SageMaker model quality report (evaluation.json)."""
    return [
        {"name": section, "metric_data": _simple_metrics({k: v["value"] for k, v in metrics.items()})}
        for section, metrics in evaluation.items()
        if isinstance(metrics, dict)
    ]


def analysis_groups(analysis: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Metric groups of a Clarify analysis.json: each bias section per facet value, and the top SHAP values."""
    groups = []
    for section in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        for facet, entries in analysis.get(section, {}).get("facets", {}).items():
            for entry in entries:
                values = {metric["name"]: metric["value"] for metric in entry["metrics"]}
                name = f"{section.split('_bias')[0].replace('_', '-')} bias, {facet}={entry['value_or_threshold']}"
                groups.append({"name": name[:63], "metric_data": _simple_metrics(values)})
    shap = analysis.get("explanations", {}).get("kernel_shap", {}).get("label0", {}).get("global_shap_values", {})
    if shap:
        top = dict(list(shap.items())[:TOP_FEATURES])
        groups.append({"name": "mean absolute SHAP value (top features)", "metric_data": _simple_metrics(top)})
    return groups


def full_card(
    package_content: Mapping[str, Any],
    *,
    description: str,
    model_artifact: str,
    evaluation: Mapping[str, Any] | None,
    analysis: Mapping[str, Any] | None,
    lineage: Mapping[str, str],
) -> dict[str, Any]:
    """The card of a finished run: the package card with the numbers measured and the run's lineage."""
    card = json.loads(json.dumps(package_content))
    card["model_overview"] = {"model_description": description[:1024], "model_artifact": [model_artifact]}
    by_name = {detail["name"]: detail for detail in card.get("evaluation_details", [])}
    if evaluation is not None and "evaluation" in by_name:
        by_name["evaluation"]["metric_groups"] = evaluation_groups(evaluation)
    if analysis is not None and "bias and explainability" in by_name:
        by_name["bias and explainability"]["metric_groups"] = analysis_groups(analysis)
    details = card.setdefault("additional_information", {}).setdefault("custom_details", {})
    details.update(lineage)
    validate(card, full_schema())
    return card


def create_model_card_request(name: str, card: Mapping[str, Any]) -> dict[str, Any]:
    """CreateModelCard parameters for `card`, checked against the botocore shape (no AWS call)."""
    from botocore.session import get_session
    from botocore.validate import ParamValidator

    request = {"ModelCardName": name, "Content": validate(card, full_schema()), "ModelCardStatus": "Draft"}
    shape = get_session().get_service_model("sagemaker").operation_model("CreateModelCard").input_shape
    report = ParamValidator().validate(request, shape)
    if report.has_errors():
        raise ModelCardError(f"CreateModelCard refuses the request: {report.generate_report().splitlines()[-1]}")
    _check_string_limits(request, shape)
    return request


def _check_string_limits(request: Mapping[str, Any], shape: Any) -> None:
    """Maximum lengths and patterns of top-level strings: botocore's client-side check covers only minimums."""
    for name, value in request.items():
        member = shape.members[name]
        if member.type_name != "string":
            continue
        limit, pattern = member.metadata.get("max"), member.metadata.get("pattern")
        if limit is not None and len(value) > limit:
            raise ModelCardError(f"CreateModelCard refuses the request: {name} is longer than {limit} characters")
        if pattern is not None and not re.fullmatch(pattern, value, flags=re.DOTALL):
            raise ModelCardError(f"CreateModelCard refuses the request: {name} {value!r} does not match {pattern}")


def _metric_table(groups: list[Mapping[str, Any]]) -> list[str]:
    lines = []
    for group in groups:
        lines += [f"**{group['name']}**", "", "| metric | value |", "|---|---|"]
        lines += [f"| {metric['name']} | {metric['value']:.4g} |" for metric in group["metric_data"]]
        lines.append("")
    return lines


def render_markdown(card: Mapping[str, Any], title: str) -> str:
    """The card as Markdown: overview, intended use, training data, evaluation, lineage."""
    uses = card.get("intended_uses", {})
    overview = card.get("model_overview", {})
    lines = [f"# Model card: {title}", ""]
    if overview.get("model_description"):
        lines += [overview["model_description"], ""]
    lines += ["## Intended use", "", uses.get("intended_uses", "not stated"), ""]
    lines += [f"- Purpose: {uses.get('purpose_of_model', 'not stated')}", f"- Risk rating: {uses.get('risk_rating')}"]
    lines += ["", "## Training data", ""]
    datasets = card.get("training_details", {}).get("training_job_details", {}).get("training_datasets", [])
    lines += [f"- {dataset}" for dataset in datasets] + [""]
    lines += ["## Evaluation", ""]
    for detail in card.get("evaluation_details", []):
        lines += [f"### {detail['name']}", "", f"Report: {detail.get('metadata', {}).get('report', 'n/a')}", ""]
        lines += _metric_table(detail.get("metric_groups", []))
    lines += ["## Lineage", "", "| | |", "|---|---|"]
    details = card.get("additional_information", {}).get("custom_details", {})
    lines += [f"| {key} | {value} |" for key, value in details.items()]
    for artifact in overview.get("model_artifact", []):
        lines.append(f"| model artifact | {artifact} |")
    return "\n".join(lines) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)


def write(directory: Path, card: Mapping[str, Any], title: str) -> tuple[Path, Path]:
    """model_card.json and model_card.md in `directory` (each written whole or not at all)."""
    json_path, markdown_path = directory / CARD_JSON, directory / CARD_MARKDOWN
    _write_atomically(json_path, json.dumps(card, indent=2, sort_keys=True) + "\n")
    _write_atomically(markdown_path, render_markdown(card, title))
    return json_path, markdown_path
