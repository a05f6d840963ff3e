"""Verbs of this stage (filled in by the issue that builds the stage)."""

from . import main  # noqa: F401
