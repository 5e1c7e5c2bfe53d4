"""What keeps the check path fast and small without changing a byte of its output: heavy
modules imported only where used, plain text written without rich exactly as rich would write
it, equal strings shared by the records, one DiGraph where two would hold the same links."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chainlint import __version__
from chainlint.config import Settings
from chainlint.findings import Finding, Fix
from chainlint.lint import EnvironmentResult, GraphSummary, LintResult, lint_paths
from chainlint.report.text import render_plain, render_text, wants_rich
from chainlint.rules.base import migration
from helpers import write_tree

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _rich(result: LintResult, cwd: Path, quiet: bool = False) -> str:
    """What rich prints when stdout is not a terminal (the console `check` would make)."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, no_color=True, highlight=False, soft_wrap=True)
    assert not console.is_terminal
    render_text(result, console, cwd, quiet)
    return buffer.getvalue()


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_plain_text_is_what_rich_prints(fixture: str) -> None:
    try:
        result = lint_paths([FIXTURES / fixture], Settings())
    except Exception:
        pytest.skip("a fixture of a usage error")
    for quiet in (False, True):
        assert render_plain(result, FIXTURES, quiet) == _rich(result, FIXTURES, quiet)


@pytest.mark.parametrize(
    "message",
    [
        "plain",
        "bell\a back\b vt\v ff\f cr\r end",
        "escape \x1b[31m red",
        "wide 漢字 and emoji 😀",
        "[bold]markup[/bold] stays",
        "new\nline",
        "trailing   ",
        "nul \x00 del \x7f nel \x85 ls \u2028",
        "tab\there",
    ],
)
def test_plain_text_matches_rich_on_odd_messages(message: str, tmp_path: Path) -> None:
    finding = Finding(
        "CL001",
        "unknown-down-revision",
        "error",
        message,
        tmp_path / "a.py",
        1,
        1,
        "a",
        Fix("do it", True),
    )
    from chainlint.discover import DEFAULT_FILE_TEMPLATE, Environment

    environment = Environment(
        tmp_path, "versions-folder", None, (), True, DEFAULT_FILE_TEMPLATE, ()
    )
    result = LintResult(
        (EnvironmentResult(environment, None, GraphSummary(1, ("a",), ("a",))),), [finding]
    )
    plain = render_plain(result, tmp_path)
    # None only for a raw tab (rich expands tabs by display cells), which escaping removes.
    assert plain is not None
    assert plain == _rich(result, tmp_path)


def test_wants_rich_follows_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    for name in ("TTY_COMPATIBLE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    cases = [({}, None), ({"FORCE_COLOR": "1"}, None), ({"FORCE_COLOR": ""}, None)]
    cases += [({"TTY_COMPATIBLE": "1"}, None), ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, None)]
    cases += [({}, True), ({}, False), ({"FORCE_COLOR": "1"}, False)]
    for environ, color in cases:
        with monkeypatch.context() as patch:
            for name, value in environ.items():
                patch.setenv(name, value)
            stream = io.StringIO()
            console = Console(file=stream, force_terminal=color)
            assert wants_rich(color, stream) == console.is_terminal, (environ, color)


def _modules_after(args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, bool]:
    return _run_noting_modules(args, cwd, env)[0]


