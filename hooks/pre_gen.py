"""Checks run by every template's `pre_gen_project` hook before anything is generated."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

from hooks import context as hook_context
from hooks import options, validation

# answer key -> its check, for answers that every template shares or that have a fixed form
FIELD_CHECKS = {
    "project_name": validation.check_project_name,
    "project_id": validation.check_project_id,
    "region": validation.check_region,
}
ACCOUNT_KEYS = ("staging_account_id", "prod_account_id")


def template_choices(template_dir: Path) -> dict[str, list]:
    """The choice (list-valued) variables a template declares in its cookiecutter.json."""
    declared = json.loads((template_dir / "cookiecutter.json").read_text(encoding="utf-8"))
    return {key: value for key, value in declared.items() if isinstance(value, list) and not key.startswith("_")}


def validate(
    template: str, context: Mapping[str, object], template_dir: Path, raw: Mapping[str, object] | None = None
) -> None:
    """Raise InvalidAnswer for the first answer or combination that generation must refuse.
    `raw` is cookiecutter's `_cookiecutter`: the answers before it rendered them."""
    validation.check_no_template_syntax(raw or {})
    answers = {key: value for key, value in context.items() if not key.startswith("_")}
    validation.check_safe_text(answers)
    for key, check in FIELD_CHECKS.items():
        if key in answers:
            check(str(answers[key]))
    validation.check_choices(answers, template_choices(template_dir))
    if answers.get("multi_account") == "yes":
        for key in ACCOUNT_KEYS:
            validation.check_account_id(key, str(answers.get(key, "")))
    rule = options.unsupported(template, answers)
    if rule:
        raise validation.InvalidAnswer(f"unsupported option combination: {rule.reason}")


def main(context: Mapping[str, object], template: str, raw: Mapping[str, object] | None = None) -> int:
    """Entry point of the templates' pre-generation hooks: 0 when the answers are valid."""
    try:
        validate(template, context, hook_context.template_dir(context), raw)
    except validation.InvalidAnswer as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0
