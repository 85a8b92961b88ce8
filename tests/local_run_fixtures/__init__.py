"""Hand-written pipeline definitions and step scripts that exercise the local executor."""
