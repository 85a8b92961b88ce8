"""The one error of the local AWS services' commands: reported as one line, never a traceback."""

from __future__ import annotations


class LocalAwsError(Exception):
    """Something the user must fix (start the services, register a model first, free the port)."""
