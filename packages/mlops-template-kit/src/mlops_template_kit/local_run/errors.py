"""The errors a local run reports as one line, never as a traceback."""

from __future__ import annotations

# A definition the runner cannot run is reported like any other mistake of the user; the reader
# of definitions owns these two.
from ..definition.errors import DefinitionError, ExpressionError

__all__ = ["USER_ERRORS", "DefinitionError", "ExpressionError", "LocalRunError", "StepFailed"]


class LocalRunError(Exception):
    """Anything the user must fix: reported as one line with a non-zero exit."""


class StepFailed(LocalRunError):
    """A step ran and failed; `stderr_tail` holds the last lines its process wrote."""

    def __init__(self, message: str, stderr_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.stderr_tail = stderr_tail or []


# What a run reports in one line: its own errors and a definition's.
USER_ERRORS = (LocalRunError, DefinitionError)
