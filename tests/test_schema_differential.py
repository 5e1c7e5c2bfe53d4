"""The schema model against a real database: random histories of schema operations are written
as migration files, upgraded and downgraded by real Alembic on SQLite (in-process, one in-memory
connection per example), and read back with SQLAlchemy's inspector.

- after `alembic upgrade heads`, `chainlint schema --format json` lists exactly the inspector's
  tables, columns and indexes;
- CL301/CL302 fire exactly when the real upgrade fails (every table is known here: the histories
  have no opaque operations);
- after `alembic downgrade base`, CL303 is silent exactly when the database is empty again.

Alembic and SQLAlchemy are the oracle, as in the other differential tests: they import the
generated files; chainlint only reads them.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, note, settings
from hypothesis import strategies as st

from chainlint.cli import cli
from chainlint.config import Settings
from chainlint.rules.base import migration
from helpers import findings_of

sqlalchemy = pytest.importorskip("sqlalchemy")
alembic_command = pytest.importorskip("alembic.command")
alembic_config = pytest.importorskip("alembic.config")

ENV_PY = """\
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
"""


@dataclass
class _Table:
    columns: list[str]
    indexes: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Revision:
    id: str
    down: str | tuple[str, ...] | None
    upgrade: list[str] = field(default_factory=list)
    downgrade: list[str] = field(default_factory=list)


class _History:
    """Builds a valid history against its own tiny model of the schema; `inject` adds one
    operation the real database must refuse."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.tables: dict[str, _Table] = {}
        self.revisions: list[_Revision] = []
        self.counter = 0
        self.injected: str | None = None

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def revision(self, down: str | tuple[str, ...] | None) -> _Revision:
        rev = _Revision(f"r{len(self.revisions)}", down)
        self.revisions.append(rev)
        return rev

    # -- operations, each with its reverse ---------------------------------------------------

    def create_table(self, rev: _Revision) -> str:
        table = self.name("t")
        columns = [self.name("c") for _ in range(self.rng.randint(1, 2))]
        self.tables[table] = _Table(["id", *columns])
        rev.upgrade.append(_create_table_source(table, columns))
        rev.downgrade.insert(0, f"op.drop_table({table!r})")
        return table

    def add_column(self, rev: _Revision, table: str, column: str | None = None) -> str:
        column = column or self.name("c")
        self.tables[table].columns.append(column)
        rev.upgrade.append(
            f"op.add_column({table!r}, sa.Column({column!r}, sa.String(20), nullable=True))"
        )
        rev.downgrade.insert(0, f"op.drop_column({table!r}, {column!r})")
        return column

    def free_columns(self, table: str) -> list[str]:
        indexed = {c for cols in self.tables[table].indexes.values() for c in cols}
        return [c for c in self.tables[table].columns if c != "id" and c not in indexed]

    def operation(self, rev: _Revision) -> None:
        rng = self.rng
        if not self.tables or rng.random() < 0.25:
            self.create_table(rev)
            return
        table = rng.choice(sorted(self.tables))
        model = self.tables[table]
        free = self.free_columns(table)
        kind = rng.choice(
            [
                "add",
                "drop_column",
                "rename_column",
                "index",
                "drop_index",
                "rename",
                "drop",
                "batch",
            ]
        )
        if kind == "add" or (kind in ("drop_column", "rename_column") and not free):
            self.add_column(rev, table)
        elif kind == "drop_column":
            column = rng.choice(free)
            model.columns.remove(column)
            rev.upgrade.append(f"op.drop_column({table!r}, {column!r})")
            rev.downgrade.insert(
                0, f"op.add_column({table!r}, sa.Column({column!r}, sa.String(20)))"
            )
        elif kind == "rename_column":
            column, new = rng.choice(free), self.name("c")
            model.columns[model.columns.index(column)] = new
            rev.upgrade.append(f"op.alter_column({table!r}, {column!r}, new_column_name={new!r})")
            rev.downgrade.insert(
                0, f"op.alter_column({table!r}, {new!r}, new_column_name={column!r})"
            )
        elif kind == "index":
            index, column = self.name("ix_"), rng.choice(model.columns)
            model.indexes[index] = [column]
            rev.upgrade.append(f"op.create_index({index!r}, {table!r}, [{column!r}])")
            rev.downgrade.insert(0, f"op.drop_index({index!r}, table_name={table!r})")
        elif kind == "drop_index" and model.indexes:
            index = rng.choice(sorted(model.indexes))
            columns = model.indexes.pop(index)
            rev.upgrade.append(f"op.drop_index({index!r}, table_name={table!r})")
            rev.downgrade.insert(0, f"op.create_index({index!r}, {table!r}, {columns!r})")
        elif kind == "rename":
            new = self.name("t")
            self.tables[new] = self.tables.pop(table)
            rev.upgrade.append(f"op.rename_table({table!r}, {new!r})")
            rev.downgrade.insert(0, f"op.rename_table({new!r}, {table!r})")
        elif kind == "drop" and not model.indexes:
            del self.tables[table]
            rev.upgrade.append(f"op.drop_table({table!r})")
            others = [c for c in model.columns if c != "id"]
            rev.downgrade.insert(0, _create_table_source(table, others))
        else:
            self.batch(rev, table)

    def batch(self, rev: _Revision, table: str) -> None:
        model = self.tables[table]
        up, down = [], []
        column = self.name("c")
        model.columns.append(column)
        up.append(f"batch_op.add_column(sa.Column({column!r}, sa.String(20), nullable=True))")
        down.insert(0, f"batch_op.drop_column({column!r})")
        free = self.free_columns(table)
        if len(free) > 1 and self.rng.random() < 0.5:
            old, new = free[0], self.name("c")
            model.columns[model.columns.index(old)] = new
            up.append(f"batch_op.alter_column({old!r}, new_column_name={new!r})")
            down.insert(0, f"batch_op.alter_column({new!r}, new_column_name={old!r})")
        if self.rng.random() < 0.5:
            index = self.name("ix_")
            model.indexes[index] = [column]
            up.append(f"batch_op.create_index({index!r}, [{column!r}])")
            down.insert(0, f"batch_op.drop_index({index!r})")
        head = f"with op.batch_alter_table({table!r}) as batch_op:"
        rev.upgrade.append("\n".join([head, *("    " + line for line in up)]))
        rev.downgrade.insert(0, "\n".join([head, *("    " + line for line in down)]))

    # -- defects -------------------------------------------------------------------------------

    def inject(self, rev: _Revision) -> None:
        """One operation that fails on the real database, on a table that exists."""
        table = self.rng.choice(sorted(self.tables))
        model = self.tables[table]
        kind = self.rng.choice(["dup_column", "dup_table", "dup_index", "missing", "missing_ix"])
        if kind == "dup_column":
            column = self.rng.choice(model.columns)
            rev.upgrade.append(f"op.add_column({table!r}, sa.Column({column!r}, sa.Integer()))")
        elif kind == "dup_table":
            rev.upgrade.append(_create_table_source(table, []))
        elif kind == "dup_index" and model.indexes:
            index = self.rng.choice(sorted(model.indexes))
            rev.upgrade.append(f"op.create_index({index!r}, {table!r}, ['id'])")
        elif kind == "missing_ix":
            rev.upgrade.append(f"op.drop_index('ix_nope', table_name={table!r})")
        else:
            rev.upgrade.append(f"op.drop_column({table!r}, 'nope')")
        self.injected = kind

    def break_downgrade(self) -> str | None:
        """Make one downgrade wrong in a way no other downgrade can undo."""
        # (A downgrade left empty is CL304's business, not CL303's: keep one operation.)
        creating = [
            r
            for r in self.revisions
            if len(r.downgrade) > 1 and any(d.startswith("op.drop_table(") for d in r.downgrade)
        ]
        if creating and self.rng.random() < 0.5:
            rev = self.rng.choice(creating)
            line = next(d for d in rev.downgrade if d.startswith("op.drop_table("))
            rev.downgrade.remove(line)
            return "leaves a table"
        candidates = [r for r in self.revisions if r.upgrade and r.downgrade]
        if not candidates:
            return None
        rev = self.rng.choice(candidates)
        table = _first_table(rev.upgrade)
        if table is None:
            return None
        rev.downgrade.insert(0, f"op.drop_column({table!r}, 'nope')")
        return "drops what is not there"


