"""The deploy repository's stage stacks, for every supported deploy option combination, evaluated
against the role that creates them (authz.stages.STAGE_STACK_ROLE); and `python -m authz`."""

from __future__ import annotations

import json
import sys
import types

import pytest

from authz import __main__ as command
from authz import runtime, stages
from authz.check import Ledger
from authz.stack import WORST_ID
from tests import bakery


@pytest.fixture(scope="module")
def evaluated() -> tuple[Ledger, int]:
    ledger = Ledger()
    return ledger, stages.check_stage_stacks(ledger)


def test_every_supported_deploy_combination_is_evaluated(evaluated):
    ledger, combinations = evaluated
    # Each combination with a monitored endpoint is checked again with the other monitoring engine.
    supported = len(bakery.supported("deploy"))
    assert supported < combinations <= 2 * supported
    parts = {where.split()[1] for where in ledger.resources}
    # The trigger stack asks no product role (test below): its resources are not among those checked.
    assert {"endpoint", "lambda", "api", "batch", "batch-schedule", "monitoring"} <= parts
    assert any("MonitoringPipeline" in where for where in ledger.resources)


def test_stage_stacks_are_created_and_deleted_by_the_stage_stack_role(evaluated):
    ledger, _ = evaluated
    # The account-wide service role, and for stages in their own account that stage's service role.
    assert {key[0] for key in ledger.decisions if key[0].startswith(stages.STAGE_STACK_ROLE)} == {
        stages.STAGE_STACK_ROLE,
        f"{stages.STAGE_STACK_ROLE}@staging-account",
        f"{stages.STAGE_STACK_ROLE}@prod-account",
    }
    denied = [denial.line() for denial in ledger.denials() if denial.role.startswith(stages.STAGE_STACK_ROLE)]
    assert not denied, f"{len(denied)} denied:\n" + "\n".join(denied)


def test_the_trigger_stack_asks_no_product_role(evaluated):
    """A person deploys it once, only without the project product: no product role creates it."""
    ledger, _ = evaluated
    assert stages.TRIGGER_STACK_ROLE is None
    assert not [key for key, places in ledger.places.items() if any("deploy-trigger" in p for p in places)]


def test_stage_access_policies_of_both_forms_reach_the_escalation_check(evaluated):
    ledger, _ = evaluated
    places = {where for _role, where in ledger.policies.values()}
    for form in ("every project", "staging account", "prod account"):
        for name in ("StageDeployPolicy", "StageFoundationPolicy", "StageServicesPolicy", "EndpointRole", "InvokeRole"):
            assert f"stage-access ({form}) {name}" in places
    assert ledger.escalations() == []


# deploy_role.yaml before D8 (Sid ManageStageRoles): the deploy principal created and passed stage roles.
MANAGE_STAGE_ROLES = """          - Sid: ManageStageRoles
            Effect: Allow
            Action: [iam:CreateRole, iam:DeleteRole, iam:UpdateAssumeRolePolicy, iam:PutRolePolicy, iam:PassRole]
            Resource: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/sagemaker-${ProjectId}-${StageName}-*"
"""


def test_the_old_stage_role_grant_in_stage_access_is_an_escalation(tmp_path, monkeypatch):
    from authz import roles

    text = roles.STAGE_ACCESS.read_text(encoding="utf-8")
    anchor = "          - Sid: DeployStageStacksThroughServiceRole\n"
    assert text.count(anchor) == 1
    changed = tmp_path / "stage_access.yaml"
    changed.write_text(text.replace(anchor, MANAGE_STAGE_ROLES + anchor), encoding="utf-8")
    monkeypatch.setattr(roles, "STAGE_ACCESS", changed)
    ledger = Ledger()
    stages.check_stage_access(ledger, "every project", roles.EVERY_PROJECT_STAGE_ACCESS)
    found = ledger.escalations()
    assert any(
        line.startswith("ESCALATION codebuild ")
        and "iam:CreateRole" in line
        and line.endswith("<- stage-access (every project) StageDeployPolicy")
        for line in found
    ), found
    assert any("iam:UpdateAssumeRolePolicy" in line for line in found)


def test_configurations_render_as_cookiecutter_renders_them():
    batch_only = stages.rendered_configs({"inference_mode": "batch", "api_gateway": "no"})
    assert set(batch_only) == {"staging", "prod"}
    assert "batch" in batch_only["prod"] and "realtime" not in batch_only["prod"]
    accounts = bakery.COMPANION_ANSWERS[("multi_account", "yes")]
    multi = stages.rendered_configs({"multi_account": "yes", **accounts})
    assert multi["staging"]["account"]["id"] == accounts["staging_account_id"]


def test_stack_tags_reach_taggable_resources(evaluated):
    ledger, _ = evaluated
    stage_tagged = [
        dict(key[3])
        for key in ledger.decisions
        if key[1] == "s3:CreateBucket" and key[2].endswith(f"{WORST_ID}-prod-datacapture")
    ]
    assert stage_tagged and all(
        tags.get("aws:RequestTag/sagemaker:deployment-stage") == "prod" for tags in stage_tagged
    )


# --- python -m authz -------------------------------------------------------------------------