def _run_noting_modules(
    args: list[str], cwd: Path, env: dict[str, str]
) -> tuple[dict[str, bool], str]:
    """Run the command line in a fresh interpreter (stdout a pipe): which heavy modules did it
    import, and what did it print?"""
    code = (
        "import json, sys\n"
        "from chainlint.entry import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "names = ('networkx', 'rich', 'libcst', 'click', 'chainlint.graph', 'chainlint.lint',\n"
        "         'chainlint.read', 'chainlint.ops', 'chainlint.constants', 'chainlint.edits',\n"
        "         'tomllib', 'tempfile')\n"
        "sys.stderr.write(json.dumps({n: n in sys.modules for n in names}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return dict(json.loads(done.stderr.strip().splitlines()[-1])), done.stdout


def _environ_without_colour() -> dict[str, str]:
    """This environment, less what would make the output a colour terminal's."""
    return {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    write_tree(
        tmp_path / "versions",
        {"a.py": migration("a", None), "b.py": migration("b", "a"), "c.py": migration("c", "x")},
    )
    environ = _environ_without_colour()
    environ["CHAINLINT_CACHE_DIR"] = str(tmp_path / "cache")
    return tmp_path, environ


def test_warm_check_imports_neither_networkx_nor_rich(project: tuple[Path, dict[str, str]]) -> None:
    root, environ = project
    cold = _modules_after(["check", "versions"], root, environ)
    assert cold["networkx"] and not cold["rich"]  # a graph was built; output is a pipe
    warm = _modules_after(["check", "versions"], root, environ)
    assert not warm["networkx"] and not warm["chainlint.graph"] and not warm["rich"]
    assert not warm["libcst"]
    # Nor the reader: no file is read when the result cache answers.
    assert not warm["chainlint.read"] and not warm["chainlint.ops"]
    assert not warm["chainlint.constants"] and not warm["chainlint.edits"]
    # Nor what only a pyproject.toml to parse or a report file to write needs.
    assert not warm["tomllib"] and not warm["tempfile"]


@pytest.mark.parametrize(
    ("files", "codes", "walks_a_graph"),
    [
        # Two heads on one branch, nothing broken: CL010 needs no ancestry walk.
        ({"a.py": ("a", None), "b.py": ("b", "a"), "c.py": ("c", "a")}, {"CL010"}, False),
        # Beside an orphan base, CL010 asks which bases each head reaches.
        ({"a.py": ("a", None), "b.py": ("b", "a"), "x.py": ("x", None)}, {"CL011"}, True),
        # A broken down_revision: CL010 asks which heads it cut off.
        ({"a.py": ("a", None), "b.py": ("b", "a"), "c.py": ("c", "x")}, {"CL001"}, True),
        # A cycle: CL004 asks whether Alembic would notice it.
        ({"a.py": ("a", None), "b.py": ("b", "c"), "c.py": ("c", "b")}, {"CL004"}, True),
    ],
    ids=["fork", "orphan-base", "broken-reference", "cycle"],
)
def test_networkx_only_where_a_rule_walks_its_graph(
    tmp_path: Path, files: dict[str, tuple[str, str | None]], codes: set[str], walks_a_graph: bool
) -> None:
    write_tree(tmp_path / "versions", {name: migration(*ids) for name, ids in files.items()})
    environ = _environ_without_colour()
    environ["CHAINLINT_NO_CACHE"] = "1"
    args = ["check", "--format", "json", "versions"]
    modules, printed = _run_noting_modules(args, tmp_path, environ)
    assert modules["networkx"] == walks_a_graph
    # The same run still reports what the tree has, whether networkx was needed or not.
    assert codes <= {finding["code"] for finding in json.loads(printed)["findings"]}


def test_rich_only_when_colour_is_forced(project: tuple[Path, dict[str, str]]) -> None:
    root, environ = project
    assert _modules_after(["check", "versions", "--color"], root, environ)["rich"]
    assert _modules_after(["check", "versions"], root, {**environ, "FORCE_COLOR": "1"})["rich"]
    assert not _modules_after(["check", "versions", "--no-color"], root, environ)["rich"]


def test_version_imports_no_pipeline(project: tuple[Path, dict[str, str]]) -> None:
    root, environ = project
    modules = _modules_after(["--version"], root, environ)
    assert not any(modules.values())  # not even click


def test_version_fast_path_prints_what_click_prints(project: tuple[Path, dict[str, str]]) -> None:
    root, environ = project
    outputs = []
    for module in ("chainlint.entry", "chainlint.cli"):
        done = subprocess.run(
            [sys.executable, "-c", f"from {module} import main; main()", "--version"],
            cwd=root,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        outputs.append((done.returncode, done.stdout, done.stderr))
    assert outputs[0] == outputs[1] == (0, f"chainlint, version {__version__}\n", "")


def _slow_decode(data: bytes) -> tuple[str, str]:
    import tokenize

    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding), encoding


def _outcome(decode: object, data: bytes) -> object:
    try:
        return decode(data)  # type: ignore[operator]
    except (SyntaxError, LookupError, ValueError) as exc:
        return type(exc), str(exc)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"x = 1\n",
        b"\xef\xbb\xbfx = 1\n",
        b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nx = 1\n",
        b"# -*- coding: latin-1 -*-\nx = '\xe9'\n",
        b"#!/usr/bin/env python\n# coding=latin-1\nx = '\xe9'\n",
        b"x = 1\n# coding: latin-1\ny = '\xe9'\n",
        b"# comment\n\n# coding: latin-1\nx = '\xe9'\n",
        b"# coding: undefined\n",
        b"# coding: utf-16\n",
        b"x = '\xe9'\n",
        b"# \xe9 comment\nx = 1\n",
        b"x = 1\ny = '\xff\xfe'\n",
        b"x = '\xed\xa0\x80'\n",
        b"a = 1\rb = 2\r# coding: latin-1\r",
        b"'''doc\r\n'''\r\nrevision = 'a'\r\n",
        "revision = 'ünïcode'\n".encode(),
    ],
)
def test_fast_decoding_agrees_with_tokenize(data: bytes) -> None:
    from chainlint.source import decode_source

    assert _outcome(decode_source, data) == _outcome(_slow_decode, data)


def test_fast_decoding_agrees_on_every_fixture_file() -> None:
    from chainlint.source import decode_source

    for path in FIXTURES.rglob("*.py"):
        data = path.read_bytes()
        assert _outcome(decode_source, data) == _outcome(_slow_decode, data), path


def _expressions(source: str) -> list[ast.expr]:
    return [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.expr)]


