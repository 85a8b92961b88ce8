"""Apply a newer version of the template this repository was generated from, as a reviewable change.

CloudFormation never updates seed code in an existing repository, so template updates arrive
this way: the template is rendered twice with this repository's recorded answers (at the
recorded commit and at the new one), and the difference between the two renders is applied to
the working tree with a three-way merge. The team's own edits stay; where they touch the same
lines as the template change, git leaves conflict markers and the command lists the files.

The record is `.cruft.json` (cruft's format: template, commit, directory, context), written when
the repository was generated. Needs git and cookiecutter. Generated repositories run it as
`mlops-kit update` (their `make update`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RECORD = ".cruft.json"
# cookiecutter renders the answers it is given as Jinja templates: recorded answers holding
# template syntax would be evaluated on the machine running the update, so they are refused.
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#")


class UpdateError(RuntimeError):
    """The update cannot proceed; the message says why and what to do."""


def git(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run git quietly; raise UpdateError with git's own words when it fails."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise UpdateError(f"git {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def read_record(project: Path) -> dict:
    """The generation record of the repository at `project`."""
    path = project / RECORD
    if not path.is_file():
        raise UpdateError(f"{RECORD} not found in {project}: this repository does not record its template")
    record = json.loads(path.read_text(encoding="utf-8"))
    for key, value in record.get("context", {}).get("cookiecutter", {}).items():
        if isinstance(value, str) and TEMPLATE_SYNTAX.search(value):
            raise UpdateError(f"{RECORD} answer {key} {value!r} holds template syntax, which cookiecutter would run")
    return record


def require_clean_worktree(project: Path) -> None:
    """Refuse to merge into uncommitted work, so the update is a change of its own."""
    if git("rev-parse", "--is-inside-work-tree", cwd=project, check=False).returncode != 0:
        raise UpdateError(f"{project} is not a git repository: commit your work first, then update")
    if git("status", "--porcelain", cwd=project).stdout.strip():
        raise UpdateError("the working tree has uncommitted changes: commit or stash them, then update")


def render(template_repo: Path, commit: str, record: dict, output: Path) -> Path:
    """Render the template at `commit` with the recorded answers into `output`."""
    from cookiecutter.main import cookiecutter

    git("checkout", "--quiet", "--force", commit, cwd=template_repo)
    answers = {key: value for key, value in record["context"]["cookiecutter"].items() if not key.startswith("_")}
    baked = cookiecutter(
        str(template_repo),
        directory=record.get("directory") or None,
        no_input=True,
        extra_context=answers,
        output_dir=str(output),
        overwrite_if_exists=True,
    )
    return Path(baked)


HEADER_PREFIXES = ("diff --git ", "--- ", "+++ ", "rename from ", "rename to ")


def template_diff(old: Path, new: Path, project: Path) -> str:
    """The patch from the old render to the new one, with paths relative to the repo root and
    the pre-images stored in the project's git objects, so `git apply -3` can fall back to a
    real three-way merge."""
    for render_dir in (old, new):
        (render_dir / RECORD).unlink(missing_ok=True)
    for path in old.rglob("*"):
        if path.is_file():
            git("hash-object", "-w", str(path), cwd=project)
    work = old.parents[1]
    old_rel, new_rel = old.relative_to(work).as_posix(), new.relative_to(work).as_posix()
    result = git("diff", "--no-index", "--binary", "--full-index", old_rel, new_rel, cwd=work, check=False)
    if result.returncode not in (0, 1):
        raise UpdateError(f"could not compare the two template renders: {result.stderr.strip()}")
    lines = []
    for line in result.stdout.splitlines(keepends=True):
        if line.startswith(HEADER_PREFIXES):
            line = line.replace(f"a/{old_rel}/", "a/").replace(f"b/{new_rel}/", "b/")
            line = line.replace(f"{old_rel}/", "").replace(f"{new_rel}/", "")
        lines.append(line)
    return "".join(lines)


def apply_patch(patch: str, project: Path) -> list[str]:
    """Apply the patch with a three-way merge; return the files left with conflicts."""
    if not patch.strip():
        return []
    result = subprocess.run(
        ["git", "apply", "-3", "--index", "--whitespace=nowarn"],
        cwd=project,
        input=patch,
        capture_output=True,
        text=True,
    )
    conflicted = git("diff", "--name-only", "--diff-filter=U", cwd=project).stdout.split()
    if result.returncode != 0 and not conflicted:
        raise UpdateError(not_applying(result.stderr))
    return conflicted


def not_applying(stderr: str) -> str:
    """Why `git apply -3` applied nothing, naming the files. A three-way merge cannot leave
    conflict markers in a file the template deletes (or whose pre-image is unknown), so an edit
    of such a file, e.g. of machinery that moved into the kit, stops the whole update."""
    files = sorted(set(re.findall(r"^error: (.+?): patch does not apply$", stderr, re.MULTILINE)))
    if not files:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "git apply failed"
        return f"the template change does not apply: {last}"
    return (
        f"the template change does not apply to {', '.join(files)}, edited here where the template "
        "deletes or rewrites it: move those edits elsewhere (or undo them), commit, then update again"
    )


def resolve(template_repo: Path, ref: str | None) -> str:
    """The commit to update to: `ref` (tag, branch or commit), else the template's default branch."""
    target = ref or "origin/HEAD"
    found = git("rev-parse", "--verify", "--quiet", f"{target}^{{commit}}", cwd=template_repo, check=False)
    if found.returncode != 0:
        raise UpdateError(f"template version {ref!r} not found in {template_repo}")
    return found.stdout.strip()


