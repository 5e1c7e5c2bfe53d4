"""The one family of user-facing failures: caught once in the CLI, printed as one line, exit 2."""

from __future__ import annotations


class ChainlintError(Exception):
    """A problem with the user's input or environment, not a finding."""


class UsageError(ChainlintError):
    """Bad command-line options or configuration."""


class DiscoveryError(ChainlintError):
    """A path does not exist, or no Alembic environment was found."""


class InternalError(ChainlintError):
    """A bug in chainlint, reported as one line naming what was being processed."""

    def __str__(self) -> str:
        return f"internal error {super().__str__()}"


class GitError(ChainlintError):
    """`--base` could not read the reference with git."""


class DatabaseError(ChainlintError):
    """`chainlint db` could not read the database (its message never holds a password)."""
