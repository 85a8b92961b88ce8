"""The CloudFormation permission table (authz/cfn.py): it covers every resource type our templates
use, claims no action its registry schema does not list, and builds the calls a resource needs."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from authz import cfn
from authz.stack import ACCOUNT, pseudo_parameters, stack_needs
from scripts import products

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_GLOBS = ("servicecatalog/*.yaml", "servicecatalog/parts/*.yaml", "templates/deploy/*/app_infra/**/*.yaml")


def used_types() -> set[str]:
    """Every `Type: AWS::...` / `Type: Custom::...` in the templates (the grep the table must cover)."""
    found = set()
    for pattern in TEMPLATE_GLOBS:
        for path in ROOT.glob(pattern):
            found |= set(re.findall(r"^\s+Type: ((?:AWS|Custom)::[\w:]+)\s*$", path.read_text(), re.MULTILINE))
    return found


def test_the_grep_finds_the_templates():
    assert {"AWS::S3::Bucket", "AWS::SageMaker::Endpoint", "Custom::ProjectTeardown"} <= used_types()


@pytest.mark.parametrize("resource_type", sorted(used_types()))
def test_every_resource_type_we_use_has_an_entry_with_no_invented_action(resource_type):
    assert cfn.invented(resource_type) == []


def test_a_new_resource_type_fails_until_it_has_an_entry():
    with pytest.raises(cfn.UnknownType, match="AWS::Bedrock::Agent"):
        cfn.handler("AWS::Bedrock::Agent")


def test_an_invented_action_is_reported():
    bucket = cfn.handler("AWS::S3::Bucket")
    made_up = replace(bucket, properties={**bucket.properties, "VersioningConfiguration": ("s3:EnableVersioning",)})
    assert cfn.invented("AWS::S3::Bucket", made_up) == ["AWS::S3::Bucket create: s3:EnableVersioning"]
    wrong_operation = replace(bucket, delete=("s3:CreateBucket",))
    assert cfn.invented("AWS::S3::Bucket", wrong_operation) == ["AWS::S3::Bucket delete: s3:CreateBucket"]
    no_schema = replace(cfn.handler("AWS::CodeBuild::Project"), create=("codebuild:MakeProject",))
    assert cfn.invented("AWS::CodeBuild::Project", no_schema) == [
        "AWS::CodeBuild::Project create: codebuild:MakeProject"
    ]


def _all_needs():
    """The calls of every product (defaults) and platform template, by (type, phase) -> actions."""
    from authz.provision import PRODUCT_STACK, SAMPLES, combinations
    from scripts import catalog

    templates = [products.compose(product) for product in catalog.products()]
    templates += [products.load_cloudformation(path.read_text()) for path in products.ACCOUNT_TEMPLATES]
    found: dict[str, dict[str, set[str]]] = {}
    for template in templates:
        for name, spec in template.get("Parameters", {}).items():
            spec.setdefault("Default", SAMPLES.get(name, "sample"))
        for values in combinations(template):
            given = {**pseudo_parameters(PRODUCT_STACK), **values}
            for need in stack_needs(template, given, "t"):
                resource_type = need.where.split("(")[-1].rstrip(")")
                found.setdefault(resource_type, {}).setdefault(need.phase, set()).add(need.action)
    return found


def test_what_extra_functions_produce_is_listed_too():
    """Calls built by code (IAM attachments, aliases, custom resources) are checked like the table."""
    for resource_type, by_phase in _all_needs().items():
        assert cfn.invented(resource_type, extra=by_phase) == [], resource_type


def _needs(resource_type: str, props: dict) -> list[tuple]:
    template = {"Resources": {"R": {"Type": resource_type, "Properties": props}}}
    return [
        (n.phase, n.action, n.resource, dict(n.context)) for n in stack_needs(template, pseudo_parameters("s"), "t")
    ]


def test_a_bucket_needs_one_call_per_property_on_its_arn_with_tag_context():
    needs = _needs(
        "AWS::S3::Bucket",
        {
            "BucketName": "sagemaker-x",
            "VersioningConfiguration": {"Status": "Enabled"},
            "Tags": [{"Key": "k", "Value": "v"}],
        },
    )
    tags = {"aws:TagKeys": ("k",), "aws:RequestTag/k": "v"}
    assert needs == [
        ("create", "s3:CreateBucket", "arn:aws:s3:::sagemaker-x", tags),
        ("create", "s3:PutBucketVersioning", "arn:aws:s3:::sagemaker-x", {"aws:ResourceTag/k": "v"}),
        ("create", "s3:PutBucketTagging", "arn:aws:s3:::sagemaker-x", tags),
        ("delete", "s3:DeleteBucket", "arn:aws:s3:::sagemaker-x", {"aws:ResourceTag/k": "v"}),
    ]


def test_a_passed_role_is_a_pass_role_call_to_the_service_and_refs_become_arns():
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "sagemaker-r", "Path": "/service-role/"}},
            "Model": {
                "Type": "AWS::SageMaker::Model",
                "Properties": {"ModelName": "M", "ExecutionRoleArn": {"Fn::GetAtt": ["Role", "Arn"]}},
            },
        }
    }
    needs = {(n.action, n.resource, n.context) for n in stack_needs(template, pseudo_parameters("s"), "t")}
    role = f"arn:aws:iam::{ACCOUNT}:role/service-role/sagemaker-r"
    assert ("iam:PassRole", role, (("iam:PassedToService", "sagemaker.amazonaws.com"),)) in needs
    assert ("sagemaker:CreateModel", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/m", ()) in needs
    assert ("iam:CreateRole", role, ()) in needs


def test_reading_a_pinned_object_version_is_a_different_action():
    code = {"S3Bucket": "b", "S3Key": "k.zip", "S3ObjectVersion": "3"}
    actions = {action for _, action, _, _ in _needs("AWS::Lambda::Function", {"FunctionName": "f", "Code": code})}
    assert "s3:GetObjectVersion" in actions and "s3:GetObject" not in actions


def test_side_needs_are_the_roles_objects_and_connections_a_configuration_points_at():
    env = {"partition": "aws", "account": ACCOUNT, "object_context": {"s3:ExistingObjectTag/k": "v"}}
    props = {"Role": "sagemaker-r", "Code": {"S3Bucket": "b", "S3Key": "k.zip"}}
    passed = {"iam:PassedToService": "lambda.amazonaws.com"}
    assert list(cfn.side_needs(cfn.handler("AWS::Lambda::Function"), props, env)) == [
        ("create", "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/sagemaker-r", passed),
        ("create", "s3:GetObject", "arn:aws:s3:::b/k.zip", {"s3:ExistingObjectTag/k": "v"}),
    ]
    # A configuration naming no role and no object needs nothing elsewhere.
    assert list(cfn.side_needs(cfn.handler("AWS::Lambda::Function"), {"FunctionName": "f"}, env)) == []


def test_an_action_without_a_resource_type_is_asked_on_star():
    needs = _needs("AWS::KMS::Key", {"KeyPolicy": {}, "EnableKeyRotation": True})
    assert ("create", "kms:CreateKey", "*", {}) in needs
    assert any(action == "kms:EnableKeyRotation" and arn.startswith("arn:aws:kms:") for _, action, arn, _ in needs)


def test_a_key_is_deleted_with_the_tags_the_stack_created_it_with():
    template = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}}}}}
    needs = stack_needs(template, pseudo_parameters("s"), "t", stack_tags={"sagemaker:project-id": "p-1"})
    (deletion,) = [dict(n.context) for n in needs if n.action == "kms:ScheduleKeyDeletion"]
    assert deletion == {"aws:ResourceTag/sagemaker:project-id": "p-1"}


def test_autoscaling_calls_carry_the_service_namespace_of_the_variant_they_scale():
    template = {
        "Resources": {
            "Target": {
                "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                "Properties": {
                    "ServiceNamespace": "sagemaker",
                    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                    "ResourceId": "endpoint/e/variant/AllTraffic",
                    "MinCapacity": 1,
                    "MaxCapacity": 2,
                },
            },
            "Policy": {
                "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
                "Properties": {"PolicyName": "p", "ScalingTargetId": {"Ref": "Target"}},
            },
        }
    }
    needs = list(stack_needs(template, pseudo_parameters("s"), "t", stack_tags={"k": "v"}))
    namespaced = {n.action: dict(n.context).get("application-autoscaling:service-namespace") for n in needs}
    assert namespaced["application-autoscaling:RegisterScalableTarget"] == "sagemaker"
    assert namespaced["application-autoscaling:PutScalingPolicy"] == "sagemaker"  # from the target's Ref
    assert namespaced["application-autoscaling:DeleteScalingPolicy"] == "sagemaker"
    assert namespaced["application-autoscaling:TagResource"] is None
