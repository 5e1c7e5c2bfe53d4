"""RevisionGraph + operations -> the schema at each revision, with certainty per table.

The schema after a revision is its parents' schemas (merged at merge points, `depends_on`
applied first) plus its upgrade operations. A table created in the traced history and touched
only by understood operations is *known*; one touched by an opaque operation, or that appears
without a `create_table`, is *partial*. Claims ("already exists", "does not exist") are only
made about known tables, or about tables the traced history itself dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from chainlint.errors import InternalError
from chainlint.ops import (
    NO_OPERATIONS,
    AddColumn,
    AlterColumn,
    ColumnDef,
    CreateCheckConstraint,
    CreateForeignKey,
    CreateIndex,
    CreatePrimaryKey,
    CreateTable,
    CreateUniqueConstraint,
    DropColumn,
    DropConstraint,
    DropIndex,
    DropTable,
    MigrationOperations,
    Opaque,
    Operation,
    RenameTable,
    tables_of,
)
from chainlint.records import record

if TYPE_CHECKING:
    from chainlint.graph import RevisionGraph


# -- the frozen model (what rules, `chainlint schema` and `chainlint db` read) -----------------


@record
class Column:
    name: str
    type: str | None
    nullable: bool | None
    server_default: str | None
    created_by: str
    path: Path
    line: int


@record
class Index:
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool
    created_by: str
    path: Path
    line: int
    # The name was not written: it is SQLAlchemy's default (`ix_<table>_<column>`), which an
    # environment's naming convention may change.
    implicit: bool = False


@record
class Constraint:
    """A unique, foreign key or check constraint (name None when the file gives none)."""

    kind: Literal["unique", "foreign_key", "check", "primary_key"]
    name: str | None
    table: str
    columns: tuple[str, ...]
    created_by: str
    path: Path
    line: int
    referent: str | None = None
    referent_columns: tuple[str, ...] = ()


@record
class Table:
    name: str
    known: bool
    columns: Mapping[str, Column]
    indexes: Mapping[str, Index]
    uniques: tuple[Constraint, ...]
    foreign_keys: tuple[Constraint, ...]
    created_by: str | None
    path: Path | None
    line: int | None
    checks: tuple[Constraint, ...] = ()
    primary_key: tuple[str, ...] = ()


@record
class OpaqueNote:
    revision: str
    path: Path
    line: int
    column: int
    tables: tuple[str, ...]
    reason: str


@record
class Schema:
    tables: Mapping[str, Table]
    opaque: tuple[OpaqueNote, ...] = ()
    # Something that names no table happened in the traced history (or the history could not
    # be traced to a base): tables not in `tables` may exist too.
    everything_partial: bool = False


@record
class Origin:
    """Where an object was made (or dropped): revision, file, line."""

    revision: str
    path: Path
    line: int


@record
class Problem:
    """An operation the replay shows would fail on a real database."""

    kind: Literal["exists", "missing"]
    revision: str
    index: int
    operation: Operation
    # "column users.email", "table users", "index ix_users_email"
    what: str
    # exists: who made the object already there; missing: who dropped it (None: never made).
    origin: Origin | None
    # Set when the conflict comes from merging branches at this revision.
    merge: str | None = None
    direction: Literal["upgrade", "downgrade"] = "upgrade"


@record
class Revert:
    """What replaying `upgrade()` then `downgrade()` leaves different from before (CL303)."""

    revision: str
    left_behind: tuple[str, ...]
    lost: tuple[str, ...]
    failures: tuple[Problem, ...]


# -- the mutable replay state ---------------------------------------------------------------


@dataclass(slots=True)
class _Table:
    """One table of a replay state. A state holds every table its history made (10k revisions:
    ~10k tables alive at once, for each open branch), so what most tables never get costs
    nothing: the constraints are a tuple (copies share it), `removed` is None until something
    is removed, and a column the table was created with is its create_table's own ColumnDef,
    an index created in the same revision its create_index (the Column or Index, made by
    `column`, `index` or `freeze`, takes the table's `created` revision and path)."""

    name: str
    known: bool
    created: Origin | None
    columns: dict[str, Column | ColumnDef] = field(default_factory=dict)
    indexes: dict[str, Index | CreateIndex] = field(default_factory=dict)
    constraints: tuple[Constraint, ...] = ()
    primary_key: tuple[str, ...] = ()
    # What understood operations removed: ("column"|"index", name) -> who removed it.
    removed: dict[tuple[str, str], Origin] | None = None

    def copy(self) -> _Table:
        return _Table(
            self.name,
            self.known,
            self.created,
            dict(self.columns),
            dict(self.indexes),
            self.constraints,
            self.primary_key,
            dict(self.removed) if self.removed else None,
        )

    def column(self, name: str) -> Column | None:
        found = self.columns.get(name)
        return self._column(found) if found is not None else None

    def _column(self, found: Column | ColumnDef) -> Column:
        """The Column of an entry of `columns`."""
        if type(found) is Column:
            return found
        assert isinstance(found, ColumnDef)
        definition = found
        created = self.created
        if created is None:
            raise InternalError(f"table {self.name}: a creation column without a creation")
        return Column(
            definition.name,
            definition.type,
            definition.nullable,
            definition.server_default,
            created.revision,
            created.path,
            definition.line,
        )

    def index(self, name: str) -> Index | None:
        found = self.indexes.get(name)
        return self._index(name, found) if found is not None else None

    def _index(self, name: str, found: Index | CreateIndex) -> Index:
        """The Index of an entry of `indexes`."""
        if type(found) is Index:
            return found
        assert isinstance(found, CreateIndex)
        created = self.created
        if created is None:
            raise InternalError(f"table {self.name}: a creation index without a creation")
        return Index(
            name,
            found.table,
            found.columns,
            found.unique,
            created.revision,
            created.path,
            found.line,
            found.name is None,
        )

    def add_constraint(self, constraint: Constraint) -> None:
        self.constraints = (*self.constraints, constraint)

    def remover(self, kind: str, name: str) -> Origin | None:
        """Who removed this column or index, if an understood operation did."""
        return self.removed.get((kind, name)) if self.removed else None

    def mark_removed(self, kind: str, name: str, origin: Origin) -> None:
        if self.removed is None:
            self.removed = {}
        self.removed[(kind, name)] = origin

    def forget_removed(self, kind: str, name: str) -> None:
        if self.removed:
            self.removed.pop((kind, name), None)

    def freeze(self) -> Table:
        created = self.created
        return Table(
            self.name,
            self.known,
            MappingProxyType({name: self._column(c) for name, c in self.columns.items()}),
            MappingProxyType({name: self._index(name, i) for name, i in self.indexes.items()}),
            tuple(c for c in self.constraints if c.kind == "unique"),
            tuple(c for c in self.constraints if c.kind == "foreign_key"),
            created.revision if created else None,
            created.path if created else None,
            created.line if created else None,
            tuple(c for c in self.constraints if c.kind == "check"),
            self.primary_key,
        )

    def index_names_certain(self) -> bool:
        """Every index of the table has a name chainlint knows (none was named by SQLAlchemy)."""
        return not any(self._index(n, i).implicit for n, i in self.indexes.items()) and not any(
            c.kind == "unique" and c.name is None for c in self.constraints
        )


class _State:
    """Tables by name; copies share table records until one is written (copy on write)."""

    __slots__ = ("everything_partial", "gone", "notes", "owned", "tables")

    def __init__(self) -> None:
        self.tables: dict[str, _Table] = {}
        self.owned: set[str] = set()
        # Tables the traced history dropped or renamed away: name -> who.
        self.gone: dict[str, Origin] = {}
        self.everything_partial = False
        self.notes: list[OpaqueNote] | None = None

    def copy(self) -> _State:
        # From now on both share every table record: each copies a record before writing it.
        self.owned = set()
        other = _State()
        other.tables = dict(self.tables)
        other.gone = dict(self.gone)
        other.everything_partial = self.everything_partial
        if self.notes is not None:
            other.notes = list(self.notes)
        return other

    def subset(self, names: Iterable[str]) -> _State:
        other = _State()
        for name in names:
            if name in self.tables:
                other.tables[name] = self.tables[name]
            if name in self.gone:
                other.gone[name] = self.gone[name]
        other.everything_partial = self.everything_partial
        return other

    def write(self, name: str) -> _Table:
        if name not in self.owned:
            self.tables[name] = self.tables[name].copy()
            self.owned.add(name)
        return self.tables[name]

    def put(self, table: _Table) -> None:
        self.tables[table.name] = table
        self.owned.add(table.name)
        self.gone.pop(table.name, None)

    def remove(self, name: str, origin: Origin) -> None:
        self.tables.pop(name, None)
        self.owned.discard(name)
        self.gone[name] = origin

    def freeze(self) -> Schema:
        return Schema(
            MappingProxyType({name: t.freeze() for name, t in sorted(self.tables.items())}),
            tuple(self.notes or ()),
            self.everything_partial,
        )


Emit = Callable[[Problem], None]


def _short_table(name: str) -> str:
    return name.rpartition(".")[2]


class _Replay:
    """Applies one revision's operations to a state, reporting what would fail."""

    def __init__(self, state: _State, revision: str, path: Path, emit: Emit | None) -> None:
        self.state = state
        self.revision = revision
        self.path = path
        self.emit = emit
        self.index = 0
        self.direction: Literal["upgrade", "downgrade"] = "upgrade"
        self.failed: set[str] = set()

    def origin(self, operation: Operation) -> Origin:
        return Origin(self.revision, self.path, operation.line)

    def problem(
        self,
        kind: Literal["exists", "missing"],
        operation: Operation,
        what: str,
        table: str,
        origin: Origin | None,
    ) -> None:
        self.failed.add(table)
        if self.emit is not None:
            self.emit(
                Problem(
                    kind, self.revision, self.index, operation, what, origin, None, self.direction
                )
            )

    def run(self, operations: Iterable[Operation]) -> None:
        for index, operation in enumerate(operations):
            self.index = index
            self.apply(operation)
        # A table an operation would fail on is no longer known: the database stopped there.
        for name in self.failed:
            if name in self.state.tables:
                self.state.write(name).known = False

    def table(self, name: str, operation: Operation) -> _Table | None:
        """The table to change; a table never seen is materialised as partial (it exists,
        since the operation ran); a table the history dropped is reported missing."""
        state = self.state
        if name in state.tables:
            return state.write(name)
        if name in state.gone and not state.everything_partial:
            self.problem("missing", operation, f"table {name}", name, state.gone[name])
            return None
        table = _Table(name, False, None)
        state.put(table)
        return table

    def apply(self, op: Operation) -> None:
        state = self.state
        # The operation classes are disjoint: the most common ones are tested first.
        if isinstance(op, CreateTable):
            self.create_table(op)
        elif isinstance(op, CreateIndex):
            table = self.table(op.table, op)
            if table is not None:
                self.create_index(table, op)
        elif isinstance(op, Opaque):
            if state.notes is not None:
                state.notes.append(
                    OpaqueNote(self.revision, self.path, op.line, op.column, op.tables, op.reason)
                )
            tables = op.tables
            if op.guessed:
                tables = tuple(name for name in tables if name in state.tables)
            if not tables:
                state.everything_partial = True
                state.gone.clear()
                for name in list(state.tables):
                    state.write(name).known = False
                return
            for name in tables:
                if name in state.tables:
                    state.write(name).known = False
                else:
                    state.put(_Table(name, False, None))
        elif isinstance(op, DropTable):
            if op.table in state.tables:
                state.remove(op.table, self.origin(op))
            elif op.table in state.gone and not op.if_exists and not state.everything_partial:
                self.problem("missing", op, f"table {op.table}", op.table, state.gone[op.table])
            else:
                state.gone[op.table] = self.origin(op)
        elif isinstance(op, RenameTable):
            self.rename_table(op)
        elif isinstance(op, AddColumn):
            table = self.table(op.table, op)
            if table is not None:
                self.add_column(table, op.column_def, op, op.if_not_exists)
        elif isinstance(op, DropColumn):
            table = self.table(op.table, op)
            if table is not None:
                self.drop_column(table, op)
        elif isinstance(op, AlterColumn):
            table = self.table(op.table, op)
            if table is not None:
                self.alter_column(table, op)
        elif isinstance(op, DropIndex):
            self.drop_index(op)
        elif isinstance(op, (CreateUniqueConstraint, CreateCheckConstraint, CreateForeignKey)):
            table = self.table(op.table, op)
            if table is not None:
                table.add_constraint(self.constraint(op))
        elif isinstance(op, CreatePrimaryKey):
            table = self.table(op.table, op)
            if table is not None:
                table.primary_key = op.columns
        elif isinstance(op, DropConstraint):
            table = self.table(op.table, op)
            if table is not None:
                table.constraints = tuple(c for c in table.constraints if c.name != op.name)

    def constraint(
        self, op: CreateUniqueConstraint | CreateCheckConstraint | CreateForeignKey
    ) -> Constraint:
        if isinstance(op, CreateUniqueConstraint):
            return Constraint(
                "unique", op.name, op.table, op.columns, self.revision, self.path, op.line
            )
        if isinstance(op, CreateCheckConstraint):
            return Constraint("check", op.name, op.table, (), self.revision, self.path, op.line)
        return Constraint(
            "foreign_key",
            op.name,
            op.table,
            op.columns,
            self.revision,
            self.path,
            op.line,
            op.referent,
            op.referent_columns,
        )

    def create_table(self, op: CreateTable) -> None:
        state = self.state
        existing = state.tables.get(op.table)
        if existing is not None and existing.known and not op.if_not_exists:
            self.problem("exists", op, f"table {op.table}", op.table, existing.created)
            return
        if existing is not None and op.if_not_exists:
            table = state.write(op.table)
            for definition in op.columns:
                table.columns.setdefault(definition.name, self.column(definition))
            return
        known = not (op.if_not_exists and (state.everything_partial or op.table in state.tables))
        origin = self.origin(op)
        table = _Table(op.table, known, origin)
        columns = table.columns
        for definition in op.columns:
            if definition.name in columns or definition.index or definition.unique:
                self.add_column(table, definition, op, False, with_table=True)
            else:
                columns[definition.name] = definition  # what add_column keeps, see _Table
        for index in op.indexes:
            name = index.name or f"ix_{_short_table(op.table)}_{'_'.join(index.columns)}"
            table.indexes[name] = Index(
                name,
                op.table,
                index.columns,
                index.unique,
                self.revision,
                self.path,
                op.line,
                index.name is None,
            )
        for unique in op.uniques:
            table.add_constraint(
                Constraint(
                    "unique",
                    unique.name,
                    op.table,
                    unique.columns,
                    self.revision,
                    self.path,
                    op.line,
                )
            )
        for check in op.checks:
            table.add_constraint(
                Constraint("check", check.name, op.table, (), self.revision, self.path, op.line)
            )
        for key in op.foreign_keys:
            table.add_constraint(
                Constraint(
                    "foreign_key",
                    key.name,
                    op.table,
                    key.columns,
                    self.revision,
                    self.path,
                    op.line,
                    key.referent,
                    key.referent_columns,
                )
            )
        table.primary_key = op.primary_key
        state.put(table)

    def column(self, definition: ColumnDef) -> Column:
        return Column(
            definition.name,
            definition.type,
            definition.nullable,
            definition.server_default,
            self.revision,
            self.path,
            definition.line,
        )

    def add_column(
        self,
        table: _Table,
        definition: ColumnDef,
        op: Operation,
        if_not_exists: bool,
        with_table: bool = False,
    ) -> None:
        """`with_table`: a column of the create_table that makes `table` (kept as its
        definition, see _Table)."""
        name = definition.name
        if name in table.columns:
            existing = table.column(name)
            if existing is not None and table.known and not if_not_exists:
                origin = Origin(existing.created_by, existing.path, existing.line)
                self.problem("exists", op, f"column {table.name}.{name}", table.name, origin)
            return
        table.columns[name] = definition if with_table else self.column(definition)
        if table.removed:
            table.forget_removed("column", name)
        if definition.index:
            index_name = f"ix_{_short_table(table.name)}_{name}"
            table.indexes[index_name] = Index(
                index_name,
                table.name,
                (name,),
                definition.unique,
                self.revision,
                self.path,
                definition.line,
                True,
            )
        elif definition.unique:
            table.add_constraint(
                Constraint(
                    "unique", None, table.name, (name,), self.revision, self.path, definition.line
                )
            )

    def missing_column(self, table: _Table, name: str, op: Operation) -> None:
        if table.known:
            self.problem(
                "missing",
                op,
                f"column {table.name}.{name}",
                table.name,
                table.remover("column", name),
            )

    def drop_column(self, table: _Table, op: DropColumn) -> None:
        if op.name not in table.columns:
            if not op.if_exists:
                self.missing_column(table, op.name, op)
            table.mark_removed("column", op.name, self.origin(op))
            return
        del table.columns[op.name]
        table.mark_removed("column", op.name, self.origin(op))
        # The database drops what depends on the column (PostgreSQL; batch mode rebuilds).
        for index_name in [n for n, i in table.indexes.items() if _uses(i.columns, op.name)]:
            del table.indexes[index_name]
        table.constraints = tuple(c for c in table.constraints if op.name not in c.columns)
        table.primary_key = tuple(c for c in table.primary_key if c != op.name)

    def alter_column(self, table: _Table, op: AlterColumn) -> None:
        current = table.column(op.name)
        if current is None:
            self.missing_column(table, op.name, op)
            if table.known:
                return
            current = Column(op.name, None, None, None, self.revision, self.path, op.line)
        name = op.new_name or op.name
        if op.new_name and op.new_name != op.name:
            existing = table.column(op.new_name)
            if existing is not None and table.known:
                origin = Origin(existing.created_by, existing.path, existing.line)
                self.problem("exists", op, f"column {table.name}.{name}", table.name, origin)
                return
            table.columns.pop(op.name, None)
            table.mark_removed("column", op.name, self.origin(op))
            table.forget_removed("column", name)
            for index_name, entry in list(table.indexes.items()):
                if op.name in entry.columns:
                    index = table._index(index_name, entry)
                    renamed = tuple(name if c == op.name else c for c in index.columns)
                    table.indexes[index_name] = Index(
                        index.name,
                        index.table,
                        renamed,
                        index.unique,
                        index.created_by,
                        index.path,
                        index.line,
                        index.implicit,
                    )
        table.columns[name] = Column(
            name,
            op.type_ if op.type_ is not None else current.type,
            op.nullable if op.nullable is not None else current.nullable,
            current.server_default if op.server_default is False else op.server_default,
            current.created_by,
            current.path,
            current.line,
        )

    def create_index(self, table: _Table, op: CreateIndex) -> None:
        name = op.name or f"ix_{_short_table(table.name)}_{'_'.join(op.columns)}"
        existing = table.index(name)
        if existing is not None:
            if table.known and not op.if_not_exists and op.name is not None:
                origin = Origin(existing.created_by, existing.path, existing.line)
                self.problem("exists", op, f"index {name}", table.name, origin)
            return
        created = table.created
        if (
            created is not None
            and created.revision == self.revision
            and created.path is self.path
            and op.table == table.name
        ):
            table.indexes[name] = op  # made in the table's own revision: see _Table
        else:
            table.indexes[name] = Index(
                name,
                table.name,
                op.columns,
                op.unique,
                self.revision,
                self.path,
                op.line,
                op.name is None,
            )
        if table.removed:
            table.forget_removed("index", name)

    def drop_index(self, op: DropIndex) -> None:
        state = self.state
        if op.table is None:
            for name, candidate in state.tables.items():
                if op.name in candidate.indexes or _short_table(op.name) in candidate.indexes:
                    writable = state.write(name)
                    writable.indexes.pop(op.name, None)
                    writable.indexes.pop(_short_table(op.name), None)
                    return
            return
        table = self.table(op.table, op)
        if table is None:
            return
        if op.name in table.indexes:
            del table.indexes[op.name]
        elif (
            table.known
            and not op.if_exists
            and table.index_names_certain()
            and not any(c.name == op.name for c in table.constraints)
        ):
            self.problem(
                "missing",
                op,
                f"index {op.name} on {table.name}",
                table.name,
                table.remover("index", op.name),
            )
        table.mark_removed("index", op.name, self.origin(op))

    def rename_table(self, op: RenameTable) -> None:
        state = self.state
        existing = state.tables.get(op.new_name)
        if existing is not None and existing.known:
            self.problem("exists", op, f"table {op.new_name}", op.new_name, existing.created)
            return
        if op.table in state.tables:
            table = state.write(op.table)
            state.tables.pop(op.table)
            state.owned.discard(op.table)
            table.name = op.new_name
            state.put(table)
        elif op.table in state.gone and not state.everything_partial:
            self.problem("missing", op, f"table {op.table}", op.table, state.gone[op.table])
            return
        else:
            state.put(_Table(op.new_name, False, None))
        state.gone[op.table] = self.origin(op)


def replay(
    state: _State,
    revision: str,
    path: Path,
    operations: Iterable[Operation],
    emit: Emit | None = None,
    direction: Literal["upgrade", "downgrade"] = "upgrade",
) -> None:
    runner = _Replay(state, revision, path, emit)
    runner.direction = direction
    runner.run(operations)


# -- along the graph ------------------------------------------------------------------------


class SchemaHistory:
    """The schema before and after every revision of one graph, computed on demand."""

    def __init__(self, graph: RevisionGraph) -> None:
        from chainlint.graph import is_unresolved

        self.graph = graph
        order = graph.link_order
        # A cycle (CL004): nothing can be replayed.
        self.cyclic = order is None
        self.order: list[str] = order if order is not None else []
        self._position = {rev: i for i, rev in enumerate(self.order)}
        self._generation = graph.link_generation
        # Revisions whose history cannot be traced: an unknown or computed parent.
        self._untraced = {ref.revision for ref in graph.dangling}
        for rev, file in graph.revisions.items():
            if is_unresolved(file.down_revision) or is_unresolved(file.depends_on):
                self._untraced.add(rev)
        self._snapshots: dict[tuple[str, str], Schema] = {}
        self._problems: list[Problem] | None = None
        self._reverts: dict[str, Revert] | None = None

    # -- public -----------------------------------------------------------------------------

    def operations(self, rev: str) -> MigrationOperations:
        file = self.graph.revisions.get(rev)
        if file is None or file.operations is None:
            return NO_OPERATIONS
        return file.operations

    def before(self, rev: str) -> Schema:
        """The schema just before `rev`'s upgrade: every ancestor (and dependency) applied."""
        return self._snapshot(rev, "before")

    def after(self, rev: str) -> Schema:
        return self._snapshot(rev, "after")

    def at_heads(self) -> Schema:
        """After `alembic upgrade heads`: every revision applied."""
        key = ("", "heads")
        if key not in self._snapshots:
            self._snapshots[key] = self._linear(self.order).freeze()
        return self._snapshots[key]

    @property
    def problems(self) -> list[Problem]:
        """Every operation that would fail on a real database, on known tables (CL301/CL302)."""
        if self._problems is None:
            self._pass()
        assert self._problems is not None
        return self._problems

    @property
    def reverts(self) -> dict[str, Revert]:
        """Revisions whose downgrade() does something and does not restore the schema (CL303)."""
        if self._reverts is None:
            self._pass()
        assert self._reverts is not None
        return self._reverts

    # -- replays ----------------------------------------------------------------------------

    def _snapshot(self, rev: str, when: str) -> Schema:
        key = (rev, when)
        if key not in self._snapshots:
            if self.cyclic or rev not in self._position:
                self._snapshots[key] = Schema(MappingProxyType({}), (), True)
            else:
                ancestors = self.graph.ancestors(rev, include_dependencies=True)
                revisions = [r for r in self.order if r in ancestors]
                if when == "after":
                    revisions.append(rev)
                self._snapshots[key] = self._linear(revisions).freeze()
        return self._snapshots[key]

    def _linear(self, revisions: list[str]) -> _State:
        state = _State()
        state.notes = []
        for rev in revisions:
            if rev in self._untraced:
                state.everything_partial = True
                for name in list(state.tables):
                    state.write(name).known = False
                state.gone.clear()
            replay(state, rev, self.graph.revisions[rev].path, self.operations(rev).upgrade)
        return state

    def _is_ancestor_or_self(self, ancestor: str, rev: str) -> bool:
        if ancestor == rev:
            return True
        floor = self._generation[ancestor]
        links_in = self.graph.links_in
        seen = {rev}
        stack = [rev]
        while stack:
            for parent in links_in[stack.pop()]:
                if parent == ancestor:
                    return True
                if parent not in seen and self._generation[parent] > floor:
                    seen.add(parent)
                    stack.append(parent)
        return False

    def _branch_only(self, base: str, others: Sequence[str]) -> list[str]:
        """Ancestors-or-self of `others` that are not ancestors-or-self of `base`, in order."""
        found: set[str] = set()
        stack = [o for o in others if not self._is_ancestor_or_self(o, base)]
        found.update(stack)
        while stack:
            for parent in self.graph.links_in[stack.pop()]:
                if parent not in found and not self._is_ancestor_or_self(parent, base):
                    found.add(parent)
                    stack.append(parent)
        return sorted(found, key=self._position.__getitem__)

    def _pass(self) -> None:
        """One walk in topological order: each revision's own problems, the conflicts its merge
        of branches brings, and the upgrade/downgrade round trip."""
        problems: list[Problem] = []
        reverts: dict[str, Revert] = {}
        self._problems, self._reverts = problems, reverts
        if self.cyclic:
            return
        links_in, links_out = self.graph.links_in, self.graph.links_out
        states: dict[str, _State] = {}
        remaining = {rev: len(links_out[rev]) for rev in self.order}
        own: set[tuple[str, int, str]] = set()

        def take(rev: str) -> _State:
            remaining[rev] -= 1
            if remaining[rev] == 0:
                return states.pop(rev)
            return states[rev].copy()

        for rev in self.order:
            preds: Sequence[str] = links_in[rev]
            if len(preds) > 1:
                preds = sorted(preds, key=lambda p: (-self._generation[p], p))
            if not preds:
                state = _State()
            else:
                base = preds[0]
                state = take(base)
                for other in preds[1:]:
                    remaining[other] -= 1
                    if remaining[other] == 0:
                        states.pop(other)
                if len(preds) > 1:
                    self._merge(rev, base, preds[1:], state, own, problems)
            if rev in self._untraced:
                state.everything_partial = True
                for name in list(state.tables):
                    state.write(name).known = False
                state.gone.clear()
            file = self.graph.revisions[rev]
            operations = self.operations(rev)
            self._round_trip(rev, file.path, operations, state, reverts)
            found: list[Problem] = []
            replay(state, rev, file.path, operations.upgrade, found.append)
            for problem in found:
                own.add((problem.revision, problem.index, problem.kind))
            problems.extend(found)
            if remaining[rev] > 0:
                states[rev] = state

    def _merge(
        self,
        rev: str,
        base: str,
        others: Sequence[str],
        state: _State,
        own: set[tuple[str, int, str]],
        problems: list[Problem],
    ) -> None:
        """Bring the other branches' revisions onto `base`'s schema. Creating what the other
        side also created, or dropping what it also dropped, fails whichever runs first."""
        found: list[Problem] = []
        for branch_rev in self._branch_only(base, others):
            file = self.graph.revisions[branch_rev]
            replay(state, branch_rev, file.path, self.operations(branch_rev).upgrade, found.append)
        for problem in found:
            if (problem.revision, problem.index, problem.kind) in own:
                continue
            symmetric = problem.kind == "exists" or (
                problem.origin is not None
                and isinstance(problem.operation, (DropTable, DropColumn, DropIndex))
            )
            if symmetric:
                problems.append(
                    Problem(
                        problem.kind,
                        problem.revision,
                        problem.index,
                        problem.operation,
                        problem.what,
                        problem.origin,
                        rev,
                    )
                )

    def _round_trip(
        self,
        rev: str,
        path: Path,
        operations: MigrationOperations,
        state: _State,
        reverts: dict[str, Revert],
    ) -> None:
        if operations.downgrade_is_empty or not operations.has_downgrade:
            return
        if operations.downgrade_raises and not operations.downgrade:
            return
        if _plainly_reverted(operations, state):
            return
        both = operations.upgrade + operations.downgrade
        if any(isinstance(op, Opaque) and (not op.tables or op.guessed) for op in both):
            return
        touched = {name for op in both for name in tables_of(op)}
        opaque = {name for op in both if isinstance(op, Opaque) for name in op.tables}
        before = state.subset(touched)
        trial = before.copy()
        upgrade_problems: list[Problem] = []
        replay(trial, rev, path, operations.upgrade, upgrade_problems.append)
        if upgrade_problems:
            return  # CL301/CL302 report the upgrade itself
        failures: list[Problem] = []
        replay(trial, rev, path, operations.downgrade, failures.append, "downgrade")
        made, removed = _made_and_removed(operations.upgrade)
        left: list[str] = []
        lost: list[str] = []
        for name in sorted(touched - opaque):
            was, now = before.tables.get(name), trial.tables.get(name)
            if was is not None and now is None:
                lost.append(f"table {name}")
            elif now is not None and was is None:
                if ("table", name, "") in made:
                    left.append(f"table {name}")
            elif was is not None and now is not None:
                # What the upgrade made and the downgrade kept; what existed and is gone (in a
                # partial table, only what the upgrade itself removed: the rest is not known).
                for kind, old, new in (
                    ("column", was.columns, now.columns),
                    ("index", was.indexes, now.indexes),
                ):
                    prefix = f"column {name}." if kind == "column" else "index "
                    for item in new.keys() - old.keys():
                        if (kind, name, item) in made:
                            left.append(prefix + item)
                    for item in old.keys() - new.keys():
                        if was.known or (kind, name, item) in removed:
                            lost.append(prefix + item)
        if left or lost or failures:
            reverts[rev] = Revert(rev, tuple(sorted(left)), tuple(sorted(lost)), tuple(failures))


def _uses(columns: tuple[str, ...], name: str) -> bool:
    """Whether an index's columns (names or expressions, `lower(email)`) use column `name`."""
    return name in columns or any(
        re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", column) for column in columns
    )


def _made_and_removed(
    upgrade: tuple[Operation, ...],
) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    """(kind, table, name) of what the upgrade creates and what it removes."""
    made: set[tuple[str, str, str]] = set()
    removed: set[tuple[str, str, str]] = set()
    for op in upgrade:
        if isinstance(op, CreateTable):
            made.add(("table", op.table, ""))
            made.update(("column", op.table, c.name) for c in op.columns)
            made.update(("index", op.table, i.name) for i in op.indexes if i.name)
        elif isinstance(op, RenameTable):
            made.add(("table", op.new_name, ""))
        elif isinstance(op, AddColumn):
            made.add(("column", op.table, op.column_def.name))
        elif isinstance(op, AlterColumn) and op.new_name:
            made.add(("column", op.table, op.new_name))
            removed.add(("column", op.table, op.name))
        elif isinstance(op, CreateIndex):
            made.add(("index", op.table, op.name or ""))
        elif isinstance(op, DropColumn):
            removed.add(("column", op.table, op.name))
        elif isinstance(op, DropIndex) and op.table:
            removed.add(("index", op.table, op.name))
    return made, removed


def _plainly_reverted(operations: MigrationOperations, state: _State) -> bool:
    """The common shape, settled without replaying: the upgrade only creates new tables (and
    their indexes and constraints), the downgrade only drops them, each table last."""
    # Exact classes (operations are never subclassed): identity tests, not isinstance chains.
    # What a plainly reverted upgrade may add to the tables it creates: indexes, unique and
    # foreign key constraints; what its downgrade may drop before each table: indexes and
    # constraints.
    created: set[str] = set()
    for op in operations.upgrade:
        if type(op) is CreateTable:
            if op.table in created or op.if_not_exists:
                return False
            created.add(op.table)
        elif (
            type(op) is CreateIndex
            or type(op) is CreateUniqueConstraint
            or type(op) is CreateForeignKey
        ):
            if op.table not in created:
                return False
        else:
            return False
    if not created:
        return False
    tables = state.tables
    for name in created:
        if name in tables:
            return False
    dropped: set[str] = set()
    for op in operations.downgrade:
        if type(op) is DropTable:
            if op.table not in created or op.table in dropped:
                return False
            dropped.add(op.table)
        elif type(op) is DropIndex or type(op) is DropConstraint:
            if op.table not in created or op.table in dropped:
                return False
        else:
            return False
    return dropped == created


def schema_history(graph: RevisionGraph) -> SchemaHistory:
    """The graph's history, computed once per graph."""
    cached = getattr(graph, "_schema_history", None)
    if cached is None:
        cached = SchemaHistory(graph)
        graph._schema_history = cached  # type: ignore[attr-defined]
    return cached
