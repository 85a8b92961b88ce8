"""One way for every step to report bad input: a single line on stderr and a non-zero exit code."""

import sys

# argparse exits with 2 on bad arguments; bad data is the same kind of failure for the caller.
INPUT_ERROR_EXIT_CODE = 2


class InputError(ValueError):
    """A problem the user can fix (missing file, unknown column, bad value): reported without a traceback.

    A ValueError, so the serving handler's callers see the same exception type for every bad request.
    """


def report(step: str, error: InputError) -> int:
    """Print `error` as one line naming the step; return the exit code for bad input."""
    message = " ".join(str(error).split())
    print(f"{step}: error: {message}", file=sys.stderr)
    return INPUT_ERROR_EXIT_CODE
