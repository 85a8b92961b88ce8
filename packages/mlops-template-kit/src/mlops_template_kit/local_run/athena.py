"""A local stand-in for processing inputs that run an Athena query (`DatasetDefinition.AthenaDatasetDefinition`).

There is no Athena on this machine, so the query runs in SQLite over local tables: every CSV file
under this repository's S3 input prefix (`<project>/input/`, in the local emulator; the
`LOCAL_ATHENA_TABLES` environment variable names another S3 prefix) is a table
named after its file, `input/diabetes.csv` is table `diabetes`, and a folder of CSV files is one
table named after the folder. The tables belong to the query's database, so `SELECT * FROM
"diabetes"` and `SELECT * FROM "<database>"."diabetes"` both work. As in SageMaker, the result
is written to the input's `OutputS3Uri` in the requested form (JSON Lines, gzip compressed) and
downloaded to its `LocalPath`.

SQLite is not Athena's SQL engine: plain SELECT, WHERE, JOIN and aggregates behave the same,
engine-specific functions do not. A query SQLite cannot run stops the step with its error.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from . import jobs
from .context import Job
from .errors import LocalRunError, StepFailed
from .storage import Storage, join_uri

CATALOG = "AwsDataCatalog"
FORMATS = {"JSON"}
COMPRESSIONS = {None, "GZIP"}
TABLES_VARIABLE = "LOCAL_ATHENA_TABLES"


def uses_athena(item: dict[str, Any]) -> bool:
    """Whether a processing input runs an Athena query."""
    return bool((item.get("DatasetDefinition") or {}).get("AthenaDatasetDefinition"))


def tables_uri() -> str:
    """The S3 prefix whose CSV files stand in for the tables: LOCAL_ATHENA_TABLES.

    `mlops-kit local-run` sets it to the repository's input prefix unless it is set already, also
    for a given `--definition` run from a build-train repository; anywhere else such a run must set it.
    """
    if not os.environ.get(TABLES_VARIABLE):
        raise LocalRunError(f"set {TABLES_VARIABLE} to the S3 prefix whose CSV files stand in for the Athena tables")
    return os.environ[TABLES_VARIABLE]


def stage(job: Job, item: dict[str, Any]) -> int:
    """Run the input's query over the local tables, write its result to OutputS3Uri and into the
    input's container path; the number of records."""
    name = item.get("InputName")
    dataset = item["DatasetDefinition"]
    query = dataset["AthenaDatasetDefinition"]
    _check_supported(name, query)
    storage = job.run.storage
    with tempfile.TemporaryDirectory() as folder:
        rows = run_query(storage, tables_uri(), query["Database"], query["QueryString"], Path(folder), name)
    body = gzip.compress("".join(json.dumps(row) + "\n" for row in rows).encode("utf-8"), mtime=0)
    target = jobs.local_path(dataset["LocalPath"], job.sandbox) / f"{job.job_name}.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    # Like SageMaker, the result stays in S3 next to the other outputs of the build.
    storage.upload_file(target, join_uri(query["OutputS3Uri"], target.name))
    return len(rows)


def _check_supported(name: str, query: dict[str, Any]) -> None:
    if query.get("Catalog") != CATALOG:
        raise StepFailed(f"input {name}: only the {CATALOG} catalog has a local stand-in, not {query.get('Catalog')!r}")
    if query.get("OutputFormat") not in FORMATS or query.get("OutputCompression") not in COMPRESSIONS:
        raise StepFailed(
            f"input {name}: the local stand-in writes OutputFormat JSON (gzip compressed), "
            f"not {query.get('OutputFormat')} {query.get('OutputCompression') or ''}".rstrip()
        )


def run_query(storage: Storage, tables: str, database: str, sql: str, folder: Path, name: str) -> list[dict]:
    """The query's result rows, run by SQLite with the CSV tables under `tables` in `database`."""
    found = dict(_csv_tables(storage, tables))
    if not found:
        raise StepFailed(f"input {name}: no CSV file under {tables} to stand in for the tables of {database}")
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(f"ATTACH DATABASE ':memory:' AS {_quoted(database)}")
        for table, uris in sorted(found.items()):
            files = []
            for index, uri in enumerate(uris):
                files.append(folder / f"{table}-{index}.csv")
                storage.download_object(uri, files[-1])
            _load_table(connection, database, table, files)
        try:
            cursor = connection.execute(sql)
        except sqlite3.Error as error:
            message = f"input {name}: the query does not run on the local SQLite stand-in of Athena: {error}"
            raise StepFailed(message) from None
        columns = [column[0] for column in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def _csv_tables(storage: Storage, tables: str) -> Iterator[tuple[str, list[str]]]:
    """(table name, S3 URIs of its CSV files): `x.csv` is table `x`, `x/*.csv` is table `x`."""
    grouped: dict[str, list[str]] = {}
    for item in storage.objects(tables):
        relative = PurePosixPath(item["Relative"])
        if relative.suffix.lower() != ".csv":
            continue
        table = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        grouped.setdefault(table, []).append(join_uri(tables, item["Relative"]))
    yield from grouped.items()


def _load_table(connection: sqlite3.Connection, database: str, table: str, files: list[Path]) -> None:
    header, rows = None, []
    for path in files:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            file_header = next(reader, None)
            if header is None:
                header = file_header
            elif file_header != header:
                raise StepFailed(f"table {table}: {path.name} has other columns than the first file of the table")
            rows.extend([_typed(value) for value in row] for row in reader if row)
    if not header:
        raise StepFailed(f"table {table}: its CSV file has no header row")
    columns = ", ".join(_quoted(column) for column in header)
    target = f"{_quoted(database)}.{_quoted(table)}"
    connection.execute(f"CREATE TABLE {target} ({columns})")
    connection.executemany(f"INSERT INTO {target} VALUES ({', '.join('?' for _ in header)})", rows)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _typed(text: str) -> int | float | str | None:
    """A CSV field as the number it spells, None when empty, else the text (Athena's tables are typed)."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
