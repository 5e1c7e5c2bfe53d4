"""`chainlint db`'s status: what `alembic current` and `alembic history -r current:heads` tell,
in one screen (text) or one object (the `database` key of the JSON document)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from chainlint.rules.dbstate import DatabaseState

_SHOWN = 20


def database_state(state: DatabaseState) -> str:
    """One word for where the database stands."""
    live = state.live
    if not live.has_version_table:
        return "unstamped"
    if state.unknown:
        return "unknown-revision"
    return "behind" if state.pending else "at-head"


def status_dict(state: DatabaseState, origin: str) -> dict[str, Any]:
    live = state.live
    return {
        "url": live.url,
        "url_from": origin,
        "dialect": live.dialect,
        "version_table": live.version_table_name,
        "state": database_state(state),
        "revisions": list(live.versions),
        "unknown_revisions": list(state.unknown),
        "heads": list(state.graph.heads),
        "pending": list(state.pending) if not state.unknown else None,
        "tables": len(live.tables),
    }


def render_status(state: DatabaseState, origin: str, console: Console) -> None:
    live = state.live
    lines = [Text.assemble(("Database: ", "bold"), f"{live.url} (from {origin})")]
    if not live.has_version_table:
        lines.append(Text(f"  revision: none (no {live.version_table_name} table)"))
    elif not live.versions:
        lines.append(Text(f"  revision: none ({live.version_table_name} is empty)"))
    else:
        marks = []
        for row in live.versions:
            if row in state.unknown:
                marks.append(f"{row} (unknown: no file declares it)")
                continue
            revision = state.resolved[row]
            mark = row if revision == row else f"{row} (= {revision}, a partial id)"
            marks.append(mark + (" (head)" if revision in state.graph.heads else ""))
        lines.append(Text("  revision: " + ", ".join(marks)))
    lines.append(Text("  heads:    " + (", ".join(state.graph.heads) or "none")))
    if state.unknown:
        lines.append(Text("  pending:  cannot tell while the version table holds an unknown id"))
    elif not live.has_version_table:
        lines.append(Text("  pending:  cannot tell until the database is stamped"))
    elif not state.pending:
        lines.append(Text("  pending:  none (at head)", "green"))
    else:
        shown = list(state.pending[:_SHOWN])
        more = len(state.pending) - len(shown)
        text = " -> ".join(shown) + (f" -> ... ({more} more)" if more else "")
        lines.append(Text(f"  pending:  {len(state.pending)}: {text}"))
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)
