"""Generated repos take later template versions as reviewable changes, keeping the team's edits."""

import json
import shutil
import subprocess

import pytest

from tests import bakery

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
PAYLOAD = "templates/build-train/{{cookiecutter.__repo_dir}}"
TEMPLATE_LINE = "test: setup ## Unit tests of every step and of the pipeline definition"
pytestmark = pytest.mark.slow


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def template_repo(tmp_path, monkeypatch):
    """A clone of this monorepo that the test can commit new template versions to."""
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    clone = tmp_path / "template"
    git("clone", "--quiet", str(bakery.REPO_ROOT), str(clone), cwd=tmp_path)
    # Carry the working tree's template, hooks and kit over, so the test checks the code under test.
    for folder in ("hooks", "packages/mlops-template-kit", "templates/build-train"):
        shutil.rmtree(clone / folder, ignore_errors=True)  # absent when the folder is new
        shutil.copytree(bakery.REPO_ROOT / folder, clone / folder, ignore=shutil.ignore_patterns("__pycache__"))
    git("add", "-A", cwd=clone)
    git("commit", "--quiet", "--allow-empty", "-m", "version N", cwd=clone)
    return clone


@pytest.fixture
def project(template_repo, tmp_path):
    """A repo generated from version N, committed, with the team's own edits committed on top."""
    from cookiecutter.main import cookiecutter

    baked = cookiecutter(
        str(template_repo), directory="templates/build-train", no_input=True, output_dir=str(tmp_path / "out")
    )
    project = tmp_path / "out" / "diabetes-progression-build-train"
    assert str(project) == baked
    git("init", "--quiet", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "--quiet", "-m", "generated", cwd=project)
    return project


def commit_template_change(template_repo, old, new):
    makefile = template_repo / PAYLOAD / "Makefile"
    makefile.write_text(makefile.read_text().replace(old, new))
    git("commit", "--quiet", "-am", "version N+1", cwd=template_repo)


def run_update(project):
    """`make update`'s command: the kit's `mlops-kit update` (installed in this environment)."""
    return subprocess.run(
        [str(bakery.VENV_BIN / "mlops-kit"), "update"], cwd=project, capture_output=True, text=True, timeout=300
    )


def test_update_applies_template_changes_and_keeps_the_teams_edits(template_repo, project):
    own_file = project / "algorithms" / "shared_libraries" / "team_notes.md"
    own_file.write_text("Our team's notes.\n")
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text() + "\nsmoke: ## our own target\n\techo smoke\n")
    git("add", "-A", cwd=project)
    git("commit", "--quiet", "-m", "team edits", cwd=project)
    commit_template_change(template_repo, TEMPLATE_LINE, TEMPLATE_LINE.replace("Unit tests", "All unit tests"))

    result = run_update(project)

    assert result.returncode == 0, result.stderr
    text = makefile.read_text()
    assert "All unit tests of every step" in text and "smoke: ## our own target" in text
    assert own_file.read_text() == "Our team's notes.\n"
    record = json.loads((project / ".cruft.json").read_text())
    new_commit = git("rev-parse", "HEAD", cwd=template_repo).strip()
    assert record["commit"] == record["context"]["cookiecutter"]["_commit"] == new_commit
    assert "Makefile" in git("diff", "--cached", "--name-only", cwd=project)


def test_update_reports_a_conflict_clearly(template_repo, project):
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text().replace(TEMPLATE_LINE, TEMPLATE_LINE + " (team wording)"))
    git("commit", "--quiet", "-am", "team edit on the same line", cwd=project)
    commit_template_change(template_repo, TEMPLATE_LINE, TEMPLATE_LINE.replace("Unit tests", "All unit tests"))

    result = run_update(project)

    assert result.returncode == 3
    assert "conflicts in: Makefile" in result.stderr
    assert "<<<<<<<" in makefile.read_text()


def test_update_refuses_uncommitted_work(template_repo, project):
    (project / "README.md").write_text("changed\n")
    result = run_update(project)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: the working tree has uncommitted changes: commit or stash them, then update"
    )


def test_update_to_the_same_version_changes_nothing(template_repo, project):
    result = run_update(project)
    assert result.returncode == 0 and "already at template commit" in result.stdout
    assert "applied" not in result.stdout, "nothing was applied, and the output must not say it was"
    assert git("status", "--porcelain", cwd=project) == ""


def test_an_edit_of_a_file_the_template_deletes_stops_the_update_naming_the_file(template_repo, project):
    """Machinery that moved into the kit is deleted by the update; a team edit of it cannot be
    merged into a deletion, so nothing is applied and the file is named."""
    moved = "algorithms/shared_libraries/README.md"
    (project / moved).write_text((project / moved).read_text() + "Our note.\n")
    git("commit", "--quiet", "-am", "team edit of a file the template will delete", cwd=project)
    git("rm", "--quiet", f"{PAYLOAD}/{moved}", cwd=template_repo)
    git("commit", "--quiet", "-m", "version N+1 deletes it", cwd=template_repo)

    result = run_update(project)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: the template change does not apply to {moved}, edited here where the template deletes or "
        "rewrites it: move those edits elsewhere (or undo them), commit, then update again"
    ]
    assert git("status", "--porcelain", cwd=project) == ""
