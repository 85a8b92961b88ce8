"""The deploy template: option-driven stage configurations, multi-account answers, pins,
CloudFormation lint, and resource names at the worst case.

Bake-everything checks (exact file set, no leftover Jinja, parsing, the generated toolchain on a
covering subset) live in test_bake.py for every template; these are the deploy template's own.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import jsonschema
import pytest
from cfnlint.api import lint_file
from cfnlint.decode import cfn_yaml
from cookiecutter.environment import StrictEnvironment
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from hooks import options
from tests import bakery

NAME = "deploy"
PAYLOAD = bakery.payload_dir(NAME)
SCHEMA = json.loads((PAYLOAD / "inference_config" / "inference_config.schema.json").read_text(encoding="utf-8"))
STAGES = ("staging", "prod")
ACCOUNTS = bakery.COMPANION_ANSWERS[("multi_account", "yes")]
WORST_NAME = "Abcdefghij-klmnopqrst-uvwxyz-123"  # 32 characters, upper case allowed
WORST_ID = "p-abcdefghij12345678"  # 20 characters


def _defaults() -> dict:
    return json.loads((bakery.template_dir(NAME) / "cookiecutter.json").read_text(encoding="utf-8"))


def render_config(stage: str, answers: dict[str, str]) -> dict:
    """A stage configuration rendered the way cookiecutter renders it."""
    context = {key: (value[0] if isinstance(value, list) else value) for key, value in _defaults().items()}
    context.update(answers)
    environment = StrictEnvironment(context={"cookiecutter": context}, keep_trailing_newline=True)
    source = (PAYLOAD / "inference_config" / stage / "inference_config.json").read_text(encoding="utf-8")
    return json.loads(environment.from_string(source).render(cookiecutter=context))


def bake(tmp_path: Path, **answers: str) -> Path:
    """Bake the template with the shell's route: the cookiecutter API, no prompts."""
    output = cookiecutter(
        str(bakery.REPO_ROOT),
        directory=f"templates/{NAME}",
        no_input=True,
        extra_context=answers,
        output_dir=str(tmp_path),
    )
    return Path(output)


SUPPORTED = bakery.supported(NAME)


@pytest.mark.parametrize("combo", SUPPORTED, ids=bakery.combo_id)
def test_every_supported_combination_renders_valid_stage_configurations(combo):
    answers = {**combo, **ACCOUNTS}
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for stage in STAGES:
        config = render_config(stage, answers)
        errors = [error.message for error in validator.iter_errors(config)]
        assert not errors, f"{stage}: {errors}"
        assert config["stage"] == stage
        assert ("realtime" in config) == (combo["inference_mode"] != "batch")
        assert ("batch" in config) == (combo["inference_mode"] != "realtime")
        assert ("api" in config) == (combo["api_gateway"] == "yes" and combo["inference_mode"] != "batch")
        assert ("account" in config) == (combo["multi_account"] == "yes")
        if "realtime" in config:
            deployment = config["realtime"]["deployment"]
            assert deployment["strategy"] == combo["deployment_strategy"]
            scaling = config["realtime"]["autoscaling"]
            assert scaling["min_capacity"] <= config["realtime"]["initial_instance_count"] <= scaling["max_capacity"]
        if "api" in config:
            assert "auth" not in config["api"], "the API always authorizes with IAM"


def test_prod_runs_more_instances_than_staging():
    staging, prod = (render_config(stage, {}) for stage in STAGES)
    assert prod["realtime"]["autoscaling"]["max_capacity"] > staging["realtime"]["autoscaling"]["max_capacity"]


def test_multi_account_bake_records_each_stage_account_and_its_deploy_role(tmp_path):
    project = bake(tmp_path, multi_account="yes", **ACCOUNTS)
    for stage in STAGES:
        config = json.loads((project / "inference_config" / stage / "inference_config.json").read_text())
        account = ACCOUNTS[f"{stage}_account_id"]
        assert config["account"]["id"] == account
        role = f"arn:aws:iam::{account}:role/sagemaker-p-localdemo001-cross-account-deploy"
        assert config["account"]["deploy_role_arn"] == role
    assert (project / "app_infra" / "stage_access" / "stage_access.yaml").is_file()


BAD_ACCOUNTS = {
    "missing": {},
    "eleven digits": {"staging_account_id": "11112222333", "prod_account_id": "444455556666"},
    "letters": {"staging_account_id": "111122223333", "prod_account_id": "44445555666x"},
}


