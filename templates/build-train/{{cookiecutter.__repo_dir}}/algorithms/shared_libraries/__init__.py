"""Helpers shared by every step under algorithms/ (and copied into the model bundle for serving)."""
