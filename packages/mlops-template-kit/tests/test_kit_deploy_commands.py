"""The deploy commands work on the repository they are given (`--repo-root`, else the working
directory): its `.cruft.json` answers are the defaults CI's environment overrides, and what they
cannot use is refused in one line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_template_kit.deploy import settings
from mlops_template_kit.deploy.errors import DeployError

ANSWERS = {"project_name": "churn", "project_id": "p-abc123", "region": "eu-west-1", "problem_type": "regression"}
CI_VARIABLES = ("SAGEMAKER_PROJECT_NAME", "SAGEMAKER_PROJECT_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "PROBLEM_TYPE")


def write_record(folder: Path, answers: dict) -> Path:
    record = {"template": "t", "context": {"cookiecutter": {**answers, "_template": "t"}}}
    (folder / settings.RECORD_FILE).write_text(json.dumps(record), encoding="utf-8")
    return folder


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding a generation record, with no CI variables set."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return write_record(tmp_path, ANSWERS)


def run_kit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlops_template_kit.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_recorded_answers_are_the_defaults(repo):
    found = settings.Settings.from_env(repo)
    assert (found.project_name, found.project_id, found.region) == ("churn", "p-abc123", "eu-west-1")
    assert found.repo_root == repo.resolve()
    assert settings.problem_type(repo) == "regression"
    assert settings.config_dir(repo) == repo / "inference_config"


def test_ci_variables_win_over_the_record(repo):
    env = {"SAGEMAKER_PROJECT_NAME": "other", "SAGEMAKER_PROJECT_ID": "p-zzz999", "AWS_REGION": "us-west-2"}
    found = settings.Settings.from_env(repo, env)
    assert (found.project_name, found.project_id, found.region) == ("other", "p-zzz999", "us-west-2")
    assert settings.problem_type(repo, {"PROBLEM_TYPE": "binary_classification"}) == "binary_classification"


def test_a_missing_record_says_where_to_run(tmp_path):
    with pytest.raises(DeployError, match="missing: run mlops-kit from the deploy repository's root"):
        settings.Settings.from_env(tmp_path, {})


def test_a_record_without_answers_is_refused(repo):
    (repo / settings.RECORD_FILE).write_text('{"template": "t"}', encoding="utf-8")
    with pytest.raises(DeployError, match="not a generation record"):
        settings.answers(repo)


def test_an_unknown_problem_type_is_refused(repo):
    write_record(repo, {**ANSWERS, "problem_type": "clustering"})
    with pytest.raises(DeployError, match="'clustering' is not one of"):
        settings.problem_type(repo)


def test_repo_root_must_be_a_generated_repository(tmp_path):
    with pytest.raises(DeployError, match="is not a generated deploy repository"):
        settings.chosen_repo_root(tmp_path)


def test_the_repo_root_is_the_one_given_else_the_working_directory(repo, tmp_path_factory, monkeypatch):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    assert settings.chosen_repo_root(repo) == repo.resolve()
    assert settings.chosen_repo_root(None) == elsewhere.resolve()
    assert settings.build_dir(repo) == repo / "build"


def test_choosing_a_repo_root_changes_no_environment(repo, monkeypatch):
    """Library code takes the repository as an argument: nothing a later call could inherit."""
    import os

    before = dict(os.environ)
    settings.chosen_repo_root(repo)
    settings.Settings.from_env(repo)
    assert dict(os.environ) == before


@pytest.mark.parametrize(
    "argv",
    [["--stage-access"], ["--stage-access", "--every-project", "--stage", "prod"], ["--trigger", "--stage", "prod"]],
)
def test_unclear_deploy_command_lines_are_one_line_and_deploy_nothing(argv, repo):
    result = run_kit("deploy", *argv, cwd=repo)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert sorted(path.name for path in repo.iterdir()) == [settings.RECORD_FILE]


def test_check_config_outside_a_repository_is_one_line(tmp_path):
    result = run_kit("check-config", "--repo-root", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path} is not a generated deploy repository (no .cruft.json)\n"


def test_check_config_names_the_missing_configuration(repo):
    result = run_kit("check-config", cwd=repo)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "inference_config.json: file not found" in result.stderr