def _write(folder, lines: list[str]) -> None:
    folder.mkdir(parents=True)
    (folder / "e2e.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_recorded_calls_are_checked_against_their_role(tmp_path):
    call = {"role": "codebuild", "action": "iam:CreateRole", "resource": "arn:aws:iam::123456789012:role/x"}
    _write(tmp_path / "calls", [json.dumps({**call, "context": {}, "source": "build_spec.yml"})])
    ledger = Ledger()
    recorded = runtime.read(tmp_path / "calls", set(ledger.roles))
    command.check_calls(ledger, recorded)
    assert recorded.checked == 1
    assert [(d.role, d.action, d.where) for d in ledger.denials()] == [
        ("codebuild", "iam:CreateRole", ("run-time build_spec.yml",))
    ]


class _Recorder(types.ModuleType):
    """Stands in for authz.calls (the recorder's attribution and IAM mapping, on another branch)."""

    NOT_EVALUATED = {"publisher"}

    def __init__(self):
        super().__init__("authz.calls")

    @staticmethod
    def attribute(call):
        role = None if call["stack"][0].startswith("tests/") else call["role"]
        return types.SimpleNamespace(role=role)

    @staticmethod
    def requests(call):
        if call["operation"] == "Unmapped":
            raise ValueError("sagemaker:Unmapped is not an IAM action: map the operation")
        action = f"{call['service']}:{call['operation']}"
        return [types.SimpleNamespace(action=action, resource="*", context={"aws:TagKeys": ["k"]})]

    @staticmethod
    def where(call):
        return call["stack"][0]


def test_raw_recordings_are_attributed_and_mapped_by_the_recorder_module(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "authz.calls", _Recorder())
    raw = {"role": "lambda", "service": "iam", "operation": "CreateUser", "params": {}, "stack": ["app_infra/x.py:1"]}
    setup = {**raw, "stack": ["tests/test_x.py:3"]}
    publisher = {**raw, "role": "publisher"}
    _write(tmp_path / "calls", [json.dumps(raw), json.dumps(setup), json.dumps(publisher)])
    ledger = Ledger()
    recorded = runtime.read(tmp_path / "calls", set(ledger.roles))
    assert (recorded.checked, recorded.skipped) == (1, 2)
    assert recorded.requests == [
        runtime.Call("lambda", "iam:CreateUser", "*", (("aws:TagKeys", ("k",)),), "run-time app_infra/x.py:1")
    ]
    unmapped = {**raw, "operation": "Unmapped"}
    _write(tmp_path / "bad", [json.dumps(unmapped)])
    with pytest.raises(runtime.BadInput, match=r"e2e.jsonl:1: sagemaker:Unmapped is not an IAM action"):
        runtime.read(tmp_path / "bad", set(ledger.roles))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ('{"role": "codebuild", "action": "s3:GetObject"}', "expected a mapped call"),
        ('{"role": "root", "action": "a", "resource": "*", "context": {}, "source": "s"}', "unknown role 'root'"),
    ],
)
def test_a_bad_call_record_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, line, message):
    _write(tmp_path / "calls", [line])
    monkeypatch.setattr(command, "CALLS_DIR", tmp_path / "calls")
    assert command.main() == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err and "e2e.jsonl:1" in err


def test_the_command_prints_one_summary_and_fails_on_a_denial(tmp_path, monkeypatch, capsys):
    record = {"role": "lambda", "action": "iam:CreateUser", "resource": "*", "context": {}, "source": "handler"}
    _write(tmp_path / "calls", [json.dumps(record)])
    monkeypatch.setattr(command, "CALLS_DIR", tmp_path / "calls")
    # The template evaluations have their own tests; here only the report and the exit status.
    monkeypatch.setattr(command.provision, "check_products", lambda ledger: {"p": 2})
    monkeypatch.setattr(command.provision, "check_portfolio", lambda ledger: 1)
    monkeypatch.setattr(command.stages, "check_stage_stacks", lambda ledger: 3)
    assert command.main() == 1
    out = capsys.readouterr().out
    labels = ("products:", "resources checked:", "actions checked:", "cross-account requests checked: 0", "denied:")
    for label in (*labels, "run-time calls checked: 1"):
        assert out.count(label) == 1, label
    assert "escalations:" in out
    assert "DENIED lambda iam:CreateUser * <- run-time handler" in out
    assert "products: 1 (p 2 parameter combinations" in out


def test_the_command_passes_when_nothing_is_denied(tmp_path, monkeypatch, capsys):
    record = {"role": "lambda", "action": "logs:CreateLogGroup", "context": {}, "source": "handler"}
    record["resource"] = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/sagemaker-x"
    _write(tmp_path / "calls", [json.dumps(record)])
    monkeypatch.setattr(command, "CALLS_DIR", tmp_path / "calls")
    monkeypatch.setattr(command.provision, "check_products", lambda ledger: {})
    monkeypatch.setattr(command.provision, "check_portfolio", lambda ledger: 0)
    monkeypatch.setattr(command.stages, "check_stage_stacks", lambda ledger: 0)
    assert command.main() == 0
    assert "denied: 0" in capsys.readouterr().out


def test_a_resource_type_without_a_table_entry_stops_the_command_in_one_line(monkeypatch, capsys):
    def new_type(ledger):
        raise command.UnknownType("no CloudFormation permission entry for AWS::Bedrock::Agent; add it to authz/cfn.py")

    monkeypatch.setattr(command, "CALLS_DIR", command.CALLS_DIR / "missing")
    monkeypatch.setattr(command.provision, "check_products", new_type)
    assert command.main() == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "AWS::Bedrock::Agent" in err


def test_a_raw_recording_without_the_recorder_module_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "authz.calls", None)  # import fails, as before the recorder lands
    raw = {"role": "lambda", "service": "iam", "operation": "CreateUser", "params": {}, "stack": []}
    _write(tmp_path / "calls", [json.dumps(raw)])
    with pytest.raises(runtime.BadInput, match="authz.calls"):
        runtime.read(tmp_path / "calls", {"lambda"})
