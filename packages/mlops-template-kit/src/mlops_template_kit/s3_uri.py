"""`s3://bucket/key` strings, split in one place. Standard library only: the monitor job that runs
in a SageMaker processing container carries this file (deploy/build.py MONITOR_JOB_FILES)."""

from __future__ import annotations


def split(uri: str, error: type[Exception] = ValueError, *, key_required: bool = False) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key). Anything else, or no key when `key_required`, raises
    `error` (the caller's one-line error type) naming the URI and the form expected."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or (key_required and not key.strip("/")):
        expected = "s3://bucket/prefix" if key_required else "s3://bucket/key"
        raise error(f"{uri!r} is not an {expected} URI")
    return bucket, key
