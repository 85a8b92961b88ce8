"""The Makefiles as people use them: `make help` reads as a table, and `make pipeline` prints
nothing but the definition, so `make pipeline > def.json` gives a JSON file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import bakery

VENV = Path(sys.executable).parent.parent  # the generated repos reuse the tests' environment


def description_columns(help_text: str) -> set[int]:
    """Where each row's description starts (rows are `  target   description`)."""
    rows = [line for line in help_text.splitlines() if line.startswith("  ")]
    assert rows, f"make help listed nothing:\n{help_text}"
    return {len(row) - len(row[2:].split(None, 1)[1]) for row in rows}


def make(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(["make", *arguments], cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_the_monorepo_help_is_one_table():
    result = make(bakery.REPO_ROOT, "help")
    assert result.returncode == 0 and len(description_columns(result.stdout)) == 1, result.stdout


@pytest.mark.parametrize("name", ["build-train", "deploy"])
def test_a_generated_repos_help_is_one_table(baked, name):
    result = make(baked(name, {}), "help")
    assert result.returncode == 0 and len(description_columns(result.stdout)) == 1, result.stdout


def test_the_column_check_notices_a_ragged_table():
    assert len(description_columns("  short      one\n  much-longer-target two\n")) == 2


def test_make_pipeline_prints_only_the_definition(baked, tmp_path):
    project = bakery.private_copy(baked("build-train", {}), tmp_path)
    result = make(project, "pipeline", f"VENV={VENV}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["Steps"]
