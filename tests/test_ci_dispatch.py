"""servicecatalog/ci-dispatch.yaml: an approved model version reaches the deploy repository's CI on
GitHub (repository_dispatch `model-approved`) or GitLab (pipeline trigger).

The event pattern is matched and the input transformer rendered by moto's EventBridge (a rule with
the stack's pattern and target input, delivering to an SQS queue in place of the API destination);
the target role is evaluated with the repository's IAM evaluator; the authorization harness covers
the stack's resources (tests/test_authz_products.py, platform stacks)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from authz import escalation, provision
from authz.check import Ledger
from authz.evaluate import Request, decide
from authz.stack import ACCOUNT, PARTITION, REGION, pseudo_parameters, resolved_resources, stack_needs
from authz.template import resolve
from scripts import catalog, products

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_TRIGGER = ROOT / "templates/deploy/{{cookiecutter.__repo_dir}}/app_infra/event_bridge/model_approval.yaml"
GROUP = "churn-p-abc123"
VERSION_ID = "a1b2c3d4-5678-90ab-cdef-0123456789ab"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:sagemaker-p-abc123-ci-token-AbCdEf"
RULE_ARN = f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/sagemaker-p-abc123-model-approved-dispatch"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/3"


@pytest.fixture(scope="module")
def stack() -> dict:
    return products.load_cloudformation(products.CI_DISPATCH_FILE.read_text(encoding="utf-8"))


def given(platform: str, **overrides: str) -> dict[str, str]:
    values = {
        "Platform": platform,
        "ProjectId": "p-abc123",
        "ModelPackageGroupName": GROUP,
        "DeployRepository": "acme/churn-deploy",
        "MainBranch": "main",
        "GitLabUrl": "https://gitlab.com",
        "TokenSecretArn": SECRET,
        "TokenSecretVersionId": VERSION_ID,
    }
    return {**pseudo_parameters("sagemaker-p-abc123-ci-dispatch"), **values, **overrides}


def built(stack: dict, platform: str, **overrides: str) -> dict[str, dict]:
    """Resource name -> properties, as CloudFormation creates them (physical names and ARNs)."""
    return {name: props for name, (_, props) in resolved_resources(stack, given(platform, **overrides)).items()}


def target(resources: dict[str, dict]) -> dict:
    (only,) = resources["ModelApprovedDispatchRule"]["Targets"]
    return only


# --- which events are sent: the products' pattern, one source ------------------------------------


def test_the_rule_uses_the_event_pattern_of_the_codepipeline_trigger(stack):
    """Three rules start a deploy on approval (the Studio product's, the deploy repo's own
    `make deploy-trigger` stack, this one); their patterns must stay the same."""
    ours = built(stack, "github")["ModelApprovedDispatchRule"]["EventPattern"]
    product = products.compose(next(p for p in catalog.products() if p.key == "deploy"))
    theirs = resolve(
        product["Resources"]["ModelApprovedRule"]["Properties"]["EventPattern"],
        product,
        {"ModelPackageGroupName": GROUP},
    )
    repo = products.load_cloudformation(DEPLOY_TRIGGER.read_text(encoding="utf-8"))
    deploy_repo = resolve(
        repo["Resources"]["ModelApprovedRule"]["Properties"]["EventPattern"], repo, {"ModelPackageGroupName": GROUP}
    )
    assert ours == theirs == deploy_repo
    assert ours["detail"] == {"ModelPackageGroupName": [GROUP], "ModelApprovalStatus": ["Approved"]}


def state_change(group: str = GROUP, status: str = "Approved") -> dict:
    """A SageMaker Model Package State Change event as put on the default bus."""
    detail = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": 3,
        "ModelPackageArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group.lower()}/3",
        "ModelApprovalStatus": status,
    }
    return {
        "Source": "aws.sagemaker",
        "DetailType": "SageMaker Model Package State Change",
        "Detail": json.dumps(detail),
    }


def sent(rule: dict, event: dict) -> list[dict]:
    """What moto's EventBridge delivers for the event through a rule with this pattern and the
    stack's target input (an SQS queue stands in for the API destination, which moto cannot call)."""
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="dispatched")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="under-test", EventPattern=json.dumps(rule["EventPattern"]))
        (stack_target,) = rule["Targets"]
        events.put_targets(
            Rule="under-test",
            Targets=[{"Id": "queue", "Arn": arn, "InputTransformer": stack_target["InputTransformer"]}],
        )
        events.put_events(Entries=[event])
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


