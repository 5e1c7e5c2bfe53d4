"""The schema model (chainlint/schema.py) against a live database (chainlint/database.py): what
a pending revision would create that already exists (CL403), whether the database's schema is
the model's at some revision (CL401, CL404), and where a known table drifted (CL406).

Names are compared case-insensitively (PostgreSQL folds unquoted names to lower case), and a
model name qualified with the database's default schema (`public.users`) is the bare name the
inspector reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chainlint.ops import (
    AddColumn,
    CreateIndex,
    CreateTable,
    DropColumn,
    DropTable,
    MigrationOperations,
    Opaque,
    RenameTable,
)
from chainlint.records import record

if TYPE_CHECKING:
    from chainlint.database import LiveDatabase, LiveTable
    from chainlint.schema import Schema


@record
class Created:
    """An object a revision's upgrade creates, and whether the database already has it."""

    kind: str  # "table", "column", "index"
    name: str  # "step_executions", "step_executions.branch_taken", "ix_runs_name"
    line: int
    exists: bool
    # The operation says if_not_exists=True: it cannot fail, whatever exists.
    guarded: bool

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@record
class Applied:
    """What CL403 knows of one pending revision."""

    revision: str
    created: tuple[Created, ...]
    # Lines of upgrade() steps that create nothing CL403 can check (alter, drop, op.execute...).
    other_steps: tuple[int, ...]

    @property
    def present(self) -> tuple[Created, ...]:
        return tuple(c for c in self.created if c.exists)

    @property
    def missing(self) -> tuple[Created, ...]:
        return tuple(c for c in self.created if not c.exists)

    @property
    def fails(self) -> bool:
        """`alembic upgrade` stops at an object that is already there."""
        return any(c.exists and not c.guarded for c in self.created)

    @property
    def complete(self) -> bool:
        """Everything the upgrade does is already in the database: stamping is safe."""
        return bool(self.created) and not self.missing and not self.other_steps


def key(name: str, live: LiveDatabase) -> str:
    """A table name as the inspector reports it."""
    default = (live.default_schema or "").lower()
    lowered = name.lower()
    if default and lowered.startswith(default + "."):
        return lowered[len(default) + 1 :]
    return lowered


def live_tables(live: LiveDatabase) -> dict[str, LiveTable]:
    return {table.lower(): value for table, value in live.tables.items()}


def live_index_names(live: LiveDatabase) -> set[str]:
    return {
        name.lower()
        for table in live.tables.values()
        for name in table.indexes
        if name  # an unnamed index cannot be matched
    }


def already_applied(revision: str, operations: MigrationOperations, live: LiveDatabase) -> Applied:
    """Which of `revision`'s created objects the database already has."""
    tables = live_tables(live)
    indexes = live_index_names(live)
    created: list[Created] = []
    other: list[int] = []
    made_here: set[str] = set()
    for op in operations.upgrade:
        if isinstance(op, CreateTable):
            name = key(op.table, live)
            made_here.add(name)
            created.append(Created("table", op.table, op.line, name in tables, op.if_not_exists))
            for definition in op.indexes:
                if definition.name:
                    created.append(
                        Created(
                            "index",
                            definition.name,
                            op.line,
                            definition.name.lower() in indexes,
                            op.if_not_exists,
                        )
                    )
        elif isinstance(op, AddColumn):
            table = tables.get(key(op.table, live))
            exists = table is not None and op.column_def.name.lower() in {
                c.lower() for c in table.columns
            }
            created.append(
                Created(
                    "column", f"{op.table}.{op.column_def.name}", op.line, exists, op.if_not_exists
                )
            )
        elif isinstance(op, CreateIndex) and op.name:
            created.append(
                Created("index", op.name, op.line, op.name.lower() in indexes, op.if_not_exists)
            )
        elif isinstance(op, Opaque) or not _creates_nothing_new(op, made_here, live):
            other.append(op.line)
    return Applied(revision, tuple(created), tuple(other))


def _creates_nothing_new(op: object, made_here: set[str], live: LiveDatabase) -> bool:
    """Steps that only complete a table this same revision creates (its constraints, unnamed
    indexes) need no separate check."""
    table = getattr(op, "table", None)
    return (
        isinstance(table, str)
        and key(table, live) in made_here
        and type(op).__name__.startswith("Create")
    )


def may_match(operations: MigrationOperations, live: LiveDatabase) -> bool:
    """A cheap necessary condition for the schema after a revision to be the database's: what
    the revision itself creates (and does not remove again) exists. Saves a full replay for
    most revisions of a long history."""
    tables = live_tables(live)
    removed = {
        (key(op.table, live), getattr(op, "name", "").lower())
        for op in operations.upgrade
        if isinstance(op, (DropTable, RenameTable, DropColumn))
    }
    removed_tables = {table for table, column in removed if not column}
    for op in operations.upgrade:
        if isinstance(op, CreateTable):
            name = key(op.table, live)
            if name not in tables and name not in removed_tables:
                return False
        elif isinstance(op, AddColumn):
            name = key(op.table, live)
            column = op.column_def.name.lower()
            if name in removed_tables or (name, column) in removed:
                continue
            there = tables.get(name)
            if there is not None and column not in {c.lower() for c in there.columns}:
                return False
    return True


def schema_matches(model: Schema, live: LiveDatabase) -> bool:
    """The live schema is the model's: the same tables; for known tables the same columns and
    the same explicitly named indexes (an index SQLAlchemy named itself may have any name)."""
    if model.everything_partial:
        return False
    tables = live_tables(live)
    modelled = {key(name, live): table for name, table in model.tables.items()}
    if set(modelled) != set(tables):
        return False
    for name, table in modelled.items():
        if not table.known:
            continue
        there = tables[name]
        if {c.lower() for c in table.columns} != {c.lower() for c in there.columns}:
            return False
        explicit = {i.lower() for i, index in table.indexes.items() if not index.implicit}
        implicit = any(index.implicit for index in table.indexes.values())
        found = {i.lower() for i in there.indexes if i}
        if not explicit <= found or (not implicit and found - explicit):
            return False
    return True


@record
class Drift:
    """A known table that differs from the model at the database's revision (CL406)."""

    table: str
    # "missing-table", "missing-column", "extra-column"
    kind: str
    column: str | None
    # Where the model's object was made (the table's creation for an extra column).
    revision: str | None
    path: Path | None
    line: int | None


def drift(model: Schema, live: LiveDatabase, ignore: set[str]) -> list[Drift]:
    """Differences in known tables; `ignore` holds `table.column` keys a pending revision
    creates (CL403 speaks of those)."""
    tables = live_tables(live)
    found: list[Drift] = []
    for name, table in model.tables.items():
        if not table.known:
            continue
        there = tables.get(key(name, live))
        if there is None:
            found.append(
                Drift(name, "missing-table", None, table.created_by, table.path, table.line)
            )
            continue
        live_columns = {c.lower(): c for c in there.columns}
        modelled = {c.lower(): column for c, column in table.columns.items()}
        for lowered, column in modelled.items():
            if lowered not in live_columns:
                found.append(
                    Drift(
                        name,
                        "missing-column",
                        column.name,
                        column.created_by,
                        column.path,
                        column.line,
                    )
                )
        for lowered, actual in sorted(live_columns.items()):
            if lowered not in modelled and f"{key(name, live)}.{lowered}" not in ignore:
                found.append(
                    Drift(name, "extra-column", actual, table.created_by, table.path, table.line)
                )
    return found