def _first_table(lines: list[str]) -> str | None:
    """The table the first operation works on, when it exists after the upgrade."""
    line = lines[0]
    if line.startswith("op.create_table(") or line.startswith("op.add_column("):
        return line.split("'")[1]
    if line.startswith("with op.batch_alter_table("):
        return line.split("'")[1]
    return None


def _create_table_source(table: str, columns: list[str]) -> str:
    items = ["    sa.Column('id', sa.Integer(), primary_key=True),"]
    items += [f"    sa.Column({c!r}, sa.String(20), nullable=True)," for c in columns]
    return "\n".join([f"op.create_table(\n    {table!r},", *items, ")"])


def build(rng: random.Random, inject: bool, break_downgrade: bool) -> _History:
    history = _History(rng)
    head: str | None = None
    for _ in range(rng.randint(1, 5)):
        if history.tables and rng.random() < 0.3:
            # A fork: each branch changes only what is its own, then a merge.
            left, right = history.revision(head), history.revision(head)
            existing = sorted(history.tables)
            shared = rng.choice(existing)
            added = history.add_column(left, shared)
            history.create_table(right)
            if rng.random() < 0.5:
                history.add_column(right, rng.choice(existing))
            if inject and history.injected is None and rng.random() < 0.5:
                right.upgrade.append(
                    f"op.add_column({shared!r}, sa.Column({added!r}, sa.String(20)))"
                )
                history.injected = "branches add the same column"
            merge = history.revision((left.id, right.id))
            head = merge.id
            continue
        rev = history.revision(head)
        for _ in range(rng.randint(1, 3)):
            history.operation(rev)
        head = rev.id
    if inject and history.injected is None:
        rev = history.revision(head)
        if not history.tables:
            history.create_table(rev)
        history.inject(rev)
        head = rev.id
    if break_downgrade and history.injected is None:
        history.break_downgrade()
    return history


