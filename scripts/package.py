"""`make package VERSION=x.y.z`: bake every published variant, zip it, write dist/<version>/.

dist/<version>/ mirrors the S3 keys of a release:
  seeds/<template>-<option values>.zip   one per variant (scripts/catalog.py), the baked repo's files
  functions/project-lifecycle.zip        the products' custom-resource function
  packages/mlops_template_kit-*.whl      the platform kit the seeds pin (their builds install it)
  products/<product>.yaml                product templates pointing at the keys above
  manifest.json                          every artifact with its sha256, size and what it holds
Zips are reproducible (sorted entries, fixed timestamps and permissions, stored uncompressed so
no zlib version can change a byte): the same sources give the same sha256 on any machine, which
is what makes re-publishing an unchanged version a no-op. That holds across clones too: seeds
record TEMPLATE_REPO_URL (or no location), never the path of the checkout that packaged them.
The release is assembled in a scratch folder and moved into place only when complete.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts import catalog, products
from scripts.bake import bake

DIST_DIR = catalog.REPO_ROOT / "dist"
FUNCTION_SOURCES = {
    "project_lifecycle.py": catalog.CATALOG_DIR / "functions" / "project_lifecycle.py",
    "naming.py": catalog.REPO_ROOT / "packages" / "mlops-template-kit" / "src" / "mlops_template_kit" / "naming.py",
}
FUNCTION_NAME = "project-lifecycle"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}
MANIFEST_FORMAT = 1


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def repo_files(root: Path) -> list[Path]:
    """Files of a baked repo, caches left out, sorted by their POSIX path."""
    files = [
        path
        for path in root.rglob("*")
        if path.is_file() and not IGNORED_PARTS.intersection(path.relative_to(root).parts)
    ]
    return sorted(files, key=lambda path: path.relative_to(root).as_posix())


def write_zip(target: Path, entries: Iterable[tuple[str, Path]]) -> None:
    """A reproducible zip of (archive name, source file) pairs."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, source in sorted(entries):
            executable = source.stat().st_mode & stat.S_IXUSR
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so external_attr carries the permission bits
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, source.read_bytes())


def zip_repo(repo: Path, target: Path) -> None:
    """Zip a baked repo with its files at the archive root (how CodeCommit seeds a repository)."""
    write_zip(target, [(path.relative_to(repo).as_posix(), path) for path in repo_files(repo)])


def _record(release: Path, path: Path, kind: str, **details: object) -> dict:
    return {
        "key": path.relative_to(release.parent).as_posix(),
        "kind": kind,
        "sha256": sha256_of(path),
        "size": path.stat().st_size,
        **details,
    }


TEMPLATE_URL_VARIABLE = "TEMPLATE_REPO_URL"


def release_template_url() -> str:
    """Where published seeds say later template versions come from (hooks/post_gen.py records
    it in `.cruft.json`): TEMPLATE_REPO_URL, else nothing."""
    return os.environ.get(TEMPLATE_URL_VARIABLE, "")


@contextmanager
def _recording_release_url() -> Iterator[None]:
    """Set TEMPLATE_REPO_URL for the bakes (the post-generation hook reads it), then restore it."""
    previous = os.environ.get(TEMPLATE_URL_VARIABLE)
    os.environ[TEMPLATE_URL_VARIABLE] = release_template_url()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(TEMPLATE_URL_VARIABLE, None)
        else:
            os.environ[TEMPLATE_URL_VARIABLE] = previous


def package_seeds(release: Path, scratch: Path, report: Callable[[str], None]) -> list[dict]:
    """Bake and zip every published variant."""
    with _recording_release_url():
        return _bake_and_zip(release, scratch, report)


def _bake_and_zip(release: Path, scratch: Path, report: Callable[[str], None]) -> list[dict]:
    records = []
    variants = catalog.all_variants()
    for number, variant in enumerate(variants, start=1):
        report(f"[{number}/{len(variants)}] bake {variant.name}")
        repo = bake(variant.template, scratch / variant.name, variant.answers)
        target = release.parent / variant.seed_key(release.name)
        zip_repo(repo, target)
        records.append(_record(release, target, "seed", template=variant.template, answers=variant.answers))
    return records


def package_function(release: Path) -> dict:
    """Zip the lifecycle function with the naming helper it imports."""
    target = release / "functions" / f"{FUNCTION_NAME}.zip"
    write_zip(target, FUNCTION_SOURCES.items())
    return _record(release, target, "function", handler="project_lifecycle.handler")


class KitBuildError(RuntimeError):
    """The kit's wheel could not be built; the message holds the builder's last words."""


def package_kit(release: Path, scratch: Path) -> dict:
    """Build the kit's wheel with the pinned backend (hatchling builds reproducible wheels: fixed
    timestamps, sorted entries), so one commit gives the same bytes on any clone."""
    out = scratch / "kit-wheel"
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir"]
    result = subprocess.run([*command, str(out), str(catalog.KIT_DIR)], capture_output=True, text=True)
    built = out / catalog.kit_wheel_name()
    if result.returncode != 0 or not built.is_file():
        last = (result.stderr.strip() or result.stdout.strip() or "no wheel written").splitlines()[-1]
        raise KitBuildError(f"building the kit wheel failed: {last}")
    target = release.parent / catalog.kit_wheel_key(release.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built, target)
    return _record(release, target, "package", distribution="mlops-template-kit", version=catalog.kit_version())


def package_products(release: Path) -> list[dict]:
    """Render every product template for this version."""
    records = []
    for product in catalog.products():
        target = release.parent / product.template_key(release.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(products.render(product, release.name), encoding="utf-8")
        records.append(
            _record(release, target, "product", product=product.key, name=product.name, description=product.description)
        )
    return records


def build_release(version: str, dist_dir: Path = DIST_DIR, report: Callable[[str], None] = print) -> Path:
    """Write dist/<version>/ (replacing an earlier package of the same version); return it."""
    catalog.check_version(version)
    dist_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dist_dir, prefix=".package-") as scratch_name:
        scratch = Path(scratch_name)
        release = scratch / "release" / version
        release.mkdir(parents=True)
        artifacts = package_seeds(release, scratch / "bakes", report)
        artifacts.append(package_function(release))
        artifacts.append(package_kit(release, scratch))
        artifacts += package_products(release)
        manifest = {"format": MANIFEST_FORMAT, "version": version, "artifacts": sorted(artifacts, key=_key)}
        (release / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        final = dist_dir / version
        if final.exists():
            shutil.rmtree(final)
        release.rename(final)
    return final


def _key(record: dict) -> str:
    return record["key"]


def load_manifest(release: Path) -> dict:
    """The manifest of a packaged release."""
    return json.loads((release / "manifest.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Package one version; print where it went and how big it is."""
    parser = argparse.ArgumentParser(description="Bake every published variant and package a release.")
    parser.add_argument("--version", required=True, help="release version, MAJOR.MINOR.PATCH")
    parser.add_argument("--dist", type=Path, default=DIST_DIR, help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    try:
        catalog.check_version(args.version)
    except catalog.CatalogError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        release = build_release(args.version, args.dist, report=lambda line: print(line, file=sys.stderr))
    except (catalog.CatalogError, products.CompositionError, KitBuildError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    manifest = load_manifest(release)
    total = sum(record["size"] for record in manifest["artifacts"])
    elapsed = time.perf_counter() - started
    print(f"packaged {len(manifest['artifacts'])} artifacts ({total / 1e6:.1f} MB) in {release} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
