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


def declared_keys(template_dir: Path) -> list[str]:
    """Every variable a template declares in its cookiecutter.json."""
    return list(json.loads((template_dir / "cookiecutter.json").read_text(encoding="utf-8")))


def check_answer(
    template: str, key: str, value: object, answers: Mapping[str, object], choices: Mapping[str, list]
) -> None:
    """Raise InvalidAnswer when one answer, as given, must be refused. `answers` holds at least
    the answers asked before it: an account id is checked only where it applies (hooks/options.py:
    with multi_account=yes), so empty is fine otherwise. `make new` checks each answer as it is
    typed, the hook all of them."""
    validation.check_no_template_syntax({key: value})
    validation.check_safe_text({key: value})
    if key in FIELD_CHECKS:
        FIELD_CHECKS[key](str(value))
    if key in choices:
        validation.check_choices({key: value}, {key: choices[key]})
    if key in ACCOUNT_KEYS and options.applies(template, key, answers):
        validation.check_account_id(key, str(value))


def validate(
    template: str, context: Mapping[str, object], template_dir: Path, raw: Mapping[str, object] | None = None
) -> None:
    """Raise InvalidAnswer for the first answer that generation must refuse. `raw` is
    cookiecutter's `_cookiecutter`: the answers before it rendered them. Options that do not apply
    (hooks/options.py IGNORED) are not refused for it: they are checked like any answer (a value
    outside a choice list is still a typo) and then generated with their effective value."""
    validation.check_no_template_syntax(raw or {})
    answers = {key: value for key, value in context.items() if not key.startswith("_")}
    choices = template_choices(template_dir)
    for key in choices:
        answers.setdefault(key, None)  # a choice left out entirely is refused like a wrong one
    for key in ACCOUNT_KEYS:
        if key in declared_keys(template_dir):
            answers.setdefault(key, "")  # left out, it is checked as the empty answer it defaults to
    for key, value in answers.items():
        check_answer(template, key, value, answers, choices)


def main(context: Mapping[str, object], template: str, raw: Mapping[str, object] | None = None) -> int:
    """Entry point of the templates' pre-generation hooks: 0 when the answers are valid."""
    try:
        validate(template, context, hook_context.template_dir(context), raw)
    except validation.InvalidAnswer as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0
