"""Helpers for the Service Catalog tests: evaluate the intrinsic functions the product templates
use, and check policies, buckets and API requests. Each checker is itself tested with bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from botocore.model import Shape
from botocore.validate import ParamValidator

from authz.evaluate import Request, decide
from authz.template import Unresolvable, conditions_of, live_resources, resolve  # noqa: F401 (re-exported)

ACCOUNT = "123456789012"
# Worst-case project identity: the longest name and id SageMaker accepts.
WORST_NAME = "a" + "-b" * 15 + "c"
WORST_ID = "p-" + "x" * 18


def statements(node: object) -> Iterator[dict]:
    """Every IAM policy statement anywhere in a template fragment."""
    if isinstance(node, dict):
        if isinstance(node.get("Statement"), list):
            yield from node["Statement"]
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def wildcard_grants(template: dict) -> list[dict]:
    """Allow statements granting every action on every resource."""
    return [
        statement
        for statement in statements(template)
        if statement.get("Effect") == "Allow"
        and "*" in _as_list(statement.get("Action", []))
        and "*" in _as_list(statement.get("Resource", []))
    ]


def allowed(policy: list[dict], action: str, resource: str, context: dict | None = None) -> bool:
    """Whether IAM would allow the call under these statements: authz.evaluate.decide (explicit
    deny, wildcards, conditions against `context`), the one IAM evaluator of this repository."""
    document = {"Version": "2012-10-17", "Statement": policy}
    return decide([document], Request(action, resource, context or {})).allowed


def bucket_problems(template: dict) -> list[str]:
    """What is missing from any bucket: KMS encryption, public access block, TLS-only policy."""
    resources = template.get("Resources", {})
    problems = []
    for name, resource in resources.items():
        if not isinstance(resource, dict) or resource["Type"] != "AWS::S3::Bucket":  # Fn::ForEach is a list
            continue
        properties = resource.get("Properties", {})
        rules = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        if not any(
            rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("aws:kms", "aws:kms:dsse") for rule in rules
        ):
            problems.append(f"{name}: not KMS-encrypted")
        block = properties.get("PublicAccessBlockConfiguration", {})
        flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        if not all(block.get(flag) is True for flag in flags):
            problems.append(f"{name}: public access not fully blocked")
        if not _has_tls_only_policy(resources, name):
            problems.append(f"{name}: no bucket policy denying non-TLS requests")
    return problems


def _has_tls_only_policy(resources: dict, bucket: str) -> bool:
    for resource in resources.values():
        if (
            not isinstance(resource, dict)
            or resource["Type"] != "AWS::S3::BucketPolicy"
            or resource["Properties"]["Bucket"] != {"Ref": bucket}
        ):
            continue
        for statement in statements(resource["Properties"]["PolicyDocument"]):
            secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
            if statement["Effect"] == "Deny" and statement.get("Principal") == "*" and str(secure).lower() == "false":
                return True
    return False


def request_errors(params: dict, shape: Shape) -> list[str]:
    """botocore's own validation plus what it leaves out: maximum lengths and patterns."""
    report = ParamValidator().validate(params, shape)
    errors = [report.generate_report()] if report.has_errors() else []
    return errors + list(_constraint_errors(params, shape, shape.name))


def _constraint_errors(value: object, shape: Shape, path: str) -> Iterator[str]:
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, member in value.items():
            if key in shape.members:
                yield from _constraint_errors(member, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            yield f"{path}: more than {shape.metadata['max']} items"
        for index, member in enumerate(value):
            yield from _constraint_errors(member, shape.member, f"{path}[{index}]")
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            yield f"{path}: longer than {shape.metadata['max']}"
        pattern = shape.metadata.get("pattern")
        # Python's re has no Unicode property classes (\p{L}); those patterns are left out.
        if pattern and "\\p{" not in pattern and not re.fullmatch(pattern, value):
            yield f"{path}: {value!r} does not match {pattern}"


def parameter_errors(template: dict, given: Mapping[str, str]) -> list[str]:
    """Check stack parameters against the template's declarations as CloudFormation would."""
    declared = template["Parameters"]
    errors = [f"{key}: not a parameter of the template" for key in given if key not in declared]
    for key, spec in declared.items():
        if key not in given and "Default" not in spec:
            errors.append(f"{key}: required and not given")
            continue
        value = str(given.get(key, spec.get("Default")))
        if "AllowedValues" in spec and value not in spec["AllowedValues"]:
            errors.append(f"{key}: {value!r} not in {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            errors.append(f"{key}: {value!r} does not match {spec['AllowedPattern']}")
        if not spec.get("MinLength", 0) <= len(value) <= spec.get("MaxLength", 4096):
            errors.append(f"{key}: length {len(value)} outside {spec.get('MinLength')}-{spec.get('MaxLength')}")
    return errors


# --- the checkers, fed something wrong ---------------------------------------------------------


def _sagemaker_shape(operation: str) -> Shape:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker").operation_model(operation).input_shape


def test_resolve_evaluates_sub_with_variables_and_pseudo_parameters():
    template = {"Mappings": {"Release": {"Artifacts": {"Version": "1.0.0"}}}, "Resources": {}}
    node = {"Fn::Sub": ["${V}/x-${P}-${AWS::Region}", {"V": {"Fn::FindInMap": ["Release", "Artifacts", "Version"]}}]}
    assert resolve(node, template, {"P": "y", "AWS::Region": "eu-west-1"}) == "1.0.0/x-y-eu-west-1"
    with __import__("pytest").raises(Unresolvable):
        resolve({"Ref": "Missing"}, template, {})


def test_conditions_are_evaluated_from_parameters_and_refuse_unknown_names():
    template = {
        "Conditions": {
            "IsA": {"Fn::Equals": [{"Ref": "P"}, "a"]},
            "IsB": {"Fn::Equals": [{"Ref": "P"}, "b"]},
            "AOrB": {"Fn::Or": [{"Condition": "IsA"}, {"Condition": "IsB"}]},
            "AAndFlag": {"Fn::And": [{"Condition": "IsA"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "F"}, "no"]}]}]},
        },
        "Resources": {},
    }
    assert conditions_of(template, {"P": "a", "F": "yes"}) == {
        "IsA": True,
        "IsB": False,
        "AOrB": True,
        "AAndFlag": True,
    }
    assert not any(conditions_of(template, {"P": "c", "F": "no"}).values())
    assert resolve({"Fn::If": ["IsB", 1, 2]}, template, {"P": "b"}) == 1
    dropped = {"Fn::If": ["IsB", {"Ref": "AWS::NoValue"}, 2]}
    assert resolve({"List": [1, dropped], "Key": dropped}, template, {"P": "b"}) == {"List": [1]}
    with __import__("pytest").raises(Unresolvable):
        resolve({"Fn::If": ["Missing", 1, 2]}, template, {"P": "b"})


