"""What a rule is: a code, a name, a page of documentation, its own examples, and a check."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from chainlint.config import Settings
from chainlint.findings import Finding, Fix, Severity
from chainlint.graph import RevisionGraph
from chainlint.records import record

if TYPE_CHECKING:
    from chainlint.git import BaseSnapshot
    from chainlint.rules.dbstate import DatabaseState


@record
class Expected:
    """A finding an invalid example must produce: file (relative), line, and a message fragment."""

    path: str
    line: int
    message: str


@record
class DatabaseSetup:
    """For database rules (CL4xx): SQL run on a fresh, empty database before the check."""

    statements: tuple[str, ...] = ()
    # "postgresql" examples run on the test session's PostgreSQL server.
    dialect: Literal["sqlite", "postgresql"] = "sqlite"
    require_head: bool = False


def version_table(*rows: str, length: int = 32) -> tuple[str, ...]:
    """SQL that creates Alembic's version table (as Alembic does) holding `rows`."""
    create = (
        f"CREATE TABLE alembic_version (version_num VARCHAR({length}) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )
    inserts = tuple(f"INSERT INTO alembic_version (version_num) VALUES ('{row}')" for row in rows)
    return (create, *inserts)


@record
class Example:
    """A tiny migration folder: relative file name -> source. Written as a bare versions folder
    unless it holds an `alembic.ini`."""

    files: Mapping[str, str]
    expect: tuple[Expected, ...] = ()
    description: str = ""
    settings: Settings = Settings()
    # For rules that compare with `--base REF`: the versions folder as it is on REF.
    base: Mapping[str, str] | None = None
    # For database rules: the database the example checks.
    database: DatabaseSetup | None = None


@record
class RuleContext:
    graph: RevisionGraph
    settings: Settings
    # The environment as it is at `--base REF`, for CL201-CL203; None without `--base`.
    base: BaseSnapshot | None = None
    # The live database, for CL401-CL406 (`chainlint db`); None otherwise.
    database: DatabaseState | None = None

    def display(self, path: Path) -> str:
        """A path as messages show it: relative to the folder above the versions folder."""
        env = self.graph.environment
        anchor = env.root.parent if env.source == "versions-folder" else env.root
        try:
            return path.relative_to(anchor).as_posix()
        except ValueError:
            return path.as_posix()


# A full stop that ends a sentence: followed by a space and a capital letter, or the end.
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z]|\s*$)")


class Rule:
    """Subclasses set the class attributes, write a four-part docstring, and implement check()."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    fixable: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True
    # Reads the schema history (one replay of every operation, shared): the costly rules.
    replays_schema: ClassVar[bool] = False
    valid: ClassVar[tuple[Example, ...]] = ()
    invalid: ClassVar[tuple[Example, ...]] = ()

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        raise NotImplementedError

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        """The first sentence of 'What it does', whole (SARIF's shortDescription)."""
        paragraph: list[str] = []
        for line in cls.documentation().splitlines():
            if line.startswith("#"):
                if paragraph:
                    break
                continue
            if not line.strip():
                if paragraph:
                    break
                continue
            paragraph.append(line.strip())
        text = " ".join(paragraph)
        match = _SENTENCE_END.search(text)
        return text[: match.end()].rstrip() if match else (text or cls.name)

    def finding(
        self,
        ctx: RuleContext,
        path: Path,
        line: int,
        column: int,
        message: str,
        revision: str | None = None,
        fix: Fix | None = None,
    ) -> Finding:
        return Finding(
            code=self.code,
            name=self.name,
            severity=self.severity,
            message=message,
            path=path,
            line=line,
            column=column,
            revision=revision,
            fix=fix,
            environment=ctx.graph.environment.root,
        )


def migration(
    revision: str | None,
    down_revision: str | tuple[str, ...] | None,
    *,
    message: str = "change",
    branch_labels: str | tuple[str, ...] | None = None,
    depends_on: str | tuple[str, ...] | None = None,
    header: bool = True,
    revises_header: str | None = None,
    create_date: str = "2024-01-01 00:00:00.000000",
    upgrade: str = "pass",
    downgrade: str = "pass",
) -> str:
    """Source of a migration in the layout of Alembic's default script.py.mako (examples, tests).
    `upgrade`/`downgrade` are the function bodies, unindented; with the header, the first line
    of the upgrade body is line 19."""

    def literal(value: str | tuple[str, ...] | None) -> str:
        if isinstance(value, tuple):
            return "(" + ", ".join(repr(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        return repr(value)

    if revises_header is None:
        revises_header = (
            ", ".join(down_revision) if isinstance(down_revision, tuple) else (down_revision or "")
        )
    lines = []
    if header:
        lines += [
            f'"""{message}',
            "",
            f"Revision ID: {revision}",
            f"Revises: {revises_header}",
            f"Create Date: {create_date}",
            "",
            '"""',
        ]
    lines += ["from alembic import op", "import sqlalchemy as sa", ""]
    lines += ["# revision identifiers, used by Alembic."]
    if revision is not None:
        lines.append(f"revision = {literal(revision)}")
    lines.append(f"down_revision = {literal(down_revision)}")
    lines.append(f"branch_labels = {literal(branch_labels)}")
    lines.append(f"depends_on = {literal(depends_on)}")
    lines += ["", "", "def upgrade():", *_indented(upgrade), "", ""]
    lines += ["def downgrade():", *_indented(downgrade), ""]
    return "\n".join(lines)


def _indented(body: str) -> list[str]:
    return ["    " + line if line else "" for line in body.strip("\n").splitlines()]
