"""`chainlint graph`: the revision history as a terminal tree, Mermaid, Graphviz DOT or JSON.

A `HistoryView` is the part of the graph to show, with each revision's marks (head, base,
merge, branch labels, findings); the renderers only format it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainlint.errors import UsageError
from chainlint.findings import Finding
from chainlint.graph import DEPENDENCY, RevisionGraph
from chainlint.report import display_path, dump_json, escape_text

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow"}
_RUN_KEEP = 3  # a linear run longer than this is collapsed in the tree


@dataclass(frozen=True)
class Node:
    id: str
    path: str
    message: str
    labels: tuple[str, ...]
    head: bool
    base: bool
    merge: bool
    findings: tuple[str, ...]
    severity: str | None
    # The file could not be parsed (CL009): drawn with its file name, marked.
    unreadable: bool = False


@dataclass(frozen=True)
class Edge:
    parent: str
    child: str
    kind: str


@dataclass(frozen=True)
class HistoryView:
    root: str
    nodes: dict[str, Node]
    edges: tuple[Edge, ...]
    graph: RevisionGraph


def resolve_since(graphs: Sequence[RevisionGraph], since: str) -> dict[int, str]:
    """`--since REV` in each graph that knows it (an id, a branch label, or a unique prefix of
    an id, as Alembic accepts); unknown everywhere is a usage error with a suggestion."""
    found: dict[int, str] = {}
    prefixed: set[str] = set()
    for index, graph in enumerate(graphs):
        start = graph.resolve(since)
        if start is None and since:
            matches = [rev for rev in graph.revisions if rev.startswith(since)]
            prefixed.update(matches)
            start = matches[0] if len(matches) == 1 else None
        if start is not None:
            found[index] = start
    if found:
        return found
    shown = escape_text(repr(since))
    if len(prefixed) > 1:
        listed = ", ".join(escape_text(repr(rev)) for rev in sorted(prefixed)[:5])
        raise UsageError(f"--since {shown} is ambiguous: it starts {listed}")
    names = [name for graph in graphs for name in (*graph.revisions, *graph.branch_labels)]
    close = difflib.get_close_matches(since, names, n=1, cutoff=0.5)
    if close:
        hint = f"; did you mean {escape_text(repr(close[0]))}?"
    else:
        heads = [head for graph in graphs for head in graph.heads][:5]
        hint = f"; did you mean a head: {_names(map(repr, heads))}?" if heads else ""
    raise UsageError(f"--since {shown} is not a revision or branch label here{hint}")


def build_view(
    graph: RevisionGraph,
    findings: Iterable[Finding],
    cwd: Path,
    since: str | None = None,
    heads_only: bool = False,
) -> HistoryView:
    """The part of `graph` to show. `since` is a revision id (see `resolve_since`)."""
    by_revision: dict[str, list[Finding]] = {}
    by_path: dict[Path, list[Finding]] = {}
    for finding in findings:
        if finding.revision is not None:
            by_revision.setdefault(finding.revision, []).append(finding)
        else:
            by_path.setdefault(finding.path, []).append(finding)
    keep = set(graph.revisions)
    if since is not None:
        keep = {since} | graph.descendants(since) if since in graph.revisions else set()
    if heads_only:
        # The heads, each with its history down to the nearest fork, merge or base.
        shown: set[str] = set()
        for head in graph.heads:
            current: str | None = head
            while current is not None and current not in shown:
                shown.add(current)
                parents = [p for p in graph.parents(current) if p in graph.revisions]
                if len(parents) != 1 or len(graph.children(parents[0])) > 1:
                    shown.update(parents)
                    break
                current = parents[0]
        keep &= shown
    heads, bases = set(graph.heads), set(graph.bases)
    nodes = {}
    for rev in graph.revisions:
        if rev not in keep:
            continue
        file = graph.revisions[rev]
        found = by_revision.get(rev, []) + by_path.get(file.path, [])
        nodes[rev] = Node(
            id=rev,
            path=display_path(file.path, cwd),
            message=file.message or (file.path.name if file.problem is not None else ""),
            labels=file.labels,
            head=rev in heads,
            base=rev in bases,
            merge=len(file.down_revisions) > 1,
            findings=tuple(sorted({f.code for f in found})),
            severity=_severity(found),
            unreadable=file.problem is not None,
        )
    if since is None and not heads_only:
        # A file that could not be parsed and whose id the graph does not know: by its name.
        known = {file.path for file in graph.revisions.values()}
        for file in graph.files:
            if file.problem is None or file.path in known:
                continue
            found = by_path.get(file.path, [])
            path = display_path(file.path, cwd)
            nodes[f"file:{path}"] = Node(
                id=file.revision_id or "?",
                path=path,
                message=file.path.name,
                labels=(),
                head=False,
                base=False,
                merge=False,
                findings=tuple(sorted({f.code for f in found})) or ("CL009",),
                severity=_severity(found) or "error",
                unreadable=True,
            )
    edges = tuple(
        Edge(parent, child, data.get("kind", "parent"))
        for parent, child, data in graph.dag.edges(data=True)
        if parent in nodes and child in nodes
    )
    return HistoryView(display_path(graph.environment.root, cwd), nodes, edges, graph)


def _severity(found: list[Finding]) -> str | None:
    if any(f.severity == "error" for f in found):
        return "error"
    return "warning" if found else None


# -- tree ----------------------------------------------------------------------------------------


def render_tree(view: HistoryView, full: bool = False) -> Any:
    from rich.text import Text
    from rich.tree import Tree

    parents: dict[str, list[str]] = {rev: [] for rev in view.nodes}
    children: dict[str, list[str]] = {rev: [] for rev in view.nodes}
    depends: dict[str, list[str]] = {}
    for edge in view.edges:
        if edge.kind == DEPENDENCY:
            depends.setdefault(edge.child, []).append(edge.parent)
        elif edge.parent != edge.child:
            children[edge.parent].append(edge.child)
    for rev in view.nodes:
        if rev in view.graph.revisions:  # parents as declared, in their order
            declared = dict.fromkeys(view.graph.parents(rev))
            parents[rev] = [p for p in declared if p in view.nodes and p != rev]
    for kids in children.values():
        kids.sort()
    roots = [rev for rev in view.nodes if not parents[rev]]
    tree = Tree(Text(f"{escape_text(view.root)} ({len(view.nodes)} revisions)", "bold"))

    def label(rev: str) -> Text:
        node = view.nodes[rev]
        text = Text(_shown(node.id), _SEVERITY_STYLE.get(node.severity or "", "bold"))
        if node.message:
            text.append(f"  {escape_text(node.message)}", "dim")
        marks = []
        if node.unreadable:
            marks.append("unreadable")
        if node.base:
            marks.append("base")
        if node.head:
            marks.append("head")
        if node.merge:
            marks.append("merge of " + _names(view.graph.parents(rev)))
        if marks:
            text.append(f"  ({'; '.join(marks)})", "cyan")
        if node.labels:
            text.append(f"  [{_names(node.labels)}]", "magenta")
        deps = depends.get(rev)
        if deps:
            text.append(f"  depends on {_names(deps)}", "blue")
        if node.findings:
            text.append(f"  {' '.join(node.findings)}", _SEVERITY_STYLE[node.severity or "warning"])
        return text

    def plain(rev: str) -> bool:
        node = view.nodes[rev]
        marked = node.head or node.base or node.merge or node.labels or node.findings
        return not marked and len(children[rev]) == 1

    drawn: set[str] = set()

    def ready(rev: str) -> bool:
        """A merge waits until all its parents are drawn, then hangs under the last of them."""
        return all(parent in drawn for parent in parents[rev])

    def draw_segment(start: str, parent: Any, previous: str | None, force: bool = False) -> None:
        current: str | None = start
        run: list[str] = []

        def flush() -> None:
            if len(run) > _RUN_KEEP and not full:
                parent.add(label(run[0]))
                parent.add(Text(f"… {len(run) - 2} revisions …", "dim"))
                parent.add(label(run[-1]))
            else:
                for rev in run:
                    parent.add(label(rev))
            run.clear()

        while current is not None and current not in drawn:
            if not (force or ready(current)):
                flush()
                parent.add(Text(f"↳ merged into {escape_text(current)} below", "dim"))
                return
            force = False
            drawn.add(current)
            if plain(current):
                run.append(current)
                previous, current = current, children[current][0]
                continue
            flush()
            branch = parent.add(label(current))
            if view.nodes[current].merge:
                for other in parents[current]:
                    if other != previous:
                        branch.add(Text(f"↳ also follows {escape_text(other)}", "dim"))
            kids = children[current]
            for kid in kids[1:]:
                fork = branch.add(Text(f"fork from {escape_text(current)}", "cyan"))
                draw_segment(kid, fork, current)
            previous, current = current, (kids[0] if kids else None)
        flush()

    for root in roots:
        draw_segment(root, tree, None)
    for rev in view.nodes:  # revisions only reachable through a cycle
        if rev not in drawn:
            draw_segment(rev, tree, None, force=True)
    return tree


def _names(names: Iterable[str]) -> str:
    return ", ".join(_shown(name) for name in names)


def _shown(name: str) -> str:
    """An id as the tree shows it: escaped, and an empty one as `''`."""
    return escape_text(name) or "''"


# -- mermaid, dot, json ---------------------------------------------------------------------------


def render_mermaid(view: HistoryView) -> str:
    ids = {rev: f"r{index}" for index, rev in enumerate(view.nodes)}
    lines = ["flowchart BT"]
    for rev, node in view.nodes.items():
        text = _mermaid_text(_shown(node.id))
        if node.message:
            text += "<br/>" + _mermaid_text(escape_text(node.message))
        lines.append(f'    {ids[rev]}["{text}"]')
    for edge in view.edges:
        arrow = "-.->" if edge.kind == DEPENDENCY else "-->"
        lines.append(f"    {ids[edge.parent]} {arrow} {ids[edge.child]}")
    lines += [
        "    classDef error fill:#fdd,stroke:#c00,color:#600",
        "    classDef warning fill:#ffd,stroke:#c90,color:#640",
        "    classDef head stroke-width:3px",
        "    classDef base stroke-dasharray:4 2",
    ]
    for kind in ("error", "warning", "head", "base"):
        members = [
            ids[rev]
            for rev, node in view.nodes.items()
            if (node.severity == kind)
            or (kind == "head" and node.head)
            or (kind == "base" and node.base)
        ]
        if members:
            lines.append(f"    class {','.join(members)} {kind}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    """Mermaid's entity codes for what would end or break a quoted label (`#` first)."""
    return (
        text.replace("#", "#35;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("`", "#96;")
    )


def render_dot(view: HistoryView) -> str:
    def quote(text: str) -> str:
        return '"' + escape_text(text).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph chainlint {", "    rankdir=BT;", "    node [shape=box, fontname=monospace];"]
    colors = {"error": "#ffdddd", "warning": "#ffffdd"}
    for rev, node in view.nodes.items():
        text = quote(node.id)
        if node.message:  # DOT's own line break between the id and the message
            text = text[:-1] + "\\n" + quote(node.message)[1:]
        attrs = [f"label={text}"]
        if node.severity:
            attrs.append(f"style=filled, fillcolor={quote(colors[node.severity])}")
        if node.head:
            attrs.append("penwidth=3")
        lines.append(f"    {quote(rev)} [{', '.join(attrs)}];")
    for edge in view.edges:
        style = " [style=dashed]" if edge.kind == DEPENDENCY else ""
        lines.append(f"    {quote(edge.parent)} -> {quote(edge.child)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def view_json(view: HistoryView) -> dict[str, Any]:
    return {
        "path": view.root,
        "nodes": [
            {
                "id": node.id,
                "path": node.path,
                "message": node.message,
                "labels": list(node.labels),
                "head": node.head,
                "base": node.base,
                "merge": node.merge,
                "findings": list(node.findings),
                "unreadable": node.unreadable,
            }
            for node in view.nodes.values()
        ],
        "edges": [{"from": e.parent, "to": e.child, "kind": e.kind} for e in view.edges],
    }


def render_json(views: list[HistoryView]) -> str:
    return dump_json({"version": 1, "environments": [view_json(v) for v in views]})
