"""Refuse bad answers before anything is written; the checks live in the shared hooks/ package."""

import json
import os
import sys
from pathlib import Path

# Hooks run from the new project's folder; a relative template path given to cookiecutter is
# relative to where it was started, which the shell's PWD still names.
sys.path.insert(0, str(Path(os.environ.get("PWD", "."), "{{ cookiecutter._repo_dir }}").resolve().parents[1]))

from hooks import pre_gen  # noqa: E402

# `_cookiecutter` holds the answers as given, before cookiecutter rendered them as templates.
raise SystemExit(
    pre_gen.main(
        json.loads(r'''{{ cookiecutter | tojson }}'''),
        template="build-train",
        raw=json.loads(r'''{{ _cookiecutter | tojson }}'''),
    )
)
