"""Would the deploy repository's stage stacks deploy? Every stack of every stage, for every deploy
option combination the template supports, checked against the role that creates them.

Which role: stage stacks are created by CloudFormation with the stage-access service role
(mlops_template_kit/deploy/deploy.py deploy_stack(..., role_arn) with service_role_arn), never with the caller's own
permissions (team decision D8): the account-wide form's `sagemaker-all-projects-cloudformation`,
"stage-cloudformation" in authz.roles.deployed_roles, with the policies stage_access.yaml gives it.
The model-approval trigger stack is deployed by `mlops-kit deploy --trigger` with
deploy_stack and no role ARN, so CloudFormation acts with the caller's own credentials: a person's,
once, and only for a deploy repository used without the SageMaker project product (the products
create that rule in the project stack, checked against the launch role). No build spec runs it, so
no product role is asked: its resource types still need a table entry and its policies still go
through the escalation check, but its calls are not evaluated (TRIGGER_STACK_ROLE is None).

How: one bake at worst-case names (scripts/bake.py, answers from tests/bakery.py) provides the
repository's code; the stage configurations of every supported combination are rendered from the
template's inference_config.json exactly as cookiecutter renders them (the stack templates are
copied without rendering, so they are the same in every bake); the kit's deploy/stacks.py, which the
baked repository runs, then computes every stack's parameters there (authz/stage_params.py).
Stack tags are passed on to taggable resources, as CloudFormation propagates them
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-resource-tags.html).

A stage in its own account (multi_account) also reads the tooling account: the model's data and
the function code (artifact bucket), the platform key through S3, the model package. Each read is
asked of the stage role AND the tooling account's resource policy (check_tooling_reads,
authz.crossaccount), and counted apart in `python -m authz`.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cookiecutter.environment import StrictEnvironment

from authz import crossaccount, monitoring_engine
from authz.check import Ledger
from authz.evaluate import Request
from authz.provision import ADMIN_ROLE, PLATFORM_ADMIN, record
from authz.roles import EVERY_PROJECT_STAGE_ACCESS, stage_access, stage_access_roles
from authz.stack import (
    ACCOUNT,
    WORST_ID,
    WORST_NAME,
    needs_of,
    policy_documents,
    pseudo_parameters,
    resolved_resources,
)
from scripts import products
from scripts.bake import OFFLINE_ENV, bake
from tests import bakery

STAGE_STACK_ROLE = "stage-cloudformation"
# deploy.py deploy_trigger: a person's own credentials (see the module docstring): no role to ask.
TRIGGER_STACK_ROLE = None
TEMPLATE = "deploy"
ARTIFACT_KEY = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"


def rendered_configs(answers: dict[str, str]) -> dict[str, dict]:
    """Each stage's inference_config.json as cookiecutter renders it for these answers."""
    declared, sources = _config_templates()
    context = {key: (value[0] if isinstance(value, list) else value) for key, value in declared.items()}
    context.update(answers)
    return {stage: json.loads(source.render(cookiecutter=context)) for stage, source in sources.items()}


@functools.cache
def _config_templates() -> tuple[dict, dict]:
    """The template's answers and its stage configurations, compiled once (compiling is the slow part)."""
    declared = json.loads((bakery.template_dir(TEMPLATE) / "cookiecutter.json").read_text(encoding="utf-8"))
    environment = StrictEnvironment(context={"cookiecutter": declared}, keep_trailing_newline=True)
    paths = sorted((bakery.payload_dir(TEMPLATE) / "inference_config").glob("*/inference_config.json"))
    return declared, {path.parent.name: environment.from_string(path.read_text(encoding="utf-8")) for path in paths}


def with_monitoring_engines(combos: dict[str, dict]) -> dict[str, dict]:
    """Each combination again with every other realtime.monitoring.engine: a stage option, not a
    cookiecutter answer, so no bake gives it (only the monitoring stacks differ)."""
    variants, seen = {}, set()
    for combo, configs in combos.items():
        for engine in ("model-monitor", "processing"):
            changed = json.loads(json.dumps(configs))
            monitored = [c["realtime"]["monitoring"] for c in changed.values() if "monitoring" in c.get("realtime", {})]
            if monitored and any(m.get("engine", "model-monitor") != engine for m in monitored):
                for monitoring in monitored:
                    monitoring["engine"] = engine
                # What the monitoring stack's parameters depend on: one variant per distinct set.
                signature = json.dumps(
                    {stage: [c.get(k) for k in ("realtime", "on_drift", "account")] for stage, c in changed.items()},
                    sort_keys=True,
                )
                if signature not in seen:
                    seen.add(signature)
                    variants[f"{combo}-{engine}"] = changed
    return variants


