"""Small pieces several rules share: quoting ids, header edits, unresolved-value guards."""

from __future__ import annotations

from collections.abc import Iterable

from chainlint.edits import ReplaceHeaderLine
from chainlint.graph import RevisionGraph
from chainlint.read import RevisionFile, header_revises


def quoted(ids: Iterable[str]) -> str:
    """'a', 'b' and 'c'."""
    items = [f"'{i}'" for i in ids]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def revises_edit(file: RevisionFile, parents: tuple[str, ...]) -> tuple[ReplaceHeaderLine, ...]:
    """Make the `Revises:` header list `parents`, when the file has that header and it differs."""
    from chainlint.rules.cl005_illegal_revision_id import header_unsafe

    header = file.header_field("Revises")
    if header is None or header_revises(header.value) == parents:
        return ()
    if any(header_unsafe(parent) is not None for parent in parents):
        return ()  # CL005: the header cannot carry this id
    return (ReplaceHeaderLine(file.path, header.line, "Revises", header.value, ", ".join(parents)),)


def has_unresolved(graph: RevisionGraph, field: str) -> bool:
    """Whether any file's `field` holds a value the reader could not resolve (CL008)."""
    return field in graph.unresolved_fields
