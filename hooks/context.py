"""Reading cookiecutter's context inside a hook."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def template_dir(context: Mapping[str, object]) -> Path:
    """The template folder (`templates/<name>`). cookiecutter passes it as given on its command
    line, possibly relative to where it was started, while hooks run from the new project's
    folder; the shell's PWD still names the starting folder."""
    return Path(os.environ.get("PWD", "."), str(context["_repo_dir"])).resolve()
