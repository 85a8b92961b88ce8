"""servicecatalog/data-lake-access.yaml: the policy an Athena seed's pipeline needs on top of the
execution role, granted on the named workgroup, database and bucket and nothing else, as the small
IAM evaluator of the support module decides."""

from __future__ import annotations

import re

import pytest

from scripts import products
from tests.bakery import payload_dir
from tests.test_servicecatalog_support import allowed, resolve, statements, wildcard_grants

ACCOUNT = "123456789012"
REGION = "eu-west-1"
GIVEN = {
    "UseRoleName": "AmazonSageMakerServiceCatalogProductsExecutionRole",
    "AthenaWorkGroup": "primary",
    "DataCatalog": "AwsDataCatalog",
    "GlueDatabase": "churn_lake",
    "DataLakeBucket": "acme-lake",
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
}
ATHENA = f"arn:aws:athena:{REGION}:{ACCOUNT}"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"
BUCKET = "arn:aws:s3:::sagemaker-project-p-idy6c3e1fiqj"
OUTPUT = f"{BUCKET}/churn/ml-pipeline-outputs/20261122-abc/PrepareData/athena-results/q.csv"
BRANCH_OUTPUT = f"{BUCKET}/churn/branches/feature-x/ml-pipeline-outputs/20261122-abc/PrepareData/athena-results/q.csv"
# What an Athena query of table `customers` needs, as the seed's README lists it.
NEEDED = [
    ("athena:StartQueryExecution", f"{ATHENA}:workgroup/primary"),
    ("athena:GetQueryExecution", f"{ATHENA}:workgroup/primary"),
    ("athena:StopQueryExecution", f"{ATHENA}:workgroup/primary"),
    ("athena:GetDataCatalog", f"{ATHENA}:datacatalog/AwsDataCatalog"),
    ("glue:GetDatabase", f"{GLUE}:database/churn_lake"),
    ("glue:GetTable", f"{GLUE}:table/churn_lake/customers"),
    ("glue:GetPartitions", f"{GLUE}:table/churn_lake/customers"),
    ("glue:GetTable", f"{GLUE}:catalog"),
    ("s3:GetObject", "arn:aws:s3:::acme-lake/customers/part-0.parquet"),
    ("s3:ListBucket", "arn:aws:s3:::acme-lake"),
    ("s3:PutObject", OUTPUT),
    ("s3:AbortMultipartUpload", OUTPUT),
    ("s3:PutObject", BRANCH_OUTPUT),
    ("lakeformation:GetDataAccess", "*"),
]


@pytest.fixture(scope="module")
def template() -> dict:
    return products.load_cloudformation(products.DATA_LAKE_ACCESS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def policy(template) -> list[dict]:
    resource = template["Resources"]["DataLakeReadPolicy"]
    return list(statements(resolve(resource["Properties"]["PolicyDocument"], template, GIVEN)))


@pytest.mark.parametrize(("action", "resource"), NEEDED, ids=[f"{a} {r.split(':')[-1]}" for a, r in NEEDED])
def test_an_athena_pipeline_gets_what_its_query_needs(policy, action, resource):
    assert allowed(policy, action, resource)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("athena:StartQueryExecution", f"{ATHENA}:workgroup/admin"),
        ("glue:GetTable", f"{GLUE}:table/finance/salaries"),
        ("glue:DeleteTable", f"{GLUE}:table/churn_lake/customers"),
        ("s3:GetObject", "arn:aws:s3:::finance-lake/salaries.csv"),
        ("s3:PutObject", "arn:aws:s3:::acme-lake/customers/part-0.parquet"),
        ("s3:PutObject", "arn:aws:s3:::sagemaker-project-p-1/churn/input/data.csv"),
        ("athena:StartQueryExecution", f"arn:aws:athena:{REGION}:999999999999:workgroup/primary"),
    ],
)
def test_nothing_beyond_the_named_workgroup_database_and_bucket(policy, action, resource):
    assert not allowed(policy, action, resource)


def test_no_wildcard_actions_and_star_only_where_iam_has_no_resources(template, policy):
    assert wildcard_grants(template) == []
    assert not [action for statement in policy for action in statement["Action"] if "*" in action]
    star = [statement["Action"] for statement in policy if statement["Resource"] == "*"]
    assert star == [["lakeformation:GetDataAccess"]]


def test_the_policy_is_attached_to_the_role_pipelines_run_as(template):
    resource = template["Resources"]["DataLakeReadPolicy"]
    assert resource["Type"] == "AWS::IAM::ManagedPolicy"
    assert resolve(resource["Properties"]["Roles"], template, GIVEN) == [GIVEN["UseRoleName"]]


def test_the_seed_readme_names_every_action_granted():
    readme = (payload_dir("build-train") / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Data from the data lake (Athena)") :]
    # The README names each action once, e.g. `athena:StartQueryExecution`, `GetQueryExecution`.
    named = {action for _, action in re.findall(r"`(?:(\w+):)?(\w+)`", section)}
    for action, _ in NEEDED:
        service, name = action.split(":")
        if service != "s3":  # the README says "S3 reads ... and writes" rather than naming each action
            assert name in named, f"the Athena README section does not name {action}"