def write(history: _History, root: Path) -> Path:
    versions = root / "versions"
    versions.mkdir(parents=True)
    (root / "env.py").write_text(ENV_PY)
    for rev in history.revisions:
        source = migration(
            rev.id,
            rev.down,
            upgrade="\n".join(rev.upgrade) or "pass",
            downgrade="\n".join(rev.downgrade) or "pass",
        )
        (versions / f"{rev.id}_change.py").write_text(source)
    return versions


def real_schema(connection: Any) -> dict[str, dict[str, Any]]:
    inspector = sqlalchemy.inspect(connection)
    tables = {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        tables[table] = {
            "columns": sorted(c["name"] for c in inspector.get_columns(table)),
            "indexes": {
                i["name"]: list(i["column_names"])
                for i in inspector.get_indexes(table)
                if i["name"] is not None
            },
        }
    return tables


def run_alembic(root: Path, connection: Any, action: str) -> str | None:
    """Upgrade to heads or downgrade to base with real Alembic; the error, or None."""
    config = alembic_config.Config()
    config.set_main_option("script_location", str(root))
    config.attributes["connection"] = connection
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if action == "upgrade":
                alembic_command.upgrade(config, "heads")
            else:
                alembic_command.downgrade(config, "base")
        connection.commit()
    except Exception as exc:  # the oracle's verdict: any failure of the real migration
        connection.rollback()
        return f"{type(exc).__name__}: {exc}"
    return None


def chainlint_schema(versions: Path) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["schema", "--format", "json", "--no-cache", str(versions)])
    assert result.exit_code == 0, result.output
    (environment,) = json.loads(result.output)["environments"]
    tables = {}
    for name, table in environment["tables"].items():
        assert table["known"], name
        tables[name] = {
            "columns": sorted(table["columns"]),
            "indexes": {n: i["columns"] for n, i in table["indexes"].items()},
        }
    return tables


# Each example runs real migrations (about 0.15 s): two thirds of the profile's examples.
@settings(max_examples=max(200, settings().max_examples * 2 // 3))
@given(
    rng=st.randoms(use_true_random=False),
    inject=st.booleans(),
    break_downgrade=st.booleans(),
)
def test_schema_model_agrees_with_a_real_database(
    rng: random.Random, inject: bool, break_downgrade: bool
) -> None:
    history = build(rng, inject, break_downgrade)
    root = Path(tempfile.mkdtemp(prefix="chainlint-schema-"))
    engine = sqlalchemy.create_engine("sqlite://")
    try:
        versions = write(history, root)
        for rev in history.revisions:
            note(f"{rev.id} <- {rev.down}: {rev.upgrade} / {rev.downgrade}")
        findings = findings_of(versions, Settings(select=("CL301", "CL302", "CL303")))
        codes = [f.code for f in findings]
        with engine.connect() as connection:
            failure = run_alembic(root, connection, "upgrade")
            errors = [c for c in codes if c in ("CL301", "CL302")]
            assert bool(errors) == (failure is not None), (failure, findings)
            if failure is not None:
                return
            assert chainlint_schema(versions) == real_schema(connection)
            failure = run_alembic(root, connection, "downgrade")
            empty = failure is None and real_schema(connection) == {}
            assert ("CL303" not in codes) == empty, (failure, real_schema(connection), findings)
    finally:
        engine.dispose()
        shutil.rmtree(root, ignore_errors=True)
