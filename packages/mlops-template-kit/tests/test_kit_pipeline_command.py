"""`mlops-kit pipeline`: every subcommand has --help; bad settings or config are one line and exit
2, an AWS failure one line and exit 1; the branch commands refuse a single-branch repository; and
`build-id` and `--help` work without the SageMaker SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mlops_template_kit import cli
from mlops_template_kit import definition as definitions
from mlops_template_kit.pipeline import command, repo

BUILD_ID = "20261122T133000Z-1a2b3c4"
# Importing any of these fails in the subprocess: the commands must not need them.
NO_SDK = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "sagemaker":
            raise ImportError("the SageMaker SDK must not be imported")
sys.meta_path.insert(0, Refuse())
from mlops_template_kit import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def kit(repo_root, *arguments, sdk: bool = False, **variables):
    """`mlops-kit pipeline` in a subprocess; unless `sdk`, one that cannot import the SageMaker SDK."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **variables}
    program = ["-m", "mlops_template_kit.cli"] if sdk else ["-c", NO_SDK]
    return subprocess.run(
        [sys.executable, *program, "pipeline", *arguments, "--repo-root", str(repo_root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(capsys, code: int, fragment: str, result: int) -> None:
    captured = capsys.readouterr()
    assert result == code, captured.err
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and fragment in captured.err, captured.err


@pytest.mark.parametrize("name", list(command.COMMANDS))
def test_every_subcommand_has_help_without_the_sdk(name, build_train_repo):
    result = subprocess.run(
        [sys.executable, "-c", NO_SDK, "pipeline", name, "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert command.COMMANDS[name][0] in " ".join(result.stdout.split())


def test_build_id_needs_no_sdk(build_train_repo):
    result = kit(build_train_repo, "build-id", COMMIT_ID="1a2b3c4d5e6f")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("-1a2b3c4")


def test_definition_is_the_one_the_repository_builds(build_train_repo, capsys):
    assert cli.main(["pipeline", "definition"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(repo.build(build_train_repo)[2])
    assert [parameter["Name"] for parameter in printed["Parameters"]] == ["CodeUrl", "ModelPackageGroup"]


def test_the_command_line_definition_skips_teardown_and_prints_the_same_bytes(build_train_repo, capsys, monkeypatch):
    """From the command line the process ends once the JSON is flushed (no interpreter teardown);
    what it prints is byte for byte what the in-process command prints."""
    monkeypatch.setenv("BUILD_ID", BUILD_ID)
    assert cli.main(["pipeline", "definition", "--repo-root", str(build_train_repo)]) == 0
    in_process = capsys.readouterr().out
    result = kit(build_train_repo, "definition", sdk=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == in_process and result.stderr == ""


def test_only_the_printing_commands_may_skip_teardown():
    parser = cli.build_parser()
    required = {"cleanup-branch": ["--branch", "feature/x"]}
    parsed = {name: parser.parse_args(["pipeline", name, *required.get(name, [])]) for name in command.COMMANDS}
    skips = {name for name, args in parsed.items() if args.exit_without_teardown}
    assert skips == {"definition", "mermaid"}


def test_mermaid_rewrites_the_readme_diagram(build_train_repo, capsys):
    readme = build_train_repo / "README.md"
    readme.write_text(f"# repo\n\n{definitions.DIAGRAM_START}\n```mermaid\nold\n```\n{definitions.DIAGRAM_END}\n")
    assert cli.main(["pipeline", "mermaid", "--readme", str(readme)]) == 0
    assert "Stop" in readme.read_text() and "old" not in readme.read_text()
    capsys.readouterr()
    missing = build_train_repo / "NOPE.md"
    one_line_error(capsys, 2, f"cannot read {missing}", cli.main(["pipeline", "mermaid", "--readme", str(missing)]))


def test_a_bad_config_is_one_line_and_exit_2(build_train_repo, capsys):
    config = build_train_repo / "ml_pipelines" / "training" / "input.json"
    config.write_text(json.dumps({"message": "x", "low": 2, "high": 1}))
    one_line_error(capsys, 2, "error: input.json: low must be below high", cli.main(["pipeline", "definition"]))
    config.write_text("[")
    one_line_error(capsys, 2, "error: input.json: cannot read it as JSON", cli.main(["pipeline", "upload-code"]))


def test_a_bad_setting_is_one_line_and_exit_2(build_train_repo, capsys, monkeypatch):
    monkeypatch.setenv("BUILD_ID", "no/slashes")
    one_line_error(capsys, 2, "BUILD_ID='no/slashes' is not valid", cli.main(["pipeline", "definition"]))


def test_a_tracking_uri_that_is_not_a_sagemaker_mlflow_arn_is_one_line_and_exit_2(
    build_train_repo, capsys, monkeypatch
):
    monkeypatch.setenv("PIPELINE_MLFLOW_TRACKING_URI", "arn:aws:s3:::mlflow-artifacts")
    expected = (
        "PIPELINE_MLFLOW_TRACKING_URI='arn:aws:s3:::mlflow-artifacts' is not valid: expected empty or a SageMaker"
    )
    one_line_error(capsys, 2, expected, cli.main(["pipeline", "upsert"]))


def test_a_folder_that_is_not_a_build_train_repository_is_one_line(tmp_path, capsys):
    (tmp_path / ".cruft.json").write_text(json.dumps({"context": {"cookiecutter": {"project_name": "a"}}}))
    result = cli.main(["pipeline", "definition", "--repo-root", str(tmp_path)])
    one_line_error(capsys, 2, "is not a build-train repository", result)


def test_start_refuses_parameters_the_pipeline_does_not_declare(build_train_repo, capsys, monkeypatch):
    monkeypatch.setenv("BUILD_ID", BUILD_ID)
    result = cli.main(["pipeline", "start", "--parameter", "CodeUrll=s3://x/"])
    one_line_error(capsys, 2, "unknown pipeline parameter CodeUrll; declared: CodeUrl, ModelPackageGroup", result)
    result = cli.main(["pipeline", "start", "--parameter", "no-equals-sign"])
    one_line_error(capsys, 2, "--parameter 'no-equals-sign': expected Name=Value", result)


def test_an_aws_failure_is_one_line_and_exit_1(build_train_repo):
    # Nothing listens on port 9: the upload fails in botocore, not in the kit.
    result = kit(
        build_train_repo,
        "upload-code",
        sdk=True,
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_MAX_ATTEMPTS="1",
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: AWS call failed:") and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("arguments", [["cleanup-branch", "--branch", "feature/x"], ["approve-merged"]])
def test_branch_commands_refuse_a_single_branch_repository(arguments, build_train_repo, capsys):
    one_line_error(capsys, 2, "needs a multi-branch repository", cli.main(["pipeline", *arguments]))
