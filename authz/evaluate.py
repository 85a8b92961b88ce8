"""Would AWS allow this call? IAM's evaluation logic for identity policies and a permissions boundary.

Why a library plus a wrapper: matching uses principalmapper's `policy_has_matching_statement`, a
maintained implementation checked against the IAM policy simulator, for actions (NotAction,
wildcards, case) and for most condition operators (authz.conditions). This module adds IAM's
decision order on top (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html:
an explicit Deny in any policy wins, else an Allow is needed, else the request is implicitly
denied; with a permissions boundary, the boundary must allow as well,
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html), and replaces
principalmapper where 1.1.5 differs from the IAM documentation: resources, policy variables, and
the condition operators listed in authz.conditions. Each such place is marked "principalmapper
differs" and has a known-answer test in tests/test_authz_evaluate.py.

Scope: one principal's identity policies and boundary, in one account. Requests across accounts
(identity AND resource policy) are authz.crossaccount's, on top of this; SCPs, RCPs and session
policies are not modelled.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field

from authz import conditions
from authz.conditions import CaseInsensitiveDict, Context, policy_has_matching_statement

# ${key} or ${key, 'default'}: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
_VARIABLE = re.compile(r"\$\{([^},]+?)\s*(?:,\s*'([^']*)'\s*)?\}")
# Matches no ARN or string a request can carry: stands for a policy variable with no value.
_NO_VALUE = "\x00no-value\x00"


@dataclass(frozen=True)
class Request:
    """One API call as IAM sees it: the action, the resource ARN ("*" for actions with no
    resource type) and the request context keys (multi-valued keys such as aws:TagKeys as lists)."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def decide(policies: list[dict], request: Request, boundary: dict | None = None) -> Decision:
    """IAM's decision for one principal: explicit deny > allow > implicit deny, boundary intersected."""
    documents = [("policy", index, policy) for index, policy in enumerate(policies)]
    if boundary is not None:
        documents.append(("boundary", 0, boundary))
    for kind, index, policy in documents:
        sid = _first_match(policy, "Deny", request)
        if sid is not None:
            return Decision(False, f"explicit deny in {kind} {index} statement {sid}")
    allowing = [(i, sid) for i, policy in enumerate(policies) if (sid := _first_match(policy, "Allow", request))]
    if not allowing:
        return Decision(False, f"implicit deny: no statement allows {request.action} on {request.resource}")
    if boundary is not None and _first_match(boundary, "Allow", request) is None:
        return Decision(False, f"implicit deny: the permissions boundary does not allow {request.action}")
    index, sid = allowing[0]
    return Decision(True, f"allowed by policy {index} statement {sid}")


def _first_match(policy: dict, effect: str, request: Request) -> str | None:
    """The Sid (or position) of the first statement with this effect that matches the request."""
    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    context = _context(request.context)
    for position, statement in enumerate(statements):
        if statement.get("Effect") == effect and _statement_matches(statement, request, context):
            return statement.get("Sid") or f"#{position}"
    return None


def _context(given: Context) -> dict[str, str | list[str]]:
    # An empty multi-valued key is a key the request does not carry (a call with no tags has no
    # aws:TagKeys); principalmapper would treat [] as present for Null.
    return {key: value for key, value in given.items() if value != []}


def _statement_matches(statement: dict, request: Request, context: dict) -> bool:
    """Action, resource and every condition (operator, key) pair must match; IAM ANDs them all."""
    if not _action_matches(statement, request.action):
        return False
    statement = _substitute(statement, context)
    return _resource_matches(statement, request.resource) and all(
        conditions.matches(operator, key, values, context)
        for operator, pairs in statement.get("Condition", {}).items()
        for key, values in pairs.items()
    )


def _action_matches(statement: dict, action: str) -> bool:
    kind = "Action" if "Action" in statement else "NotAction"
    return _actions_cover(statement["Effect"], kind, tuple(_listify(statement.get(kind, []))), action)


@functools.lru_cache(maxsize=65536)
def _actions_cover(effect: str, kind: str, patterns: tuple[str, ...], action: str) -> bool:
    """Action/NotAction with wildcards, case-insensitive ([ACTION]
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html):
    principalmapper's matcher, on the statement without its resource and conditions."""
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": effect, kind: list(patterns), "Resource": "*"}]}
    return policy_has_matching_statement(policy, effect, action, "*", CaseInsensitiveDict())


def _resource_matches(statement: dict, resource: str) -> bool:
    """Resource/NotResource, matched here rather than by principalmapper, which differs twice: it
    matches case-insensitively, and it turns the pattern into a regular expression escaping only
    `.`, `$` and `^`, so a role named `a+b` does not match its own ARN. IAM matches resource ARNs
    case-sensitively (S3 bucket `Sagemaker-x` is not `sagemaker-*`):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html"""
    if "Resource" in statement:
        return any(_wildcard(pattern).match(resource) for pattern in _listify(statement["Resource"]))
    if "NotResource" in statement:
        return not any(_wildcard(pattern).match(resource) for pattern in _listify(statement["NotResource"]))
    return True


@functools.lru_cache(maxsize=65536)
def _wildcard(pattern: str) -> re.Pattern:
    """IAM's Resource wildcards: `?` is one character; `*` stays inside its colon-delimited segment
    unless it is the segment's last character, where it "can expand to match beyond the colon
    boundaries" ([RESOURCE] "Using wildcards in resource ARNs")."""
    parts = []
    for position, char in enumerate(pattern):
        if char == "*":
            at_segment_end = position + 1 == len(pattern) or pattern[position + 1] == ":"
            parts.append(".*" if at_segment_end else "[^:]*")
        else:
            parts.append("." if char == "?" else re.escape(char))
    return re.compile("".join(parts) + r"\Z", re.S)


def _listify(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _substitute(statement: dict, context: dict) -> dict:
    """Replace policy variables in Resource/NotResource and condition values.

    principalmapper differs: it substitutes variables in Resource only (matching the key's case
    exactly) and never in condition values, so `"aws:ResourceAccount": "${aws:PrincipalAccount}"`
    (AmazonSageMakerFullAccess) compares against the literal text. IAM replaces variables in both
    places and a variable whose key is missing (and has no default) matches nothing:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"""
    lookup = {key.lower(): value for key, value in context.items() if isinstance(value, str)}

    def replace(text: str) -> str:
        return _VARIABLE.sub(lambda m: lookup.get(m.group(1).strip().lower(), m.group(2) or _NO_VALUE), text)

    def walk(node: object) -> object:
        if isinstance(node, str):
            return replace(node)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        return node

    if "${" not in repr(statement):
        return statement
    result = copy.copy(statement)
    for element in ("Resource", "NotResource", "Condition"):
        if element in result:
            result[element] = walk(result[element])
    return result
