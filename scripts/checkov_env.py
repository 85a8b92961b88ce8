"""checkov in its own environment: built from scripts/checkov-requirements.txt, run offline.

checkov pins dozens of packages (its own boto3 among them) that must not meet the project's
toolchain, so it lives in `.venv/checkov/`, rebuilt whenever the requirements file changes. Scans
run with `--skip-download` (no policy download, no network) over CloudFormation only.

`python -m scripts.checkov_env` (make checkov) scans servicecatalog/, the composed product
templates and the CloudFormation of a default bake of every template; exit 1 on a failed check.
Skips are declared next to the resource they concern (`Metadata: checkov: skip: [{id, comment}]`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from scripts import catalog, products
from scripts.bake import bake

REQUIREMENTS = catalog.REPO_ROOT / "scripts" / "checkov-requirements.txt"
ENV_DIR = catalog.REPO_ROOT / ".venv" / "checkov"
CHECKOV = ENV_DIR / "bin" / "checkov"
STAMP = ENV_DIR / "requirements.sha256"


def _requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure_environment() -> Path:
    """Create or refresh the checkov environment (safe when several processes ask at once)."""
    ENV_DIR.parent.mkdir(parents=True, exist_ok=True)
    with (ENV_DIR.parent / "checkov.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if STAMP.is_file() and STAMP.read_text().strip() == _requirements_digest() and CHECKOV.is_file():
            return CHECKOV
        shutil.rmtree(ENV_DIR, ignore_errors=True)
        install = create_empty_environment()
        subprocess.run([*install, "-r", str(REQUIREMENTS)], check=True)
        STAMP.write_text(_requirements_digest() + "\n")
    return CHECKOV


def create_empty_environment() -> list[str]:
    """Create the environment, empty, and return the command that installs into it: the project's pinned uv
    when `make setup` installed it (about 50 s of pip became a few seconds, inside `make test`),
    else pip. Bytecode is compiled at install, as pip does: the tests run without writing it."""
    python = ENV_DIR / "bin" / "python"
    uv = Path(sys.executable).parent / "uv"
    if uv.is_file():
        subprocess.run([str(uv), "venv", "--quiet", "--python", sys.executable, str(ENV_DIR)], check=True)
        return [str(uv), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python)]
    subprocess.run([sys.executable, "-m", "venv", str(ENV_DIR)], check=True)
    return [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


def is_cloudformation(path: Path) -> bool:
    """A YAML file is CloudFormation when it declares Resources at the top level."""
    return any(line.startswith("Resources:") for line in path.read_text(encoding="utf-8").splitlines())


def cloudformation_files(root: Path) -> list[Path]:
    """Every CloudFormation YAML below root."""
    return sorted(path for path in root.rglob("*.yaml") if is_cloudformation(path))


def collect(files: Iterable[Path], into: Path) -> Path:
    """Copy templates into one folder (deduplicated by content) so checkov runs once."""
    into.mkdir(parents=True, exist_ok=True)
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        shutil.copyfile(path, into / f"{path.stem}-{digest}.yaml")
    return into


def scan(folder: Path) -> dict:
    """Run checkov offline on every CloudFormation template in a folder; its JSON summary
    plus the failed checks as `file: check id (resource)` lines."""
    # Through the environment's own interpreter: the script's shebang names the path the
    # environment was created at, which a moved or symlinked checkout no longer has.
    command = [str(ENV_DIR / "bin" / "python"), str(ensure_environment()), "-d", str(folder)]
    command += ["--framework", "cloudformation"]
    command += ["--skip-download", "--quiet", "--compact", "--output", "json"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"checkov could not run:\n{result.stderr[-3000:]}")
    reports = json.loads(result.stdout) if result.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    failed, summary = [], {"passed": 0, "failed": 0, "skipped": 0}
    for report in reports:
        for key in summary:
            summary[key] += report.get("summary", {}).get(key, 0)
        for check in report.get("results", {}).get("failed_checks", []):
            failed.append(f"{Path(check['file_path']).name}: {check['check_id']} ({check['resource']})")
    return {**summary, "failures": failed}


def default_templates(scratch: Path) -> list[Path]:
    """The CloudFormation of servicecatalog/, the composed products and default bakes."""
    files = cloudformation_files(catalog.CATALOG_DIR / "parts") + [products.PORTFOLIO_FILE]
    files += products.write_all(scratch / "products")
    for template in catalog.seed_templates():
        files += cloudformation_files(bake(template, scratch / "bakes" / template))
    return files


def main() -> int:
    """Scan the default set of templates; exit 1 when any check fails."""
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        result = scan(collect(default_templates(scratch), scratch / "scan"))
    print(f"checkov: {result['passed']} passed, {result['failed']} failed, {result['skipped']} skipped")
    for line in result["failures"]:
        print(f"  FAILED {line}")
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
