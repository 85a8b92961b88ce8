"""One exception type for problems a user must fix, and the wrapper that prints them as one line."""

from __future__ import annotations

import sys
from collections.abc import Callable


class DeployError(Exception):
    """A problem the user can fix: printed as one line, exit code 1, no traceback."""


def run_cli(main: Callable[[], int]) -> int:
    """Run a command's `main`, turning a DeployError into one line on stderr and exit code 1."""
    try:
        return main()
    except DeployError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
