"""cfn-lint over every CloudFormation template: the portfolio, the composed products and a
default bake of each template."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts import products
from scripts.bake import REPO_ROOT, bake


def is_cloudformation(path: Path) -> bool:
    """A YAML file is CloudFormation when it declares a Resources section at the top level."""
    return any(line.startswith("Resources:") for line in path.read_text(encoding="utf-8").splitlines())


def cloudformation_files(root: Path) -> list[Path]:
    """Every CloudFormation YAML below root."""
    return sorted(path for path in root.rglob("*.yaml") if ".venv" not in path.parts and is_cloudformation(path))


def main() -> int:
    """Lint; exit non-zero when cfn-lint reports an error."""
    templates = json.loads((REPO_ROOT / "cookiecutter.json").read_text())["templates"]
    with tempfile.TemporaryDirectory() as scratch:
        # Product parts are fragments, not templates: lint the products they compose into.
        files = [*products.ACCOUNT_TEMPLATES, *products.write_all(Path(scratch) / "products")]
        for name in templates:
            if (REPO_ROOT / "templates" / name / "cookiecutter.json").exists():
                files += cloudformation_files(bake(name, Path(scratch)))
        if not files:
            print("no CloudFormation templates found")
            return 0
        print(f"cfn-lint: {len(files)} templates")
        cfn_lint = Path(sys.executable).parent / "cfn-lint"
        return subprocess.run([str(cfn_lint), *map(str, files)], check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
