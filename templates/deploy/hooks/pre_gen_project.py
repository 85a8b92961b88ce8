"""Refuse bad answers before anything is written; the checks live in the shared hooks/ package."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path("{{ cookiecutter._repo_dir }}").resolve().parents[1]))

from hooks import pre_gen  # noqa: E402

raise SystemExit(pre_gen.main(json.loads(r'''{{ cookiecutter | tojson }}'''), template="deploy"))
