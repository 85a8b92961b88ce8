"""The build/train repo's notebooks open in its own environment: `make notebooks` installs the pinned
notebook extra into .venv (once, and again when its file changes) and starts Jupyter Lab on
notebooks/; the pins name exact versions that resolve together with the repo's requirements.

What this proves: the target's recipe (make -n), the pin format, and that the package index can
satisfy requirements.txt plus the extra at once (uv pip compile, which resolves without installing).
It does not start Jupyter: that needs the ~100 MB install the command does for a user."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hooks import options
from tests import bakery

EXTRA = "requirements-notebooks.txt"
PIN = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==([0-9][0-9A-Za-z.+-]*)$")


def pins(path: Path) -> dict[str, str]:
    """name -> version of every requirement line; a line that is not `name==version` fails."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: {line!r} is not pinned as name==version"
        found[match[1].lower()] = match[2]
    return found


@pytest.fixture(scope="module")
def project(baked) -> Path:
    return baked("build-train", {})


def test_the_extra_pins_jupyter_lab_and_a_kernel(project):
    assert {"jupyterlab", "ipykernel"} <= set(pins(project / EXTRA))


def test_the_pin_check_refuses_a_loose_requirement(tmp_path):
    loose = tmp_path / EXTRA
    loose.write_text("jupyterlab>=4\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="not pinned"):
        pins(loose)


def test_make_notebooks_installs_the_extra_then_opens_jupyter_lab_on_notebooks(project):
    result = bakery.run(["make", "--no-print-directory", "-n", "notebooks"], cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    install = next(index for index, line in enumerate(lines) if line.endswith(f"-r {EXTRA}"))
    assert lines[install + 1] == "touch .venv/.requirements-notebooks.stamp"
    assert lines[-1] == ".venv/bin/jupyter lab --notebook-dir=notebooks"


def test_an_installed_extra_is_not_installed_again(project, tmp_path):
    """With the environment and the extra's stamp newer than their files, only Jupyter starts."""
    copy = bakery.private_copy(project, tmp_path)
    venv = copy / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    for stamp in (".requirements.stamp", ".requirements-notebooks.stamp"):
        (venv / stamp).touch()
    result = bakery.run(["make", "--no-print-directory", "-n", "notebooks"], cwd=copy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [".venv/bin/jupyter lab --notebook-dir=notebooks"]


@pytest.mark.slow
def test_the_extra_resolves_together_with_the_repos_requirements(project, tmp_path):
    """uv (pinned in the monorepo's environment) resolves both files against the package index;
    the kit's own pin is left out, as it is installed from the release, not from the index."""
    requirements = tmp_path / "requirements.txt"
    lines = (project / "requirements.txt").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.startswith(options.KIT_DISTRIBUTION)]
    requirements.write_text("\n".join(kept) + "\n", encoding="utf-8")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    command = [str(bakery.VENV_BIN / "uv"), "pip", "compile", "--quiet", "--python-version", python]
    result = subprocess.run(
        [*command, str(requirements), str(project / EXTRA)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    resolved = {
        name.lower(): version for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", result.stdout, re.M)
    }
    for name, version in pins(project / EXTRA).items():
        assert resolved.get(name) == version
