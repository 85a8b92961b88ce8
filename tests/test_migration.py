"""A repository generated before the platform kit existed migrates to today's layout with the
update command it already has, as one reviewable change, and its own tests pass afterwards.

Steps, per template and per pre-kit commit of main:
1. bake the template from this monorepo's git history at that commit (cookiecutter's git
   checkout), recording a template repository that also holds today's working tree as its
   newest commit (what `make package` records as TEMPLATE_REPO_URL for a Studio seed);
2. commit the bake in its own git repository, then a team's own edits on top;
3. run the repository's own update command as a team would: build-train's `make update`, which
   in pre-kit bakes runs the copied `tools/template_update.py`; pre-kit deploy bakes carry the
   same tool but no `make update` target, so their command is the tool itself, run with an
   environment that has cookiecutter (pre-kit deploy requirements did not pin it: the one step
   a deploy team does by hand is `.venv/bin/pip install cookiecutter==<the pinned version>`);
4. the update is staged, not committed (reviewable), keeps the team's edits, records today's
   commit, and leaves exactly the files of a fresh bake of today's template: no copy of the
   machinery that moved into the kit survives, and the kit is pinned;
5. once the team commits it, the repository's new `make update` (`mlops-kit update`) finds it
   at today's commit; its files are the default bake's, whose own test suite tests/test_bake.py
   runs (so `make test` passes in it, with the kit under test).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from hooks import options
from tests import bakery

pytestmark = pytest.mark.slow

# Main's last commit before the kit merge (563b70b^1) and the commit the kit branch left main from
# (the parent of 96df669, the first commit to create packages/mlops-template-kit). Repositories
# generated at either have copies of naming.py and the update tool, the local runner and the
# deploy machinery in their payload, and no kit pin.
LAST_MAIN_BEFORE_KIT = "86da71ead5a425ecee85cb25939d89603385a93b"
KIT_BRANCH_POINT = "0b857d899fbb59147f82a69ba9ef5bea67b1bc43"
# Every file the bake depends on: carried from the working tree, so the code under test is what
# the update reaches.
TEMPLATE_INPUTS = ("hooks", "packages/mlops-template-kit", "templates", "cookiecutter.json", "pyproject.toml")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
VERSION = tomllib.loads((bakery.REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
# The tests' environment stands in for the repository's .venv: `-o` tells make its setup stamp is
# up to date, so nothing is installed into it (the kit in it is the one under test).
VENV = bakery.VENV_BIN.parent
MAKE_WITH_THIS_VENV = ["make", f"VENV={VENV}", "-o", f"{VENV}/.requirements.stamp"]
OLD_UPDATE_COMMAND = {
    "build-train": [*MAKE_WITH_THIS_VENV, "update"],
    "deploy": [str(bakery.VENV_BIN / "python"), "tools/template_update.py"],
}
# What the kit took over; none of it may remain in a migrated repository.
MOVED = {
    "build-train": ["ml_pipelines/local_run", "ml_pipelines/naming.py", "ml_pipelines/pipeline_definition.py"],
    "deploy": ["app_infra/local_endpoint/server.py", "app_infra/naming.py", "app_infra/deploy.py"],
}
TEAM_TARGET = "\nsmoke: ## our own target\n\techo smoke\n"
TEAM_NOTES = "docs/team_notes.md"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def has_commit(repo: Path, commit: str) -> bool:
    found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=repo, capture_output=True)
    return found.returncode == 0


def require_commit(repo: Path, commit: str) -> None:
    """Fail, not skip, when the monorepo clone lacks the pre-kit commit. A shallow clone first
    fetches its history from its own origin, once; only when that fails is the test failed."""
    shallow = git("rev-parse", "--is-shallow-repository", cwd=repo).strip() == "true"
    if not has_commit(repo, commit) and shallow:
        subprocess.run(["git", "fetch", "--quiet", "--unshallow"], cwd=repo, capture_output=True)
    if not has_commit(repo, commit):
        pytest.fail(
            f"commit {commit[:12]} is not in the history of {repo}: the migration test bakes from it, "
            "so it needs a full clone (`git fetch --unshallow`), not a shallow one"
        )


def template_repository(destination: Path) -> Path:
    """A clone of this monorepo whose newest commit is the working tree's template, hooks and kit."""
    git("clone", "--quiet", str(bakery.REPO_ROOT), str(destination), cwd=destination.parent)
    for relative in TEMPLATE_INPUTS:
        source, target = bakery.REPO_ROOT / relative, destination / relative
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(*bakery.IGNORED_PARTS))
        else:
            shutil.copyfile(source, target)
    git("add", "-A", cwd=destination)
    git("commit", "--quiet", "--allow-empty", "-m", "today", cwd=destination)
    return destination


