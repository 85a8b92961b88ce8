"""Cross-account reads of a multi-account project: a stage account's role reading the model, the
platform key and the model package of the tooling account is allowed only when the stage role's
identity policies AND the tooling account's resource policy allow it (authz.crossaccount).

The real pieces come from one bake of the deploy repository (authz.stages.stage_stacks: its own
stacks.py and model_registry.py compute the stage-access parameters and the group policy the deploy
step puts), the product's bucket policy and the portfolio's key policy; each test then removes one
side and expects the read to be denied.
"""

from __future__ import annotations

import json

import pytest

from authz import crossaccount, stages
from authz.check import Ledger
from authz.evaluate import Request, decide
from authz.roles import Role, stage_access_roles, without_statement

STAGE = "222222222222"
OTHER = "333333333333"
ROLE = f"arn:aws:iam::{STAGE}:role/sagemaker-p-1-prod-endpoint"
OBJECT = "arn:aws:s3:::sagemaker-project-p-1/proj/model.tar.gz"
READS_BUCKET = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::sagemaker-project-p-1/*"}],
}


def _role(*policies: dict) -> Role:
    return Role(
        name="sagemaker-p-1-prod-endpoint",
        arn_path="",
        trusted_service="sagemaker.amazonaws.com",
        policies=list(policies),
    )


def _bucket_policy(principal: object, **condition: dict) -> dict:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": OBJECT}
    return {"Version": "2012-10-17", "Statement": [{**statement, **({"Condition": condition} if condition else {})}]}


# --- the evaluator: both sides, known answers of the IAM User Guide -----------------------------


@pytest.mark.parametrize(
    ("principal", "named"),
    [
        ("*", True),
        ({"AWS": STAGE}, True),
        ({"AWS": f"arn:aws:iam::{STAGE}:root"}, True),
        ({"AWS": [OTHER, ROLE]}, True),
        ({"AWS": OTHER}, False),
        ({"AWS": f"arn:aws:iam::{STAGE}:role/someone-else"}, False),
        ({"Service": "sagemaker.amazonaws.com"}, False),
    ],
)
def test_a_resource_policy_statement_applies_to_the_principals_it_names(principal, named):
    assert crossaccount.names_principal(principal, ROLE) is named


def test_a_read_is_allowed_when_both_sides_allow_it():
    decision = crossaccount.decide_across(
        _role(READS_BUCKET), ROLE, _bucket_policy({"AWS": STAGE}), Request("s3:GetObject", OBJECT)
    )
    assert decision.allowed, decision.reason


def test_a_read_is_denied_without_the_resource_policy_grant():
    decision = crossaccount.decide_across(
        _role(READS_BUCKET), ROLE, _bucket_policy({"AWS": OTHER}), Request("s3:GetObject", OBJECT)
    )
    assert not decision.allowed and "resource policy missing" in decision.reason


def test_a_read_is_denied_without_the_identity_grant():
    nothing = {"Version": "2012-10-17", "Statement": []}
    decision = crossaccount.decide_across(
        _role(nothing), ROLE, _bucket_policy({"AWS": STAGE}), Request("s3:GetObject", OBJECT)
    )
    assert not decision.allowed and "identity missing" in decision.reason


def test_an_explicit_deny_in_the_resource_policy_wins():
    policy = _bucket_policy({"AWS": STAGE})
    policy["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": OBJECT})
    decision = crossaccount.decide_across(_role(READS_BUCKET), ROLE, policy, Request("s3:GetObject", OBJECT))
    assert not decision.allowed and "explicit deny" in decision.reason


def test_the_resource_policy_conditions_see_the_callers_role_arn():
    narrowed = _bucket_policy({"AWS": STAGE}, ArnLike={"aws:PrincipalArn": "arn:aws:iam::*:role/sagemaker-p-1-prod-*"})
    assert crossaccount.decide_across(_role(READS_BUCKET), ROLE, narrowed, Request("s3:GetObject", OBJECT)).allowed
    stranger = f"arn:aws:iam::{STAGE}:role/sagemaker-p-2-prod-endpoint"
    assert not crossaccount.decide_across(
        _role(READS_BUCKET), stranger, narrowed, Request("s3:GetObject", OBJECT)
    ).allowed


def test_a_read_over_plain_http_is_denied_by_the_tls_only_statement():
    policy = crossaccount.bucket_policy([STAGE])
    grant = next(s for s in policy["Statement"] if s["Sid"] == "StageAccountsReadProjectObjects")
    model = grant["Resource"].replace("/*", "/model.tar.gz")
    role = f"arn:aws:iam::{STAGE}:role/" + grant["Condition"]["ArnLike"]["aws:PrincipalArn"][1].split("/")[-1].replace(
        "*", "endpoint"
    )
    reads = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": model}]}
    assert crossaccount.decide_across(_role(reads), role, policy, Request("s3:GetObject", model)).allowed
    plain = Request("s3:GetObject", model, {"aws:SecureTransport": "false"})
    decision = crossaccount.decide_across(_role(reads), role, policy, plain)
    assert not decision.allowed and "explicit deny" in decision.reason


# --- the real templates and the deploy step's group policy --------------------------------------


@pytest.fixture(scope="module")
def stage(tmp_path_factory) -> dict:
    """The prod stage of a multi-account bake, as authz.stages evaluates it."""
    _project, by_combination = stages.stage_stacks(tmp_path_factory.mktemp("crossaccount"))
    entries = [entry for entries in by_combination.values() for entry in entries if entry.get("tooling")]
    prod = [entry for entry in entries if entry["stage"] == "prod"]
    assert prod, "no multi-account stage among the supported deploy combinations"
    lambda_entry = next(entry for entry in prod if entry["part"] == "lambda")
    code = f"s3://{lambda_entry['Parameters']['CodeS3Bucket']}/{lambda_entry['Parameters']['CodeS3Key']}"
    monitoring = next(entry for entry in prod if entry["part"] == "monitoring")["Parameters"]
    objects = tuple(
        monitoring[name] for name in ("BaselineStatisticsUri", "BaselineConstraintsUri", "ModelQualityConstraintsUri")
    )
    if monitoring.get("Engine") == "processing":  # the job's code, a processing input's prefix
        objects += (monitoring["MonitorCodeUri"], monitoring["MonitorCodeUri"] + "mlops_template_kit/__init__.py")
    return {**prod[0], "function_code": code, "monitoring_objects": objects, "entries": prod}


def _ask(stage: dict, roles: dict[str, Role], policies: dict[str, dict | None]) -> dict[tuple[str, str, str], bool]:
    """Every tooling read of the stage -> allowed?"""
    answers = {}
    for role, action, resource, context, policy in crossaccount.tooling_reads(
        stage["tooling"]["model"],
        stages.ARTIFACT_KEY,
        stage["account"],
        stage["function_code"],
        stage["monitoring_objects"],
    ):
        principal = roles[role].arn(stage["account"])
        decision = crossaccount.decide_across(
            roles[role], principal, policies[policy], Request(action, resource, context)
        )
        answers[(role, action, resource)] = decision.allowed
    return answers


def _policies(stage: dict) -> dict[str, dict | None]:
    account = stage["account"]
    return {
        "bucket": crossaccount.bucket_policy([account]),
        "key": crossaccount.key_policy([account]),
        "group": stage["tooling"]["group_policy"],
    }


def test_every_tooling_read_of_a_stage_in_its_own_account_is_allowed(stage):
    answers = _ask(stage, stage_access_roles(stage["access"]), _policies(stage))
    actions = {(role, action) for role, action, _resource in answers}
    assert {
        ("stage-endpoint", "s3:GetObject"),
        ("stage-batch-pipeline", "s3:GetObject"),
        ("stage-cloudformation", "s3:GetObject"),
        ("stage-endpoint", "kms:Decrypt"),
        ("stage-cloudformation", "sagemaker:DescribeModelPackage"),
        ("stage-monitoring", "s3:GetObject"),
        ("stage-monitoring", "kms:Decrypt"),
    } <= actions
    assert all(answers.values()), [key for key, allowed in answers.items() if not allowed]


def _denied(answers: dict, action: str) -> set[str]:
    return {role for (role, asked, _resource), allowed in answers.items() if asked == action and not allowed}


def test_without_the_bucket_grant_no_stage_role_reads_the_model(stage):
    policies = {**_policies(stage), "bucket": crossaccount.bucket_policy([])}
    answers = _ask(stage, stage_access_roles(stage["access"]), policies)
    readers = {"stage-endpoint", "stage-batch-pipeline", "stage-cloudformation", "stage-monitoring"}
    assert _denied(answers, "s3:GetObject") == readers


def test_a_bucket_grant_to_another_account_does_not_reach_this_stage(stage):
    policies = {**_policies(stage), "bucket": crossaccount.bucket_policy([OTHER])}
    answers = _ask(stage, stage_access_roles(stage["access"]), policies)
    assert "stage-endpoint" in _denied(answers, "s3:GetObject")


def test_without_the_stage_identity_statement_the_model_is_not_read(stage):
    roles = without_statement(stage_access_roles(stage["access"]), "ReadModelArtifacts")
    answers = _ask(stage, roles, _policies(stage))
    assert "stage-endpoint" in _denied(answers, "s3:GetObject")


def test_without_the_key_grant_the_model_cannot_be_decrypted(stage):
    policies = {**_policies(stage), "key": crossaccount.key_policy([])}
    answers = _ask(stage, stage_access_roles(stage["access"]), policies)
    decrypters = {"stage-endpoint", "stage-batch-pipeline", "stage-cloudformation", "stage-monitoring"}
    assert _denied(answers, "kms:Decrypt") == decrypters


def test_without_the_stage_decrypt_statement_the_model_cannot_be_decrypted(stage):
    roles = without_statement(stage_access_roles(stage["access"]), "DecryptArtifactsThroughS3")
    answers = _ask(stage, roles, _policies(stage))
    decrypters = {"stage-endpoint", "stage-batch-pipeline", "stage-cloudformation", "stage-monitoring"}
    assert _denied(answers, "kms:Decrypt") == decrypters


def test_without_its_identity_statement_monitoring_reads_no_baseline(stage):
    roles = without_statement(stage_access_roles(stage["access"]), "ReadBaselines")
    answers = _ask(stage, roles, _policies(stage))
    assert _denied(answers, "s3:GetObject") == {"stage-monitoring"}


def test_without_the_group_policy_the_package_is_not_read(stage):
    answers = _ask(stage, stage_access_roles(stage["access"]), {**_policies(stage), "group": None})
    assert _denied(answers, "sagemaker:DescribeModelPackage") == set(crossaccount.PACKAGE_READERS)


def test_without_the_stage_package_statements_the_package_is_not_read(stage):
    roles = without_statement(stage_access_roles(stage["access"]), "ReadApprovedModelPackages")
    roles = without_statement(roles, "ReadApprovedModel")
    answers = _ask(stage, roles, _policies(stage))
    assert _denied(answers, "sagemaker:DescribeModelPackage") == set(crossaccount.PACKAGE_READERS)


def test_the_group_policy_names_only_the_stage_account(stage):
    statements = stage["tooling"]["group_policy"]["Statement"]
    assert [s["Principal"] for s in statements] == [{"AWS": f"arn:aws:iam::{stage['account']}:root"}]
    assert json.dumps(statements).count(stage["tooling"]["model"]["group"].lower()) >= 1


def test_the_ledger_counts_cross_account_questions_and_reports_their_denials(stage):
    ledger = Ledger()
    assert stages.check_tooling_reads(ledger, stage["entries"]) == 1
    assert len(ledger.cross_account) == len(
        crossaccount.tooling_reads(
            stage["tooling"]["model"],
            stages.ARTIFACT_KEY,
            stage["account"],
            stage["function_code"],
            stage["monitoring_objects"],
        )
    )
    assert ledger.denials() == []
    no_group_policy = {**stage["tooling"], "group_policy": {"Version": "2012-10-17", "Statement": []}}
    stages.check_tooling_reads(ledger, [{**entry, "tooling": no_group_policy} for entry in stage["entries"]])
    denied = {denial.action for denial in ledger.denials()}
    assert denied == {"sagemaker:DescribeModelPackage"}


def test_the_stage_roles_decrypt_only_through_s3(stage):
    roles = stage_access_roles(stage["access"])
    direct = Request("kms:Decrypt", stages.ARTIFACT_KEY, {"kms:CallerAccount": stage["account"]})
    through_s3 = Request("kms:Decrypt", stages.ARTIFACT_KEY, {"kms:ViaService": "s3.us-east-1.amazonaws.com"})
    for key in ("stage-endpoint", "stage-batch-pipeline", "stage-cloudformation"):
        assert not decide(roles[key].policies, direct).allowed, key
        assert decide(roles[key].policies, through_s3).allowed, key


def test_without_stage_accounts_the_bucket_policy_grants_no_other_account():
    statements = crossaccount.bucket_policy([])["Statement"]
    assert [s["Sid"] for s in statements] == ["DenyInsecureTransport"]


def test_the_processing_monitor_lists_its_code_only_through_the_bucket_list_grant(stage):
    assert any(url.endswith("/") for url in stage["monitoring_objects"]), "the shipped engine is processing"
    answers = _ask(stage, stage_access_roles(stage["access"]), _policies(stage))
    listed = {key: allowed for key, allowed in answers.items() if key[1] == "s3:ListBucket"}
    assert listed and all(listed.values())
    policies = _policies(stage)
    policies["bucket"] = {
        **policies["bucket"],
        "Statement": [s for s in policies["bucket"]["Statement"] if s.get("Sid") != "StageAccountsListProjectObjects"],
    }
    assert _denied(_ask(stage, stage_access_roles(stage["access"]), policies), "s3:ListBucket") == {"stage-monitoring"}