@pytest.mark.parametrize("platform", ["github", "gitlab"])
def test_only_an_approved_version_of_the_projects_group_is_sent(stack, platform):
    rule = built(stack, platform)["ModelApprovedDispatchRule"]
    assert len(sent(rule, state_change())) == 1
    assert sent(rule, state_change(status="Rejected")) == []
    assert sent(rule, state_change(status="PendingManualApproval")) == []
    assert sent(rule, state_change(group="other-p-0000000000")) == []
    other_kind = {**state_change(), "DetailType": "SageMaker Endpoint Deployment State Change"}
    assert sent(rule, other_kind) == []


# --- what is sent ----------------------------------------------------------------------------------


def test_github_gets_a_model_approved_repository_dispatch_with_the_package_arn(stack):
    (body,) = sent(built(stack, "github")["ModelApprovedDispatchRule"], state_change())
    # https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event: event_type
    # (1-100 characters) and client_payload (at most 10 top-level properties).
    assert body == {
        "event_type": "model-approved",
        "client_payload": {
            "model_package_arn": PACKAGE_ARN,
            "model_package_group_name": GROUP,
            "model_package_version": 3,
        },
    }
    assert len(body["client_payload"]) <= 10


def test_gitlab_gets_a_trigger_request_for_the_main_branch_with_the_package_arn(stack):
    (body,) = sent(built(stack, "gitlab", MainBranch="release")["ModelApprovedDispatchRule"], state_change())
    # lib/api/ci/triggers.rb: ref (required) and variables, a map of strings only.
    assert body == {"ref": "release", "variables": {"MODEL_PACKAGE_ARN": PACKAGE_ARN}}
    assert all(isinstance(value, str) for value in body["variables"].values())


def test_a_template_that_renders_invalid_json_is_caught(stack):
    """The check above is real: an unquoted string placeholder makes the body invalid JSON."""
    rule = built(stack, "github")["ModelApprovedDispatchRule"]
    broken = json.loads(json.dumps(rule))
    transformer = broken["Targets"][0]["InputTransformer"]
    transformer["InputTemplate"] = transformer["InputTemplate"].replace('"<arn>"', "<arn>")
    with pytest.raises(json.JSONDecodeError):
        sent(broken, state_change())


# --- where it is sent, and with what ---------------------------------------------------------------