def bake(template_repo: Path, template: str, output: Path, checkout: str | None = None) -> Path:
    """Bake `template` from the template repository's git history at `checkout` (default: newest)."""
    from cookiecutter.main import cookiecutter

    config = output / "cookiecutter-config.yaml"  # cookiecutter clones into its own folder: keep it here
    output.mkdir(parents=True, exist_ok=True)
    config.write_text(f'cookiecutters_dir: "{output / "clones"}"\nreplay_dir: "{output / "replay"}"\n')
    return Path(
        cookiecutter(
            f"git+file://{template_repo}",
            checkout=checkout,
            directory=f"templates/{template}",
            no_input=True,
            output_dir=str(output),
            config_file=str(config),
        )
    )


def commit_with_team_edits(project: Path) -> None:
    """The generated repository as a team has it: committed, with edits of its own committed on top."""
    git("init", "--quiet", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "--quiet", "-m", "generated before the kit", cwd=project)
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text() + TEAM_TARGET)
    (project / TEAM_NOTES).parent.mkdir(exist_ok=True)
    (project / TEAM_NOTES).write_text("Our team's notes.\n")
    git("add", "-A", cwd=project)
    git("commit", "--quiet", "-m", "team edits", cwd=project)


def tracked_files(project: Path) -> dict[str, bytes]:
    """Every file git tracks in the repository (index = what the reviewed change would commit)."""
    names = git("ls-files", "-z", cwd=project).split("\0")
    return {name: (project / name).read_bytes() for name in names if name}


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory) -> Path:
    # Before cloning: the clone carries only the history the monorepo checkout has.
    for commit in (LAST_MAIN_BEFORE_KIT, KIT_BRANCH_POINT):
        require_commit(bakery.REPO_ROOT, commit)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in GIT_IDENTITY.items():
            patch.setenv(key, value)
        return template_repository(tmp_path_factory.mktemp("migration") / "template")


def test_a_missing_pre_kit_commit_fails_with_a_clear_message(tmp_path):
    git("init", "--quiet", cwd=tmp_path)
    with pytest.raises(pytest.fail.Exception, match="needs a full clone"):
        require_commit(tmp_path, "f" * 40)


@pytest.mark.parametrize("template", ["build-train", "deploy"])
@pytest.mark.parametrize(
    "before_kit", [LAST_MAIN_BEFORE_KIT, KIT_BRANCH_POINT], ids=["last-main-before-kit", "kit-branch-point"]
)
def test_a_repo_generated_before_the_kit_migrates_with_its_own_update_command(
    template_repo, template, before_kit, tmp_path, monkeypatch, baked
):
    require_commit(bakery.REPO_ROOT, before_kit)
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    # A Studio seed records the template repository `make package` was told (TEMPLATE_REPO_URL).
    monkeypatch.setenv("TEMPLATE_REPO_URL", str(template_repo))
    project = bake(template_repo, template, tmp_path / "old", checkout=before_kit)
    assert (project / "tools" / "template_update.py").is_file() and not (project / "tools/install_kit.py").exists()
    commit_with_team_edits(project)
    # Today's bake: the run's shared bake of the default answers (the template repository's newest
    # commit holds this working tree's template). Its own suite runs in the first covering row of
    # tests/test_bake.py::test_generated_repos_own_tests_pass, so the migrated repository's tests
    # pass where its bytes equal it; running them here too cost ~40 s a template.
    today = baked(template, bakery.answers_for(bakery.covering_subset(template)[0]))

    result = bakery.run(OLD_UPDATE_COMMAND[template], cwd=project)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "template update applied and staged" in result.stdout
    # Reviewable: the whole migration is staged on top of the team's last commit, nothing committed.
    assert git("log", "-1", "--format=%s", cwd=project).strip() == "team edits"
    assert "requirements.txt" in git("diff", "--cached", "--name-only", cwd=project).split()
    record = json.loads((project / options.RECORD_FILE).read_text())
    assert record["commit"] == git("rev-parse", "HEAD", cwd=template_repo).strip()
    assert record["template_version"] == VERSION
    # Exactly today's bake plus the team's edits: every file the template deleted is gone.
    migrated, fresh = tracked_files(project), bakery.relative_files(today)
    assert set(migrated) == fresh | {TEAM_NOTES}
    for name in sorted(fresh - {options.RECORD_FILE, "Makefile"}):
        assert migrated[name] == (today / name).read_bytes(), name
    assert migrated["Makefile"].decode() == (today / "Makefile").read_text() + TEAM_TARGET
    for moved in MOVED[template]:
        assert not (project / moved).exists(), moved
    assert f"{options.KIT_DISTRIBUTION}=={VERSION}" in (project / "requirements.txt").read_text().splitlines()
    assert "$(BIN)/mlops-kit update" in (project / "Makefile").read_text()

    git("commit", "--quiet", "-m", "template update: the platform kit", cwd=project)
    again = bakery.run([*MAKE_WITH_THIS_VENV, "update"], cwd=project)
    assert again.returncode == 0 and "already at template commit" in again.stdout, again.stdout + again.stderr
