"""What a finding's fix changes: the rules' own edits, or, for multiple heads, a merge revision
(`--heads merge`) or a re-parented branch (`--heads rebase`)."""

from __future__ import annotations

import hashlib
import re
import stat
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from chainlint.discover import Environment
from chainlint.edits import CreateFile, Edit, SetAssignment
from chainlint.findings import Finding
from chainlint.graph import RevisionGraph
from chainlint.rules.cl010_multiple_heads import broken_reference_heads, head_groups
from chainlint.rules.common import quoted, revises_edit

HeadsMode = Literal["merge", "rebase"]


class CannotFix(Exception):
    """The fix would have to guess; the reason is shown to the user."""


@dataclass(frozen=True)
class Plan:
    """The edits of one fix, and what the user should know about how they were made."""

    edits: tuple[Edit, ...]
    note: str | None = None
    # What was done, naming the files written (None: the finding's own fix description).
    description: str | None = None


def edits_for(
    finding: Finding,
    graph: RevisionGraph,
    heads: HeadsMode = "merge",
    editable: Collection[str] | None = None,
) -> Plan:
    if finding.code == "CL010":
        suspects = broken_reference_heads(graph)
        group = next((g for g in head_groups(graph) if finding.revision in g), None)
        if group is None:
            raise CannotFix("the heads changed since the check")
        if suspects is None or set(group) & suspects:
            raise CannotFix("a broken reference may have caused these heads; fix it first")
        if heads == "rebase":
            edits = rebase_edits(graph, group, editable)
            moved = [e for e in edits if isinstance(e, SetAssignment)]
            return Plan(
                edits,
                description="re-parented "
                + ", ".join(f"{e.path.name} onto '{e.value}'" for e in moved),
            )
        created, note = merge_revision(graph, group)
        return Plan(
            (created,),
            note,
            f"wrote {created.path.name}, a merge revision of {quoted(group)}",
        )
    if finding.fix is None or not finding.fix.applicable:
        raise CannotFix(finding.fix.description if finding.fix else "no automatic fix")
    return Plan(finding.fix.edits)


# -- --heads rebase ---------------------------------------------------------------------------


def rebase_edits(
    graph: RevisionGraph, group: list[str], editable: Collection[str] | None = None
) -> tuple[Edit, ...]:
    """Re-parent each younger head's branch onto the head before it, oldest first, so the
    history becomes one line (django-linear-migrations' way)."""
    ordered = list(group)
    if editable is not None:
        # Keep the heads that may not be edited first: only branch-new revisions move.
        ordered.sort(key=lambda h: h in editable)
    edits: list[Edit] = []
    target = ordered[0]
    for head in ordered[1:]:
        root = _branch_root(graph, head, target)
        if root is None:
            raise CannotFix(f"the branch of '{head}' contains a merge; use --heads merge")
        if editable is not None and root not in editable:
            raise CannotFix(f"'{root}' exists on the base branch and is never edited")
        file = graph.revisions[root]
        edits.append(SetAssignment(file.path, "down_revision", target))
        edits.extend(revises_edit(file, (target,)))
        target = head
    return tuple(edits)


def _branch_root(graph: RevisionGraph, head: str, other: str) -> str | None:
    """The first revision of `head`'s branch: the one whose parent is shared with `other`."""
    shared = graph.ancestors(other) | {other}
    current = head
    while True:
        parents = graph.parents(current)
        if len(parents) != 1 or parents[0] not in graph.revisions:
            return None
        if parents[0] in shared:
            return current
        current = parents[0]


# -- --heads merge ----------------------------------------------------------------------------


def merge_revision(graph: RevisionGraph, group: list[str]) -> tuple[CreateFile, str | None]:
    """A merge revision the way `alembic merge` writes one, in the environment's own style,
    and a note when the environment's template could not be used."""
    environment = graph.environment
    new_id = _merge_id(graph, group)
    folder = graph.revisions[group[-1]].path.parent
    now = datetime.now()
    name = render_file_name(environment.file_template, new_id, "merge_heads", now)
    context = {
        "up_revision": new_id,
        "down_revision": tuple(group),
        "branch_labels": None,
        "depends_on": None,
        "create_date": now,
        "message": "merge heads",
    }
    content, note = None, None
    if environment.script_template is not None:
        content, note = _render_script_template(environment, context)
    if content is None:
        content = _builtin_merge(context, typed=_typed_style(graph))
    return CreateFile(folder / name, content), note