def test_github_destination_connection_and_headers(stack):
    resources = built(stack, "github")
    destination = resources["ApiDestination"]
    assert destination["InvocationEndpoint"] == "https://api.github.com/repos/acme/churn-deploy/dispatches"
    assert destination["HttpMethod"] == "POST"
    assert destination["InvocationRateLimitPerSecond"] == 1
    auth = resources["Connection"]["AuthParameters"]
    assert resources["Connection"]["AuthorizationType"] == "API_KEY"
    assert auth["ApiKeyAuthParameters"] == {
        "ApiKeyName": "Authorization",
        "ApiKeyValue": f"Bearer {{{{resolve:secretsmanager:{SECRET}:SecretString:::{VERSION_ID}}}}}",
    }
    headers = {h["Key"]: h["Value"] for h in auth["InvocationHttpParameters"]["HeaderParameters"]}
    assert headers == {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


@pytest.mark.parametrize(
    "repository,encoded",
    [("acme/churn-deploy", "acme%2Fchurn-deploy"), ("acme/ml/churn-deploy", "acme%2Fml%2Fchurn-deploy")],
)
def test_gitlab_destination_names_the_url_encoded_project_and_the_token_is_a_secret_parameter(
    stack, repository, encoded
):
    resources = built(stack, "gitlab", DeployRepository=repository, GitLabUrl="https://git.example.com")
    assert resources["ApiDestination"]["InvocationEndpoint"] == (
        f"https://git.example.com/api/v4/projects/{encoded}/trigger/pipeline"
    )
    auth = resources["Connection"]["AuthParameters"]
    (token,) = auth["InvocationHttpParameters"]["QueryStringParameters"]
    assert token == {
        "Key": "token",
        "Value": f"{{{{resolve:secretsmanager:{SECRET}:SecretString:::{VERSION_ID}}}}}",
        "IsValueSecret": True,
    }
    # The API key slot GitLab ignores holds no secret.
    assert auth["ApiKeyAuthParameters"] == {"ApiKeyName": "X-SageMaker-Project-Id", "ApiKeyValue": "p-abc123"}


@pytest.mark.parametrize(
    "token",
    ["github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRS", "glptt-" + "0" * 40],
)
def test_no_parameter_accepts_the_token_itself(stack, token):
    """The token is read from Secrets Manager by CloudFormation: the two parameters that name it
    take an ARN and a version id (a UUID), so a token pasted there is refused, not stored."""
    assert "NoEcho" not in json.dumps(stack["Parameters"])
    for name in ("TokenSecretArn", "TokenSecretVersionId"):
        assert not re.fullmatch(stack["Parameters"][name]["AllowedPattern"], token), name
    assert re.fullmatch(stack["Parameters"]["TokenSecretVersionId"]["AllowedPattern"], VERSION_ID)
    assert re.fullmatch(stack["Parameters"]["TokenSecretArn"]["AllowedPattern"], SECRET)


def test_the_token_is_kept_under_the_stacks_key_which_eventbridge_may_use(stack):
    """EventBridge uses a customer managed key for a connection only when the key carries the tag
    EventBridgeApiDestinations=true (EventBridge user guide, "Encrypting connections")."""
    assert stack["Resources"]["Connection"]["Properties"]["KmsKeyIdentifier"] == {"Fn::GetAtt": ["DispatchKey", "Arn"]}
    tags = {tag["Key"]: tag["Value"] for tag in built(stack, "github")["DispatchKey"]["Tags"]}
    assert tags["EventBridgeApiDestinations"] == "true"


# --- nothing is lost silently ----------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["github", "gitlab"])
def test_failed_dispatches_are_retried_for_a_day_then_kept_in_an_encrypted_queue(stack, platform):
    resources = built(stack, platform)
    sent_to = target(resources)
    assert sent_to["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:sagemaker-p-abc123-model-approved-dispatch-dlq"
    assert sent_to["DeadLetterConfig"] == {"Arn": queue_arn}
    # The stack's own key (its id and ARN are generated; the harness stands in for them).
    assert stack["Resources"]["DeadLetterQueue"]["Properties"]["KmsMasterKeyId"] == {"Ref": "DispatchKey"}
    assert resources["DispatchKey"]["EnableKeyRotation"] is True
    # Only this rule may write to the queue and use the key (EventBridge user guide, "Using
    # dead-letter queues to process undelivered events").
    policy = resources["DeadLetterQueuePolicy"]["PolicyDocument"]
    send = Request("sqs:SendMessage", queue_arn, {"aws:SourceArn": RULE_ARN, "aws:SecureTransport": "true"})
    assert decide([policy], send).allowed
    other = Request("sqs:SendMessage", queue_arn, {"aws:SourceArn": RULE_ARN + "-x", "aws:SecureTransport": "true"})
    assert not decide([policy], other).allowed
    plain = Request("sqs:SendMessage", queue_arn, {"aws:SourceArn": RULE_ARN, "aws:SecureTransport": "false"})
    assert not decide([policy], plain).allowed
    (events_statement,) = [
        s for s in resources["DispatchKey"]["KeyPolicy"]["Statement"] if s["Principal"].get("Service")
    ]
    assert events_statement["Condition"] == {"ArnEquals": {"aws:SourceArn": RULE_ARN}}


# --- the role EventBridge calls the destination with ------------------------------------------------


def dispatch_role(stack: dict, platform: str = "github") -> tuple[dict, dict]:
    """The target role's trust policy and its one inline policy."""
    role = built(stack, platform)["DispatchRole"]
    (policy,) = role["Policies"]
    return role["AssumeRolePolicyDocument"], policy["PolicyDocument"]


DESTINATION = f"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/sagemaker-p-abc123-model-approved/"


def test_the_target_role_may_invoke_its_destination_and_nothing_else(stack):
    _, policy = dispatch_role(stack)
    (statement,) = policy["Statement"]
    assert statement["Action"] == "events:InvokeApiDestination"
    destination = statement["Resource"]
    assert destination.startswith(DESTINATION)
    assert decide([policy], Request("events:InvokeApiDestination", destination)).allowed
    refused = [
        ("events:InvokeApiDestination", f"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/other/0a1b"),
        ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"),
        ("secretsmanager:GetSecretValue", SECRET),
        ("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:sagemaker-p-abc123-model-approved-dispatch-dlq"),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/sagemaker-p-abc123-model-approved-dispatch"),
        ("sagemaker:UpdateModelPackage", PACKAGE_ARN),
    ]
    for action, resource in refused:
        assert not decide([policy], Request(action, resource)).allowed, action
    assert escalation.findings(policy, "ci-dispatch") == []


def test_only_the_dispatch_rule_may_assume_the_target_role(stack):
    trust, _ = dispatch_role(stack)
    role = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-p-abc123-model-approved-dispatch"
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert decide([trust], Request("sts:AssumeRole", role, {"aws:SourceArn": RULE_ARN})).allowed
    another_rule = RULE_ARN.replace("p-abc123", "p-other1")
    assert not decide([trust], Request("sts:AssumeRole", role, {"aws:SourceArn": another_rule})).allowed
    assert not decide([trust], Request("sts:AssumeRole", role, {})).allowed


def test_a_wider_target_policy_is_caught(stack):
    """The checks above are real: a policy that also sends events fails them."""
    _, policy = dispatch_role(stack)
    wider = json.loads(json.dumps(policy))
    wider["Statement"][0]["Action"] = ["events:InvokeApiDestination", "events:PutEvents"]
    wider["Statement"][0]["Resource"] = "*"
    assert decide([wider], Request("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default")).allowed


def test_names_fit_eventbridge_and_iam_at_the_longest_project_id(stack):
    """Rules, connections and API destinations hold 64 characters; IAM role and SQS queue names 64 and 80."""
    resources = built(stack, "gitlab", ProjectId="p-" + "a" * 18)
    assert len(resources["ModelApprovedDispatchRule"]["Name"]) <= 64
    assert len(resources["Connection"]["Name"]) <= 64
    assert len(resources["ApiDestination"]["Name"]) <= 64
    assert len(resources["DispatchRole"]["RoleName"]) <= 64
    assert len(resources["DeadLetterQueue"]["QueueName"]) <= 80


# --- who may deploy it -----------------------------------------------------------------------------


def _with_samples(template: dict) -> dict:
    samples = {name: value for name, value in given("github").items() if "::" not in name}
    for name, spec in template["Parameters"].items():
        spec.setdefault("Default", samples.get(name))
    return template


def test_the_platform_administrator_deploys_it_and_a_product_could_not(stack):
    """A platform stack: the administrator's evaluation has no denial (tests/test_authz_products.py
    covers it among the platform stacks), while the SageMaker projects' launch role, which cannot
    create IAM roles or connections, would be refused: it can never ship inside a product."""
    admin = Ledger()
    admin.roles.setdefault(provision.PLATFORM_ADMIN, provision.ADMIN_ROLE)
    template = _with_samples(json.loads(json.dumps(stack)))
    assert provision.check_template(admin, provision.PLATFORM_ADMIN, template, "ci-dispatch", "stack") == 2
    assert admin.denials() == [] and admin.escalations() == []
    launch = Ledger()
    provision.check_template(launch, provision.LAUNCH, template, "ci-dispatch", "SC-stack")
    refused = {denial.action for denial in launch.denials()}
    assert {"iam:CreateRole", "events:CreateConnection", "events:CreateApiDestination"} <= refused


def test_the_harness_asks_for_the_token_secret_the_connection_secret_and_the_key(stack):
    """CloudFormation reads the token with the deployer's credentials and EventBridge writes its own
    copy under the stack's key: those calls are what the harness evaluates for the connection."""
    asked = {
        (need.phase, need.action, need.resource)
        for need in stack_needs(stack, given("gitlab"), "t")
        if "(AWS::Events::Connection)" in need.where
    }
    connection_secret = (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:events!connection/sagemaker-p-abc123-gitlab-dispatch/*"
    )
    assert ("create", "secretsmanager:GetSecretValue", SECRET) in asked
    assert ("update", "secretsmanager:GetSecretValue", SECRET) in asked
    assert ("create", "secretsmanager:CreateSecret", connection_secret) in asked
    assert {action for phase, action, resource in asked if ":key/" in resource} >= {
        "kms:DescribeKey",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
