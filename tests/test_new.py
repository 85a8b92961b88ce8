"""`make new`, the front door: each refusal is one `error: ` line, a non-zero exit and nothing
written; at a terminal a bad answer is refused at once and asked again, and questions that do not
apply are not asked. Also what the plain `cookiecutter` command prints, which README.md describes."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from hooks import options
from scripts import new
from tests import bakery

ACCOUNTS = "staging_account_id=111111111111 prod_account_id=222222222222"
REFUSALS = {
    "bad name": ("deploy", "project_name=1bad", "project_name '1bad' is not allowed"),
    "bad choice value": ("deploy", "inference_mode=nope", "inference_mode 'nope' is not allowed; choose one of"),
    "bad account id": ("deploy", "multi_account=yes staging_account_id=12 prod_account_id=222222222222", "12 digits"),
    "missing account id": ("deploy", "multi_account=yes staging_account_id=111111111111", "prod_account_id ''"),
    "template syntax": ("build-train", "project_name=x{{7*7}}", "template syntax"),
    "unknown option": ("build-train", "colour=blue", "build-train has no option 'colour'"),
    "not key=value": ("build-train", "churn", "answer 'churn' is not key=value"),
    "no template": ("", "", "no template chosen: set TEMPLATE to one of: build-train, deploy"),
    "unknown template": ("serve", "", "template 'serve' does not exist; choose one of: build-train, deploy"),
    "value of an ignored option": ("deploy", "inference_mode=batch api_gateway=maybe", "api_gateway 'maybe'"),
}


def files_below(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


def run_new(*arguments: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    """`python -m scripts.new` as `make new` runs it, with the monorepo importable from `cwd`."""
    env = dict(kwargs.pop("env", os.environ))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(bakery.REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "scripts.new", *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def assert_refused_in_one_line(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("template,answers,expected", REFUSALS.values(), ids=REFUSALS.keys())
def test_each_refusal_is_one_line_a_non_zero_exit_and_nothing_written(tmp_path, template, answers, expected):
    result = run_new("--template", template, "--no-input", "--answers", answers, "--output", "out", cwd=tmp_path)
    assert_refused_in_one_line(result, expected)
    assert result.stdout == "" and files_below(tmp_path) == []


def test_an_existing_repo_folder_is_refused_and_left_as_it_was(tmp_path):
    existing = tmp_path / "churn-deploy"
    existing.mkdir()
    (existing / "mine.txt").write_text("the team's work\n")
    result = run_new("--template", "deploy", "--no-input", "--answers", "project_name=churn", cwd=tmp_path)
    assert_refused_in_one_line(result, "churn-deploy already exists: choose another OUTPUT or project_name")
    assert files_below(tmp_path) == ["churn-deploy", "churn-deploy/mine.txt"]


def test_a_usage_mistake_is_one_line_too(tmp_path):
    result = run_new("--no-input", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: the following arguments are required: --template; see python -m scripts.new --help"
    ]


# --- failures inside cookiecutter: our checks bypassed, so they are what stops generation -------


@pytest.fixture
def unchecked(monkeypatch):
    """scripts.new with its own checks switched off: what cookiecutter and its hooks do with a bad answer."""
    monkeypatch.setattr(new, "check", lambda *args: None)
    monkeypatch.setattr(new.pre_gen, "validate", lambda *args, **kwargs: None)


@pytest.mark.parametrize(
    "answers,expected",
    [
        ("project_name=1bad", "error: project_name '1bad' is not allowed"),  # refused by the pre-generation hook
        ("framework=pytorch", "error: pytorch provided for choice variable framework"),  # cookiecutter's ValueError
    ],
    ids=["hook refuses", "cookiecutter raises"],
)
def test_a_failure_inside_cookiecutter_is_one_line_and_leaves_nothing(unchecked, tmp_path, capfd, answers, expected):
    output = tmp_path / "out"
    assert new.main(["--template", "build-train", "--no-input", "--answers", answers, "--output", str(output)]) == 1
    printed = capfd.readouterr()
    assert printed.out == ""
    assert len(printed.err.splitlines()) == 1 and printed.err.startswith(expected), printed.err
    assert files_below(tmp_path) == []


def test_a_crashed_hook_is_named_by_the_last_line_it_printed():
    traceback = "Traceback (most recent call last):\n  File x\nKeyError: 'region'\n"
    assert new.failure_line(RuntimeError("Hook script failed (exit status: 1)"), traceback) == (
        "Hook script failed (exit status: 1): KeyError: 'region'"
    )
    assert new.failure_line(RuntimeError("boom"), "noise\nerror: our reason\n") == "our reason"
    assert new.failure_line(ValueError("first\nsecond"), "") == "first"


# --- success ------------------------------------------------------------------------------------


def test_batch_with_the_default_api_gateway_is_created_without_an_api(tmp_path):
    home = tmp_path / "home"  # cookiecutter's replay file and clones would go here; nothing may
    home.mkdir()
    arguments = ("--template", "deploy", "--no-input", "--answers", "inference_mode=batch")
    result = run_new(*arguments, cwd=tmp_path, env={**os.environ, "HOME": str(home)})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert files_below(home) == []
    project = tmp_path / "diabetes-progression-deploy"
    assert result.stdout.splitlines() == [
        "created diabetes-progression-deploy",
        "next:",
        "  cd diabetes-progression-deploy && make setup",
        "  make help",
    ]
    assert not (project / "app_infra" / "api_gateway").exists()
    recorded = json.loads((project / options.RECORD_FILE).read_text())["context"]["cookiecutter"]
    assert (recorded["api_gateway"], recorded["deployment_strategy"]) == ("no", "all-at-once")


def test_make_new_refuses_in_our_line_then_creates_the_repo(tmp_path):
    """Through the Makefile (the stamp is taken as fresh: this tests `new`, not `setup`). make
    reports a failed recipe in a line of its own after ours; README.md says so."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAKE", "MFLAGS"))}
    make = ["make", "--no-print-directory", "-o", ".venv/.requirements.stamp", "new", "TEMPLATE=deploy"]
    common = [f"OUTPUT={tmp_path}", "NO_INPUT=1"]
    refused = subprocess.run(
        [*make, *common, "ANSWERS=project_name=1bad"], cwd=bakery.REPO_ROOT, env=env, capture_output=True, text=True
    )
    lines = refused.stderr.splitlines()
    assert refused.returncode != 0 and lines[0].startswith("error: project_name '1bad' is not allowed"), refused.stderr
    assert len(lines) == 2 and lines[1].startswith("make: *** [Makefile:"), refused.stderr
    assert files_below(tmp_path) == []

    answers = f"ANSWERS=project_name=churn multi_account=yes {ACCOUNTS}"
    created = subprocess.run([*make, *common, answers], cwd=bakery.REPO_ROOT, env=env, capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "churn-deploy"
    assert f"cd {project} && make setup" in created.stdout and "make help" in created.stdout
    staging = json.loads((project / "inference_config" / "staging" / "inference_config.json").read_text())
    assert staging["account"]["id"] == "111111111111"


# --- plain cookiecutter, as README.md describes it ------------------------------------------------


def test_plain_cookiecutter_prints_our_line_first_on_stderr_and_its_own_after(tmp_path):
    home = tmp_path / "home"  # cookiecutter writes a replay file into the home folder
    home.mkdir()
    command = [str(bakery.VENV_BIN / "cookiecutter"), str(bakery.REPO_ROOT), "--directory", "templates/deploy"]
    result = subprocess.run(
        [*command, "--no-input", "project_name=1bad", "--output-dir", str(tmp_path / "out")],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert result.stderr.splitlines()[0].startswith("error: project_name '1bad' is not allowed")
    assert result.stdout.strip().splitlines()[-1] == "Hook script failed (exit status: 1)"
    assert not (tmp_path / "out" / "1bad-deploy").exists()


# --- at a terminal ------------------------------------------------------------------------------


def ask(template: str, typed: str, given: dict | None = None) -> tuple[dict, str, str]:
    """Drive the questions with typed lines; returns the answers, what was shown and the refusals."""
    stdout, stderr = io.StringIO(), io.StringIO()
    answers = new.ask(template, new.declared(template), given or {}, io.StringIO(typed), stdout, stderr)
    return answers, stdout.getvalue(), stderr.getvalue()


def asked(shown: str) -> list[str]:
    """The question keys in the order they were shown (each prompt starts `key: `)."""
    keys = set(new.questions(new.declared("deploy")) + new.questions(new.declared("build-train")))
    return re.findall(rf"\b({'|'.join(sorted(keys))}): ", shown)


def test_a_bad_name_is_refused_at_once_and_asked_again():
    answers, shown, refused = ask("deploy", "1bad\nchurn\n" + "\n" * 10)
    assert refused.splitlines() == [
        "error: project_name '1bad' is not allowed: use 1-32 ASCII letters, digits and hyphens, starting with "
        "a letter and ending with a letter or digit"
    ]
    assert asked(shown)[:3] == ["project_name", "project_name", "project_id"]
    assert answers["project_name"] == "churn"


def test_account_ids_are_asked_only_with_multi_account():
    answers, shown, _ = ask("deploy", "\n" * 20)
    assert "staging_account_id" not in asked(shown) and answers["multi_account"] == "no"
    typed = "\n" * 9 + "2\n" + "12\n111111111111\n222222222222\n"
    answers, shown, refused = ask("deploy", typed)
    assert asked(shown)[-3:] == ["staging_account_id", "staging_account_id", "prod_account_id"]
    assert refused.startswith("error: staging_account_id '12' is not an AWS account id")
    assert (answers["staging_account_id"], answers["prod_account_id"]) == ("111111111111", "222222222222")


def test_api_gateway_and_strategy_are_not_asked_for_a_batch_repo():
    answers, shown, _ = ask("deploy", "\n\n\n\n2\n\n\n\n")  # inference_mode: 2) batch
    assert answers["inference_mode"] == "batch"
    assert "api_gateway" not in asked(shown) and "deployment_strategy" not in asked(shown)
    assert asked(shown) == [
        "project_name",
        "project_id",
        "region",
        "problem_type",
        "inference_mode",
        "on_drift",
        "ci",
        "multi_account",
    ]


def test_a_choice_is_picked_by_number_or_value_and_a_number_out_of_range_is_asked_again():
    answers, _, refused = ask("build-train", "\n\n\n2\n9\nsklearn\n" + "\n" * 5)
    assert (answers["problem_type"], answers["framework"]) == ("regression", "sklearn")
    assert refused.splitlines() == ["error: framework '9' is not allowed; choose one of: xgboost, sklearn"]


def test_answers_given_up_front_are_not_asked_and_input_ending_early_is_refused():
    with pytest.raises(new.Refused, match="input ended before region was answered"):
        ask("build-train", "\n", given={"project_name": "churn"})


def test_a_terminal_session_creates_the_repo(tmp_path):
    """The real thing on a pseudo-terminal: stdin is a TTY, so scripts.new asks."""
    controller, terminal = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.new", "--template", "deploy", "--output", str(tmp_path)],
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.PIPE,
        cwd=bakery.REPO_ROOT,
    )
    os.close(terminal)
    os.write(controller, b"1bad\nchurn\n\n\n\n2\n\n\n\n")  # the terminal buffers the lines until they are read
    shown = read_until_closed(controller)
    assert process.wait(timeout=60) == 0, process.stderr.read()
    assert process.stderr.read().decode().startswith("error: project_name '1bad' is not allowed")
    assert "api_gateway" not in shown and "staging_account_id" not in shown
    assert f"cd {tmp_path / 'churn-deploy'} && make setup" in shown
    assert not (tmp_path / "churn-deploy" / "app_infra" / "api_gateway").exists()


def read_until_closed(controller: int) -> str:
    shown = b""
    while select.select([controller], [], [], 60)[0]:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # Linux: the other side closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return shown.decode()
