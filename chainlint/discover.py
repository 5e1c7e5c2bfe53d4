"""Paths -> Alembic environments: alembic.ini, [tool.alembic], Flask-Migrate, bare folders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FILE_TEMPLATE = "%(rev)s_%(slug)s"


@dataclass(frozen=True, slots=True)
class Environment:
    """One Alembic environment: one revision graph."""

    # The folder reported as the environment's path (script_location, or the bare versions folder).
    root: Path
    # Where the configuration came from: "alembic.ini", "pyproject.toml", "flask-migrate",
    # "versions-folder".
    source: str
    config_path: Path | None
    version_locations: tuple[Path, ...]
    recursive: bool
    file_template: str
    # The migration files Alembic itself would load, in Alembic's order, de-duplicated by real path.
    files: tuple[Path, ...]
    # The environment's script.py.mako, when it has one (used by `fix --heads merge`).
    script_template: Path | None = None


def discover_environments(paths: Sequence[Path]) -> list[Environment]:
    # Interim: bare versions folders only, until full discovery lands.
    import re

    from chainlint.errors import DiscoveryError

    envs = []
    for path in paths:
        if not path.exists():
            raise DiscoveryError(f"{path}: no such file or directory")
        folder = path.resolve()
        if (folder / "versions").is_dir():
            folder = folder / "versions"
        files = tuple(
            sorted(
                p
                for p in folder.rglob("*.py")
                if re.match(r"(?!\.\#|__init__)(.*\.py)$", p.name) and "__pycache__" not in p.parts
            )
        )
        envs.append(
            Environment(
                folder, "versions-folder", None, (folder,), True, DEFAULT_FILE_TEMPLATE, files
            )
        )
    return envs