@pytest.mark.parametrize("answers", BAD_ACCOUNTS.values(), ids=list(BAD_ACCOUNTS))
def test_multi_account_refuses_missing_or_malformed_account_ids(tmp_path, answers, capfd):
    with pytest.raises(FailedHookException):
        bake(tmp_path, multi_account="yes", **answers)
    error_lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "account_id" in error_lines[0] and "12 digits" in error_lines[0]
    assert list(tmp_path.iterdir()) == []


def test_api_keys_are_not_offered_and_the_api_authorizes_with_iam():
    """API keys are for usage plans, not authorization (API Gateway developer guide, "Best
    practices for API keys and usage plans"): no answer may make them the API's only guard."""
    assert "api_auth" not in _defaults()
    template = cfn_yaml.load(str(PAYLOAD / "app_infra" / "api_gateway" / "api_gateway.yaml"))
    kinds = {resource["Type"] for resource in template["Resources"].values()}
    assert not kinds & {"AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlanKey"}
    method = template["Resources"]["PredictMethod"]["Properties"]
    assert method["AuthorizationType"] == "AWS_IAM" and not method.get("ApiKeyRequired")
    settings = template["Resources"]["ApiStage"]["Properties"]["MethodSettings"][0]
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(settings), "throttling stays on top of IAM"


def test_no_stage_template_creates_iam_roles_or_policies():
    """Only the administrator's stage-access template may: a deploy that any Studio user can run
    must not be able to create a role."""
    iam_types = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
    for path in sorted((PAYLOAD / "app_infra").glob("*/*.yaml")):
        if path.parent.name == "stage_access":
            continue
        resources = cfn_yaml.load(str(path))["Resources"]
        # A Fn::ForEach loop (monitoring.yaml's alarms) declares its resources in its third item.
        declared = [
            body
            for name, resource in resources.items()
            for body in (resource[2].values() if name.startswith("Fn::ForEach::") else [resource])
        ]
        kinds = {resource["Type"] for resource in declared}
        assert not kinds & iam_types, f"{path.name} creates {kinds & iam_types}"


def test_every_pruned_path_exists_in_the_template():
    for (key, value), paths in options.PRUNE[NAME].items():
        assert value in _defaults()[key], f"{key}={value} is not a choice"
        for path in paths:
            assert (PAYLOAD / path).exists(), f"PRUNE[{key}={value}] names {path}, which the template lacks"


def test_generated_requirements_pin_the_monorepo_versions():
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
        return dict(line.split("==", 1) for line in lines if "==" in line)

    generated, root = pins(PAYLOAD / "requirements.txt"), pins(bakery.REPO_ROOT / "requirements.txt")
    assert generated, "the generated requirements pin nothing"
    for package, version in generated.items():
        assert root.get(package) == version, f"{package}=={version}, the monorepo pins {root.get(package)}"


def test_cloudformation_templates_are_copied_verbatim_and_lint_clean(baked):
    """The templates are not rendered, so linting the payload's files lints every bake's."""
    templates = sorted((PAYLOAD / "app_infra").glob("*/*.yaml"))
    project = baked(NAME, {"inference_mode": "both"})  # read only: the run's shared bake
    for template in templates:
        assert (project / template.relative_to(PAYLOAD)).read_bytes() == template.read_bytes()
    problems = [
        f"{template.name} {match.rule.id} line {match.linenumber}: {match.message}"
        for template in templates
        for match in lint_file(template)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_worst_case_names_fit_every_template_and_create_in_moto(tmp_path):
    """A 32-character project name and a 20-character id: every rendered parameter meets its
    template's constraints, and the build and deploy steps run against moto."""
    project = bake(tmp_path, project_name=WORST_NAME, project_id=WORST_ID, inference_mode="both")
    tests = ["app_infra/test/test_cloudformation.py", "app_infra/test/test_deploy.py", "app_infra/test/test_build.py"]
    result = bakery.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_combinations_cover_every_option_value():
    values = {key: {combo[key] for combo in SUPPORTED} for key in SUPPORTED[0]}
    for key, choices in bakery.choices(NAME).items():
        assert values[key] == set(choices), f"{key}: some values never bake"
    modes = {(combo["inference_mode"], combo["api_gateway"]) for combo in SUPPORTED}
    assert ("batch", "yes") not in modes
    assert set(itertools.product(["realtime", "both"], ["yes", "no"])) <= modes
