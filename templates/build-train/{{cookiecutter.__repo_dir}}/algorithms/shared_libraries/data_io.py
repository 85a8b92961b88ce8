"""Reading and writing the CSV and JSON files that steps exchange.

Writes go to a temporary file renamed into place, so a failed step never leaves a half-written
output for the next step to pick up.
"""

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
