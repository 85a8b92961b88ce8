"""Would "Create project" and "Delete project" work under the managed launch role? Every product,
every combination of its parameters, evaluated with authz; and the checker itself, fed each
resource the issue found the launch role cannot create, must name the exact denial."""

from __future__ import annotations

import pytest

from authz import provision
from authz.check import Ledger
from authz.stack import ACCOUNT, WORST_ID, WORST_NAME
from scripts import catalog, products
from tests.product_ledger import evaluated_fixture, product_denials

PRODUCTS = {product.key: product for product in catalog.products()}
BUCKET = f"arn:aws:s3:::sagemaker-project-{WORST_ID}"
SAGEMAKER = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}"


evaluated = evaluated_fixture(provision.check_products)


@pytest.mark.parametrize("key", sorted(PRODUCTS))
def test_every_combination_of_the_product_is_created_and_deleted_by_the_launch_role(evaluated, key):
    denied = product_denials(evaluated, key)
    assert not denied, "\n".join(denied)


def test_every_allowed_value_is_evaluated_and_rules_are_respected():
    template = products.compose(PRODUCTS["build-train-deploy"])
    seen = list(provision.combinations(template))
    for name, spec in template["Parameters"].items():
        if "AllowedValues" in spec:
            assert {values[name] for values in seen} == set(spec["AllowedValues"]), name
    # ApproveOnMerge yes needs MultiBranch yes (a Rule): CloudFormation refuses the others.
    assert not [v for v in seen if v["ApproveOnMerge"] == "yes" and v["MultiBranch"] == "no"]
    assert {v["SageMakerProjectName"] for v in seen} == {WORST_NAME}


def _fragment(resources: dict) -> dict:
    parameters = {name: {"Type": "String"} for name in ("SageMakerProjectName", "SageMakerProjectId")}
    return {"Parameters": parameters, "Resources": resources}


TAGS = [
    {"Key": "sagemaker:project-name", "Value": {"Ref": "SageMakerProjectName"}},
    {"Key": "sagemaker:project-id", "Value": {"Ref": "SageMakerProjectId"}},
]


def _bucket(**properties: object) -> dict:
    name = {"Fn::Sub": "sagemaker-project-${SageMakerProjectId}"}
    return {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name, **properties, "Tags": TAGS}}


KNOWN_BAD = {
    "bucket versioning": (
        _bucket(VersioningConfiguration={"Status": "Enabled"}),
        [("s3:PutBucketVersioning", BUCKET)],
    ),
    "bucket lifecycle": (
        _bucket(LifecycleConfiguration={"Rules": [{"Status": "Enabled", "ExpirationInDays": 1}]}),
        [("s3:PutLifecycleConfiguration", BUCKET)],
    ),
    "bucket ownership controls": (
        _bucket(OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}),
        [("s3:PutBucketOwnershipControls", BUCKET)],
    ),
    "model package group": (
        {
            "Type": "AWS::SageMaker::ModelPackageGroup",
            "Properties": {"ModelPackageGroupName": {"Fn::Sub": "${SageMakerProjectName}-${SageMakerProjectId}"}},
        },
        [
            ("sagemaker:CreateModelPackageGroup", f"{SAGEMAKER}:model-package-group/{WORST_NAME}-{WORST_ID}"),
            ("sagemaker:DeleteModelPackageGroup", f"{SAGEMAKER}:model-package-group/{WORST_NAME}-{WORST_ID}"),
        ],
    ),
    "tagged code repository": (
        {
            "Type": "AWS::SageMaker::CodeRepository",
            "Properties": {
                "CodeRepositoryName": {"Fn::Sub": "sagemaker-${SageMakerProjectId}-modelbuild"},
                "GitConfig": {"RepositoryUrl": "https://example.com/r.git"},
                "Tags": TAGS,
            },
        },
        [("sagemaker:AddTags", f"{SAGEMAKER}:code-repository/sagemaker-{WORST_ID}-modelbuild")],
    ),
}


@pytest.mark.parametrize("case", sorted(KNOWN_BAD))
def test_the_checker_names_each_call_the_launch_role_lacks(case):
    resource, expected = KNOWN_BAD[case]
    ledger = Ledger()
    provision.check_template(ledger, provision.LAUNCH, _fragment({"R": resource}), "fragment", "SC-stack")
    assert [(d.role, d.action, d.resource) for d in ledger.denials()] == [("launch", *call) for call in expected]


def test_what_the_launch_role_grants_is_not_denied():
    """The same resources without the properties it lacks: tagged with sagemaker:* keys, encrypted,
    public access blocked; a code repository without tags."""
    bucket = _bucket(
        BucketEncryption={"ServerSideEncryptionConfiguration": []},
        PublicAccessBlockConfiguration={"BlockPublicAcls": True},
    )
    repository, _ = KNOWN_BAD["tagged code repository"]
    untagged = {**repository, "Properties": {k: v for k, v in repository["Properties"].items() if k != "Tags"}}
    ledger = Ledger()
    resources = {"B": bucket, "C": untagged}
    provision.check_template(ledger, provision.LAUNCH, _fragment(resources), "fragment", "SC-stack")
    assert ledger.denials() == []
    assert ledger.actions_checked >= 7


def test_a_tag_key_outside_sagemaker_is_denied_where_the_policy_conditions_tag_keys():
    """The launch role may tag Lambda functions only with sagemaker:* keys (ForAllValues:StringLike)."""
    function = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": {"Fn::Sub": "sagemaker-${SageMakerProjectId}-f"},
            "Role": f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsLambdaRole",
            "Tags": [{"Key": "team", "Value": "ml"}],
        },
    }
    ledger = Ledger()
    provision.check_template(ledger, provision.LAUNCH, _fragment({"F": function}), "fragment", "SC-stack")
    assert [(d.action, d.resource) for d in ledger.denials()] == [
        ("lambda:TagResource", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sagemaker-{WORST_ID}-f")
    ]


def test_passing_a_role_outside_the_service_catalog_roles_is_denied():
    project = {
        "Type": "AWS::CodeBuild::Project",
        "Properties": {"Name": "sagemaker-p", "ServiceRole": f"arn:aws:iam::{ACCOUNT}:role/admin"},
    }
    ledger = Ledger()
    provision.check_template(ledger, provision.LAUNCH, _fragment({"P": project}), "fragment", "SC-stack")
    assert [(d.action, d.resource) for d in ledger.denials()] == [
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin")
    ]


def test_the_platform_stacks_are_covered_by_the_table():
    ledger = Ledger()
    # Every combination of each stack's AllowedValues parameters (ci-oidc.yaml has eight).
    stacks = [products.load_cloudformation(path.read_text()) for path in products.ACCOUNT_TEMPLATES]
    assert provision.check_portfolio(ledger) == sum(len(list(provision.combinations(stack))) for stack in stacks)
    assert any("TemplatesBucket" in where for where in ledger.resources)
    assert ledger.denials() == []


def test_a_product_evaluated_at_one_combination_is_not_taken_as_checked():
    with pytest.raises(AssertionError, match="evaluated at 1 combination"):
        product_denials((Ledger(), {"build-train": 1}), "build-train")
