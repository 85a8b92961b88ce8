"""The `ci` option: GitHub Actions and GitLab CI files of both templates, and the OIDC platform stack
(servicecatalog/ci-oidc.yaml) whose roles they sign in to.

The workflows pass the offline checkers their platforms document (actionlint; the GitLab CI JSON
schema bundled in check-jsonschema), call nothing but the generated Makefile's targets, and those
targets run the same commands as the CodeBuild specs. The roles' trust is evaluated with the
repository's IAM evaluator (authz.evaluate) on the claims a token carries."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from authz import escalation, policies
from authz.evaluate import Request, decide
from authz.roles import ROLES
from authz.template import resolve
from hooks import options
from scripts import products
from tests import bakery

ACTIONLINT = bakery.VENV_BIN / "actionlint"
CHECK_JSONSCHEMA = bakery.VENV_BIN / "check-jsonschema"
WORKFLOW_FILES = {"github-actions": ".github/workflows", "gitlab": ".gitlab-ci.yml"}

# Every bake whose CI files differ: the build-train workflows depend on multi_branch only.
CI_BAKES = [
    pytest.param(name, answers, id=f"{name}:{bakery.combo_id(answers)}")
    for name, variants in (("build-train", [{"multi_branch": "no"}, {"multi_branch": "yes"}]), ("deploy", [{}]))
    for system in WORKFLOW_FILES
    for answers in ({"ci": system, **variant} for variant in variants)
]


def workflow_files(project: Path, system: str) -> list[Path]:
    """The CI files of one system in a bake (empty when the option pruned them)."""
    location = project / WORKFLOW_FILES[system]
    return sorted(location.glob("*.yml")) if location.is_dir() else [location] if location.exists() else []


# --- the option -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["build-train", "deploy"])
@pytest.mark.parametrize("system", ["codepipeline", *WORKFLOW_FILES])
def test_a_repo_holds_the_files_of_its_ci_system_only(baked, name, system):
    project = baked(name, {"ci": system})
    for other in WORKFLOW_FILES:
        assert bool(workflow_files(project, other)) == (other == system), other
    assert (project / "build_spec.yml").is_file(), "the CodeBuild spec stays: the targets' reference"


def test_ci_is_rotated_through_the_bake_matrix_and_the_covering_array():
    """Every value bakes in the full matrix of each template with every value of every other option
    (build-train's workflows depend on multi_branch), and in the covering array whose own tests run."""
    for name in ("build-train", "deploy"):
        values = bakery.choices(name)["ci"]
        assert {combo["ci"] for combo in bakery.supported(name)} == set(values)
        assert {combo["ci"] for combo in bakery.covering_subset(name)} == set(values)
    for name in ("build-train", "deploy"):
        declared = bakery.choices(name)
        others = {key: values for key, values in declared.items() if key != "ci"}
        baked_with = {(combo["ci"], key, combo[key]) for combo in bakery.supported(name) for key in others}
        wanted = {(ci, key, value) for ci in declared["ci"] for key, values in others.items() for value in values}
        assert wanted - baked_with == set(), f"{name}: every ci value bakes with every value of every option"


# --- offline checkers -----------------------------------------------------------------------------


def actionlint(paths: list[Path]) -> subprocess.CompletedProcess:
    # -shellcheck= and -pyflakes= off: those optional linters are not installed (and vary by machine).
    command = [str(ACTIONLINT), "-no-color", "-shellcheck=", "-pyflakes=", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def schema_check(schema: str, *paths: Path) -> subprocess.CompletedProcess:
    # The schemas are the copies check-jsonschema bundles: no download, the check runs offline.
    command = [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, "--no-cache", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def gitlab_schema(path: Path) -> subprocess.CompletedProcess:
    return schema_check("vendor.gitlab-ci", path)


@pytest.mark.parametrize("name,answers", [p for p in CI_BAKES if p.values[1]["ci"] == "github-actions"])
def test_every_generated_github_workflow_passes_actionlint(baked, name, answers):
    files = workflow_files(baked(name, answers), "github-actions")
    assert files
    result = actionlint(files)
    assert result.returncode == 0, result.stdout + result.stderr
    # SchemaStore's workflow schema too: a second, independent reading of the syntax.
    result = schema_check("vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_refuses_a_broken_workflow(baked, tmp_path):
    text = (workflow_files(baked("deploy", {"ci": "github-actions"}), "github-actions")[0]).read_text()
    broken = tmp_path / "deploy.yml"
    broken.write_text(text.replace("needs: staging", "needs: stagin"))
    result = actionlint([broken])
    assert result.returncode != 0 and "stagin" in result.stdout


@pytest.mark.parametrize("name,answers", [p for p in CI_BAKES if p.values[1]["ci"] == "gitlab"])
def test_every_generated_gitlab_pipeline_passes_the_gitlab_ci_schema(baked, name, answers):
    (path,) = workflow_files(baked(name, answers), "gitlab")
    result = gitlab_schema(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gitlab_schema_check_refuses_a_broken_pipeline(baked, tmp_path):
    (path,) = workflow_files(baked("deploy", {"ci": "gitlab"}), "gitlab")
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(path.read_text().replace("when: manual", "when: by-hand"))
    assert gitlab_schema(broken).returncode != 0


# Long-lived AWS credentials in any spelling a workflow could use them: environment variables,
# configure-aws-credentials inputs, secrets named after them.
LONG_LIVED_KEYS = re.compile(r"aws[_-]?(access[_-]?key[_-]?id|secret[_-]?access[_-]?key|session[_-]?token)", re.I)


def long_lived_key_references(text: str) -> list[str]:
    """Every mention of an AWS access key, secret key or session token."""
    return [match.group(0) for match in LONG_LIVED_KEYS.finditer(text)]


@pytest.mark.parametrize("name,answers", CI_BAKES)
def test_no_workflow_or_pipeline_references_long_lived_aws_keys(baked, name, answers):
    project = baked(name, answers)
    for path in workflow_files(project, answers["ci"]):
        assert long_lived_key_references(path.read_text()) == [], path.name
    assert "id-token: write" in "".join(p.read_text() for p in workflow_files(project, "github-actions")) or (
        "id_tokens:" in (project / ".gitlab-ci.yml").read_text()
    ), "signs in with an OIDC token"


@pytest.mark.parametrize(
    "text",
    [
        "aws-access-key-id: ${{ secrets.KEY }}",
        "AWS_SECRET_ACCESS_KEY: $SECRET",
        "env:\n  aws_session_token: x",
        "secrets.AWS_ACCESS_KEY_ID",
    ],
)
def test_the_key_check_finds_each_spelling_of_a_long_lived_key(text):
    assert long_lived_key_references(text)


# --- one source for the commands ------------------------------------------------------------------

MAKE_LINE = re.compile(r"^make ([a-z][a-z-]*)$")
# What a CI step runs, once `make` targets and the multi-branch script's $PIPELINE are expanded.
# A kit command is its subcommands and flags (values vary in spelling: $(STAGE), "${STAGE}").
KIT_COMMAND = re.compile(r"mlops-kit ([^;&|\n)]*)")
KIT_WORD = re.compile(r"[a-z][a-z-]*|--[a-z-]+")
TOOLS = re.compile(r"ruff check|ruff format --check|cfn-lint|pytest")


def ci_commands(project: Path, system: str) -> list[str]:
    """Every command the system's jobs run (GitHub `run:` steps, GitLab `script:` lines), in order."""
    commands = []
    for path in workflow_files(project, system):
        document = yaml.safe_load(path.read_text())
        if system == "github-actions":
            for job in document["jobs"].values():
                commands += [step["run"].strip() for step in job["steps"] if "run" in step]
        else:
            for key, job in document.items():
                if isinstance(job, dict) and "script" in job and not key.startswith("."):
                    commands += [line.strip() for line in job["script"]]
    return commands


def makefile_lines(project: Path) -> list[str]:
    """The generated Makefile's lines, its `include`d files' in their place."""
    lines = []
    for line in (project / "Makefile").read_text().splitlines():
        included = re.match(r"^include (\S+)$", line)
        lines += (project / included.group(1)).read_text().splitlines() if included else [line]
    return lines


def makefile_recipes(project: Path) -> dict[str, str]:
    """Target -> its recipe text, from the generated Makefile."""
    recipes, target = {}, None
    for line in makefile_lines(project):
        found = re.match(r"^([a-z][a-z-]*):", line)
        if found:
            target = found.group(1)
            recipes[target] = ""
        elif target and line.startswith("\t"):
            recipes[target] += line + "\n"
        elif not line.startswith("\t"):
            target = None if not line.strip() else target
    return recipes


def tool_commands(text: str, recipes: dict[str, str]) -> set[str]:
    """The tool commands a piece of shell runs, `make <target>` expanded through the Makefile."""
    # The multi-branch build spec names the command once (PIPELINE="...") and runs $PIPELINE <verb>.
    text = re.sub(r'PIPELINE="[^"]*"', "", text).replace("$PIPELINE", "mlops-kit pipeline")
    for target, recipe in recipes.items():
        text = re.sub(rf"\bmake {re.escape(target)}(?![\w-])", lambda _, recipe=recipe: recipe, text)
    text = re.sub(r"\$\([A-Z_]+\)", "VALUE", text)  # make variables: values, not words
    kit = {
        " ".join(["mlops-kit", *(word for word in match.group(1).split() if KIT_WORD.fullmatch(word))])
        for match in KIT_COMMAND.finditer(text)
    }
    return kit | set(TOOLS.findall(text))


def build_spec_commands(project: Path, recipes: dict[str, str]) -> set[str]:
    """What the CodeBuild specs run: every command of every phase of every *_spec.yml."""
    result = set()
    for spec in sorted(project.glob("*_spec.yml")):
        phases = yaml.safe_load(spec.read_text())["phases"]
        for phase in phases.values():
            commands = phase.get("commands", [])
            # An unquoted command holding ": " (an echoed message) parses as a mapping CodeBuild cannot run.
            assert all(isinstance(command, str) for command in commands), f"{spec.name}: {commands}"
            result |= tool_commands("\n".join(commands), recipes)
    return result


@pytest.mark.parametrize("name,answers", CI_BAKES)
def test_ci_commands_are_exactly_makefile_targets_running_what_the_build_specs_run(baked, name, answers):
    project = baked(name, answers)
    recipes = makefile_recipes(project)
    commands = ci_commands(project, answers["ci"])
    assert commands
    for command in commands:
        found = MAKE_LINE.match(command)
        assert found and found.group(1) in recipes, f"{command!r} is not `make <target>` of the Makefile"
    assert tool_commands("\n".join(commands), recipes) == build_spec_commands(project, recipes)


@pytest.mark.parametrize("name,answers", [p for p in CI_BAKES if p.values[1]["ci"] == "github-actions"])
def test_github_and_gitlab_run_the_same_targets_in_the_same_order(baked, name, answers):
    github = ci_commands(baked(name, answers), "github-actions")
    gitlab = ci_commands(baked(name, {**answers, "ci": "gitlab"}), "gitlab")
    assert github == gitlab


def test_the_command_comparison_sees_a_command_the_build_spec_does_not_run(baked):
    project = baked("deploy", {"ci": "gitlab"})
    recipes = makefile_recipes(project)
    commands = [*ci_commands(project, "gitlab"), "make teardown"]
    assert tool_commands("\n".join(commands), recipes) != build_spec_commands(project, recipes)


# --- the OIDC platform stack ----------------------------------------------------------------------

ACCOUNT = "123456789012"
PROVIDERS = {"github": "token.actions.githubusercontent.com", "gitlab": "gitlab.com"}
GIVEN = {
    "ProjectName": "churn",
    "ProjectId": "p-abc123",
    "BuildTrainRepository": "acme/churn-build-train",
    "DeployRepository": "acme/churn-deploy",
    "MainBranch": "main",
    "StagingEnvironment": "staging",
    "ProdEnvironment": "prod",
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": ACCOUNT,
}
CODEBUILD_POLICY = "AmazonSageMakerServiceCatalogProductsCodeBuildServiceRolePolicy"


@pytest.fixture(scope="module")
def stack() -> dict:
    return products.load_cloudformation(products.CI_OIDC_FILE.read_text(encoding="utf-8"))


def resources(stack: dict, platform: str, create: str = "no", multi_branch: str = "no") -> dict[str, dict]:
    """The stack's resources as CloudFormation creates them for these parameter values."""
    values = {**GIVEN, "Platform": platform, "CreateProvider": create, "MultiBranch": multi_branch}
    conditions: dict[str, bool] = {}
    for name, expression in stack["Conditions"].items():  # declared in dependency order
        conditions[name] = bool(resolve(expression, stack, values, conditions))
    kept = {
        name: body
        for name, body in stack["Resources"].items()
        if "Condition" not in body or conditions[body["Condition"]]
    }
    return resolve(kept, stack, values, conditions)


def may_assume(role: dict, platform: str, sub: str, aud: str = "sts.amazonaws.com") -> bool:
    """Whether a token with these claims, from the platform's provider, may assume the role."""
    host = PROVIDERS[platform]
    document = role["Properties"]["AssumeRolePolicyDocument"]
    federated = {statement["Principal"]["Federated"] for statement in document["Statement"]}
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
    if not {provider, "GitHubProvider.Arn", "GitLabProvider.Arn"} & federated:
        return False
    context = {f"{host}:sub": sub, f"{host}:aud": aud}
    request = Request("sts:AssumeRoleWithWebIdentity", provider, context)
    return decide([document], request).allowed


GITHUB_CASES = [
    # role, subject claim, allowed
    ("BuildTrainRole", "repo:acme/churn-build-train:ref:refs/heads/main", True),
    ("BuildTrainRole", "repo:acme/other-repo:ref:refs/heads/main", False),
    ("BuildTrainRole", "repo:acme/churn-build-train:ref:refs/heads/feature/x", False),
    ("BuildTrainRole", "repo:acme/churn-build-train:pull_request", False),
    ("BuildTrainRole", "repo:acme/churn-deploy:ref:refs/heads/main", False),
    ("DeployBuildRole", "repo:acme/churn-deploy:ref:refs/heads/main", True),
    ("DeployBuildRole", "repo:acme/churn-deploy:ref:refs/heads/hotfix", False),
    ("DeployStagingRole", "repo:acme/churn-deploy:environment:staging", True),
    ("DeployStagingRole", "repo:acme/churn-deploy:environment:prod", False),
    ("DeployProdRole", "repo:acme/churn-deploy:environment:prod", True),
    ("DeployProdRole", "repo:acme/churn-deploy:environment:staging", False),
    ("DeployProdRole", "repo:acme/churn-deploy:environment:dev", False),  # an unprotected environment
    ("DeployProdRole", "repo:acme/churn-deploy:ref:refs/heads/main", False),  # no environment at all
    ("DeployProdRole", "repo:acme/churn-deploy:ref:refs/heads/feature", False),
    ("DeployProdRole", "repo:evil/churn-deploy:environment:prod", False),
    ("DeployProdRole", "repo:acme/churn-deploy-fork:environment:prod", False),
]
GITLAB_CASES = [
    ("BuildTrainRole", "project_path:acme/churn-build-train:ref_type:branch:ref:main", True),
    ("BuildTrainRole", "project_path:acme/other:ref_type:branch:ref:main", False),
    ("BuildTrainRole", "project_path:acme/churn-build-train:ref_type:branch:ref:feature", False),
    ("BuildTrainRole", "project_path:acme/churn-build-train:ref_type:tag:ref:main", False),
    ("DeployProdRole", "project_path:acme/churn-deploy:ref_type:branch:ref:main", True),
    ("DeployProdRole", "project_path:acme/churn-deploy:ref_type:branch:ref:unprotected", False),
    ("DeployProdRole", "project_path:acme/churn-build-train:ref_type:branch:ref:main", False),
]


@pytest.mark.parametrize("create", ["yes", "no"])
@pytest.mark.parametrize("role,sub,allowed", GITHUB_CASES)
def test_github_trust_admits_only_its_repository_branch_and_environment(stack, create, role, sub, allowed):
    assert may_assume(resources(stack, "github", create)[role], "github", sub) is allowed


@pytest.mark.parametrize("role,sub,allowed", GITLAB_CASES)
def test_gitlab_trust_admits_only_its_project_and_main_branch(stack, role, sub, allowed):
    assert may_assume(resources(stack, "gitlab")[role], "gitlab", sub) is allowed


def test_multi_branch_trust_admits_every_branch_of_the_build_train_repository_only(stack):
    role = resources(stack, "github", multi_branch="yes")["BuildTrainRole"]
    assert may_assume(role, "github", "repo:acme/churn-build-train:ref:refs/heads/feature/x")
    assert not may_assume(role, "github", "repo:acme/churn-build-train-evil:ref:refs/heads/x")
    assert not may_assume(role, "github", "repo:acme/churn-build-train:pull_request")
    # Feature branches never reach the deploy roles.
    prod = resources(stack, "github", multi_branch="yes")["DeployProdRole"]
    assert not may_assume(prod, "github", "repo:acme/churn-deploy:ref:refs/heads/feature/x")


@pytest.mark.parametrize("platform", PROVIDERS)
def test_every_role_refuses_another_audience_and_another_provider(stack, platform):
    other = "gitlab" if platform == "github" else "github"
    built = resources(stack, platform)
    for name in ("BuildTrainRole", "DeployBuildRole", "DeployStagingRole", "DeployProdRole"):
        document = built[name]["Properties"]["AssumeRolePolicyDocument"]
        (statement,) = document["Statement"]
        sub = statement["Condition"].get("StringLike", statement["Condition"]["StringEquals"])
        sub = next(value for key, value in sub.items() if key.endswith(":sub"))
        assert may_assume(built[name], platform, sub)
        assert not may_assume(built[name], platform, sub, aud="https://github.com/acme")
        assert not may_assume(built[name], other, sub)


@pytest.mark.parametrize("platform", PROVIDERS)
def test_the_provider_is_created_only_when_asked_with_the_sts_audience(stack, platform):
    assert not [b for b in resources(stack, platform).values() if b["Type"] == "AWS::IAM::OIDCProvider"]
    (provider,) = [b for b in resources(stack, platform, "yes").values() if b["Type"] == "AWS::IAM::OIDCProvider"]
    assert provider["Properties"] == {"Url": f"https://{PROVIDERS[platform]}", "ClientIdList": ["sts.amazonaws.com"]}


def test_roles_hold_the_codebuild_policy_whose_calls_the_harness_evaluates_and_it_cannot_escalate(stack):
    """Each CI step does what the same step does in CodeBuild, under the same managed policy: the
    authorization harness evaluates every recorded CI call against ROLES['codebuild']."""
    arn = f"arn:aws:iam::aws:policy/service-role/{CODEBUILD_POLICY}"
    for platform in PROVIDERS:
        roles = [b for b in resources(stack, platform).values() if b["Type"] == "AWS::IAM::Role"]
        assert len(roles) == 4
        for role in roles:
            assert role["Properties"]["ManagedPolicyArns"] == [arn]
            assert "Policies" not in role["Properties"]
    assert ROLES["codebuild"].policies[0] == policies.managed(CODEBUILD_POLICY)
    assert escalation.findings(policies.managed(CODEBUILD_POLICY), "codebuild") == []


def test_role_names_fit_iam_and_the_stage_access_stack_at_the_longest_project_id(stack):
    """IAM role names hold at most 64 characters; the deploy roles are what the platform team
    gives stage_access.yaml as AttachToRoleName (servicecatalog/README.md), so its pattern must
    accept them."""
    longest = {**GIVEN, "ProjectId": "p-" + "a" * 18, "Platform": "github", "CreateProvider": "no", "MultiBranch": "no"}
    stage_access = products.load_cloudformation(
        (bakery.payload_dir("deploy") / "app_infra" / "stage_access" / "stage_access.yaml").read_text()
    )
    attach_to = re.compile(stage_access["Parameters"]["AttachToRoleName"]["AllowedPattern"])
    for body in stack["Resources"].values():
        if body["Type"] == "AWS::IAM::Role":
            name = resolve(body["Properties"]["RoleName"], stack, longest)
            assert len(name) <= 64 and attach_to.fullmatch(name), name


def test_the_ci_files_are_pruned_by_the_option_table():
    for name in ("build-train", "deploy"):
        assert options.pruned_paths(name, {"ci": "codepipeline"}) == [".github", ".gitlab-ci.yml"]
        assert options.pruned_paths(name, {"ci": "github-actions"}) == [".gitlab-ci.yml"]
        assert options.pruned_paths(name, {"ci": "gitlab"}) == [".github"]


def runs_on_pull_requests(name: str, jobs: dict) -> bool:
    """Whether a job can run for a pull request: its `if` neither excludes that event nor names only
    others, and no job it needs is kept from running for one (a skipped need skips the job)."""
    job = jobs[name]
    condition = job.get("if", "")
    if "github.event_name != 'pull_request'" in condition:
        return False
    if "github.event_name ==" in condition and "== 'pull_request'" not in condition:
        return False
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    return not needs or all(runs_on_pull_requests(need, jobs) for need in needs)


def oidc_jobs(jobs: dict) -> dict[str, list[str]]:
    """Jobs holding an OIDC token -> the roles they assume."""
    return {
        name: [step["with"]["role-to-assume"] for step in job["steps"] if "role-to-assume" in step.get("with", {})]
        for name, job in jobs.items()
        if job.get("permissions", {}).get("id-token") == "write"
    }


@pytest.mark.parametrize("name,answers", [p for p in CI_BAKES if p.values[1]["ci"] == "github-actions"])
def test_pull_requests_get_no_oidc_token_and_only_the_prod_environment_uses_the_prod_role(baked, name, answers):
    """A pull request's code never holds AWS credentials; the prod role is asked for only by the
    job its trust admits (environment prod, whose reviewers approve it)."""
    for path in workflow_files(baked(name, answers), "github-actions"):
        jobs = yaml.safe_load(path.read_text())["jobs"]
        tokens = oidc_jobs(jobs)
        assert tokens and all(tokens.values()), "every job with a token assumes a role"
        assert not [job_name for job_name in tokens if runs_on_pull_requests(job_name, jobs)]
        for job_name, job in jobs.items():
            uses_prod = any("AWS_PROD_ROLE_ARN" in role for role in tokens.get(job_name, []))
            assert uses_prod == (job.get("environment") == "prod"), job_name


def test_the_pull_request_check_sees_a_job_that_would_get_a_token():
    jobs = {
        "build": {"if": "github.event_name != 'pull_request'"},
        "deploy": {"needs": "build"},
        "lint": {"if": "github.event_name == 'pull_request' || github.event_name == 'push'"},
        "after-lint": {"needs": ["lint"]},
        "plain": {},
    }
    assert [name for name in jobs if runs_on_pull_requests(name, jobs)] == ["lint", "after-lint", "plain"]


# --- pinned actions and images, kept fresh by Dependabot ------------------------------------------

# GitHub: "Pinning an action to a full length commit SHA is currently the only way to use an action as
# an immutable release" (https://docs.github.com/en/actions/security-guides/security-hardening-for-github-actions#using-third-party-actions).
# GitHub is retiring Node 20 on its runners: JavaScript actions run on Node 24 by default from June
# 2026 and Node 20 leaves the runner in September 2026 (https://github.blog/changelog/2025-09-19-deprecation-of-node-20-on-github-actions-runners/;
# the dates as the runner's own deprecation warning states them). Each action is pinned to the newest
# release of its newest major, a Node 24 one. With no network here, each SHA <-> tag pair was read
# from the stored code index (2026-12): written `<sha> # <tag>` (or the SHA beside its release) in at
# least two unrelated public repositories, none guessed; the release notes are the action's own
# (its release pull requests and notes as quoted by Dependabot / Renovate pull requests).
ACTION_PINS = {
    # v7.0.1 (2026-07-20), https://github.com/actions/checkout/releases/tag/v7.0.1. v7 refuses fork
    # pull request code under pull_request_target and workflow_run (actions/checkout#2454): the
    # workflows use neither trigger.
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    # v7.0.0, https://github.com/actions/setup-python/releases/tag/v7.0.0: ESM, and the `pip-install`
    # input removed (actions/setup-python#1336); the workflows pass `python-version` only.
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    # v6.3.0 (2026-09-15), https://github.com/aws-actions/configure-aws-credentials/releases/tag/v6.3.0.
    # v6 reads boolean inputs as YAML 1.2 booleans only; the workflows pass role-to-assume,
    # aws-region and role-session-name, strings.
    "aws-actions/configure-aws-credentials": ("e1253824e5c10ff9df46874f81ed3ec929e19cfd", "v6.3.0"),
    # v7.0.2, https://github.com/actions/upload-artifact/releases/tag/v7.0.2. v7 adds `archive`
    # (default true: the artifact is still a zip, which download-artifact unpacks).
    "actions/upload-artifact": ("cf430e030ddbb5b0abf93d22962f4752f3646cd9", "v7.0.2"),
    # v8.0.2 (2026-10-07), https://github.com/actions/download-artifact/releases/tag/v8.0.2. v8 fails
    # the step when the download's digest differs from the server's (`digest-mismatch: error`, the
    # default, kept: prod must deploy the bytes staging was tested with).
    "actions/download-artifact": ("9000827ccba6bdab643e8b6fd33ac0654aef8333", "v8.0.2"),
}
# The first major of each action whose action.yml declares `runs.using: node24`, per its release
# notes; an older major runs on Node 20, which the runners drop.
FIRST_NODE24_MAJOR = {
    "actions/checkout": 5,  # v5.0.0: "Update actions checkout to use node 24" (actions/checkout#2226)
    "actions/setup-python": 6,  # v6.0.0, breaking: "Upgrade to node 24" (actions/setup-python#1164)
    # v6.0.0, breaking: "Update action to use node24" (aws-actions/configure-aws-credentials#1632)
    "aws-actions/configure-aws-credentials": 6,
    # v6.0.0: "now runs on Node.js 24 (runs.using: node24)"; v5 only supported it, on Node 20 by
    # default (actions/upload-artifact#745)
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,  # v7.0.0: the same note (actions/download-artifact#452)
}
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<reference>.*)$", re.M)
# owner/repo[/path]@<40 hex> # vX.Y.Z: the comment is what Dependabot updates along with the SHA
# (https://github.blog/changelog/2022-10-31-dependabot-now-updates-comments-in-github-actions-workflows-referencing-action-versions).
PINNED = re.compile(r"(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40}) # (?P<version>v\d+\.\d+\.\d+)")


def action_references(text: str) -> list[str]:
    """The value of every `uses:` line, its comment included (YAML drops comments)."""
    return [match.group("reference").strip() for match in USES_LINE.finditer(text)]


def unpinned(references: list[str]) -> list[str]:
    """References that are not a full commit SHA with its release tag in a comment (a local
    action, `./path`, is part of the repository and pinned with it)."""
    return [ref for ref in references if not ref.startswith("./") and not PINNED.fullmatch(ref)]


def yaml_uses(document: dict) -> list[str]:
    """Every action or reusable workflow the parsed workflow uses: what the line scan must cover."""
    found = []
    for job in document["jobs"].values():
        found += [job["uses"]] if "uses" in job else [step["uses"] for step in job["steps"] if "uses" in step]
    return found


@pytest.mark.parametrize("name,answers", [p for p in CI_BAKES if p.values[1]["ci"] == "github-actions"])
def test_every_action_of_every_generated_workflow_is_pinned_to_a_recorded_commit(baked, name, answers):
    for path in workflow_files(baked(name, answers), "github-actions"):
        text = path.read_text()
        references = action_references(text)
        # The line scan sees every `uses:` the workflow holds, in order.
        assert [ref.split(" #")[0] for ref in references] == yaml_uses(yaml.safe_load(text)), path.name
        assert unpinned(references) == [], path.name
        for ref in references:
            found = PINNED.fullmatch(ref)
            assert ACTION_PINS[found.group("action")] == (found.group("sha"), found.group("version")), ref


def release_major(version: str) -> int:
    return int(version.removeprefix("v").split(".")[0])


def node20_pins(pins: dict[str, tuple[str, str]]) -> list[str]:
    """Actions pinned to a major older than their first Node 24 one (an action with no record of
    that major counts as not shown to run on Node 24)."""
    return [
        action
        for action, (_, version) in pins.items()
        if release_major(version) < FIRST_NODE24_MAJOR.get(action, float("inf"))
    ]


def test_every_pinned_action_runs_on_node_24():
    assert node20_pins(ACTION_PINS) == []


def test_the_runtime_check_finds_a_node_20_major_and_an_unrecorded_action():
    pins = {
        "actions/checkout": ("34e114876b0b11c390a56381ad16ebd13914f8d5", "v4.3.1"),
        "actions/download-artifact": ("1" * 40, "v6.0.0"),  # "preliminary" Node 24 support only
        "actions/upload-artifact": ("cf430e030ddbb5b0abf93d22962f4752f3646cd9", "v7.0.2"),
        "someone/else": ("0" * 40, "v9.0.0"),
    }
    assert node20_pins(pins) == ["actions/checkout", "actions/download-artifact", "someone/else"]


def at_major_tags(text: str) -> str:
    """The workflow with every pin written as its major tag (`actions/checkout@v7`). actionlint
    checks a step's `with:` keys against the inputs it bundles for the popular actions, by major;
    it cannot look a commit SHA up, so on the pinned file it checks no input at all."""
    return PINNED.sub(lambda found: f"{found['action']}@v{release_major(found['version'])}", text)


def actionlint_at_major_tags(workflow: Path, directory: Path, edit=lambda text: text) -> subprocess.CompletedProcess:
    copy = directory / workflow.name
    copy.write_text(edit(at_major_tags(workflow.read_text())))
    assert not PINNED.search(copy.read_text()), "every pin rewritten"
    return actionlint([copy])


@pytest.mark.parametrize("name,answers", [p for p in CI_BAKES if p.values[1]["ci"] == "github-actions"])
def test_every_input_the_workflows_pass_exists_in_the_pinned_major(baked, tmp_path, name, answers):
    for path in workflow_files(baked(name, answers), "github-actions"):
        result = actionlint_at_major_tags(path, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_input_check_refuses_an_input_the_major_lacks(baked, tmp_path):
    """setup-python v7 removed `pip-install`; a renamed configure-aws-credentials input is unknown."""
    (path,) = workflow_files(baked("deploy", {"ci": "github-actions"}), "github-actions")
    for wrong, name in (
        (lambda text: text.replace("python-version:", "pip-install:"), "pip-install"),
        (lambda text: text.replace("role-session-name:", "session-name:"), "session-name"),
    ):
        result = actionlint_at_major_tags(path, tmp_path, wrong)
        assert result.returncode != 0 and f'input "{name}" is not defined' in result.stdout, result.stdout


@pytest.mark.parametrize(
    "reference",
    [
        "actions/checkout@v7",
        "actions/checkout@v7.0.1",
        "actions/checkout@main",
        "actions/checkout@3d3c42e # v7.0.1",  # a short SHA: ambiguous as the repository grows
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",  # no release tag to read
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7",  # a major: which release?
        "docker://python:3.11",
    ],
)
def test_the_pin_check_refuses_a_tag_a_branch_a_short_sha_and_a_missing_release(reference):
    assert unpinned([reference]) == [reference]


def test_the_pin_check_finds_a_tag_pinned_action_in_a_generated_workflow(baked):
    (path,) = workflow_files(baked("deploy", {"ci": "github-actions"}), "github-actions")
    sha, version = ACTION_PINS["actions/upload-artifact"]
    text = path.read_text().replace(f"actions/upload-artifact@{sha} # {version}", "actions/upload-artifact@v7")
    assert unpinned(action_references(text)) == ["actions/upload-artifact@v7"]


def dependabot_file(project: Path) -> Path:
    return project / ".github" / "dependabot.yml"


@pytest.mark.parametrize("name", ["build-train", "deploy"])
def test_github_repos_get_weekly_dependabot_updates_of_their_actions_and_others_no_dependabot(baked, name):
    """Dependabot keeps the pins current (SHA and comment); the file passes SchemaStore's dependabot
    schema (bundled in check-jsonschema). Keys: https://docs.github.com/en/code-security/dependabot/working-with-dependabot/dependabot-options-reference"""
    path = dependabot_file(baked(name, {"ci": "github-actions"}))
    result = schema_check("vendor.dependabot", path)
    assert result.returncode == 0, result.stdout + result.stderr
    (update,) = yaml.safe_load(path.read_text())["updates"]
    assert (update["package-ecosystem"], update["directory"], update["schedule"]["interval"]) == (
        "github-actions",
        "/",  # the docs: "/" checks the workflow files in .github/workflows
        "weekly",
    )
    for system in ("codepipeline", "gitlab"):
        assert not dependabot_file(baked(name, {"ci": system})).exists(), system


def test_the_dependabot_schema_check_refuses_a_broken_file(baked, tmp_path):
    text = dependabot_file(baked("deploy", {"ci": "github-actions"})).read_text()
    broken = tmp_path / "dependabot.yml"
    broken.write_text(text.replace("interval: weekly", "interval: fortnightly"))
    assert schema_check("vendor.dependabot", broken).returncode != 0


# An image by name:patch-release (an optional variant suffix); a floating tag (3.11, latest, none)
# changes under the pipeline. No digest: none could be checked offline.
PATCH_RELEASE_IMAGE = re.compile(r"[\w./-]+:(?P<minor>\d+\.\d+)\.\d+(?:-[\w.]+)?")


def gitlab_images(document: dict) -> list[str]:
    """Every `image:` of the pipeline: the default one and any job's."""
    images = [document.get("default", {}).get("image")]
    images += [job.get("image") for job in document.values() if isinstance(job, dict)]
    return [image["name"] if isinstance(image, dict) else image for image in images if image]


def python_minors(project: Path, system: str) -> set[str]:
    """The Python minor each CI system runs: setup-python's version, the GitLab image's, CodeBuild's."""
    if system == "github-actions":
        return {
            str(step["with"]["python-version"])
            for path in workflow_files(project, system)
            for job in yaml.safe_load(path.read_text())["jobs"].values()
            for step in job.get("steps", [])
            if step.get("uses", "").startswith("actions/setup-python@")
        }
    if system == "gitlab":
        images = gitlab_images(yaml.safe_load((project / ".gitlab-ci.yml").read_text()))
        return {PATCH_RELEASE_IMAGE.fullmatch(image).group("minor") for image in images}
    spec = yaml.safe_load((project / "build_spec.yml").read_text())
    return {str(spec["phases"]["install"]["runtime-versions"]["python"])}


@pytest.mark.parametrize("name,answers", [p for p in CI_BAKES if p.values[1]["ci"] == "gitlab"])
def test_gitlab_images_are_patch_releases_of_the_python_minor_every_ci_system_runs(baked, name, answers):
    project = baked(name, answers)
    images = gitlab_images(yaml.safe_load((project / ".gitlab-ci.yml").read_text()))
    assert images and all(PATCH_RELEASE_IMAGE.fullmatch(image) for image in images), images
    assert all(f"`{image}`" in (project / "README.md").read_text() for image in images), "the README names it"
    github = baked(name, {**answers, "ci": "github-actions"})
    assert (
        python_minors(project, "gitlab")
        == python_minors(github, "github-actions")
        == python_minors(project, "codepipeline")
    )


@pytest.mark.parametrize("image", ["python:3.11", "python:latest", "python", "python:3.11-slim", "python:3"])
def test_the_image_check_refuses_a_floating_tag(image):
    assert not PATCH_RELEASE_IMAGE.fullmatch(image)


def test_the_platform_readme_names_the_pinned_releases():
    text = (products.CI_OIDC_FILE.parent / "README.md").read_text()
    for action, (_, version) in ACTION_PINS.items():
        assert f"{action.rsplit('/', 1)[1]} {version}" in text, action