def _merge_id(graph: RevisionGraph, group: list[str]) -> str:
    seed = "merge:" + ",".join(sorted(group))
    while True:
        candidate = hashlib.sha1(seed.encode("utf-8")).hexdigest()[:12]
        if graph.resolve(candidate) is None:
            return candidate
        seed += "'"


def render_file_name(template: str, rev: str, slug: str, when: datetime) -> str:
    values: dict[str, Any] = {
        "rev": rev,
        "slug": slug,
        "epoch": int(when.timestamp()),
        "year": when.year,
        "month": when.month,
        "day": when.day,
        "hour": when.hour,
        "minute": when.minute,
        "second": when.second,
    }
    try:
        stem = template % values
    except (KeyError, ValueError, TypeError):
        stem = f"{rev}_{slug}"
    return re.sub(r"[^\w./-]", "_", stem) + ".py"


def _comma(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return ", ".join(value)


def _render_script_template(
    environment: Environment, context: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The environment's script.py.mako rendered without running any of it (chainlint's own
    renderer, never Mako), or None and the reason the built-in template was used instead."""
    from chainlint.fix.template import MAX_TEMPLATE_SIZE, UnsupportedTemplate, render_template

    template = environment.script_template
    assert template is not None
    try:
        # Only a regular file of a template's size is read (never a FIFO or a device).
        if not stat.S_ISREG(template.stat().st_mode):
            return (
                None,
                f"{template.name} is not a regular file: written from the built-in template",
            )
        if template.stat().st_size > MAX_TEMPLATE_SIZE:
            return None, f"{template.name} is too large: written from the built-in template"
        text = template.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{template.name} cannot be read ({type(exc).__name__}): built-in template"
    down = context["down_revision"]
    values = {
        **context,
        "down_revision": down if len(down) > 1 else down[0],
        "imports": "",
        "upgrades": "",
        "downgrades": "",
    }
    try:
        return render_template(text, values, _main_options(environment)), None
    except UnsupportedTemplate as exc:
        return None, (
            f"{template.name} line {exc.line} uses {exc.what}, which chainlint never runs: "
            f"written from the built-in template"
        )


def _main_options(environment: Environment) -> dict[str, str]:
    """The `[alembic]` options of alembic.ini, read as text (what config.get_main_option
    gives a template)."""
    import configparser

    path = environment.config_path
    if path is None or path.suffix != ".ini":
        return {}
    parser = configparser.ConfigParser(defaults={"here": str(path.parent)}, interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
        return dict(parser.items("alembic")) if parser.has_section("alembic") else {}
    except (OSError, UnicodeDecodeError, configparser.Error):
        return {}


def _typed_style(graph: RevisionGraph) -> bool:
    typed = sum(1 for f in graph.revisions.values() if f.revision and f.revision.annotated)
    return typed * 2 > len(graph.revisions)


def _builtin_merge(context: dict[str, Any], typed: bool) -> str:
    down = context["down_revision"]
    annotation = ": Union[str, Sequence[str], None]" if typed else ""
    lines = [
        f'"""{context["message"]}',
        "",
        f"Revision ID: {context['up_revision']}",
        f"Revises: {_comma(down)}",
        f"Create Date: {context['create_date']}",
        "",
        '"""',
    ]
    if typed:
        lines += ["from typing import Sequence, Union", ""]
    lines += [
        "from alembic import op",
        "import sqlalchemy as sa",
        "",
        "",
        "# revision identifiers, used by Alembic.",
        f"revision{': str' if typed else ''} = {context['up_revision']!r}",
        f"down_revision{annotation} = {tuple(down)!r}",
        f"branch_labels{annotation} = None",
        f"depends_on{annotation} = None",
        "",
        "",
        f"def upgrade(){' -> None' if typed else ''}:",
        "    pass",
        "",
        "",
        f"def downgrade(){' -> None' if typed else ''}:",
        "    pass",
        "",
    ]
    return "\n".join(lines)
