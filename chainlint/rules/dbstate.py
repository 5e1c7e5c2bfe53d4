"""A live database seen against the revision graph: where it stands, what is pending, and the
exact repair commands the CL4xx rules print. Shared by those rules and the status screen."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from chainlint.rules.dbcompare import Applied, already_applied, may_match, schema_matches

if TYPE_CHECKING:
    from chainlint.database import LiveDatabase
    from chainlint.graph import RevisionGraph
    from chainlint.schema import SchemaHistory


class DatabaseState:
    """Which of the graph's revisions a database has applied, which are pending, and which of
    its version rows no file declares."""

    def __init__(self, graph: RevisionGraph, live: LiveDatabase, require_head: bool = False):
        self.graph = graph
        self.live = live
        self.require_head = require_head

    @cached_property
    def resolved(self) -> dict[str, str]:
        """Each version row Alembic can look up -> the revision it names (see resolve_row)."""
        found = {}
        for row in self.live.versions:
            matches = resolve_row(self.graph, row)
            if len(matches) == 1:
                found[row] = matches[0]
        return found

    @cached_property
    def unknown(self) -> tuple[str, ...]:
        """Version rows Alembic cannot look up (CL401): no file declares them, and they are not
        the unique prefix of an id."""
        return tuple(row for row in self.live.versions if row not in self.resolved)

    @cached_property
    def current(self) -> tuple[str, ...]:
        """The revisions the known version rows name."""
        return tuple(
            dict.fromkeys(self.resolved[r] for r in self.live.versions if r in self.resolved)
        )

    @cached_property
    def applied(self) -> frozenset[str]:
        """The known rows and everything they descend from (dependencies included: Alembic
        applies a revision's `depends_on` before it)."""
        done: set[str] = set()
        for row in self.current:
            done.add(row)
            done |= self.graph.ancestors(row, include_dependencies=True)
        return frozenset(done)

    @cached_property
    def pending(self) -> tuple[str, ...]:
        """Revisions `alembic upgrade heads` would run, in an order it may run them (parents and
        dependencies first; ties in file order)."""
        return upgrade_order(self.graph, set(self.graph.revisions) - self.applied)

    @cached_property
    def same_branch_rows(self) -> tuple[tuple[str, str], ...]:
        """Pairs of known rows where the first is a `down_revision` ancestor of the second:
        Alembic refuses to upgrade ("Requested revision B overlaps with other requested
        revisions A")."""
        pairs = []
        rows = self.current
        for row in rows:
            for other in rows:
                if other != row and self.graph.is_ancestor(row, other):
                    pairs.append((row, other))
        return tuple(pairs)

    # -- the schema model against the database ------------------------------------------------

    @cached_property
    def history(self) -> SchemaHistory:
        from chainlint.schema import schema_history

        return schema_history(self.graph)

    @cached_property
    def applied_objects(self) -> dict[str, Applied]:
        """For each pending revision, which of the objects its upgrade creates exist."""
        if self.unknown:
            return {}
        return {
            rev: already_applied(rev, self.history.operations(rev), self.live)
            for rev in self.pending
        }

    @cached_property
    def already_applied(self) -> dict[str, Applied]:
        """Pending revisions whose upgrade would fail on objects that already exist (CL403)."""
        return {rev: a for rev, a in self.applied_objects.items() if a.fails}

    @cached_property
    def matching_revisions(self) -> tuple[str, ...]:
        """Revisions after which the model's schema is exactly the database's."""
        if self.history.cyclic:
            return ()
        history = self.history
        return tuple(
            rev
            for rev in history.order
            if may_match(history.operations(rev), self.live)
            and schema_matches(history.after(rev), self.live)
        )

    @property
    def upgrade_command(self) -> str:
        return "alembic upgrade heads" if len(self.graph.heads) > 1 else "alembic upgrade head"

    def anchor(self, revision: str | None = None) -> tuple[Path, int, int]:
        """Where a finding about `revision` points: its `revision =` line; without one, the
        environment's configuration file (or env.py, or its folder)."""
        if revision is not None and revision in self.graph.revisions:
            file = self.graph.revisions[revision]
            if file.revision is not None:
                return file.path, file.revision.line, file.revision.column
            return file.path, 1, 1
        environment = self.graph.environment
        if environment.config_path is not None:
            return environment.config_path, 1, 1
        for env_py in (environment.root / "env.py", environment.root.parent / "env.py"):
            if env_py.is_file():
                return env_py, 1, 1
        return environment.root, 1, 1

    # -- repairs, exactly as the user types them ----------------------------------------------

    def update_statement(self, old: str, new: str) -> str:
        table = self.live.version_table_name
        return (
            f"UPDATE {table} SET version_num = {sql_string(new)} "
            f"WHERE version_num = {sql_string(old)};"
        )

    def delete_statement(self, row: str) -> str:
        table = self.live.version_table_name
        return f"DELETE FROM {table} WHERE version_num = {sql_string(row)};"


def resolve_row(graph: RevisionGraph, row: str) -> list[str]:
    """The revisions Alembic's RevisionMap takes a version row to mean: the id itself, a branch
    label, else every id longer than 3 characters that starts with it (a partial id). Alembic
    fails unless exactly one matches."""
    exact = graph.resolve(row)
    if exact is not None:
        return [exact]
    return [rev for rev in graph.revisions if len(rev) > 3 and rev.startswith(row)]


def upgrade_order(graph: RevisionGraph, revisions: set[str]) -> tuple[str, ...]:
    import networkx as nx

    position = {rev: index for index, rev in enumerate(graph.revisions)}
    try:
        ordered = nx.lexicographical_topological_sort(
            graph.dag.subgraph(revisions), key=position.__getitem__
        )
        return tuple(ordered)
    except nx.NetworkXUnfeasible:  # a cycle (CL004): file order is the best there is
        return tuple(sorted(revisions, key=position.__getitem__))


def sql_string(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def stamp_command(revision: str, purge: bool = False) -> str:
    return f"alembic stamp {'--purge ' if purge else ''}{shell_word(revision)}"


def shell_word(value: str) -> str:
    """A revision id as a shell word (ids are plain words; anything else is quoted)."""
    if value and all(c.isalnum() or c in "_.-" for c in value):
        return value
    import shlex

    return shlex.quote(value)
