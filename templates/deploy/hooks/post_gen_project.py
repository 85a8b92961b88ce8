"""Trim what the chosen options leave out and add the shared modules (logic in hooks/)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path("{{ cookiecutter._repo_dir }}").resolve().parents[1]))

from hooks import post_gen  # noqa: E402

raise SystemExit(post_gen.main(json.loads(r'''{{ cookiecutter | tojson }}'''), "deploy", Path.cwd()))
