"""`chainlint graph`: the revision history as a terminal tree, Mermaid, Graphviz DOT or JSON.

A `HistoryView` is the part of the graph to show, with each revision's marks (head, base,
merge, branch labels, findings); the renderers only format it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainlint.findings import Finding
from chainlint.graph import DEPENDENCY, RevisionGraph
from chainlint.report import display_path

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


def build_view(
    graph: RevisionGraph,
    findings: Iterable[Finding],
    cwd: Path,
    since: str | None = None,
    heads_only: bool = False,
) -> HistoryView:
    by_revision: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.revision is not None:
            by_revision.setdefault(finding.revision, []).append(finding)
    keep = set(graph.revisions)
    if since is not None:
        start = graph.resolve(since)
        keep = {start} | graph.descendants(start) if start is not None else set()
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
        found = by_revision.get(rev, [])
        severity = (
            "error" if any(f.severity == "error" for f in found) else ("warning" if found else None)
        )
        nodes[rev] = Node(
            id=rev,
            path=display_path(file.path, cwd),
            message=_slug(file.path.stem, rev),
            labels=file.labels,
            head=rev in heads,
            base=rev in bases,
            merge=len(file.down_revisions) > 1,
            findings=tuple(sorted({f.code for f in found})),
            severity=severity,
        )
    edges = tuple(
        Edge(parent, child, data.get("kind", "parent"))
        for parent, child, data in graph.dag.edges(data=True)
        if parent in nodes and child in nodes
    )
    return HistoryView(display_path(graph.environment.root, cwd), nodes, edges, graph)


def _slug(stem: str, rev: str) -> str:
    """The message part of a file name made from `file_template` (whatever precedes the id,
    such as a date, is dropped)."""
    text = stem.split(rev, 1)[1] if rev in stem else stem
    return text.strip("_").replace("_", " ")


# -- tree ----------------------------------------------------------------------------------------


def render_tree(view: HistoryView, full: bool = False) -> Any:
    from rich.text import Text
    from rich.tree import Tree

    graph = view.graph
    primary: dict[str, str] = {}  # a merge is drawn under its first visible parent
    for edge in view.edges:
        if edge.kind != DEPENDENCY:
            primary.setdefault(edge.child, edge.parent)
    for rev, node in view.nodes.items():
        if node.merge:
            parents = [p for p in graph.parents(rev) if p in view.nodes]
            if parents:
                primary[rev] = parents[0]
    children: dict[str, list[str]] = {rev: [] for rev in view.nodes}
    for child, parent in primary.items():
        children[parent].append(child)
    roots = [rev for rev in view.nodes if rev not in primary]
    depends: dict[str, list[str]] = {}
    for edge in view.edges:
        if edge.kind == DEPENDENCY:
            depends.setdefault(edge.child, []).append(edge.parent)
    tree = Tree(Text(f"{view.root} ({len(view.nodes)} revisions)", "bold"))

    def label(rev: str) -> Text:
        node = view.nodes[rev]
        text = Text(node.id, _SEVERITY_STYLE.get(node.severity or "", "bold"))
        if node.message:
            text.append(f"  {node.message}", "dim")
        marks = []
        if node.base:
            marks.append("base")
        if node.head:
            marks.append("head")
        if node.merge:
            marks.append("merge of " + ", ".join(graph.parents(rev)))
        if marks:
            text.append(f"  ({'; '.join(marks)})", "cyan")
        if node.labels:
            text.append(f"  [{', '.join(node.labels)}]", "magenta")
        deps = depends.get(rev)
        if deps:
            text.append(f"  depends on {', '.join(deps)}", "blue")
        if node.findings:
            text.append(f"  {' '.join(node.findings)}", _SEVERITY_STYLE[node.severity or "warning"])
        return text

    def plain(rev: str) -> bool:
        node = view.nodes[rev]
        return not (node.head or node.base or node.merge or node.labels or node.findings) and (
            len(children[rev]) == 1
        )

    drawn: set[str] = set()

    def draw_segment(start: str, parent: Any) -> None:
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
            drawn.add(current)
            if plain(current):
                run.append(current)
                current = children[current][0]
                continue
            flush()
            branch = parent.add(label(current))
            for other in sorted(p for p in graph.parents(current) if p in view.nodes)[1:]:
                if view.nodes[current].merge:
                    branch_note = Text(f"↳ also follows {other}", "dim")
                    branch.add(branch_note)
            kids = sorted(children[current])
            for kid in kids[1:]:
                draw_segment(kid, branch.add(Text(f"fork from {current}", "cyan")))
            current = kids[0] if kids else None
        flush()

    for root in roots:
        draw_segment(root, tree)
    for rev in view.nodes:  # revisions only reachable through a cycle
        if rev not in drawn:
            draw_segment(rev, tree)
    return tree


# -- mermaid, dot, json ---------------------------------------------------------------------------


def render_mermaid(view: HistoryView) -> str:
    ids = {rev: f"r{index}" for index, rev in enumerate(view.nodes)}
    lines = ["flowchart BT"]
    for rev, node in view.nodes.items():
        text = _mermaid_text(node.id + (f"<br/>{node.message}" if node.message else ""))
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
    return (
        text.replace('"', "#quot;")
        .replace("<br/>", "\0")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("\0", "<br/>")
    )


def render_dot(view: HistoryView) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph chainlint {", "    rankdir=BT;", "    node [shape=box, fontname=monospace];"]
    colors = {"error": "#ffdddd", "warning": "#ffffdd"}
    for rev, node in view.nodes.items():
        attrs = [f"label={quote(node.id + (chr(10) + node.message if node.message else ''))}"]
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
            }
            for node in view.nodes.values()
        ],
        "edges": [{"from": e.parent, "to": e.child, "kind": e.kind} for e in view.edges],
    }


def render_json(views: list[HistoryView]) -> str:
    return (
        json.dumps({"version": 1, "environments": [view_json(v) for v in views]}, indent=2) + "\n"
    )
