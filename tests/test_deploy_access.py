"""The deploy repository's stage-access template (app_infra/stage_access/stage_access.yaml), which
an administrator deploys once and which replaced deploy_role.yaml and `make deploy-access`.

It is deployed in moto (both forms: every project of an account, attached to the deploy CodeBuild
role; one project's stage with a created deploy role), the policies IAM then holds are read back,
and authz.evaluate (IAM's evaluation logic) decides what they allow and refuse; authz.escalation
must find nothing in any of them, and must find the escalation in the statement the old
deploy_role.yaml gave the products' use role. IAM's size limit is checked at the worst case.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from authz.escalation import findings
from authz.evaluate import Request, decide
from authz.template import conditions_of, live_resources, resolve
from mlops_template_kit import naming
from scripts import products
from tests import bakery
from tests.test_servicecatalog_support import WORST_ID, WORST_NAME

TEMPLATE = bakery.payload_dir("deploy") / "app_infra" / "stage_access" / "stage_access.yaml"
ACCOUNT = "123456789012"  # moto's account
TOOLING = "111122223333"
REGION = "us-east-1"
CODEBUILD_ROLE = "AmazonSageMakerServiceCatalogProductsCodeBuildRole"
TRUST_CODEBUILD = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# IAM counts a managed policy document without whitespace; a role's inline policies share 10,240.
MANAGED_POLICY_LIMIT = 6144
INLINE_POLICIES_LIMIT = 10240
# The statement the old deploy_role.yaml (v. main before the stage-access redesign) attached to
# the products' use role for every project ("*" scope): kept as the known-bad fixture.
OLD_MANAGE_STAGE_ROLES = {
    "Sid": "ManageStageRoles",
    "Effect": "Allow",
    "Action": [
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:UpdateRole",
        "iam:UpdateRoleDescription",
        "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:GetRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:PassRole",
    ],
    "Resource": f"arn:aws:iam::{ACCOUNT}:role/sagemaker-*-*-*",
}


def every_project() -> dict[str, str]:
    return {
        "ProjectName": "*",
        "ProjectId": "*",
        "StageName": "*",
        "ToolingAccountId": ACCOUNT,
        "ArtifactBucketName": "sagemaker-project-*",
        "DeployRoleName": "",
        "AttachToRoleName": CODEBUILD_ROLE,
    }


def one_stage(project_name: str = "churn", project_id: str = "p-1", stage: str = "prod") -> dict[str, str]:
    return {
        "ProjectName": project_name,
        "ProjectId": project_id,
        "StageName": stage,
        "ToolingAccountId": TOOLING,
        "ArtifactBucketName": f"sagemaker-project-{project_id}",
        "ArtifactKmsKeyArn": f"arn:aws:kms:{REGION}:{TOOLING}:key/0123abcd-0000-1111-2222-333344445555",
        "DeployRoleName": f"sagemaker-{project_id}-cross-account-deploy",
        "AttachToRoleName": "",
    }


# --- the template, resolved offline --------------------------------------------------------------

WORST_PSEUDO = {"AWS::Partition": "aws-us-gov", "AWS::Region": "ap-southeast-3", "AWS::AccountId": ACCOUNT}
# GetAtt resolves to `<Resource>.Arn` placeholders: measure with a role ARN of the longest name.
LONGEST_ROLE_ARN = f"arn:aws-us-gov:iam::{ACCOUNT}:role/{'r' * 64}"


@pytest.fixture(scope="module")
def template() -> dict:
    # cfn-lint's decoder: `!GetAtt A.Arn` becomes ["A", "Arn"] (authz.template.load keeps the string).
    return products.load_cloudformation(TEMPLATE.read_text(encoding="utf-8"))


def _documents(template: dict, given: dict[str, str]) -> dict[str, tuple[str, dict]]:
    """Every policy document the stack creates: name -> (kind, document), at worst-case ARNs."""
    values = {"ToolingDeployRoleArn": "", "ArtifactKmsKeyArn": "", **given, **WORST_PSEUDO}
    values.setdefault("CreateAutoscalingServiceLinkedRole", "false")
    found = {}
    for name, resource in live_resources(template, values).items():
        properties = resolve(resource["Properties"], template, values, conditions_of(template, values))
        if "PolicyDocument" in properties:
            found[name] = (resource["Type"], properties["PolicyDocument"])
        for inline in properties.get("Policies", []):
            found[f"{name}/{inline['PolicyName']}"] = ("inline", inline["PolicyDocument"])
    text = json.dumps(found)
    assert re.search(r'"[A-Za-z]+\.Arn"', text), "no role ARN placeholder: the measurement would be short"
    return json.loads(re.sub(r'"[A-Za-z]+\.Arn"', json.dumps(LONGEST_ROLE_ARN), text))


def _size(document: dict) -> int:
    return len(json.dumps(document, separators=(",", ":")))


@pytest.mark.parametrize(
    "given", [every_project(), one_stage(WORST_NAME, WORST_ID, "staging")], ids=["every-project", "one-stage"]
)
def test_every_policy_fits_iam_at_the_worst_case(template, given):
    documents = _documents(template, given)
    assert any(kind == "AWS::IAM::ManagedPolicy" for kind, _ in documents.values())
    for name, (kind, document) in documents.items():
        limit = MANAGED_POLICY_LIMIT if kind == "AWS::IAM::ManagedPolicy" else INLINE_POLICIES_LIMIT
        assert _size(document) <= limit, f"{name}: {_size(document)} > {limit}"


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        ({}, False),
        ({"ProjectId": "*"}, True),
        ({"ProjectName": "*", "ProjectId": "*", "StageName": "*"}, True),
        ({"DeployRoleName": ""}, True),
        ({"AttachToRoleName": CODEBUILD_ROLE}, True),
    ],
    ids=["one-project-role", "mixed-star", "deploy-role-for-every-project", "no-principal", "both"],
)
def test_the_rules_keep_a_created_deploy_role_to_one_project_stage(template, overrides, refused):
    given = {**one_stage(), **overrides, **WORST_PSEUDO}
    failed = [
        assertion["AssertDescription"]
        for rule in template["Rules"].values()
        if resolve(rule["RuleCondition"], template, given)
        for assertion in rule["Assertions"]
        if not resolve(assertion["Assert"], template, given)
    ]
    assert bool(failed) == refused, failed


def test_the_account_wide_form_passes_the_rules(template):
    given = {**every_project(), **WORST_PSEUDO}
    for rule in template["Rules"].values():
        if resolve(rule["RuleCondition"], template, given):
            assert all(resolve(assertion["Assert"], template, given) for assertion in rule["Assertions"])


# --- deployed in moto: what IAM holds, evaluated --------------------------------------------------


def _role_policies(iam, role: str) -> list[dict]:
    """Every policy document of a role as IAM stores it (inline and attached managed)."""
    documents = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)
        documents.append(document["PolicyVersion"]["Document"])
    return [_document(d) for d in documents]


def _document(stored: object) -> dict:
    """moto 5 returns CloudFormation-made inline policies as the Python repr of the document."""
    if not isinstance(stored, str):
        return stored
    try:
        return json.loads(stored)
    except json.JSONDecodeError:
        return ast.literal_eval(stored)


def _deploy(given: dict[str, str]) -> dict[str, str]:
    cfn = boto3.client("cloudformation", region_name=REGION)
    parameters = [{"ParameterKey": key, "ParameterValue": value} for key, value in given.items()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfn.create_stack(
            StackName="stage-access",
            TemplateBody=Path(TEMPLATE).read_text(encoding="utf-8"),
            Parameters=parameters,
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    stack = cfn.describe_stacks(StackName="stage-access")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


@pytest.fixture(scope="module")
def deployed() -> dict[str, dict]:
    """Both forms, in moto: role name -> its policy documents, plus the stacks' outputs."""
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        iam.create_role(
            RoleName=CODEBUILD_ROLE, AssumeRolePolicyDocument=json.dumps(TRUST_CODEBUILD), Path="/service-role/"
        )
        shared = _deploy(every_project())
        shared_roles = {name: _role_policies(iam, name) for name in _created_roles(iam) + [CODEBUILD_ROLE]}
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        own = _deploy(one_stage())
        own_roles = {name: _role_policies(iam, name) for name in _created_roles(iam)}
        trust = iam.get_role(RoleName=one_stage()["DeployRoleName"])["Role"]["AssumeRolePolicyDocument"]
    return {"shared": shared_roles, "shared_outputs": shared, "own": own_roles, "own_outputs": own, "trust": trust}


