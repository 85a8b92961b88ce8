"""Work done by every template's `post_gen_project` hook inside the freshly generated repo."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from hooks import options

HOOKS_DIR = Path(__file__).resolve().parent


def remove_pruned(template: str, answers: Mapping[str, object], project_dir: Path) -> None:
    """Delete what the chosen options leave out (the table lives in hooks/options.py)."""
    for relative in options.pruned_paths(template, answers):
        target = project_dir / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def copy_shared(template: str, project_dir: Path) -> None:
    """Copy the shared modules (one source in hooks/) into the generated repo."""
    for source, destination in options.SHARED_FILES.get(template, {}).items():
        target = project_dir / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HOOKS_DIR / source, target)


def main(context: Mapping[str, object], template: str, project_dir: Path) -> int:
    """Entry point of the templates' post-generation hooks."""
    remove_pruned(template, context, project_dir)
    copy_shared(template, project_dir)
    return 0
