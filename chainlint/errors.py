"""The one family of user-facing failures: caught once in the CLI, printed as one line, exit 2."""

from __future__ import annotations


class ChainlintError(Exception):
    """A problem with the user's input or environment, not a finding."""


class UsageError(ChainlintError):
    """Bad command-line options or configuration."""


class DiscoveryError(ChainlintError):
    """A path does not exist, or no Alembic environment was found."""


class GitError(ChainlintError):
    """`--base` could not read the reference with git."""
