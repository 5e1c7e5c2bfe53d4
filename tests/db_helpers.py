"""Databases for the `chainlint db` tests: built by real Alembic (the oracle, test-only), damaged
the way users damage them, and proven untouched by chainlint."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainlint.config import Settings
from chainlint.database import read_database
from chainlint.findings import Finding
from chainlint.graph import RevisionGraph
from chainlint.lint import check_graph
from chainlint.rules.base import DatabaseSetup
from chainlint.rules.dbstate import DatabaseState
from helpers import write_tree

ENV_PY = """\
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run_migrations_online():
    connectable = engine_from_config(
        config.get_section(config.config_ini_section), prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection{configure})
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""


def sqlite_file(path: Path, statements: tuple[str, ...] = ()) -> str:
    """A SQLite database file built with `statements`; returns its URL."""
    connection = sqlite3.connect(path)
    with connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class FileSnapshot:
    data: bytes
    mtime_ns: int
    names: frozenset[str]


def snapshot(path: Path) -> FileSnapshot:
    """The file's bytes and mtime, and the names beside it (no -journal/-wal appears)."""
    return FileSnapshot(
        path.read_bytes(), path.stat().st_mtime_ns, frozenset(os.listdir(path.parent))
    )


@contextlib.contextmanager
def unchanged(path: Path) -> Iterator[None]:
    """Prove that nothing in the block wrote to the SQLite file."""
    before = snapshot(path)
    yield
    after = snapshot(path)
    assert after.data == before.data, f"{path} was written"
    assert after.mtime_ns == before.mtime_ns, f"{path}'s mtime changed"
    assert after.names == before.names, f"files appeared beside {path}"


@dataclass(frozen=True)
class Project:
    """An Alembic project: alembic.ini, migrations/env.py, migrations/versions/."""

    root: Path
    admin_url: str

    @property
    def ini(self) -> Path:
        return self.root / "alembic.ini"

    @property
    def versions(self) -> Path:
        return self.root / "migrations" / "versions"

    def alembic(self, command: str, *args: str, **kwargs: object) -> str:
        """Run a real Alembic command (as the database's owner); returns what it printed."""
        from alembic import command as commands
        from alembic.config import Config

        out = io.StringIO()
        config = Config(str(self.ini), stdout=out)
        config.set_main_option("sqlalchemy.url", self.admin_url.replace("%", "%%"))
        getattr(commands, command)(config, *args, **kwargs)
        return out.getvalue()


def alembic_project(
    root: Path,
    files: Mapping[str, str],
    admin_url: str,
    ini_url: str | None = None,
    configure: str = "",
) -> Project:
    """Write a project whose versions folder holds `files`. alembic.ini's sqlalchemy.url is
    `ini_url` (none when None): Alembic itself is always given `admin_url`."""
    ini = ["[alembic]", "script_location = %(here)s/migrations"]
    if ini_url is not None:
        ini.append(f"sqlalchemy.url = {ini_url}")
    write_tree(
        root,
        {
            "alembic.ini": "\n".join(ini) + "\n",
            "migrations/env.py": ENV_PY.replace("{configure}", configure),
            **{f"migrations/versions/{name}": source for name, source in files.items()},
        },
    )
    return Project(root, admin_url)


def example_database_url(
    tmp_path: Path, setup: DatabaseSetup, request: pytest.FixtureRequest
) -> tuple[str, Path | None]:
    """A fresh database built by the example's statements: (URL chainlint reads, SQLite file)."""
    if setup.dialect == "sqlite":
        path = tmp_path / "example.db"
        return sqlite_file(path, setup.statements), path
    server = request.getfixturevalue("postgres")
    name = server.create_database()
    server.sql(name, *setup.statements)
    return server.reader_url(name), None


def database_findings(
    graph: RevisionGraph, url: str, settings: Settings, require_head: bool = False
) -> list[Finding]:
    state = DatabaseState(graph, read_database(url), require_head)
    return check_graph(graph, settings, database=state)


def migration_with(
    revision: str, down_revision: str | tuple[str, ...] | None, upgrade: str, downgrade: str
) -> str:
    """A migration (Alembic's default layout) whose upgrade()/downgrade() run these bodies."""
    from chainlint.rules.base import migration

    def body(code: str) -> str:
        return "\n".join("    " + line for line in code.strip().splitlines())

    source = migration(revision, down_revision)
    source = source.replace("def upgrade():\n    pass", "def upgrade():\n" + body(upgrade))
    return source.replace("def downgrade():\n    pass", "def downgrade():\n" + body(downgrade))


# A small history with real operations: two tables, an index, then a column.
HISTORY = {
    "a1_create_runs.py": migration_with(
        "a1",
        None,
        """
op.create_table(
    "workflow_runs",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)
""",
        'op.drop_table("workflow_runs")',
    ),
    "b2_create_steps.py": migration_with(
        "b2",
        "a1",
        """
op.create_table(
    "step_executions",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("run_id", sa.Integer(), sa.ForeignKey("workflow_runs.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=True),
)
op.create_index("ix_step_executions_run_id", "step_executions", ["run_id"])
""",
        'op.drop_index("ix_step_executions_run_id", "step_executions")\n'
        'op.drop_table("step_executions")',
    ),
    "c3_add_condition.py": migration_with(
        "c3",
        "b2",
        'op.add_column("step_executions", sa.Column("condition_expression", sa.Text()))',
        'op.drop_column("step_executions", "condition_expression")',
    ),
}
