"""`chainlint schema`: the schema the migrations build, as text (like psql's `\\d`) or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainlint.schema import Schema, Table

if TYPE_CHECKING:
    from chainlint.discover import Environment

JSON_VERSION = 1


@dataclass(frozen=True, slots=True)
class SchemaView:
    """One environment's schema at one revision (or at its heads)."""

    path: Path
    # The revision asked for, or the head (`heads` when there are several).
    revision: str
    heads: tuple[str, ...]
    schema: Schema
    # Revision id -> its file, shown relative to the working directory.
    files: dict[str, Path]


def _relative(path: Path | None, cwd: Path) -> str | None:
    if path is None:
        return None
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def _table_json(table: Table, cwd: Path) -> dict[str, Any]:
    return {
        "known": table.known,
        "created_by": table.created_by,
        "path": _relative(table.path, cwd),
        "line": table.line,
        "columns": {
            name: {
                "type": column.type,
                "nullable": column.nullable,
                "server_default": column.server_default,
                "created_by": column.created_by,
                "path": _relative(column.path, cwd),
                "line": column.line,
            }
            for name, column in table.columns.items()
        },
        "primary_key": list(table.primary_key),
        "indexes": {
            name: {
                "columns": list(index.columns),
                "unique": index.unique,
                "created_by": index.created_by,
                "path": _relative(index.path, cwd),
                "line": index.line,
                "implicit_name": index.implicit,
            }
            for name, index in table.indexes.items()
        },
        "uniques": [
            {"name": c.name, "columns": list(c.columns), "created_by": c.created_by}
            for c in table.uniques
        ],
        "foreign_keys": [
            {
                "name": c.name,
                "columns": list(c.columns),
                "referent": c.referent,
                "referent_columns": list(c.referent_columns),
                "created_by": c.created_by,
            }
            for c in table.foreign_keys
        ],
    }


def render_schema_json(views: Sequence[SchemaView], cwd: Path) -> str:
    document = {
        "version": JSON_VERSION,
        "environments": [
            {
                "path": _relative(view.path, cwd),
                "revision": view.revision,
                "heads": list(view.heads),
                "everything_partial": view.schema.everything_partial,
                "tables": {
                    name: _table_json(table, cwd) for name, table in view.schema.tables.items()
                },
                "opaque": [
                    {
                        "revision": note.revision,
                        "path": _relative(note.path, cwd),
                        "line": note.line,
                        "column": note.column,
                        "tables": list(note.tables),
                        "reason": note.reason,
                    }
                    for note in view.schema.opaque
                ],
            }
            for view in views
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = " " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    rule = "-" + "-+-".join("-" * w for w in widths) + "-"
    body = [
        " " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    ]
    return [line.rstrip(), rule, *(b.rstrip() for b in body)]


def render_schema_text(views: Sequence[SchemaView], cwd: Path) -> str:
    out: list[str] = []
    for view in views:
        where = _relative(view.path, cwd)
        if view.revision == "heads":
            at = f"heads {', '.join(view.heads)}"
        elif view.heads == (view.revision,):
            at = f"head {view.revision}"
        else:
            at = f"revision {view.revision}"
        count = len(view.schema.tables)
        out.append(f"{where} at {at}: {count} table{'' if count == 1 else 's'}")
        if view.schema.everything_partial:
            out.append(
                "  (an operation chainlint cannot see through may touch any table: tables not "
                "listed may exist too)"
            )
        out.append("")
        # Files are shown relative to the environment, as findings' messages show them.
        anchor = view.path
        for name, table in view.schema.tables.items():
            certainty = "known" if table.known else "partial"
            made = (
                f", created by {table.created_by} ({_relative(table.path, anchor)}:{table.line})"
                if table.created_by
                else ""
            )
            out.append(f'Table "{name}" ({certainty}{made})')
            rows = []
            for column in table.columns.values():
                nullable = (
                    "" if column.nullable else "not null" if column.nullable is False else "?"
                )
                rows.append(
                    [
                        column.name,
                        column.type or "?",
                        nullable,
                        column.server_default or "",
                        f"{column.created_by} ({_relative(column.path, anchor)}:{column.line})",
                    ]
                )
            if rows:
                out.extend(_grid(["Column", "Type", "Nullable", "Default", "Made by"], rows))
            else:
                out.append(" (no columns known)")
            if table.primary_key:
                out.append(f"Primary key: ({', '.join(table.primary_key)})")
            if table.indexes:
                out.append("Indexes:")
                for index in table.indexes.values():
                    unique = " UNIQUE" if index.unique else ""
                    implicit = " (name chosen by SQLAlchemy)" if index.implicit else ""
                    out.append(
                        f'    "{index.name}"{unique} ({", ".join(index.columns)}){implicit}'
                        f"  -- {index.created_by} ({_relative(index.path, anchor)}:{index.line})"
                    )
            if table.uniques:
                out.append("Unique constraints:")
                for c in table.uniques:
                    out.append(f'    "{c.name or "(unnamed)"}" UNIQUE ({", ".join(c.columns)})')
            if table.foreign_keys:
                out.append("Foreign-key constraints:")
                for c in table.foreign_keys:
                    out.append(
                        f'    "{c.name or "(unnamed)"}" FOREIGN KEY ({", ".join(c.columns)}) '
                        f"REFERENCES {c.referent}({', '.join(c.referent_columns)})"
                    )
            out.append("")
        if view.schema.opaque:
            out.append("Operations chainlint cannot see through:")
            for note in view.schema.opaque:
                tables = ", ".join(note.tables) if note.tables else "any table"
                out.append(
                    f"    {_relative(note.path, anchor)}:{note.line}: {note.reason} ({tables})"
                )
            out.append("")
    return "\n".join(out)


def resolve_revision(graph: Any, name: str) -> str | None:
    """An id, a branch label, or a unique prefix of an id (as Alembic accepts them)."""
    found: str | None = graph.resolve(name)
    if found is not None:
        return found
    matches = [rev for rev in graph.revisions if rev.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def schema_views(paths: Sequence[Path], revision: str | None, cache: bool) -> list[SchemaView]:
    """The schema of every environment under `paths`: at `revision`, or after all its heads."""
    from chainlint.discover import discover_environments

    return environment_views(discover_environments(list(paths)), revision, cache)


def environment_views(
    environments: Sequence[Environment], revision: str | None, cache: bool
) -> list[SchemaView]:
    """The schema of each environment: at `revision`, or after all its heads."""
    from chainlint.errors import UsageError
    from chainlint.graph import RevisionGraph
    from chainlint.lint import read_environment
    from chainlint.schema import schema_history

    views = []
    missing = []
    for environment in environments:
        graph = RevisionGraph(environment, read_environment(environment, cache=cache))
        history = schema_history(graph)
        if history.cyclic:
            raise UsageError(
                f"{environment.root}: the revisions form a cycle (CL004); nothing to replay"
            )
        files = {rev: file.path for rev, file in graph.revisions.items()}
        heads = tuple(graph.heads)
        if revision is None or revision in ("head", "heads"):
            label = heads[0] if len(heads) == 1 else "heads"
            views.append(SchemaView(environment.root, label, heads, history.at_heads(), files))
            continue
        rev = resolve_revision(graph, revision)
        if rev is None:
            missing.append(str(environment.root))
            continue
        views.append(SchemaView(environment.root, rev, heads, history.after(rev), files))
    if revision is not None and not views:
        raise UsageError(f"no revision {revision!r} in {', '.join(missing) or 'any environment'}")
    return views
