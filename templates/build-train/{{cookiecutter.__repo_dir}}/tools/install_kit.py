"""Install the platform kit requirements.txt pins (`mlops-template-kit==X`); `make setup` runs it
with the new environment's Python before requirements.txt. The kit comes from the first of:
  KIT_WHEEL_S3_URI  the release's wheel (s3://...whl), set in the project's CodeBuild projects
  KIT_FIND_LINKS    a folder or URL holding the wheel (pip --find-links, no index)
  KIT_INDEX_URL     a package index (only the kit is fetched there: no same-named package elsewhere)
  otherwise         the template git URL (or local checkout) and commit .cruft.json records
An installed kit of the pinned version (an environment shared with the template's tests) is kept.
It installs through the installer `make setup` uses (KIT_INSTALLER: uv, the Makefile's pinned copy
beside this Python, or pip, the default), with that installer's progress shown.
Standard library only, plus the boto3 requirements.txt pins for the S3 download.
(One source: the deploy template's copy is a symbolic link to this file.)
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "mlops-template-kit"
REQUIREMENTS = Path("requirements.txt")


class KitSourceError(RuntimeError):
    """No source for the pinned kit; the message says what to set."""


def pinned(requirements: Path, name: str) -> str:
    """The version `requirements` pins for `name`."""
    found = re.search(rf"^\s*{re.escape(name)}==(\S+)", requirements.read_text(encoding="utf-8"), re.MULTILINE)
    if not found:
        raise KitSourceError(f"{requirements} pins no {name}==<version>")
    return found.group(1)


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def from_record(record_path: Path) -> str:
    """A pip requirement for the kit at the template commit the record names."""
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    url, commit = record.get("template") or "", record.get("commit") or ""
    if not url or not commit:
        raise KitSourceError(
            f"{record_path} names no template repository and commit: set KIT_WHEEL_S3_URI, KIT_FIND_LINKS "
            f"or KIT_INDEX_URL to install {DISTRIBUTION}"
        )
    if Path(url).is_dir():  # pip before 24 refuses `git+file:///path` (a URL without a host)
        url = f"file://localhost{Path(url).resolve().as_posix()}"
    return f"{DISTRIBUTION} @ git+{url}@{commit}#subdirectory=packages/{DISTRIBUTION}"


def download_wheel(uri: str, folder: Path, boto3_version: str) -> None:
    """Fetch the release's wheel from S3 into `folder` with the pinned boto3."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not key.endswith(".whl"):
        raise KitSourceError(f"KIT_WHEEL_S3_URI {uri!r} is not an s3://bucket/key.whl URI")
    pip_install(f"boto3=={boto3_version}")
    importlib.invalidate_caches()  # boto3 was installed after this process started
    import boto3

    try:
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as problem:  # botocore's errors: no credentials, access denied, no such key
        raise KitSourceError(f"downloading {uri}: {problem}") from problem
    (folder / key.rsplit("/", 1)[-1]).write_bytes(body)


def pip_arguments(version: str, environ: dict, scratch: Path) -> list[str]:
    """The `pip install` arguments that fetch the pinned kit from the first source configured."""
    requirement = f"{DISTRIBUTION}=={version}"
    if environ.get("KIT_WHEEL_S3_URI"):
        download_wheel(environ["KIT_WHEEL_S3_URI"], scratch, pinned(REQUIREMENTS, "boto3"))
        return ["--no-index", "--find-links", str(scratch), requirement]
    if environ.get("KIT_FIND_LINKS"):
        return ["--no-index", "--find-links", environ["KIT_FIND_LINKS"], requirement]
    if environ.get("KIT_INDEX_URL"):
        return ["--no-deps", "--index-url", environ["KIT_INDEX_URL"], requirement]
    return [from_record(Path(".cruft.json"))]


def install_command(environ: dict) -> list[str]:
    """The install command of the installer KIT_INSTALLER names, aimed at this Python's environment."""
    choice = environ.get("KIT_INSTALLER") or "pip"
    if choice == "pip":
        return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    if choice != "uv":
        raise KitSourceError(f"KIT_INSTALLER {choice!r} is neither uv nor pip")
    uv = Path(sys.executable).parent / "uv"  # `make setup` puts its pinned uv there first
    if not uv.is_file():
        raise KitSourceError(f"KIT_INSTALLER is uv but {uv} does not exist: run `make setup`, or KIT_INSTALLER=pip")
    return [str(uv), "pip", "install", "--python", sys.executable]


def pip_install(*args: str) -> None:
    """`pip install args` through the chosen installer (uv's `pip install` takes the same arguments)."""
    subprocess.run([*install_command(dict(os.environ)), *args], check=True)


def main() -> int:
    """Install the pinned kit unless it is there already; one line and exit 1 when it cannot."""
    try:
        install_command(dict(os.environ))  # a wrong KIT_INSTALLER is refused before anything is fetched
        version = pinned(REQUIREMENTS, DISTRIBUTION)
        if installed(DISTRIBUTION) != version:
            with tempfile.TemporaryDirectory() as scratch:
                pip_install(*pip_arguments(version, dict(os.environ), Path(scratch)))
        if installed(DISTRIBUTION) != version:
            raise KitSourceError(
                f"{DISTRIBUTION} {installed(DISTRIBUTION)} was installed, {REQUIREMENTS} pins {version}"
            )
    except KitSourceError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError:
        installer = os.environ.get("KIT_INSTALLER") or "pip"
        print(f"error: {installer} could not install {DISTRIBUTION} (its output is above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
