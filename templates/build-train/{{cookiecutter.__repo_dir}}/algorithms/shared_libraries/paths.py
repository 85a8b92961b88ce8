"""Where a step finds its files: command-line arguments first, then SageMaker's environment variables.

Steps never hard-code container paths: `/opt/ml/...` only appears as the default of an argument,
so the same code runs in a SageMaker container, in the local pipeline run and in unit tests.
"""

import os
from pathlib import Path

from shared_libraries.errors import InputError


def env_path(variable: str, default: str) -> Path:
    """The path held by environment variable `variable`, or `default` (a container path) when unset."""
    return Path(os.environ.get(variable) or default)


def existing_dir(path: Path, what: str) -> Path:
    """`path` if it is a directory; an InputError naming `what` otherwise."""
    if not path.is_dir():
        raise InputError(f"{what} directory {path} does not exist")
    return path


def existing_file(path: Path, what: str) -> Path:
    """`path` if it is a file; an InputError naming `what` otherwise."""
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist")
    return path
