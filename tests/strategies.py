"""Hypothesis strategies for random Alembic histories, written out as real migration files.

A `History` is the generator's own model of what it wrote; `write_history` renders it with a
random mix of the forms real projects use (typed and untyped assignments, every quote style,
tuples and lists, module-level constants, headers or none, nested folders, files Alembic skips).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from hypothesis import strategies as st


@dataclass(frozen=True)
class Revision:
    id: str
    parents: tuple[str, ...]
    labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Style:
    typed: bool
    quote: str
    sequence: str  # "tuple" or "list"
    via_constant: bool
    header: bool
    folder: str
    scalar_single: bool  # a single parent written as a scalar string rather than a 1-tuple


@dataclass(frozen=True)
class History:
    revisions: tuple[Revision, ...]
    styles: tuple[Style, ...]
    skipped_files: tuple[str, ...] = ()
    # Extra raw files (name -> source) that injected defects add.
    extra: tuple[tuple[str, str], ...] = field(default=())
    # Per-revision source overrides (id -> source) that injected defects add.
    overrides: tuple[tuple[str, str], ...] = field(default=())


_hex_ids = st.text(alphabet="0123456789abcdef", min_size=12, max_size=12)
_word_ids = st.builds(
    lambda n, w: f"{n:03d}_{w}",
    st.integers(0, 999),
    st.sampled_from(["add_users", "fields", "merge", "x", "orders_idx", "conditional"]),
)
revision_ids = st.one_of(
    _hex_ids, _word_ids, st.text(alphabet="abcdefxyz0123456789_", min_size=1, max_size=10)
)
labels = st.sampled_from(["core", "network", "billing", "expand", "contract", "reports"])

styles = st.builds(
    Style,
    typed=st.booleans(),
    quote=st.sampled_from(["'", '"', "'''", '"""']),
    sequence=st.sampled_from(["tuple", "list"]),
    via_constant=st.booleans(),
    header=st.booleans(),
    folder=st.sampled_from(["", "", "", "sub", "sub/deeper", "other"]),
    scalar_single=st.booleans(),
)


@st.composite
def histories(draw: st.DrawFn, max_revisions: int = 12) -> History:
    """Valid histories: unique ids, parents earlier in the list, extra bases sometimes
    labelled, depends_on on earlier revisions or on branch labels."""
    count = draw(st.integers(1, max_revisions))
    ids = draw(st.lists(revision_ids, min_size=count, max_size=count, unique=True))
    free_labels = draw(st.lists(labels, unique=True, max_size=4))
    used_labels: dict[str, str] = {}
    revisions: list[Revision] = []
    for index, rev in enumerate(ids):
        earlier = [r.id for r in revisions]
        kind = "base" if not earlier else draw(st.sampled_from(["linear"] * 6 + ["merge", "base"]))
        if kind == "base":
            parents: tuple[str, ...] = ()
        elif kind == "merge" and len(earlier) >= 2:
            parents = tuple(
                draw(st.lists(st.sampled_from(earlier), min_size=2, max_size=3, unique=True))
            )
        else:
            parents = (draw(st.sampled_from(earlier)),)
        rev_labels: tuple[str, ...] = ()
        if free_labels and draw(st.booleans()) and (kind == "base" or draw(st.booleans())):
            label = free_labels.pop()
            if label not in ids:
                rev_labels = (label,)
                used_labels[label] = rev
        depends: tuple[str, ...] = ()
        if earlier and draw(st.integers(0, 4)) == 0:
            targets = earlier + [lbl for lbl, owner in used_labels.items() if owner != rev]
            depends = tuple(
                draw(st.lists(st.sampled_from(targets), min_size=1, max_size=2, unique=True))
            )
        del index
        revisions.append(Revision(rev, parents, rev_labels, depends))
    chosen = tuple(draw(styles) for _ in revisions)
    skipped = tuple(
        draw(
            st.lists(
                st.sampled_from(["__init__.py", ".#lock.py", "README.txt", "__pycache__/old.py"]),
                unique=True,
            )
        )
    )
    return History(tuple(revisions), chosen, skipped)


def file_name(revision: Revision, style: Style) -> str:
    stem = f"{revision.id}_{'merge' if len(revision.parents) > 1 else 'change'}.py"
    return f"{style.folder}/{stem}" if style.folder else stem


def render(revision: Revision, style: Style) -> str:
    q = style.quote

    def lit(value: str) -> str:
        return f"{q}{value}{q}"

    def seq(values: tuple[str, ...]) -> str:
        if not values:
            return "None"
        if len(values) == 1 and style.scalar_single:
            return lit(values[0])
        inner = ", ".join(lit(v) for v in values)
        if style.sequence == "list":
            return f"[{inner}]"
        return f"({inner},)" if len(values) == 1 else f"({inner})"

    lines: list[str] = []
    if style.header:
        lines += [
            '"""generated',
            "",
            f"Revision ID: {revision.id}",
            f"Revises: {', '.join(revision.parents)}",
            "Create Date: 2024-01-01 00:00:00",
            "",
            '"""',
        ]
    if style.typed:
        lines.append("from typing import Sequence, Union")
    lines.append("")
    down = seq(revision.parents)
    if style.via_constant and revision.parents:
        lines.append(f"PARENT = {down}")
        down = "PARENT"
    annotation = ": Union[str, Sequence[str], None]" if style.typed else ""
    lines.append(f"revision{': str' if style.typed else ''} = {lit(revision.id)}")
    lines.append(f"down_revision{annotation} = {down}")
    lines.append(f"branch_labels{annotation} = {seq(revision.labels)}")
    lines.append(f"depends_on{annotation} = {seq(revision.depends_on)}")
    lines += ["", "", "def upgrade():", "    pass", ""]
    return "\n".join(lines)


def write_history(history: History, versions: Path) -> dict[str, Path]:
    """Write the files; return revision id -> path."""
    overrides = dict(history.overrides)
    paths: dict[str, Path] = {}
    for revision, style in zip(history.revisions, history.styles, strict=True):
        path = versions / file_name(revision, style)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(overrides.get(revision.id, render(revision, style)), encoding="utf-8")
        paths[revision.id] = path
    for name in history.skipped_files:
        path = versions / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("raise SystemExit('Alembic skips this file')\n", encoding="utf-8")
    for name, source in history.extra:
        path = versions / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    versions.mkdir(parents=True, exist_ok=True)
    return paths


def with_revision(history: History, index: int, revision: Revision) -> History:
    revisions = list(history.revisions)
    revisions[index] = revision
    return replace(history, revisions=tuple(revisions))