def update(project: Path, ref: str | None = None, template: str | None = None) -> list[str] | None:
    """Update `project` to template version `ref`; return conflicted files (empty when clean), or
    None when the project is already at that version (nothing was applied)."""
    record = read_record(project)
    require_clean_worktree(project)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        source = template or record["template"]
        if not source:
            raise UpdateError(
                f"{RECORD} names no template repository (the release was packaged without TEMPLATE_REPO_URL): "
                "pass --template <repository URL>"
            )
        git("clone", "--quiet", source, str(work / "template"), cwd=work)
        new_commit = resolve(work / "template", ref)
        if new_commit == record["commit"]:
            print(f"already at template commit {new_commit[:12]}: nothing to apply")
            return None
        old = render(work / "template", record["commit"], record, work / "old")
        new = render(work / "template", new_commit, record, work / "new")
        new_record = json.loads((new / RECORD).read_text(encoding="utf-8"))
        conflicted = apply_patch(template_diff(old, new, project), project)
    record.update(commit=new_commit, template_version=new_record.get("template_version"))
    # The answers keep a copy of the commit (cookiecutter's `_commit`); a stale one would name a
    # version the repository no longer has.
    answers = record.get("context", {}).get("cookiecutter", {})
    if "_commit" in answers:
        answers["_commit"] = new_commit
    (project / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    git("add", RECORD, cwd=project)
    return conflicted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The update options, shared by `mlops-kit update` and this module's own entry point."""
    parser.add_argument("--to", dest="ref", help="template version: a tag, branch or commit (default: latest)")
    parser.add_argument("--template", help="template repository URL or path (default: the recorded one)")


def run(args: argparse.Namespace) -> int:
    """Update the repository in the current directory; exit codes: 1 refused, 2 no git or cookiecutter, 3 conflicts."""
    if shutil.which("git") is None:
        print("error: git is needed to update from the template", file=sys.stderr)
        return 2
    if importlib.util.find_spec("cookiecutter") is None:
        # Generated repos pin it in requirements.txt; a repo generated before they did lacks it.
        print(
            "error: cookiecutter is needed to render the template: pip install it (requirements.txt pins it)",
            file=sys.stderr,
        )
        return 2
    try:
        conflicted = update(Path.cwd(), args.ref, args.template)
    except UpdateError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    if conflicted is None:
        return 0
    if conflicted:
        print("template update applied with conflicts in: " + ", ".join(conflicted), file=sys.stderr)
        print("resolve the <<<<<<< markers in those files, `git add` them, then review and commit", file=sys.stderr)
        return 3
    print("template update applied and staged: review it with `git diff --cached`, then commit")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: update the repository in the current directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
