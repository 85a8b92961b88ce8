"""`mlops-kit`: one entry point, `--help` on every subcommand, bad input refused in one line."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mlops_template_kit import cli

KIT_ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("boto3", "botocore", "cookiecutter", "sagemaker", "pandas", "numpy")


def run_kit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlops_template_kit.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_the_console_script_is_the_cli_entry_point():
    scripts = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"mlops-kit": "mlops_template_kit.cli:main"}


@pytest.mark.parametrize("command", [[], *([name] for name in cli.SUBCOMMANDS)])
def test_every_subcommand_has_help(command):
    result = run_kit(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: mlops-kit {' '.join(command)}".rstrip())


def test_the_top_level_help_lists_every_subcommand():
    help_text = run_kit("--help").stdout
    for name, (summary, _module) in cli.SUBCOMMANDS.items():
        assert name in help_text and summary in help_text


def test_no_subcommand_is_refused_with_usage():
    result = run_kit()
    assert result.returncode == 2
    assert "the following arguments are required: COMMAND" in result.stderr


def test_an_unknown_subcommand_is_refused():
    result = run_kit("deploy-everything")
    assert result.returncode == 2 and "invalid choice: 'deploy-everything'" in result.stderr


def test_building_the_parser_imports_no_heavy_library():
    probe = "import sys; from mlops_template_kit import cli; cli.build_parser(); print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    )
    assert loaded.isdisjoint(HEAVY), sorted(loaded.intersection(HEAVY))


def test_update_outside_a_generated_repo_says_why_in_one_line_and_writes_nothing(tmp_path):
    result = run_kit("update", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: .cruft.json not found in {tmp_path}: this repository does not record its template"
    ]
    assert list(tmp_path.iterdir()) == []


def test_update_without_cookiecutter_says_so_in_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """Deploy repos generated before their requirements pinned cookiecutter have none installed."""
    import importlib.util

    from mlops_template_kit import update

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "cookiecutter" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.chdir(tmp_path)
    assert update.main([]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: cookiecutter is needed to render the template: pip install it (requirements.txt pins it)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_update_options_match_the_module_entry_point():
    parsed = cli.build_parser().parse_args(["update", "--to", "v1.2.0", "--template", "https://example.com/t.git"])
    assert (parsed.ref, parsed.template, parsed.run.__module__) == (
        "v1.2.0",
        "https://example.com/t.git",
        "mlops_template_kit.update",
    )
