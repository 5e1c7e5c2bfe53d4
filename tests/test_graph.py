"""`chainlint graph` in every format, `chainlint rule`, and the generated rule reference."""

from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainlint.cli import main
from chainlint.discover import Environment
from chainlint.docs import render_rules_markdown
from chainlint.graph import DEPENDENCY, RevisionGraph, alembic_items
from chainlint.read import Assignment, Identifier, RevisionFile
from chainlint.rules.base import migration
from helpers import graph_of, write_tree

ROOT = Path(__file__).resolve().parent.parent
SHOWCASE = ROOT / "fixtures" / "graph-showcase"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main(["graph", *args])
    assert exited.value.code == 0
    return capsys.readouterr().out


@pytest.fixture(autouse=True)
def no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(SHOWCASE)


def test_tree_marks_forks_merges_labels_heads_and_defects(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = run(capsys, ".")
    assert out.splitlines()[0] == "migrations (11 revisions)"
    assert "a1  initial  (base)  [core]" in out
    assert "n1  network  (base)  [network]" in out
    assert "fork from a5" in out
    assert "a8  merge heads  (head; merge of a6, a7)" in out
    assert "n2  ports  (head)  depends on a2" in out
    assert "n3  broken  (head)  CL001" in out


def test_tree_collapses_long_linear_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"r000.py": migration("r000", None)}
    files.update({f"r{i:03d}.py": migration(f"r{i:03d}", f"r{i - 1:03d}") for i in range(1, 50)})
    versions = write_tree(tmp_path / "versions", files)
    out = run(capsys, str(versions))
    assert out.splitlines() == [
        f"{versions.as_posix()} (50 revisions)",
        "├── r000  change  (base)",
        "├── r001  change",
        "├── … 46 revisions …",
        "├── r048  change",
        "└── r049  change  (head)",
    ]
    full = run(capsys, "--full", str(versions))
    assert "revisions …" not in full and "r025" in full


def test_mermaid_is_structurally_valid(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "--format", "mermaid", ".")
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0] == "flowchart BT"
    declared = {}
    for line in lines[1:]:
        match = re.fullmatch(r'(r\d+)\["([^"]*)"\]', line)
        if match:
            declared[match.group(1)] = match.group(2)
    assert len(declared) == 11
    edges = [re.fullmatch(r"(r\d+) (-->|-\.->) (r\d+)", line) for line in lines]
    edges = [e for e in edges if e]
    assert len(edges) == 10
    assert all(e.group(1) in declared and e.group(3) in declared for e in edges)
    assert sum(1 for e in edges if e.group(2) == "-.->") == 1  # n2 depends on a2
    class_defs = {line.split()[1] for line in lines if line.startswith("classDef ")}
    for line in lines:
        if line.startswith("class "):
            _, members, name = line.split()
            assert name in class_defs
            assert set(members.split(",")) <= set(declared)
    errors = next(line for line in lines if line.startswith("class ") and line.endswith(" error"))
    broken = next(node for node, label in declared.items() if label.startswith("n3<br/>"))
    assert errors == f"class {broken} error"


def test_dot_parses_with_pydot(capsys: pytest.CaptureFixture[str]) -> None:
    pydot = pytest.importorskip("pydot")
    out = run(capsys, "--format", "dot", ".")
    (graph,) = pydot.graph_from_dot_data(out)
    nodes = {n.get_name().strip('"') for n in graph.get_nodes()} - {"node"}
    assert len(nodes) == 11
    edges = graph.get_edges()
    assert len(edges) == 10
    dashed = [e for e in edges if e.get("style") == "dashed"]
    assert [(e.get_source().strip('"'), e.get_destination().strip('"')) for e in dashed] == [
        ("a2", "n2")
    ]
    broken = next(n for n in graph.get_nodes() if n.get_name().strip('"') == "n3")
    assert broken.get("style") == "filled"


