"""Would AWS allow this call? IAM's evaluation logic for identity policies and a permissions boundary.

Why a library plus a wrapper: statement matching (wildcards, NotAction/NotResource, condition
operators) is principalmapper's `policy_has_matching_statement`, a maintained implementation that
was checked against the IAM policy simulator. This module adds IAM's decision order on top
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html:
an explicit Deny in any policy wins, else an Allow is needed, else the request is implicitly
denied; with a permissions boundary, the boundary must allow as well,
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html) and corrects the
places where principalmapper 1.1.5 differs from the IAM documentation. Each correction is marked
"principalmapper differs" below and has a known-answer test in tests/test_authz_evaluate.py.

Scope: one principal's identity policies and boundary, in one account. Resource policies, SCPs,
RCPs and session policies are not modelled; callers check those separately.
"""

from __future__ import annotations

import collections
import collections.abc
import copy
import re
from dataclasses import dataclass, field

# principalmapper 1.1.5 imports `Mapping` from `collections`, removed in Python 3.10
# (principalmapper/util/case_insensitive_dict.py); give it the abc names before importing it.
for _name in ("Mapping", "MutableMapping"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

from principalmapper.querying.local_policy_simulation import policy_has_matching_statement  # noqa: E402
from principalmapper.util.case_insensitive_dict import CaseInsensitiveDict  # noqa: E402

Context = dict[str, "str | list[str]"]

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
    """Action, resource and every condition (block, key) pair must match; IAM ANDs them all."""
    statement = _substitute(statement, context)
    bare = {key: value for key, value in statement.items() if key != "Condition"}
    if not _pm(bare, request, context):
        return False
    if not _resource_case_matches(statement, request.resource):
        return False
    return all(
        _condition_pair_matches(statement, operator, key, values, request, context)
        for operator, pairs in statement.get("Condition", {}).items()
        for key, values in pairs.items()
    )


def _pm(statement: dict, request: Request, context: dict) -> bool:
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    return policy_has_matching_statement(
        policy, statement["Effect"], request.action, request.resource, CaseInsensitiveDict(context)
    )


def _condition_pair_matches(
    statement: dict, operator: str, key: str, values: object, request: Request, context: dict
) -> bool:
    present = any(name.lower() == key.lower() for name in context)
    # principalmapper differs: it treats StringNotLike on a missing key as false. The IAM docs say a
    # negated operator is true when the key is missing ("If the key that you specify in a policy
    # condition is not present in the request context, the values do not match and the condition
    # is false. If the policy condition requires that the key is not matched, such as StringNotLike
    # or ArnNotLike, and the right key is not present, the condition is true."):
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
    if not present and operator in ("StringNotLike",):
        return True
    # principalmapper differs: in a ForAnyValue/ForAllValues block with several keys it ORs the
    # keys; IAM ANDs every key of a condition block. Evaluating one (operator, key) pair at a time
    # fixes that as well.
    if _base_operator(operator).startswith("Arn"):
        return _arn_condition(operator, _value_of(context, key), _as_strings(operator, values))
    single = dict(statement, Condition={operator: {key: _as_strings(operator, values)}})
    return _pm(single, request, context)


def _base_operator(operator: str) -> str:
    return operator.rpartition(":")[2].removesuffix("IfExists")


def _value_of(context: dict, key: str) -> list[str] | None:
    for name, value in context.items():
        if name.lower() == key.lower():
            return value if isinstance(value, list) else [value]
    return None


def _arn_condition(operator: str, actual: list[str] | None, patterns: list[str]) -> bool:
    """ArnEquals/ArnLike and their Not, IfExists, ForAllValues and ForAnyValue forms.

    principalmapper differs: it compares ARNs case-insensitively and lets `*` span colons. The IAM
    docs: "ArnEquals, ArnLike: Case-sensitive matching of the ARN. Each of the six colon-delimited
    components of the ARN is checked separately and each can include multi-character match
    wildcards (*) or single-character match wildcards (?)." ([COND], ARN condition operators)."""
    qualifier = operator.rpartition(":")[0]
    negated = "Not" in _base_operator(operator)
    if actual is None:
        # [COND]: missing key -> false, except IfExists / negated operators (true); [MULTI]:
        # ForAllValues is true and ForAnyValue false when the key is missing.
        if qualifier:
            return qualifier == "ForAllValues"
        return negated or operator.endswith("IfExists")
    results = [any(_arn_like(value, pattern) for pattern in patterns) != negated for value in actual]
    if qualifier:
        return all(results) if qualifier == "ForAllValues" else any(results)
    return all(results) if negated else any(results)


def _arn_like(value: str, pattern: str) -> bool:
    values, patterns = value.split(":", 5), pattern.split(":", 5)
    if len(values) != 6 or len(patterns) != 6:
        return False
    return all(_segment(p).fullmatch(v) for v, p in zip(values, patterns, strict=True))


def _segment(pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def _as_strings(operator: str, values: object) -> list[str]:
    """Policy JSON may write true/1 unquoted; principalmapper compares strings ('true')."""
    items = values if isinstance(values, list) else [values]
    return [str(item).lower() if isinstance(item, bool) else str(item) for item in items]


def _resource_case_matches(statement: dict, resource: str) -> bool:
    """principalmapper differs: it matches Resource/NotResource patterns case-insensitively.
    IAM matches resource ARNs case-sensitively (S3 bucket `Sagemaker-x` is not `sagemaker-*`):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html"""
    if "Resource" in statement:
        return any(_wildcard(pattern).match(resource) for pattern in _listify(statement["Resource"]))
    if "NotResource" in statement:
        return not any(_wildcard(pattern).match(resource) for pattern in _listify(statement["NotResource"]))
    return True


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

    result = copy.copy(statement)
    for element in ("Resource", "NotResource", "Condition"):
        if element in result:
            result[element] = walk(result[element])
    return result
