"""Exceptions with messages meant for people.

Every error a user can cause (a bad file, an unknown name, a value out of range) is raised as one of
these, with a message that names what was wrong and what was expected. The command line prints the
message alone (no traceback) and exits with status 2.
"""
from __future__ import annotations


class DislabError(Exception):
    """Base of all user-facing dislab errors."""


class ConfigError(DislabError, ValueError):
    """A configuration key or value is unknown or out of range."""


class DataError(DislabError, ValueError):
    """A dataset file or array is missing, corrupt, or not of the expected shape/dtype/range."""


class RunError(DislabError):
    """A run folder is missing, incomplete, or would be overwritten."""