def test_json_nodes_and_edges(capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(run(capsys, "--format", "json", "."))
    (environment,) = document["environments"]
    nodes = {n["id"]: n for n in environment["nodes"]}
    assert nodes["a8"] == {
        "id": "a8",
        "path": "migrations/versions/a8_merge_heads.py",
        "message": "merge heads",
        "labels": [],
        "head": True,
        "base": False,
        "merge": True,
        "findings": [],
        "unreadable": False,
    }
    assert nodes["n1"]["labels"] == ["network"] and nodes["n1"]["base"]
    assert nodes["n3"]["findings"] == ["CL001"]
    kinds = {(e["from"], e["to"]): e["kind"] for e in environment["edges"]}
    assert kinds[("a2", "n2")] == "dependency" and kinds[("a6", "a8")] == "parent"


def test_since_and_heads_only(capsys: pytest.CaptureFixture[str]) -> None:
    since = json.loads(run(capsys, "--format", "json", "--since", "a5", "."))
    assert {n["id"] for n in since["environments"][0]["nodes"]} == {"a5", "a6", "a7", "a8"}
    heads = json.loads(run(capsys, "--format", "json", "--heads-only", "."))
    ids = {n["id"] for n in heads["environments"][0]["nodes"]}
    assert {"a8", "n2", "n3"} <= ids and "a2" not in ids


def test_rule_reference_is_current() -> None:
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == render_rules_markdown(), (
        "docs/rules.md is stale: run `python -m chainlint.docs > docs/rules.md`"
    )


def test_rule_pages_follow_ruffs_layout(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rule", "CL006"])
    assert exited.value.code == 0
    page = capsys.readouterr().out
    assert page.startswith("# CL006 revision-id-too-long (error, fixable)\n")
    positions = [
        page.index(h) for h in ("## What it does", "## Why is this bad?", "## Example", "## Fix")
    ]
    assert positions == sorted(positions)
    with pytest.raises(SystemExit):
        main(["rule", "--all"])
    listing = capsys.readouterr().out.splitlines()
    from chainlint.rules import ALL_RULES

    assert len(listing) == len(ALL_RULES)
    assert listing[15].startswith("CL103") and "off by default" in listing[15]


@pytest.mark.parametrize("name", ["multiple-heads", "cl010", "CL010", "Multiple_Heads"])
def test_rule_by_code_or_name(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rule", name])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("# CL010 multiple-heads (error, fixable)\n")


def test_unknown_rule_name_suggests_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rule", "multiple-head"])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "unknown rule code or name 'multiple-head'" in line
    assert "did you mean 'multiple-heads'?" in line


def _tree(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    return run(capsys, *args).splitlines()


def test_merge_hangs_under_its_last_drawn_parent_and_names_the_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The merge names the fork side first: it was drawn under that parent, said it "also
    follows" the same parent, and the other parent came after the head."""
    versions = write_tree(
        tmp_path / "versions",
        {
            "a1.py": migration("a1", None, message="initial"),
            "a2.py": migration("a2", "a1", message="users"),
            "a3.py": migration("a3", "a2", message="fork left"),
            "a4.py": migration("a4", "a2", message="fork right"),
            "a5.py": migration("a5", ("a4", "a3"), message="merge heads"),
            "a6.py": migration("a6", "a5", message="after merge"),
        },
    )
    assert _tree(capsys, str(versions))[1:] == [
        "├── a1  initial  (base)",
        "├── a2  users",
        "│   └── fork from a2",
        "│       ├── a4  fork right",
        "│       └── ↳ merged into a5 below",
        "├── a3  fork left",
        "├── a5  merge heads  (merge of a4, a3)",
        "│   └── ↳ also follows a4",
        "└── a6  after merge  (head)",
    ]


def test_since_unknown_revision_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for since, hint in (("a55", "did you mean 'a5'?"), ("zzz", "did you mean a head: ")):
        with pytest.raises(SystemExit) as exited:
            main(["graph", "--since", since, "."])
        assert exited.value.code == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        (line,) = captured.err.strip().splitlines()
        assert f"--since '{since}' is not a revision or branch label" in line and hint in line
    with pytest.raises(SystemExit) as exited:  # 'n' starts n1, n2 and n3
        main(["graph", "--since", "n", "."])
    assert exited.value.code == 2 and "ambiguous" in capsys.readouterr().err


def test_labels_are_the_docstring_message_not_the_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_tree(
        tmp_path / "versions",
        {
            "1975ea83b712_create_account_table.py": migration(
                "1975ea83b712", None, message="Create account table"
            ),
            "ae1027a6acf_add_a_column.py": migration(
                "ae1027a6acf", "1975ea83b712", message="Add a column\n\nLonger text."
            ),
        },
    )
    assert _tree(capsys, str(versions))[1:] == [
        "├── 1975ea83b712  Create account table  (base)",
        "└── ae1027a6acf  Add a column  (head)",
    ]
    nodes = json.loads(run(capsys, "--format", "json", str(versions)))["environments"][0]["nodes"]
    assert [n["message"] for n in nodes] == ["Create account table", "Add a column"]
    # A unique prefix of an id is accepted by --since, as Alembic accepts it.
    assert _tree(capsys, "--since", "ae10", str(versions))[1:] == [
        "└── ae1027a6acf  Add a column  (head)"
    ]


def test_unreadable_file_is_shown_marked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_tree(
        tmp_path / "versions",
        {
            "a.py": migration("a", None, message="initial"),
            # Its id cannot be recovered either: the tolerant scan sees `revision` unreadable.
            "b.py": migration("b", "a").replace("revision = 'b'", "revision = ('b'"),
        },
    )
    lines = _tree(capsys, str(versions))
    assert lines[-1] == "└── ?  b.py  (unreadable)  CL009"
    nodes = json.loads(run(capsys, "--format", "json", str(versions)))["environments"][0]["nodes"]
    assert nodes[-1]["unreadable"] is True and nodes[-1]["findings"] == ["CL009"]
    assert "b.py" in run(capsys, "--format", "mermaid", str(versions))


def test_unreadable_file_whose_ids_were_recovered_stays_in_place(tmp_path: Path) -> None:
    """When the reader recovers an unparseable file's ids (a tolerant scan), the file keeps its
    place in the history and is marked there, not listed apart."""
    from dataclasses import replace

    from chainlint.config import Settings
    from chainlint.graph import RevisionGraph
    from chainlint.lint import check_graph
    from chainlint.read import ReadProblem
    from chainlint.report import history
    from helpers import graph_of

    versions = write_tree(
        tmp_path / "versions",
        {
            "a.py": migration("a", None),
            "b.py": migration("b", "a", message="broken"),
            "c.py": migration("c", "b"),
        },
    )
    parsed = graph_of(versions)
    broken = {
        file.path: replace(file, problem=ReadProblem("is not valid Python: x", 3, 1))
        for file in parsed.files
        if file.path.name == "b.py"
    }
    files = [broken.get(file.path, file) for file in parsed.files]
    graph = RevisionGraph(parsed.environment, [replace(f, problem=None) for f in files])
    graph.revisions["b"] = files[1]  # as the tolerant scan keeps it: in the graph, with a problem
    graph.files = tuple(files)
    findings = check_graph(graph, Settings())
    view = history.build_view(graph, findings, tmp_path)
    assert list(view.nodes) == ["a", "b", "c"]
    assert view.nodes["b"].unreadable and view.nodes["b"].findings == ("CL009",)
    from rich.console import Console

    console = Console(width=200, no_color=True, record=True)
    console.print(history.render_tree(view))
    assert "├── b  broken  (unreadable)  CL009" in console.export_text()


# -- the graph's own links against networkx ---------------------------------------------------

_NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f", "lbl", "x", ""])


@st.composite
def _revision_files(draw: st.DrawFn) -> list[RevisionFile]:
    """Small random environments: unknown ids, labels, dependencies, repeats, duplicates,
    self-links and cycles."""

    def assignment(name: str, values: tuple[str, ...] | None) -> Assignment:
        if values is None:
            return Assignment(name, 1, 1, "none")
        shape = "scalar" if len(values) == 1 and draw(st.booleans()) else "sequence"
        items = tuple(Identifier(value, 1, 1, repr(value)) for value in values)
        return Assignment(name, 1, 1, shape, items)

    names = st.one_of(st.none(), st.lists(_NAMES, max_size=3).map(tuple))
    files = []
    for index in range(draw(st.integers(1, 9))):
        files.append(
            RevisionFile(
                Path(f"/versions/{index}.py"),
                revision=assignment("revision", (draw(_NAMES.filter(bool)),)),
                down_revision=assignment("down_revision", draw(names)),
                branch_labels=assignment("branch_labels", draw(names)),
                depends_on=assignment("depends_on", draw(names)),
            )
        )
    return files


def _reference_graphs(graph: RevisionGraph) -> tuple[nx.DiGraph, nx.DiGraph]:
    """The two DiGraphs as the graph first built them: an edge at a time, in link order (a
    down_revision link without attributes, a depends_on link of kind DEPENDENCY)."""
    dag, parent_dag = nx.DiGraph(), nx.DiGraph()
    dag.add_nodes_from(graph.revisions)
    parent_dag.add_nodes_from(graph.revisions)
    for rev, file in graph.revisions.items():
        for identifier in alembic_items(file, "down_revision"):
            if identifier.value in graph.revisions:
                parent_dag.add_edge(identifier.value, rev)
                dag.add_edge(identifier.value, rev)
        for identifier in alembic_items(file, "depends_on"):
            target = graph.resolve(identifier.value) if identifier.value is not None else None
            if target is not None and not dag.has_edge(target, rev):
                dag.add_edge(target, rev, kind=DEPENDENCY)
    return dag, parent_dag


def _same_digraph(made: nx.DiGraph, expected: nx.DiGraph) -> None:
    assert list(made.nodes) == list(expected.nodes)
    assert list(made.edges(data=True)) == list(expected.edges(data=True))
    for node in expected:
        assert list(made.predecessors(node)) == list(expected.predecessors(node))
        assert list(made.successors(node)) == list(expected.successors(node))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_revision_files())
def test_plain_links_and_walks_agree_with_networkx(files: list[RevisionFile]) -> None:
    environment = Environment(Path("/versions"), "versions-folder", None, (), True, "", ())
    graph = RevisionGraph(environment, files)
    dag, parent_dag = _reference_graphs(graph)
    _same_digraph(graph.dag, dag)
    _same_digraph(graph.parent_dag, parent_dag)
    # One graph, not two copies, when the depends_on links add no edge.
    assert (graph.dag is graph.parent_dag) == (list(dag.edges) == list(parent_dag.edges))
    for rev in graph.revisions:
        assert graph.parent_links[rev] == tuple(parent_dag.predecessors(rev))
        assert list(graph.child_links[rev]) == list(parent_dag.successors(rev))
        assert graph.links_in[rev] == tuple(dag.predecessors(rev))
        assert list(graph.links_out[rev]) == list(dag.successors(rev))
        assert graph.children(rev) == tuple(parent_dag.successors(rev))
        assert type(graph.child_links[rev]) is tuple and type(graph.links_out[rev]) is tuple
        assert graph.ancestors(rev) == nx.ancestors(parent_dag, rev)
        assert graph.descendants(rev) == nx.descendants(parent_dag, rev)
        assert graph.ancestors(rev, include_dependencies=True) == nx.ancestors(dag, rev)
        assert graph.descendants(rev, include_dependencies=True) == nx.descendants(dag, rev)
    assert graph.heads == tuple(r for r in graph.revisions if parent_dag.out_degree(r) == 0)
    try:
        order: list[str] | None = list(nx.topological_sort(dag))
    except nx.NetworkXUnfeasible:
        order = None
    assert graph.link_order == order
    try:
        parent_order = list(nx.topological_sort(parent_dag))
    except nx.NetworkXUnfeasible:
        assert graph.generation is None
    else:
        expected: dict[str, int] = {}
        for rev in parent_order:
            parents = parent_dag.predecessors(rev)
            expected[rev] = max((expected[p] + 1 for p in parents), default=0)
        assert graph.generation == expected
    cycles = [sorted(c) for c in nx.strongly_connected_components(dag) if len(c) > 1]
    assert list(graph.cycles()) == cycles
    with pytest.raises(nx.NetworkXError):
        graph.ancestors("not a revision")


def test_attribute_dicts_are_one_shared_empty_dict_but_dependency_kinds(tmp_path: Path) -> None:
    """No node, and no down_revision edge of parent_dag, gets an attribute dict of its own
    (networkx's low-memory pattern); a depends_on edge keeps its `kind` in `dag`."""
    write_tree(
        tmp_path,
        {
            "a.py": migration("a", None),
            "b.py": migration("b", "a"),
            "c.py": migration("c", "b"),
            "d.py": migration("d", None, depends_on="c"),
        },
    )
    graph = graph_of(tmp_path)
    shared = [graph.parent_dag.nodes[n] for n in graph.parent_dag]
    shared += [data for _, _, data in graph.parent_dag.edges(data=True)]
    assert shared and all(d is shared[0] for d in shared) and shared[0] == {}
    kinds = {(u, v): data.get("kind") for u, v, data in graph.dag.edges(data=True)}
    assert kinds == {("a", "b"): None, ("b", "c"): None, ("c", "d"): DEPENDENCY}
    assert graph.parent_dag.reverse().nodes["a"] == {} and shared[0] == {}


def test_head_groups_are_made_once_per_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CL010 and the result cache's save both ask for a graph's head groups: made once, each
    caller gets lists of its own."""
    from chainlint.rules import cl010_multiple_heads as cl010

    made: list[RevisionGraph] = []
    make = cl010._head_groups

    def counting(graph: RevisionGraph) -> list[list[str]]:
        made.append(graph)
        return make(graph)

    monkeypatch.setattr(cl010, "_head_groups", counting)
    files = {"a.py": migration("a", None), "b.py": migration("b", "a"), "c.py": migration("c", "a")}
    graph = graph_of(write_tree(tmp_path / "versions", files))
    first = cl010.head_groups(graph)
    assert sorted(first[0]) == ["b", "c"]
    first[0].clear()
    assert sorted(cl010.head_groups(graph)[0]) == ["b", "c"]
    cl010.mtime_ordered_heads(graph)
    assert made == [graph]
    other = graph_of(write_tree(tmp_path / "other", files))
    assert sorted(cl010.head_groups(other)[0]) == ["b", "c"]
    assert made == [graph, other]
