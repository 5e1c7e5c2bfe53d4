from __future__ import annotations

import hashlib
from collections.abc import Iterator

from chainlint.config import DEFAULT_MAX_REVISION_LENGTH
from chainlint.edits import Edit, RenameFile, ReplaceHeaderLine, ReplaceString
from chainlint.findings import Finding, Fix
from chainlint.graph import RevisionGraph
from chainlint.read import header_revises
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration

LONG_ID = "add_workflow_run_fields_and_other_stuff"


class RevisionIdTooLong(Rule):
    """
    ## What it does
    Reports a revision id longer than `max-revision-length` (default 32).

    ## Why is this bad?
    Alembic stores the current revision in `alembic_version.version_num`, a `VARCHAR(32)`.
    PostgreSQL and strict-mode MySQL reject a longer value when `alembic upgrade` stamps it
    ("value too long for type character varying(32)"), after the migration's DDL has run.
    SQLite does not enforce the length, so tests on SQLite never see it.

    ## Example
    ```python
    revision = "001_add_workflow_run_fields_and_other_stuff"  # 43 characters
    ```

    ## Fix
    `chainlint fix` gives the revision a fresh 12-hex-digit id (like Alembic's own; shorter when
    `max-revision-length` is below 12) and rewrites every reference to it: other files'
    `down_revision` and `depends_on`, the docstring headers, and the id part of the file name
    when the name carries the id (the descriptive slug stays: `long_id.py` becomes
    `<new>_long_id.py`). Do this before the revision reaches a database; one already stamped
    with the old id needs the `UPDATE alembic_version ...` statement the fix prints.
    """

    code = "CL006"
    name = "revision-id-too-long"
    severity = "error"
    fixable = True

    valid = (Example({"a.py": migration("add_workflow_run_fields", None)}),)
    invalid = (
        Example(
            {"a.py": migration(LONG_ID, None), "b.py": migration("b", LONG_ID)},
            (
                Expected(
                    "versions/a.py",
                    12,
                    f"revision '{LONG_ID}' is 39 characters; alembic_version.version_num is "
                    "VARCHAR(32)",
                ),
            ),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        limit = ctx.settings.max_revision_length
        graph = ctx.graph
        for rev, file in graph.revisions.items():
            if len(rev) <= limit or file.revision is None:
                continue
            if limit == DEFAULT_MAX_REVISION_LENGTH:
                why = (
                    "alembic_version.version_num is VARCHAR(32): PostgreSQL and strict MySQL "
                    "reject it when `alembic upgrade` stamps it (SQLite accepts it, so tests on "
                    "SQLite pass)"
                )
            else:
                why = f"longer than max-revision-length {limit}"
            message = f"revision '{rev}' is {len(rev)} characters; {why}"
            new = fresh_revision_id(rev, graph, min(12, limit))
            if new is None:
                fix = Fix(
                    f"no free {min(12, limit)}-character id is left for '{rev}': rename it by hand",
                    applicable=False,
                )
            else:
                fix = Fix(
                    f"rename revision '{rev}' to '{new}' and update every reference",
                    applicable=file.revision.items[0].via is None,
                    edits=rename_edits(graph, rev, new),
                )
            yield self.finding(
                ctx, file.path, file.revision.line, file.revision.column, message, rev, fix
            )


def fresh_revision_id(old: str, graph: RevisionGraph, length: int = 12) -> str | None:
    """A hex id of `length` digits derived from the old one, so that `fix --diff` and `fix`
    agree; None when none of the ids tried is free (a very small length)."""
    seed = old
    for _ in range(min(4096, 16**length)):
        candidate = hashlib.sha1(seed.encode("utf-8", "surrogatepass")).hexdigest()[:length]
        if graph.resolve(candidate) is None:
            return candidate
        seed += "'"
    return None


def stamped_database_statement(old: str, new: str) -> str:
    """The statement that moves a database stamped with `old` to `new`."""
    quote = "'"
    old_sql, new_sql = old.replace(quote, quote * 2), new.replace(quote, quote * 2)
    return f"UPDATE alembic_version SET version_num = '{new_sql}' WHERE version_num = '{old_sql}';"


def renamed_file_name(name: str, old: str, new: str) -> str | None:
    """The file name with only its id part renamed, keeping the descriptive slug; None when
    the name does not carry the id. A name that is the id alone keeps it as the slug, the way
    Alembic's `%(rev)s_%(slug)s` names files."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        return None
    if stem == old:
        return f"{new}_{old}.{suffix}"
    parts = stem.split("_")
    for index in range(len(parts)):
        for end in range(index + 1, len(parts) + 1):
            if "_".join(parts[index:end]) == old:
                return "_".join([*parts[:index], new, *parts[end:]]) + f".{suffix}"
    return None


def rename_edits(graph: RevisionGraph, old: str, new: str) -> tuple[Edit, ...]:
    """Every edit that renames revision `old` to `new` across the environment."""
    file = graph.revisions[old]
    edits: list[Edit] = []
    assert file.revision is not None
    item = file.revision.items[0]
    edits.append(ReplaceString(file.path, item.line, item.column, old, new))
    header = file.header_field("Revision ID")
    if header is not None and header.value == old:
        edits.append(ReplaceHeaderLine(file.path, header.line, "Revision ID", old, new))
    for other in graph.revisions.values():
        for assignment in (other.down_revision, other.depends_on):
            for ref in assignment.items if assignment else ():
                if ref.value == old and ref.via is None:
                    edits.append(ReplaceString(other.path, ref.line, ref.column, old, new))
        revises = other.header_field("Revises")
        if revises is not None and old in header_revises(revises.value):
            parts = tuple(new if p == old else p for p in header_revises(revises.value))
            edits.append(
                ReplaceHeaderLine(
                    other.path, revises.line, "Revises", revises.value, ", ".join(parts)
                )
            )
    new_name = renamed_file_name(file.path.name, old, new)
    if new_name is not None:
        edits.append(RenameFile(file.path, file.path.with_name(new_name)))
    return tuple(edits)
