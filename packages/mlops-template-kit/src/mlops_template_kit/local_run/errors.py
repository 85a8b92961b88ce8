"""The errors a local run reports as one line, never as a traceback."""

from __future__ import annotations


class LocalRunError(Exception):
    """Anything the user must fix: reported as one line with a non-zero exit."""


class DefinitionError(LocalRunError):
    """The pipeline definition (or a parameter value given for it) cannot be run."""


class ExpressionError(LocalRunError):
    """An expression of the definition cannot be evaluated (a broken reference, a bad path)."""


class StepFailed(LocalRunError):
    """A step ran and failed; `stderr_tail` holds the last lines its process wrote."""

    def __init__(self, message: str, stderr_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.stderr_tail = stderr_tail or []