def test_fast_unparse_is_ast_unparse() -> None:
    """The operation reader's column types and defaults: the fast path must give ast.unparse's
    string for every expression, in the fixtures, the real-world trees when cached, and odd
    cases."""
    from chainlint.ops import unparse

    sources = [p.read_text(encoding="utf-8", errors="replace") for p in FIXTURES.rglob("*.py")]
    trees = Path.home() / ".cache" / "chainlint-realworld" / "trees"
    if trees.is_dir():
        sources += [
            p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(trees.rglob("versions/*.py"))[:400]
        ]
    sources.append(
        "f(sa.String(length=50), 'it''s', \"it's\", 'a\\\\b', 'tab\\t', 'é', b'x', u'u', None,"
        " True, 1, -1, 1.5, 1e309, 10**100, (1).real, x[0], *args, **kw, k=lambda: 0,"
        " sa.text(\"now()\"), sa.Enum('a', 'b', name='e'), f'{x}', (a, b), [a], {a: b})"
    )
    count = 0
    for source in sources:
        try:
            nodes = _expressions(source)
        except SyntaxError:
            continue
        for node in nodes:
            assert unparse(node) == ast.unparse(node), ast.dump(node)
            count += 1
    assert count > 1000


_SHARED_BODY = """op.create_table("things", sa.Column("id", sa.Integer(), nullable=False))
op.create_index("ix_things_id", "things", ["id"])"""


def _shared_within(file: Any) -> None:
    """Equal names and ids are one string object across the records of a file."""
    create, index = file.operations.upgrade
    assert create.table is index.table
    assert create.columns[0].name is index.columns[0]
    assert file.header[0].value is file.revision.items[0].value


def _shared_across(a: Any, b: Any) -> None:
    """... and across files: names, types, header labels, a parent's id."""
    (create, _), (other, _) = a.operations.upgrade, b.operations.upgrade
    assert create.table is other.table
    assert create.columns[0].name is other.columns[0].name
    assert create.columns[0].type is other.columns[0].type
    assert a.revision.items[0].value is b.down_revision.items[0].value
    assert a.header[0].label is b.header[0].label
    assert a.revision.shape is b.revision.shape and a.depends_on.shape is b.depends_on.shape
    assert a.revision.items[0].kind is b.revision.items[0].kind
    assert a.encoding is b.encoding


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the split read forks")
def test_records_share_equal_strings_read_decoded_and_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What 10,000 files keep alive: one string object per distinct name (a table is named in
    four records per file), whether read here, decoded from the read cache or from a helper's
    rows."""
    from chainlint import lint
    from chainlint.cache import decode_file, row_text
    from chainlint.constants import ModuleConstants
    from chainlint.read import read_revision_file

    versions = write_tree(
        tmp_path / "versions",
        {
            "a.py": migration("a1", None, upgrade=_SHARED_BODY),
            "b.py": migration("b1", "a1", upgrade=_SHARED_BODY.replace("ix_", "ix2_")),
        },
    )
    paths = sorted(versions.glob("*.py"))
    read = [read_revision_file(path) for path in paths]
    decoded = [decode_file(f.path, json.loads(row_text(f))) for f in read]
    for files in (read, decoded):
        for file in files:
            _shared_within(file)
        _shared_across(*files)
    # Split: a helper's pickle keeps the sharing within its share (here, one file each).
    monkeypatch.setattr(lint, "SPLIT_THRESHOLD", 1)
    monkeypatch.setenv("CHAINLINT_PROCESSES", "2")
    split = [file for file, _ in lint.read_files(paths, ModuleConstants())]
    assert split == read
    for file in split:
        _shared_within(file)


def test_one_graph_without_dependency_links(tmp_path: Path) -> None:
    """Without a depends_on link that adds an edge, `dag` and `parent_dag` are one DiGraph."""
    from chainlint.discover import discover_environments
    from chainlint.graph import RevisionGraph
    from chainlint.lint import read_environment

    versions = write_tree(
        tmp_path / "versions",
        {"a.py": migration("a", None), "b.py": migration("b", "a", depends_on="a")},
    )
    (environment,) = discover_environments([versions])
    graph = RevisionGraph(environment, read_environment(environment))
    assert graph.dag is graph.parent_dag
    assert list(graph.dag.edges(data=True)) == [("a", "b", {})]
    (versions / "c.py").write_text(migration("c", None, depends_on="b"))
    (environment,) = discover_environments([versions])
    graph = RevisionGraph(environment, read_environment(environment))
    assert graph.dag is not graph.parent_dag
    assert list(graph.dag.edges(data=True)) == [("a", "b", {}), ("b", "c", {"kind": "dependency"})]
