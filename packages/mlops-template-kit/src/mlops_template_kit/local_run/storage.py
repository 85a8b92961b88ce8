"""S3 as the steps see it, through plain boto3 (so `AWS_ENDPOINT_URL` decides where it lives)."""

from __future__ import annotations

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ExpressionError, LocalRunError

# Objects fetched at once when an input prefix is copied.
PARALLEL_GETS = 8


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    if not isinstance(uri, str) or not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise LocalRunError(f"{uri!r} is not an S3 URI (s3://bucket/key)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def join_uri(uri: str, *parts: str) -> str:
    """Append key parts to an S3 URI with exactly one slash between them."""
    return "/".join([uri.rstrip("/"), *(part.strip("/") for part in parts)])


def _relative_key(prefix: str, key: str) -> str | None:
    """Where an object under an S3Prefix input lands relative to the input's local path.

    `prefix/a/b.csv` -> `a/b.csv`; the object the prefix names exactly lands under its own name.
    Keys that merely share leading characters (`prefix2/...`) are not part of the input.
    """
    if key == prefix:
        return PurePosixPath(key).name
    directory = prefix if prefix.endswith("/") or not prefix else prefix + "/"
    return key[len(directory) :] if key.startswith(directory) else None


class Storage:
    """S3 reads and writes of one run; remembers what each step wrote (the step cache keeps it).

    With a `downloads` folder, each object version (bucket, key, ETag) is fetched once and later
    steps asking for it get a local copy: every processing step reads the same code prefix, and
    the evaluation, baseline and registration steps read the same model and test data."""

    def __init__(self, client: Any, downloads: Path | None = None) -> None:
        self.client = client
        self.downloads = downloads
        self.written: list[tuple[str, Path]] = []

    def objects(self, uri: str) -> list[dict]:
        """Every object an S3Prefix input `uri` covers, with its path relative to the input."""
        bucket, prefix = split_uri(uri)
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    relative = _relative_key(prefix, item["Key"])
                    if relative and not item["Key"].endswith("/"):
                        found.append(
                            {"Key": item["Key"], "Relative": relative, "ETag": item["ETag"], "Size": item["Size"]}
                        )
        except self.client.exceptions.NoSuchBucket:
            return []
        return found

    def download(self, uri: str, destination: Path) -> int:
        """Copy every object under `uri` into `destination`; the number of files copied."""
        bucket, _ = split_uri(uri)
        items = self.objects(uri)
        # Concurrent GETs: an input prefix is often a few dozen small objects (a step's code), and
        # their round trips overlap (boto3 clients are thread-safe; every key here is different).
        with ThreadPoolExecutor(max_workers=PARALLEL_GETS) as pool:
            fetches = [
                pool.submit(self._get, bucket, item["Key"], destination / item["Relative"], item["ETag"])
                for item in items
            ]
        for fetch in fetches:
            fetch.result()
        return len(items)

    def download_object(self, uri: str, target: Path) -> None:
        """Copy one object to a local file."""
        bucket, key = split_uri(uri)
        etag = self.client.head_object(Bucket=bucket, Key=key)["ETag"] if self.downloads else None
        self._get(bucket, key, target, etag)

    def _get(self, bucket: str, key: str, target: Path, etag: str | None = None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.downloads is None or etag is None:
            self._fetch(bucket, key, target)
            return
        # A copy, not a link: a step may change its inputs in place, and the next one must not see it.
        cached = self.downloads / hashlib.sha256(f"{bucket}/{key}/{etag}".encode()).hexdigest()
        if not cached.exists():
            self.downloads.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(".partial")
            self._fetch(bucket, key, partial)
            partial.replace(cached)
        shutil.copyfile(cached, target)

    def _fetch(self, bucket: str, key: str, target: Path) -> None:
        # One streamed GET per object: a local run moves many small files, for which the
        # managed transfers' thread pools cost more than the transfer.
        body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        with open(target, "wb") as handle:
            shutil.copyfileobj(body, handle)

    def upload_file(self, path: Path, uri: str) -> None:
        """Write one file to S3 (a single streamed PUT) and remember it."""
        bucket, key = split_uri(uri)
        with open(path, "rb") as handle:
            self.client.put_object(Bucket=bucket, Key=key, Body=handle)
        self.written.append((uri, path))

    def upload_dir(self, directory: Path, uri: str) -> int:
        """Write a directory tree under an S3 prefix; the number of files written."""
        files = sorted(path for path in directory.rglob("*") if path.is_file())
        for path in files:
            self.upload_file(path, join_uri(uri, path.relative_to(directory).as_posix()))
        return len(files)

    def read_json(self, uri: str) -> Any:
        """Fetch and parse a JSON object (property files, JsonGet on S3)."""
        bucket, key = split_uri(uri)
        try:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (self.client.exceptions.NoSuchKey, self.client.exceptions.NoSuchBucket):
            raise ExpressionError(f"{uri} does not exist") from None
        try:
            return json.loads(body)
        except ValueError:
            raise ExpressionError(f"{uri} is not JSON") from None

    def ensure_bucket(self, name: str) -> None:
        """Create a bucket in the emulator unless it exists."""
        try:
            self.client.head_bucket(Bucket=name)
        except self.client.exceptions.ClientError:
            self.client.create_bucket(Bucket=name, **self._location())

    def _location(self) -> dict:
        region = self.client.meta.region_name
        return {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