def stage_stacks(workdir: Path) -> tuple[Path, dict[str, list[dict]]]:
    """Bake once and compute every combination's stacks; returns the baked repo and, per
    combination id (plus "trigger"), its stacks with parameters and tags."""
    combos = {bakery.combo_id(c): rendered_configs(bakery.answers_for(c)) for c in bakery.supported(TEMPLATE)}
    combos.update(with_monitoring_engines(combos))
    project = bake(TEMPLATE, workdir, {"project_name": WORST_NAME, "project_id": WORST_ID, "inference_mode": "both"})
    env = {
        **os.environ,
        **OFFLINE_ENV,
        # The bake first; then the kit the caller chose (a worktree's own source), if any.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(project), os.environ.get("PYTHONPATH", "")])),
        "SAGEMAKER_PROJECT_NAME": WORST_NAME,
        "SAGEMAKER_PROJECT_ID": WORST_ID,
        "ARTIFACT_KMS_KEY_ARN": ARTIFACT_KEY,
        "BUILD_ID": "20261201T000000Z-0123456",
    }
    script = Path(__file__).with_name("stage_params.py")
    result = subprocess.run(
        # The kit's deploy code is told which repository to work on: this bake.
        [sys.executable, str(script), str(project)],
        input=json.dumps(combos),
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(f"computing stage parameters failed: {result.stderr.strip().splitlines()[-1:]}")
    return project, json.loads(result.stdout)


def check_stage_stacks(ledger: Ledger) -> int:
    """Every supported combination's stage stacks against STAGE_STACK_ROLE (the trigger stack
    against TRIGGER_STACK_ROLE); returns the combinations."""
    with tempfile.TemporaryDirectory(prefix="authz-stages-") as folder:
        project, by_combination = stage_stacks(Path(folder))
        templates: dict[str, dict] = {}
        # Combinations often give a stack the same parameters: each distinct stack is checked once.
        distinct = {
            json.dumps(entry, sort_keys=True): entry for entries in by_combination.values() for entry in entries
        }
        accesses = {"every project": EVERY_PROJECT_STAGE_ACCESS}
        check_tooling_reads(ledger, distinct.values())
        for entry in distinct.values():
            if entry["template"] not in templates:
                text = (project / entry["template"]).read_text(encoding="utf-8")
                templates[entry["template"]] = products.load_cloudformation(text)
            role = _stack_role(ledger, entry)
            if entry.get("access"):
                accesses[f"{entry['stage']} account"] = entry["access"]
            _check_stack(ledger, templates[entry["template"]], _in_evaluation_account(entry), role)
            if monitoring_engine.uses_processing(entry):
                monitoring_engine.check(ledger, _in_evaluation_account(entry))
        for form, parameters in accesses.items():
            check_stage_access(ledger, form, parameters)
    return len(by_combination) - 1


def check_tooling_reads(ledger: Ledger, entries: Iterable[dict]) -> int:
    """Every read a stage in its own account makes in the tooling account (the model's data, the
    platform key through S3, the model package, the function code), asked of the stage role with
    the tooling account's resource policy (authz.crossaccount); returns the stages checked."""
    stages: dict[tuple, dict] = {}
    for entry in entries:
        if entry.get("tooling"):
            stage = stages.setdefault(_stage_key(entry), {**entry, "function_code": "", "monitoring_objects": ()})
            if entry["part"] == "lambda":
                stage["function_code"] = (
                    f"s3://{entry['Parameters']['CodeS3Bucket']}/{entry['Parameters']['CodeS3Key']}"
                )
            if entry["part"] == "monitoring":
                names = ("BaselineStatisticsUri", "BaselineConstraintsUri", "ModelQualityConstraintsUri")
                reads = tuple(filter(None, (entry["Parameters"][name] for name in names)))
                if monitoring_engine.uses_processing(entry):
                    code = entry["Parameters"]["MonitorCodeUri"]
                    reads += (code, f"{code}mlops_template_kit/__init__.py")
                # The same stage under each monitoring engine: what either reads.
                stage["monitoring_objects"] = tuple(dict.fromkeys(stage["monitoring_objects"] + reads))
    for stage in stages.values():
        _check_stage_reads(ledger, stage)
    return len(stages)


def _stage_key(entry: dict) -> tuple:
    return (
        entry["stage"],
        entry["account"],
        json.dumps(entry["access"], sort_keys=True),
        json.dumps(entry["tooling"], sort_keys=True),
    )


def _check_stage_reads(ledger: Ledger, stage: dict) -> None:
    account, tooling = stage["account"], stage["tooling"]
    roles = stage_access_roles(stage["access"])
    policies = {
        "bucket": crossaccount.bucket_policy([account]),
        "key": crossaccount.key_policy([account]),
        "group": tooling["group_policy"],
    }
    where = f"stage {stage['stage']} in account {account} reads the tooling account"
    for role, action, resource, context, policy in crossaccount.tooling_reads(
        tooling["model"], ARTIFACT_KEY, account, stage["function_code"], stage["monitoring_objects"]
    ):
        key = f"{role}@{stage['stage']}-account"
        ledger.roles.setdefault(key, roles[role])
        principal = roles[role].arn(account)
        ledger.ask_across(key, principal, Request(action, resource, context), policies[policy], where)


def _stack_role(ledger: Ledger, entry: dict) -> str | None:
    """The ledger key of the role that creates this stack: none for the trigger (a person's
    credentials); the account-wide service role; or, for a stage in its own account, that project
    stage's service role (stage_access.yaml with the parameters deploy.py gives it there)."""
    if entry["stage"] == "tooling":
        return TRIGGER_STACK_ROLE
    if not entry.get("access"):
        return STAGE_STACK_ROLE
    key = f"{STAGE_STACK_ROLE}@{entry['stage']}-account"
    if key not in ledger.roles:
        ledger.roles[key] = stage_access_roles(entry["access"])[STAGE_STACK_ROLE]
    return key


def _in_evaluation_account(entry: dict) -> dict:
    """A stage stack of its own account, evaluated in the harness's account: the stage account's
    id in parameters (role ARNs) becomes authz.stack.ACCOUNT, where its stage access is evaluated
    too. Stage stacks name no other account but the tooling one, which is ACCOUNT already."""
    own = f":{entry['account']}:"
    parameters = {key: str(value).replace(own, f":{ACCOUNT}:") for key, value in entry["Parameters"].items()}
    return {**entry, "Parameters": parameters}


def check_stage_access(ledger: Ledger, form: str, parameters: dict) -> None:
    """stage_access.yaml in one form: its resources against the administrator who deploys it, its
    policies (managed, inline and role inline) for the escalation check."""
    ledger.roles.setdefault(PLATFORM_ADMIN, ADMIN_ROLE)
    resources = stage_access(parameters)
    # The stack name deploy.py gives it reaches no ARN: a sample.
    stack = "sagemaker-stage-access"
    scope = f"stage-access ({form})"
    record(ledger, PLATFORM_ADMIN, needs_of(resources, stack, scope))
    for name, document, roles in policy_documents(resources):
        ledger.add_policy(document, roles, f"{scope} {name}")


def _check_stack(ledger: Ledger, template: dict, entry: dict, role: str | None) -> None:
    values = {**pseudo_parameters(entry["stack"]), **_defaults(template), **entry["Parameters"]}
    scope = f"stage {entry['part']}"
    resources = resolved_resources(template, values)
    needs = needs_of(resources, entry["stack"], scope, stack_tags=entry["Tags"])
    if role is not None:
        record(ledger, role, needs)
    for name, document, roles in policy_documents(resources):
        ledger.add_policy(document, roles, f"{scope} {name}")


def _defaults(template: dict) -> dict[str, object]:
    return {name: spec["Default"] for name, spec in template.get("Parameters", {}).items() if "Default" in spec}