def _created_roles(iam) -> list[str]:
    return [role["RoleName"] for role in iam.list_roles()["Roles"] if role["RoleName"].startswith("sagemaker-")]


def _arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def _decide(policies: list[dict], action: str, resource: str, **context: str) -> bool:
    return decide(policies, Request(action, resource, dict(context))).allowed


STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack"
ALARM = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:"
SAGEMAKER = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:"


def test_both_forms_create_the_roles_stacks_py_names(deployed):
    assert set(deployed["shared"]) == {naming.stage_access_role(p) for p in naming.STAGE_ACCESS_ROLES} | {
        CODEBUILD_ROLE
    }
    own = {naming.stage_access_role(p, "p-1", "prod") for p in naming.STAGE_ACCESS_ROLES}
    assert set(deployed["own"]) == own | {"sagemaker-p-1-cross-account-deploy"}
    assert deployed["shared_outputs"]["CloudFormationRoleArn"] == _arn(naming.stage_access_role("cloudformation"))


def _deployer(deployed: dict, form: str) -> tuple[list[dict], str]:
    """The deploy principal's policies and the service role it must use."""
    if form == "shared":
        return deployed["shared"][CODEBUILD_ROLE], _arn(naming.stage_access_role("cloudformation"))
    return deployed["own"]["sagemaker-p-1-cross-account-deploy"], _arn(
        naming.stage_access_role("cloudformation", "p-1", "prod")
    )


