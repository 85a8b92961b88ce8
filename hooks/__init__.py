"""Shared, importable logic behind every template's thin cookiecutter hooks."""
