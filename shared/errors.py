"""Error types with one-line, user-facing messages; the CLI maps them to exit codes."""

from __future__ import annotations


class ReproError(Exception):
    """Base class for errors whose message is shown to the user as is (no traceback)."""

    exit_code = 1


class UsageError(ReproError):
    """Bad input: a wrong name, key, value or path. Exit code 2."""

    exit_code = 2


class ConfigError(UsageError):
    """An invalid config key or value."""


class RegistryKeyError(UsageError, KeyError):
    """An unknown registry key."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0] if self.args else ""


class RunDirExistsError(UsageError):
    """A run folder exists and neither --resume nor --overwrite was given."""


class AssetMissingError(UsageError):
    """An offline asset is not installed; the message names the install command."""
