"""Reading and writing the CSV and JSON files that steps exchange.

Raw data arrives as CSV files with a header, or as JSON Lines (one object per record, gzip
compressed or not): the form an Athena query of the data lake delivers to a processing job.
Writes go to a temporary file renamed into place, so a failed step never leaves a half-written
output for the next step to pick up.
"""

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from shared_libraries.errors import InputError
from shared_libraries.paths import existing_dir, existing_file


def csv_files(directory: Path) -> list[Path]:
    """Every *.csv file under `directory` (recursively), in a stable order."""
    files = sorted(path for path in existing_dir(directory, "input").rglob("*.csv") if path.is_file())
    if not files:
        raise InputError(f"no *.csv file under {directory}")
    return files


def read_csv(path: Path) -> pd.DataFrame:
    """One CSV file with a header row and at least one data row."""
    existing_file(path, "CSV file")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty: expected a CSV file with a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not a readable CSV file: {error}") from None
    if frame.empty:
        raise InputError(f"{path} has a header but no data rows")
    return frame


def read_csv_dir(directory: Path) -> pd.DataFrame:
    """All CSV files under `directory` stacked into one frame; they must share the same columns."""
    files = csv_files(directory)
    frames = [read_csv(path) for path in files]
    columns = list(frames[0].columns)
    for path, frame in zip(files[1:], frames[1:], strict=True):
        if set(frame.columns) != set(columns):
            raise InputError(f"{path} has columns {list(frame.columns)}, but {files[0]} has {columns}")
    return pd.concat([frame[columns] for frame in frames], ignore_index=True)


# Files Athena writes next to query results: they describe the query, they are not records.
ATHENA_BOOKKEEPING_SUFFIXES = (".metadata", "-manifest.csv", ".txt")
GZIP_MAGIC = b"\x1f\x8b"
INPUT_FORMATS = ("csv", "json")


def json_lines_files(directory: Path) -> list[Path]:
    """Every JSON Lines file under `directory` (any name: query results carry none), in a stable order."""
    files = sorted(
        path
        for path in existing_dir(directory, "input").rglob("*")
        if path.is_file() and not path.name.startswith(".") and not path.name.endswith(ATHENA_BOOKKEEPING_SUFFIXES)
    )
    if not files:
        raise InputError(f"no data file under {directory}")
    return files


def read_json_lines(path: Path) -> pd.DataFrame:
    """One JSON Lines file, gzip compressed or not: one JSON object per line, keys are the columns."""
    raw = existing_file(path, "JSON Lines file").read_bytes()
    try:
        text = (gzip.decompress(raw) if raw.startswith(GZIP_MAGIC) else raw).decode("utf-8")
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path} is not a JSON Lines file (gzip compressed or not): {error}") from None
    if not all(isinstance(record, dict) for record in records):
        raise InputError(f"{path} must hold one JSON object per line")
    return pd.DataFrame.from_records(records)


def read_json_lines_dir(directory: Path) -> pd.DataFrame:
    """All JSON Lines files under `directory` stacked into one frame (a query may write several)."""
    files = json_lines_files(directory)
    frames = [frame for frame in (read_json_lines(path) for path in files) if not frame.empty]
    if not frames:
        raise InputError(f"the files under {directory} hold no records")
    return pd.concat(frames, ignore_index=True)


def read_input_dir(directory: Path, input_format: str) -> pd.DataFrame:
    """Raw records under `directory`: CSV files (`csv`) or JSON Lines files (`json`)."""
    if input_format not in INPUT_FORMATS:
        raise InputError(f"input format {input_format!r} is not one of {', '.join(INPUT_FORMATS)}")
    return read_csv_dir(directory) if input_format == "csv" else read_json_lines_dir(directory)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` with a header and without the index."""
    return _replace_into(path, lambda temporary: frame.to_csv(temporary, index=False))


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from `path`; `what` names it in error messages."""
    existing_file(path, what)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{what} {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} {path} must hold a JSON object")
    return data


def write_json(data: dict[str, Any], path: Path) -> Path:
    """Write `data` as indented JSON."""
    # NaN is not JSON: fail loudly rather than write a file other tools cannot parse.
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    return _replace_into(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def _replace_into(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
