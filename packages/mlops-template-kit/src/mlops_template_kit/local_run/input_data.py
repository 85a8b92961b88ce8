"""The run's input data: the InputDataUrl parameter as an S3 URI, or a local CSV file or folder.

A local path is uploaded into the local S3 under the repository's input prefix (the data
layout's `<project>/input/`), in a folder of its own named after it, and the run reads that
folder; so the user's own data never mixes with the sample data written to the prefix itself.
Both kinds are checked before anything is built or written, each failure one line naming the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import LocalRunError
from .storage import Storage, join_uri, split_uri

PARAMETER = "InputDataUrl"
FIX = "give a CSV file or a folder of CSV files (make local-run DATA=<path>, or --param InputDataUrl=<path>)"
_NOT_IN_FOLDER_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def is_local(value: Any) -> bool:
    """Whether an InputDataUrl value names a local path rather than an S3 URI."""
    return isinstance(value, str) and not value.startswith("s3://")


def local_files(path: Path) -> list[Path]:
    """The files a local input path stands for; LocalRunError when it names nothing usable."""
    if not path.exists():
        raise LocalRunError(f"{PARAMETER} {path} does not exist: {FIX}")
    if path.is_file():
        return [path]
    files = sorted(item for item in path.rglob("*") if item.is_file() and not item.name.startswith("."))
    if not files:
        raise LocalRunError(f"{PARAMETER} {path} is an empty folder: {FIX}")
    return files


def check(value: Any, bucket: str, bucket_exists: Any = None) -> None:
    """Refuse an input the run cannot read, before anything is built or written.

    `bucket_exists(name)` asks the running local services; without them the run starts its own
    emulator, which holds only the artifact bucket `bucket`."""
    if value is None:
        return
    if is_local(value):
        local_files(Path(value).expanduser())
        return
    uri_bucket, _ = split_uri(value)
    found = bucket_exists(uri_bucket) if bucket_exists else uri_bucket == bucket
    if not found:
        raise LocalRunError(
            f"{PARAMETER} {value}: bucket {uri_bucket} does not exist in the local AWS services; "
            f"{FIX}, or an s3:// URI in s3://{bucket}/"
        )


def folder_name(path: Path) -> str:
    """The input folder a local path lands in: its name (a file's without the suffix), S3-safe."""
    name = path.stem if path.is_file() else path.name
    return _NOT_IN_FOLDER_NAME.sub("-", name).strip("-.") or "data"


def upload(storage: Storage, path: Path, input_uri: str) -> tuple[str, int]:
    """Copy a local file or folder to `<input_uri>/<its name>/`, replacing what an earlier run put
    there (a file removed locally must not stay in the input); its S3 URI and the files copied."""
    path = path.expanduser().resolve()
    files = local_files(path)
    target = join_uri(input_uri, folder_name(path)) + "/"
    remove_prefix(storage.client, target)
    root = path.parent if path.is_file() else path
    for file in files:
        storage.upload_file(file, join_uri(target, file.relative_to(root).as_posix()))
    return target, len(files)


def remove_prefix(s3: Any, uri: str) -> None:
    """Delete every object under an S3 prefix (the previous upload of the same input)."""
    bucket, prefix = split_uri(uri)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def bucket_checker(s3: Any) -> Any:
    """`bucket_exists(name)` against a running S3."""

    def bucket_exists(name: str) -> bool:
        try:
            s3.head_bucket(Bucket=name)
        except s3.exceptions.ClientError:
            return False
        return True

    return bucket_exists
