"""Validation of cookiecutter answers: one clear line per problem, nothing written on failure."""

from __future__ import annotations

import re
from collections.abc import Mapping

from mlops_template_kit import naming

# SageMaker's API pattern is `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}`; AWS's own project templates
# also require a leading letter, which keeps derived names valid for every service.
PROJECT_NAME = re.compile(r"^[a-zA-Z](-*[a-zA-Z0-9]){0,31}$")
# Every pattern here is applied with fullmatch: `$` alone also matches before a trailing newline.
# Ids go into bucket names, so upper case is refused even though the API pattern allows it.
PROJECT_ID = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,19}$")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")

# Commercial-partition regions where SageMaker is offered (a test checks this list against
# botocore's endpoint data, so it cannot drift into names AWS does not know).
REGIONS = [
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
]

# Jinja's delimiters (cookiecutter keeps the defaults; our templates set no _jinja2_env_vars).
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#")

# Anything that could reach a file path, a shell, YAML or Jinja unescaped.
UNSAFE = re.compile(r"[\x00-\x1f\x7f\"'`$\\{}<>|;&]|\.\.|\{\{|\{%")


class InvalidAnswer(ValueError):
    """An answer that must stop generation; the message is shown to the user as is."""


def check_project_name(value: str) -> None:
    """Project names: 1-32 characters, letters, digits and hyphens, starting with a letter."""
    # The pattern alone lets hyphens through uncounted, hence the explicit length check.
    if len(value) > naming.MAX_PROJECT_NAME or not PROJECT_NAME.fullmatch(value):
        raise InvalidAnswer(
            f"project_name {value!r} is not allowed: use 1-{naming.MAX_PROJECT_NAME} ASCII letters, "
            "digits and hyphens, starting with a letter and ending with a letter or digit"
        )


def check_project_id(value: str) -> None:
    """Project ids: 1-20 lower-case letters, digits and hyphens (SageMaker's `p-xxxxxxxxxxxx`)."""
    if len(value) > naming.MAX_PROJECT_ID or not PROJECT_ID.fullmatch(value):
        raise InvalidAnswer(
            f"project_id {value!r} is not allowed: use 1-{naming.MAX_PROJECT_ID} lower-case letters, "
            "digits and hyphens, not starting or ending with a hyphen (e.g. p-abcdef123456)"
        )


def check_region(value: str) -> None:
    """Regions: a commercial AWS region where SageMaker is offered."""
    if value not in REGIONS:
        raise InvalidAnswer(f"region {value!r} is not a SageMaker region; allowed: {', '.join(REGIONS)}")


def check_account_id(key: str, value: str) -> None:
    """AWS account ids: exactly 12 digits."""
    if not ACCOUNT_ID.fullmatch(value):
        raise InvalidAnswer(f"{key} {value!r} is not an AWS account id: use exactly 12 digits")


def check_choices(answers: Mapping[str, object], choices: Mapping[str, list]) -> None:
    """Every choice answer must be one of the template's listed values (cookiecutter does not
    check values given with --no-input or extra_context)."""
    for key, allowed in choices.items():
        if answers.get(key) not in allowed:
            raise InvalidAnswer(f"{key} {answers.get(key)!r} is not allowed; choose one of: {', '.join(allowed)}")


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    return []


def check_no_template_syntax(raw_answers: Mapping[str, object]) -> None:
    """Answers as given, before cookiecutter rendered them, must hold no template syntax.

    cookiecutter 2.7.1 renders every answer given as extra context (command line, API,
    ~/.cookiecutterrc default_context) as a Jinja template before any hook runs
    (cookiecutter/prompt.py, prompt_for_config -> render_variable), so `x{{7*7}}` reaches the hooks
    as `x49`. It keeps the raw values in the context as `_cookiecutter`, which the pre-generation
    hooks check here. Typed answers are not rendered; check_safe_text refuses braces in them."""
    for key, value in raw_answers.items():
        if key.startswith("_"):
            continue
        for text in _texts(value):
            if TEMPLATE_SYNTAX.search(text):
                raise InvalidAnswer(
                    f"{key} {text!r} is not allowed: answers are plain text, and template syntax "
                    "('{{', '{%', '{#') would be evaluated by cookiecutter"
                )


def check_safe_text(answers: Mapping[str, object]) -> None:
    """No answer may carry characters that could escape into paths, shells, YAML or Jinja."""
    for key, value in answers.items():
        if key.startswith("_") or not isinstance(value, str):
            continue
        if UNSAFE.search(value) or not value.isascii():
            raise InvalidAnswer(
                f"{key} {value!r} is not allowed: quotes, braces, '..', control, shell and non-ASCII "
                "characters are refused; use ASCII letters, digits, hyphens, dots, colons and slashes"
            )