def test_the_allowed_checker_refuses_what_no_statement_grants():
    policy = [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::lake/*"}]
    assert allowed(policy, "s3:GetObject", "arn:aws:s3:::lake/a/b")
    assert not allowed(policy, "s3:PutObject", "arn:aws:s3:::lake/a")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::lakehouse/a")
    assert not allowed([{**policy[0], "Effect": "Deny"}], "s3:GetObject", "arn:aws:s3:::lake/a")
    # IAM's logic, not pattern matching: an explicit deny wins and conditions are evaluated.
    secret = {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::lake/secret/*"}
    assert not allowed([*policy, secret], "s3:GetObject", "arn:aws:s3:::lake/secret/x")
    tls_only = {**policy[0], "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert not allowed([tls_only], "s3:GetObject", "arn:aws:s3:::lake/a")
    assert allowed([tls_only], "s3:GetObject", "arn:aws:s3:::lake/a", {"aws:SecureTransport": "true"})


def test_wildcard_grants_finds_star_on_star_only_when_allowed():
    bad = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": ["*"]}]}
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    scoped = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}
    assert wildcard_grants({"Resources": {"P": {"Properties": {"PolicyDocument": bad}}}})
    assert not wildcard_grants({"Resources": {"P": {"Properties": {"PolicyDocument": deny}}}})
    assert not wildcard_grants({"Resources": {"P": {"Properties": {"PolicyDocument": scoped}}}})


def test_bucket_problems_names_each_missing_control():
    template = {
        "Resources": {
            "B": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "PublicAccessBlockConfiguration": {"BlockPublicAcls": True},
                },
            }
        }
    }
    assert bucket_problems(template) == [
        "B: not KMS-encrypted",
        "B: public access not fully blocked",
        "B: no bucket policy denying non-TLS requests",
    ]


def test_request_errors_catch_what_botocore_leaves_out():
    shape = _sagemaker_shape("CreateProject")
    good = {
        "ProjectName": "churn",
        "TemplateProviders": [
            {
                "CfnTemplateProvider": {
                    "TemplateName": "build-train",
                    "TemplateURL": "https://b.s3.us-east-1.amazonaws.com/1.0.0/products/x.yaml",
                }
            }
        ],
    }
    assert request_errors(good, shape) == []
    too_long = {**good, "ProjectName": "n" * 33}
    assert any("longer than 32" in error for error in request_errors(too_long, shape))
    bad_name = {
        "ProjectName": "churn",
        "TemplateProviders": [{"CfnTemplateProvider": {"TemplateName": "build_train", "TemplateURL": "http://b/x"}}],
    }
    assert len(request_errors(bad_name, shape)) == 2
    assert request_errors({"ProjectName": "churn", "ServiceCatalogProvisioningDetails": {}}, shape)


def test_parameter_errors_apply_cloudformation_constraints():
    template = {
        "Parameters": {
            "Name": {"Type": "String", "MinLength": 1, "MaxLength": 5, "AllowedPattern": "^[a-z]+$"},
            "Mode": {"Type": "String", "AllowedValues": ["a", "b"], "Default": "a"},
        }
    }
    assert parameter_errors(template, {"Name": "abc"}) == []
    assert parameter_errors(template, {}) == ["Name: required and not given"]
    assert len(parameter_errors(template, {"Name": "ABCDEFG", "Mode": "c", "Extra": "x"})) == 4
