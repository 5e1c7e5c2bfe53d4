"""What the CL3xx rules share: the graph's schema history, and how they name places."""

from __future__ import annotations

from chainlint.graph import RevisionGraph
from chainlint.rules.base import RuleContext
from chainlint.schema import Origin, SchemaHistory, schema_history


def history(ctx: RuleContext) -> SchemaHistory:
    return schema_history(ctx.graph)


def place(ctx: RuleContext, origin: Origin) -> str:
    """'abc' (versions/abc.py:12)"""
    return f"'{origin.revision}' ({ctx.display(origin.path)}:{origin.line})"


def running_order(graph: RevisionGraph, rev: str) -> tuple[str, int]:
    """Which of two revisions on different branches counts as the second: by `Create Date:`
    header, then by load order."""
    file = graph.revisions.get(rev)
    header = file.header_field("Create Date") if file is not None else None
    order = list(graph.revisions).index(rev) if rev in graph.revisions else -1
    return (header.value if header and header.value else "~"), order
