"""One condition (operator, key, values) of an IAM statement against a request context.

principalmapper's condition code is used for the operators it gets right (StringEquals and
StringNotEquals with IgnoreCase, Numeric*, Bool, Null, BinaryEquals, IpAddress, Date* and their
ForAllValues/ForAnyValue/IfExists forms). Each place it differs from the IAM documentation is
handled here instead and marked "principalmapper differs"; tests/test_authz_evaluate.py has a
known-answer test for each.

Sources: [COND] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
[MULTI] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
"""

from __future__ import annotations

import collections
import collections.abc
import datetime as dt
import functools
import re
from collections.abc import Callable

import dateutil.parser

# principalmapper 1.1.5 imports `Mapping` from `collections`, removed in Python 3.10
# (principalmapper/util/case_insensitive_dict.py): give it the abc names before importing it.
for _name in ("Mapping", "MutableMapping"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

from principalmapper.querying.local_policy_simulation import policy_has_matching_statement  # noqa: E402
from principalmapper.util.case_insensitive_dict import CaseInsensitiveDict  # noqa: E402

Context = dict[str, "str | list[str]"]


def matches(operator: str, key: str, values: object, context: Context) -> bool:
    """Whether this one (operator, key) pair of a Condition block holds.

    principalmapper differs: with several keys in one ForAnyValue/ForAllValues block it ORs them;
    IAM ANDs every key of a condition operator ([COND] "Condition with multiple context keys or
    values"). Callers evaluate one pair at a time, which also fixes that."""
    patterns = _as_strings(operator, values)
    base = base_operator(operator)
    if base.startswith("Arn"):
        return _set_condition(operator, value_of(context, key), patterns, arn_like)
    if base in ("StringLike", "StringNotLike"):
        return _set_condition(operator, value_of(context, key), patterns, string_like)
    if base.startswith("Date"):
        return _principalmapper(operator, key, [_epoch(v) for v in patterns], _epoch_context(context, key))
    return _principalmapper(operator, key, patterns, context)


def base_operator(operator: str) -> str:
    """`ForAnyValue:StringLikeIfExists` -> `StringLike`."""
    return operator.rpartition(":")[2].removesuffix("IfExists")


def value_of(context: Context, key: str) -> list[str] | None:
    """The key's values (condition keys are case-insensitive), None when the request lacks it."""
    for name, value in context.items():
        if name.lower() == key.lower():
            return value if isinstance(value, list) else [value]
    return None


def _principalmapper(operator: str, key: str, values: list[str], context: Context) -> bool:
    statement = {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {operator: {key: values}}}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    return policy_has_matching_statement(policy, "Allow", "x:Y", "*", CaseInsensitiveDict(context))


def _as_strings(operator: str, values: object) -> list[str]:
    """Policy JSON may write true/1 unquoted; principalmapper compares the strings 'true'/'1'."""
    items = values if isinstance(values, list) else [values]
    strings = [str(item).lower() if isinstance(item, bool) else str(item) for item in items]
    return [s.lower() for s in strings] if base_operator(operator) in ("Bool", "Null") else strings


def _set_condition(
    operator: str, actual: list[str] | None, patterns: list[str], match: Callable[[str, str], bool]
) -> bool:
    """A positive or negated operator over single or multi-valued keys.

    principalmapper differs for StringNotLike on a missing key (it says false). [COND]: "If the key
    that you specify in a policy condition is not present in the request context, the values do not
    match and the condition is false. If the policy condition requires that the key is not matched,
    such as StringNotLike or ArnNotLike, and the right key is not present, the condition is true."
    [MULTI]: ForAllValues is true and ForAnyValue false when the key is missing."""
    qualifier = operator.rpartition(":")[0]
    negated = "Not" in base_operator(operator)
    if actual is None:
        if qualifier:
            return qualifier == "ForAllValues"
        return negated or operator.endswith("IfExists")
    results = [any(match(value, pattern) for pattern in patterns) != negated for value in actual]
    if qualifier:
        return all(results) if qualifier == "ForAllValues" else any(results)
    return all(results) if negated else any(results)


def string_like(value: str, pattern: str) -> bool:
    """StringLike: case-sensitive, `*` any run of characters, `?` one character ([COND]).

    principalmapper differs: it builds a regular expression escaping only `.`, `$` and `^`, so `+`,
    `(`, `[` or `|` in a value (role names may contain `+`) act as regex syntax."""
    return _wildcard(pattern).fullmatch(value) is not None


def arn_like(value: str, pattern: str) -> bool:
    """ArnEquals/ArnLike: "Case-sensitive matching of the ARN. Each of the six colon-delimited
    components of the ARN is checked separately and each can include multi-character match
    wildcards (*) or single-character match wildcards (?)" ([COND], ARN condition operators).

    principalmapper differs: it compares case-insensitively and lets `*` span colons."""
    values, patterns = value.split(":", 5), pattern.split(":", 5)
    if len(values) != 6 or len(patterns) != 6:
        return False
    return all(string_like(v, p) for v, p in zip(values, patterns, strict=True))


@functools.lru_cache(maxsize=65536)
def _wildcard(pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def _epoch(value: str) -> str:
    """A date or epoch as epoch seconds, naive dates read as UTC.

    principalmapper differs: it parses ISO dates without a zone as naive datetimes and then fails
    with TypeError when comparing them with zoned ones (its `replace(tzinfo=...)` result is
    discarded). [COND] Date operators take ISO 8601 dates or epoch (UNIX) time."""
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    parsed = dateutil.parser.isoparse(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return repr(parsed.timestamp())


def _epoch_context(context: Context, key: str) -> Context:
    values = value_of(context, key)
    rest = {name: value for name, value in context.items() if name.lower() != key.lower()}
    return rest if values is None else {**rest, key: [_epoch(v) for v in values]}
