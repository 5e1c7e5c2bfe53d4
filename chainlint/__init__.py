"""chainlint: a static analyzer and autofixer for Alembic revision chains."""

__version__ = "0.1.0"
