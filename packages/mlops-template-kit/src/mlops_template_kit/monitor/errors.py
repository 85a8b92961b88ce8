"""The monitor's one error type: a problem with its inputs, printed as one line (exit 1)."""

from __future__ import annotations

from mlops_template_kit.deploy.errors import DeployError


class MonitorError(DeployError):
    """Missing or malformed capture, ground truth or baseline; the message names the file and line."""
