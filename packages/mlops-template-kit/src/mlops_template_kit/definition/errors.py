"""What is wrong with a pipeline definition, as one line a caller can show."""

from __future__ import annotations


class DefinitionError(ValueError):
    """A definition breaks a rule of the pipeline service or of the API a step calls, or a
    parameter value given for it does not fit its declaration."""


class ExpressionError(DefinitionError):
    """An expression of the definition cannot be evaluated (a broken reference, a bad path)."""
