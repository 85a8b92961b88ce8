"""Work done by every template's `post_gen_project` hook inside the freshly generated repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path

from hooks import KIT_SOURCE, options
from hooks import context as hook_context

KIT_MODULES = KIT_SOURCE / "mlops_template_kit"


def remove_pruned(template: str, answers: Mapping[str, object], project_dir: Path) -> None:
    """Delete what the chosen options leave out (the table lives in hooks/options.py)."""
    for relative in options.pruned_paths(template, answers):
        target = project_dir / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


# Tool caches a developer's checkout may hold inside a template; copied raw (see
# `_copy_without_render`), they are removed here so no bake ever carries them.
CACHE_DIRS = ("__pycache__", ".ruff_cache", ".pytest_cache")


def remove_caches(project_dir: Path) -> None:
    """Delete tool caches copied from the template checkout."""
    for name in CACHE_DIRS:
        for cache in list(project_dir.rglob(name)):
            shutil.rmtree(cache, ignore_errors=True)


def copy_shared(template: str, project_dir: Path) -> None:
    """Copy the kit modules the generated repo still carries (one source: the kit)."""
    for source, destination in options.SHARED_FILES.get(template, {}).items():
        target = project_dir / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(KIT_MODULES / source, target)


def template_commit(repo_root: Path) -> str | None:
    """The git commit the template was rendered from, when it comes from a git checkout."""
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def template_url(repo_root: Path, source: str) -> str:
    """Where `make update` fetches later versions: TEMPLATE_REPO_URL whenever it is set, even
    empty (`make package` always sets it: a published seed must not name the packaging checkout,
    whose path differs between clones of one commit and would change every seed's sha256), else
    the remote baked from, else the local checkout (which holds the recorded commit)."""
    if "TEMPLATE_REPO_URL" in os.environ:
        return os.environ["TEMPLATE_REPO_URL"]
    return source if source and not Path(source).exists() else str(repo_root)


def generation_record(template: str, context: Mapping[str, object]) -> dict:
    """What `.cruft.json` records: template source, commit, version and the answers given.

    Machine-specific context (output and clone folders) is left out so two bakes of the same
    template version with the same answers are byte-identical.
    """
    repo_root = hook_context.template_dir(context).parents[1]
    url = template_url(repo_root, str(context.get("_template", "")))
    commit = template_commit(repo_root)
    version = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    answers = {key: value for key, value in context.items() if not key.startswith("_")}
    return {
        "template": url,
        "commit": commit,
        "checkout": None,
        "directory": f"templates/{template}",
        "skip": [],
        "template_name": template,
        "template_version": version,
        "context": {"cookiecutter": {**answers, "_template": url, "_commit": commit}},
    }


def write_record(template: str, context: Mapping[str, object], project_dir: Path) -> None:
    """Record where this repo came from, so `make update` can apply later template versions."""
    record = generation_record(template, context)
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    (project_dir / options.RECORD_FILE).write_text(text, encoding="utf-8")


def main(context: Mapping[str, object], template: str, project_dir: Path) -> int:
    """Entry point of the templates' post-generation hooks."""
    remove_pruned(template, context, project_dir)
    remove_caches(project_dir)
    copy_shared(template, project_dir)
    write_record(template, context, project_dir)
    return 0