@pytest.mark.parametrize("form", ["shared", "own"])
def test_stacks_can_be_changed_only_through_the_service_role(deployed, form):
    policies, service_role = _deployer(deployed, form)
    stage_stack = f"{STACK}/sagemaker-churn-p-1-prod-endpoint/0f1e"
    for action in ("cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack"):
        assert _decide(policies, action, stage_stack, **{"cloudformation:RoleArn": service_role}), action
        # Without a service role CloudFormation would act with the deployer's own permissions.
        assert not _decide(policies, action, stage_stack), f"{action} without RoleARN"
        assert not _decide(policies, action, stage_stack, **{"cloudformation:RoleArn": _arn("admin")}), action
        other = f"{STACK}/network/0f1e"
        assert not _decide(policies, action, other, **{"cloudformation:RoleArn": service_role}), action
    assert _decide(policies, "cloudformation:DescribeStacks", stage_stack)
    assert _decide(policies, "iam:PassRole", service_role, **{"iam:PassedToService": "cloudformation.amazonaws.com"})
    assert not _decide(policies, "iam:PassRole", service_role, **{"iam:PassedToService": "lambda.amazonaws.com"})


@pytest.mark.parametrize("form", ["shared", "own"])
def test_nobody_can_create_change_or_pass_other_roles(deployed, form):
    roles = deployed[form]
    for role, policies in roles.items():
        for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"):
            for target in ("sagemaker-p-1-prod-x", "admin", naming.stage_access_role("endpoint")):
                assert not _decide(policies, action, _arn(target)), f"{role} may {action} {target}"
        for target in ("admin", CODEBUILD_ROLE, "OrganizationAccountAccessRole"):
            for service in ("sagemaker.amazonaws.com", "lambda.amazonaws.com", "cloudformation.amazonaws.com"):
                passed = {"iam:PassedToService": service}
                assert not _decide(policies, "iam:PassRole", _arn(target), **passed), f"{role} passes {target}"


