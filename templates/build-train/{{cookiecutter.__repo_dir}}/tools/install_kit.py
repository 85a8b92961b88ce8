"""Install the platform kit this repository pins (`mlops-template-kit==X` in requirements.txt).

`make setup` runs it with the new environment's Python before installing requirements.txt.
The kit comes from the first of:
  KIT_WHEEL_S3_URI  the wheel published with the template release (s3://...whl); the project's
                    CodeBuild projects set it, their role may read exactly that release prefix
  KIT_FIND_LINKS    a folder or URL holding the wheel (pip --find-links)
  KIT_INDEX_URL     a package index holding it (only the kit is fetched from there, so a package
                    of the same name elsewhere cannot be picked up instead)
  otherwise         the template commit .cruft.json records: its git URL, or the local checkout
                    this repository was baked from
The pinned version already installed (an environment shared with the template's own tests) is kept.
Standard library only, except boto3 (the version requirements.txt pins) for the S3 download.
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
KIT_FOLDER = "packages/mlops-template-kit"
REQUIREMENTS = Path("requirements.txt")
RECORD = Path(".cruft.json")


class KitSourceError(RuntimeError):
    """No source for the pinned kit; the message says what to set."""


def pinned(requirements: Path, name: str) -> str:
    """The version `requirements` pins for `name`."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        found = re.fullmatch(rf"\s*{re.escape(name)}==(\S+)\s*(#.*)?", line)
        if found:
            return found.group(1)
    raise KitSourceError(f"{requirements} pins no {name}==<version>")


def installed(name: str) -> str | None:
    """The installed version of `name`, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def from_record(record_path: Path) -> str:
    """A pip requirement for the kit at the template commit the record names."""
    if not record_path.is_file():
        raise KitSourceError(f"{record_path} not found: set KIT_FIND_LINKS or KIT_INDEX_URL to install {DISTRIBUTION}")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    url, commit = record.get("template") or "", record.get("commit") or ""
    if not url or not commit:
        raise KitSourceError(
            f"{record_path} names no template repository and commit: set KIT_WHEEL_S3_URI, KIT_FIND_LINKS "
            f"or KIT_INDEX_URL to install {DISTRIBUTION}"
        )
    if Path(url).is_dir():
        # A local checkout as a file URL with a host: pip before 24 refuses `git+file:///path`
        # ("Invalid requirement": a URL without a network location).
        url = f"file://localhost{Path(url).resolve().as_posix()}"
    return f"{DISTRIBUTION} @ git+{url}@{commit}#subdirectory={KIT_FOLDER}"


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
    return [from_record(RECORD)]


def pip_install(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args], check=True
    )


def main() -> int:
    """Install the pinned kit unless it is there already; one line and exit 1 when it cannot."""
    try:
        version = pinned(REQUIREMENTS, DISTRIBUTION)
        if installed(DISTRIBUTION) == version:
            return 0
        with tempfile.TemporaryDirectory() as scratch:
            pip_install(*pip_arguments(version, dict(os.environ), Path(scratch)))
    except KitSourceError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError:
        print(f"error: pip could not install {DISTRIBUTION} (its output is above)", file=sys.stderr)
        return 1
    if installed(DISTRIBUTION) != version:
        found = installed(DISTRIBUTION)
        print(f"error: {DISTRIBUTION} {found} was installed, requirements.txt pins {version}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