@pytest.mark.parametrize(
    ("purpose", "service"),
    [
        ("endpoint", "sagemaker.amazonaws.com"),
        ("batch-pipeline", "sagemaker.amazonaws.com"),
        ("invoke", "lambda.amazonaws.com"),
        ("batch-schedule", "events.amazonaws.com"),
    ],
)
def test_the_service_role_passes_each_runtime_role_to_its_service_only(deployed, purpose, service):
    policies = deployed["shared"][naming.stage_access_role("cloudformation")]
    runtime = _arn(naming.stage_access_role(purpose))
    assert _decide(policies, "iam:PassRole", runtime, **{"iam:PassedToService": service})
    for other in ("sagemaker.amazonaws.com", "lambda.amazonaws.com", "events.amazonaws.com", "ec2.amazonaws.com"):
        if other != service:
            assert not _decide(policies, "iam:PassRole", runtime, **{"iam:PassedToService": other})
    cfn_role = _arn(naming.stage_access_role("cloudformation"))
    assert not _decide(policies, "iam:PassRole", cfn_role, **{"iam:PassedToService": "cloudformation.amazonaws.com"})


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("lambda:CreateFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sagemaker-p-1-prod-invoke", True),
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:billing", False),
        ("sagemaker:CreateEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/churn-p-1-prod", True),
        ("sagemaker:CreateEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/churn-p-1-staging", False),
        ("s3:CreateBucket", "arn:aws:s3:::sagemaker-p-1-prod-batch", True),
        ("s3:CreateBucket", "arn:aws:s3:::finance-reports", False),
        ("cloudformation:CreateStack", f"{STACK}/sagemaker-churn-p-1-prod-x/1", False),
        # issue 14: the monitoring stack's alarms, schedules and rules, this stage's only
        ("cloudwatch:PutMetricAlarm", f"{ALARM}sagemaker-churn-p-1-prod-drift-bmi", True),
        ("cloudwatch:DeleteAlarms", f"{ALARM}sagemaker-churn-p-1-prod-quality-auc", True),
        ("cloudwatch:PutMetricAlarm", f"{ALARM}sagemaker-churn-p-1-staging-drift-bmi", False),
        ("sagemaker:CreateMonitoringSchedule", f"{SAGEMAKER}monitoring-schedule/p-1-prod-data-quality", True),
        ("sagemaker:CreateDataQualityJobDefinition", f"{SAGEMAKER}data-quality-job-definition/p-1-prod-dq", True),
        ("sagemaker:CreateMonitoringSchedule", f"{SAGEMAKER}monitoring-schedule/p-2-prod-data-quality", False),
        ("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/sagemaker-p-1-prod-drift", True),
        ("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/sagemaker-p-1-staging-drift", False),
    ],
)
def test_the_service_role_manages_only_its_stage(deployed, action, resource, expected):
    policies = deployed["own"][naming.stage_access_role("cloudformation", "p-1", "prod")]
    assert _decide(policies, action, resource) == expected


def test_a_created_deploy_role_trusts_only_the_tooling_deploy_role(deployed):
    trust = deployed["trust"]
    trust = _document(trust)
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{TOOLING}:root"}
    # Evaluated as IAM would for a caller of that account (the Principal matched), on its ARN.
    as_policy = {"Version": "2012-10-17", "Statement": [{**statement, "Resource": "*"}]}
    as_policy["Statement"][0].pop("Principal")
    codebuild = f"arn:aws:iam::{TOOLING}:role/service-role/{CODEBUILD_ROLE}"
    assert _decide([as_policy], "sts:AssumeRole", "*", **{"aws:PrincipalArn": codebuild})
    for other in (f"arn:aws:iam::{TOOLING}:role/data-scientist", f"arn:aws:iam::{TOOLING}:user/someone"):
        assert not _decide([as_policy], "sts:AssumeRole", "*", **{"aws:PrincipalArn": other}), other


@pytest.mark.parametrize("form", ["shared", "own"])
def test_the_escalation_analysis_finds_nothing_in_any_policy(deployed, form):
    for role, policies in deployed[form].items():
        for document in policies:
            # Every role here counts as Studio-reachable (unknown keys do), the strictest reading.
            assert findings(document, f"stage-access:{role}") == [], role


def test_the_escalation_analysis_finds_the_old_deploy_role_statement():
    old = {"Version": "2012-10-17", "Statement": [OLD_MANAGE_STAGE_ROLES]}
    found = findings(old, "codebuild")
    assert any("iam:CreateRole" in line for line in found), found
    assert any("iam:UpdateAssumeRolePolicy" in line for line in found), found
    assert any("iam:PassRole" in line for line in found), found
