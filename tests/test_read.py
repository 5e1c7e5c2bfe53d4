"""The static reader: every form of identifier, positions, headers, and bad input."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chainlint.constants import ModuleConstants
from chainlint.read import HeaderField, RevisionFile, parse_revision_source, read_revision_file
from chainlint.rules.base import migration
from helpers import write_tree


def read(tmp_path: Path, source: str | bytes, name: str = "m.py") -> RevisionFile:
    path = tmp_path / name
    if isinstance(source, str):
        path.write_text(source, encoding="utf-8")
    else:
        path.write_bytes(source)
    return read_revision_file(path, ModuleConstants())


def test_plain_assignments_with_positions(tmp_path: Path) -> None:
    file = read(tmp_path, "revision = 'abc'\ndown_revision = \"def\"\n")
    assert file.revision_id == "abc"
    assert file.down_revisions == ("def",)
    assert file.revision is not None and file.down_revision is not None
    assert (file.revision.line, file.revision.column) == (1, 12)
    item = file.down_revision.items[0]
    assert (item.line, item.column, item.source) == (2, 17, '"def"')
    assert file.branch_labels is None and file.depends_on is None


def test_typed_template_assignments(tmp_path: Path) -> None:
    source = (
        "from typing import Sequence, Union\n"
        "revision: str = '002'\n"
        "down_revision: Union[str, Sequence[str], None] = '001'\n"
        "branch_labels: Union[str, Sequence[str], None] = None\n"
        "depends_on: Union[str, Sequence[str], None] = None\n"
    )
    file = read(tmp_path, source)
    assert file.revision_id == "002"
    assert file.down_revisions == ("001",)
    assert file.revision is not None and file.revision.annotated
    assert file.branch_labels is not None and file.branch_labels.shape == "none"
    assert not file.is_base


@pytest.mark.parametrize(
    ("value", "expected", "is_base"),
    [
        ("None", (), True),
        ("()", (), True),
        ("[]", (), True),
        ("('a', 'b')", ("a", "b"), False),
        ("['a', 'b']", ("a", "b"), False),
        ("('a',)", ("a",), False),
        ("'''a'''", ("a",), False),
        ("'a' 'b'", ("ab",), False),
        ("''", ("",), False),
    ],
)
def test_down_revision_forms(
    tmp_path: Path, value: str, expected: tuple[str, ...], is_base: bool
) -> None:
    file = read(tmp_path, f"revision = 'x'\ndown_revision = {value}\n")
    assert file.down_revisions == expected
    assert file.is_base is is_base


def test_module_constants_are_resolved(tmp_path: Path) -> None:
    source = "PARENT = 'p1'\nOTHER: str = 'p2'\nrevision = 'x'\ndown_revision = (PARENT, OTHER)\n"
    file = read(tmp_path, source)
    assert file.down_revisions == ("p1", "p2")
    assert file.down_revision is not None
    assert [i.via for i in file.down_revision.items] == ["PARENT", "OTHER"]


def test_constants_imported_from_project_modules(tmp_path: Path) -> None:
    # OpenStack neutron: branch_labels = (cli.EXPAND_BRANCH,) with the constant in another module.
    package = tmp_path / "neutron" / "db" / "migration"
    package.mkdir(parents=True)
    for folder in (tmp_path / "neutron", tmp_path / "neutron" / "db", package):
        (folder / "__init__.py").write_text("", encoding="utf-8")
    (package / "cli.py").write_text(
        "import os\nEXPAND_BRANCH = 'expand'\nCONTRACT_BRANCH = 'contract'\n", encoding="utf-8"
    )
    (package / "__init__.py").write_text("LIBERTY = 'liberty'\n", encoding="utf-8")
    versions = package / "alembic_migrations" / "versions"
    versions.mkdir(parents=True)
    source = (
        "from neutron.db.migration import cli\n"
        "from neutron.db import migration\n"
        "import neutron.db.migration.cli as cli2\n"
        "from neutron.db.migration.cli import CONTRACT_BRANCH as CB\n"
        "revision = 'x'\n"
        "down_revision = migration.LIBERTY\n"
        "branch_labels = (cli.EXPAND_BRANCH, cli2.CONTRACT_BRANCH, CB)\n"
    )
    file = read(versions, source)
    assert file.labels == ("expand", "contract", "contract")
    assert file.down_revisions == ("liberty",)
    assert package / "cli.py" in file.used_modules


def test_unresolvable_values_are_dynamic(tmp_path: Path) -> None:
    source = (
        "import os\nfrom somewhere_else import PARENT\n"
        "revision = 'x'\ndown_revision = PARENT\nbranch_labels = (os.environ['L'],)\n"
    )
    file = read(tmp_path, source)
    assert file.down_revision is not None and file.down_revision.shape == "dynamic"
    assert file.down_revisions == ()
    assert file.branch_labels is not None and file.branch_labels.unresolved


def test_conditional_assignment_is_dynamic(tmp_path: Path) -> None:
    file = read(
        tmp_path, "import sys\nif sys.argv:\n    revision = 'a'\nelse:\n    revision = 'b'\n"
    )
    assert file.revision is not None and file.revision.shape == "dynamic"
    assert file.revision_id is None


def test_last_assignment_wins_and_tuple_unpacking(tmp_path: Path) -> None:
    file = read(tmp_path, "revision = 'a'\nrevision = 'b'\nrevision, down_revision = 'c', 'd'\n")
    assert file.revision_id == "c"
    assert file.down_revisions == ("d",)


def test_legacy_revision_from_file_name(tmp_path: Path) -> None:
    assert read(tmp_path, "down_revision = None\n", name="ab12ef.py").revision_id == "ab12ef"
    assert read(tmp_path, "down_revision = None\n", name="helper.py").revision_id is None


def test_docstring_header(tmp_path: Path) -> None:
    source = (
        '"""add users\n\nRevision ID: 002\nRevises: 001, 0011\nCreate Date: 2024-01-01\n\n"""\n'
        "revision = '002'\ndown_revision = ('001', '0011')\n"
    )
    file = read(tmp_path, source)
    header = file.header_field("Revision ID")
    assert header is not None and (header.value, header.line, header.column) == ("002", 3, 14)
    revises = file.header_field("Revises")
    assert revises is not None and revises.value == "001, 0011"
    assert file.docstring_lines == (1, 7)


HEADER_LAYOUTS = (
    '"""x\n\nRevision ID: a\nRevises: b\nCreate Date: c\n\n"""\n',
    '"""Revision ID: a\r\nRevises: b, c\r\nCreate Date: d"""\r\n',
    "'''x\rRevision ID: a\r  Revises:  b  \rRevises: c\r'''\r",
    'r"""x\n\tRevision ID :a\nRevises: b\'\'\'\nCreate Date:"""\n',
    '"""x\nRevises: a"""\n',
    '"""x\n# Revision ID: a\nRevision IDs: b\nRevises a\n\n   Create Date:   é  \n"""\n',
    '"""x\nRevision ID: a\nRevision ID: b\n"""\n',
    '"""\nRevision ID: a"""\n',
)


# A header line, as first defined: the reader's faster pattern must find what this one finds.
HEADER_LINE = re.compile(
    r"^(?P<prefix>[ \t]*)(?P<label>Revision ID|Revises|Create Date)[ \t]*:"
    r"[ \t]*(?P<value>[^\r\n]*?)[ \t]*$",
    re.MULTILINE,
)


@pytest.mark.parametrize("docstring", HEADER_LAYOUTS)
def test_header_is_what_each_line_matched_alone_gives(docstring: str) -> None:
    """The header is read with one search over the docstring's lines: the same fields,
    values and positions as matching each source line on its own."""
    from chainlint.read import _read_header, split_lines

    source = docstring + "revision = 'a'\n"
    module = ast.parse(source)
    lines = split_lines(source)
    first = module.body[0]
    start, end = first.lineno, first.end_lineno or first.lineno
    expected = _header_by_line(lines, start, end)
    assert expected
    assert _read_header(module, lines) == ((start, end), tuple(expected.values()))


def _header_by_line(lines: list[str], start: int, end: int) -> dict[str, HeaderField]:
    """The header as matching each of the docstring's source lines on its own finds it."""
    expected: dict[str, HeaderField] = {}
    for number in range(start, min(end, len(lines)) + 1):
        match = HEADER_LINE.match(lines[number - 1])
        if match and match.group("label") not in expected:
            value = match.group("value")
            if number == end:
                value = value.rstrip("\"'").rstrip()
            label = match.group("label")
            expected[label] = HeaderField(label, value, number, match.start("value") + 1)
    return expected


def _reference_noqa(text: str) -> tuple[tuple[int, frozenset[str] | None], ...]:
    """The noqa reading as first written: every line searched."""
    import re

    from chainlint.read import _NOQA, split_lines

    if "noqa" not in text.lower():
        return ()
    result = []
    for number, line in enumerate(split_lines(text), start=1):
        match = _NOQA.search(line)
        if match:
            codes = match.group("codes")
            result.append(
                (number, frozenset(re.findall(r"[A-Z]+[0-9]+", codes.upper())) if codes else None)
            )
    return tuple(result)


NOQA_PIECES = st.sampled_from(
    [
        *"#: ,\t\n\r x",
        *("noqa", "NOQA", "NoQa", "# noqa", "#noqa:CL001", "# noqa: cl006, E402", "\r\n"),
        *("\u0130", "\u212a", "\u017f", "\u2028", "\x85", "\u0149", "\ufb00", "\u1e9e"),
    ]
)


@given(st.one_of(st.text(), st.lists(NOQA_PIECES, max_size=20).map("".join)))
@example("x = 1  # noqa: E402\n\u0130\u0130\ny = 2  # NOQA\r\nz  # noqa:CL001,CL002\r")
def test_noqa_lines_are_what_searching_every_line_finds(text: str) -> None:
    from chainlint.read import _read_noqa, split_lines

    assert _read_noqa(text) == _reference_noqa(text)
    assert _read_noqa(text, split_lines(text)) == _reference_noqa(text)


HEADER_PIECES = st.sampled_from(
    [
        *("Revision ID", "Revises", "Create Date", "Revision IDs", "# Revision ID", "Revises:"),
        *(":", " ", "\t", "\n", "\r\n", "\r", "a", "\u00e9", "'", '\\"', "x\\ny", "\u2028", "\x0c"),
    ]
)


@given(st.lists(HEADER_PIECES, max_size=24).map("".join), st.sampled_from(['"""', "'''"]))
@example("x\nRevision ID: a\r\nRevises:  b \rCreate Date:\t1", '"""')
def test_header_of_generated_docstrings_is_what_each_line_matched_alone_gives(
    body: str, quotes: str
) -> None:
    """The docstring's lines matched one by one, as the header test above does it."""
    from chainlint.read import _read_header, split_lines

    source = f"{quotes}{body}{quotes}\nrevision = 'a'\n"
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    first = module.body[0]
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)):
        return
    lines = split_lines(source)
    start, end = first.lineno, first.end_lineno or first.lineno
    expected = _header_by_line(lines, start, end)
    assert _read_header(module, lines) == ((start, end), tuple(expected.values()))


def test_empty_revises_header(tmp_path: Path) -> None:
    file = read(tmp_path, '"""x\n\nRevision ID: a\nRevises:\n"""\nrevision = "a"\n')
    revises = file.header_field("Revises")
    assert revises is not None and revises.value == ""


def test_noqa_comments(tmp_path: Path) -> None:
    file = read(tmp_path, "revision = 'a'  # noqa: CL006, CL104\ndown_revision = None  # noqa\n")
    assert file.is_suppressed(1, "CL006") and file.is_suppressed(1, "CL104")
    assert not file.is_suppressed(1, "CL001")
    assert file.is_suppressed(2, "CL001")


def test_noqa_in_any_case(tmp_path: Path) -> None:
    """The cheap "any noqa at all?" test before the line scan ignores case as the scan does."""
    for word in ("NOQA", "NoQa", "nOqA"):
        file = read(tmp_path, f"revision = 'a'  # {word}: cl006\ndown_revision = None\n")
        assert file.is_suppressed(1, "CL006") and not file.is_suppressed(1, "CL001"), word


def test_non_ascii_columns_count_characters(tmp_path: Path) -> None:
    file = read(tmp_path, "revision = 'a'; x = 'é'; down_revision = 'b'\n")
    assert file.down_revision is not None
    assert file.down_revision.items[0].column == 42


def test_bom_crlf_and_latin1_cookie(tmp_path: Path) -> None:
    bom = read(tmp_path, b"\xef\xbb\xbfrevision = 'a'\r\ndown_revision = None\r\n", "bom.py")
    assert bom.revision_id == "a" and bom.is_base and bom.encoding == "utf-8-sig"
    latin = read(
        tmp_path,
        "# -*- coding: latin-1 -*-\n# caf\xe9\nrevision = 'a'\ndown_revision = None\n".encode(
            "latin-1"
        ),
        "latin.py",
    )
    assert latin.revision_id == "a" and latin.problem is None


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"revision = 'a'\ndef upgrade(:\n", "is not valid Python"),
        (b"\x00\x01\x02binary\xff\xfe", "cannot be decoded"),
        (b"revision = 'a'\x00\n", "NUL bytes"),
        (b"revision = '\xff'\n", "cannot be decoded"),
        (b"# -*- coding: klingon -*-\nrevision = 'a'\n", "cannot be decoded"),
        (b"x = " + b"(" * 300 + b")" * 300 + b"\n", "not valid Python"),
    ],
)
def test_bad_input_becomes_a_problem_not_an_exception(data: bytes, fragment: str) -> None:
    file = parse_revision_source(Path("x.py"), data)
    assert file.problem is not None
    assert fragment in file.problem.message


def test_empty_file_reads_as_no_identifiers(tmp_path: Path) -> None:
    file = read(tmp_path, "")
    assert file.problem is None and file.revision is None and file.down_revision is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("revision = 'a'\n", encoding="utf-8")
    path.chmod(0)
    file = read_revision_file(path)
    assert file.problem is not None and "cannot be read" in file.problem.message


def test_permission_error_becomes_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.py"
    path.write_text("revision = 'a'\n", encoding="utf-8")

    def denied(name: object, flags: int, mode: int = 0o777) -> int:
        raise PermissionError(13, "Permission denied", str(name))

    monkeypatch.setattr(os, "open", denied)
    file = read_revision_file(path)
    assert file.problem is not None
    assert file.problem.message == "cannot be read: Permission denied"


def test_symlink_loop_file(tmp_path: Path) -> None:
    (tmp_path / "a.py").symlink_to(tmp_path / "b.py")
    (tmp_path / "b.py").symlink_to(tmp_path / "a.py")
    file = read_revision_file(tmp_path / "a.py")
    assert file.problem is not None and "cannot be read" in file.problem.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ()),
        ("None", ()),
        ("a1", ("a1",)),
        ("a1, b2", ("a1", "b2")),
        ("('a1', 'b2')", ("a1", "b2")),
        ("'a1'", ("a1",)),
        ("['a1', \"b2\"]", ("a1", "b2")),
    ],
)
def test_revises_header_forms(value: str, expected: tuple[str, ...]) -> None:
    from chainlint.read import header_revises

    assert header_revises(value) == expected


# -- Issue 10/11: decide decodability as the interpreter does; per-file failures stay per file --


def _interpreter_accepts(path: Path) -> bool:
    """What the running interpreter's own tokenizer says (import hands the bytes to it)."""
    code = "import ast,sys; ast.parse(open(sys.argv[1],'rb').read())"
    return (
        subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True).returncode == 0
    )


@pytest.mark.parametrize(
    "data",
    [
        b"# caf\xe9\nrevision = 'a'\ndown_revision = None\n",
        b"revision = 'a'  # caf\xe9\ndown_revision = None\n",
        b"revision = 'a'\n# \xff\xfe \xe9\xe9\ndown_revision = None\n",
        b"revision = 'caf\xe9'\ndown_revision = None\n",
        b"'''caf\xe9'''\nrevision = 'a'\ndown_revision = None\n",
        b"revision = 'a'\ndown_revision = None\nx = b'\xe9'\n",
        b"# -*- coding: latin-1 -*-\nrevision = 'caf\xe9'\ndown_revision = None\n",
        b"\xef\xbb\xbf# caf\xe9\nrevision = 'a'\ndown_revision = None\n",
    ],
    ids=[
        "first-line-comment",
        "trailing-comment",
        "own-line-comment",
        "string",
        "docstring",
        "bytes-literal",
        "latin1-cookie",
        "bom-comment",
    ],
)
def test_undecodable_bytes_follow_the_interpreter(tmp_path: Path, data: bytes) -> None:
    """A latin-1 byte in a comment without a coding cookie: CPython imports the file, so it is
    not CL009; the same byte in a string is."""
    path = tmp_path / "m.py"
    path.write_bytes(data)
    file = read_revision_file(path)
    accepted = _interpreter_accepts(path)
    assert (file.problem is None) == accepted, file.problem
    if accepted:
        assert file.revision_id in ("a", "café") and file.is_base


def test_positions_and_noqa_survive_a_bad_byte_in_a_comment(tmp_path: Path) -> None:
    data = (
        b"revision = 'b'  # caf\xe9\n"
        b"x = '\xc3\xa9'; down_revision = 'zz'  # noqa: CL001 \xff\n"
        b"# Revises: \xe9 a\n"
    )
    file = read(tmp_path, data)
    assert file.problem is None and file.down_revision is not None
    assert (file.down_revision.line, file.down_revision.column) == (2, 26)
    assert file.is_suppressed(2, "CL001")


def test_unknown_coding_cookies_are_cl009(tmp_path: Path) -> None:
    for codec in ("undefined", "punycode", "klingon"):
        file = read(tmp_path, f"# coding: {codec}\nrevision = 'a'\n".encode(), f"{codec}.py")
        assert file.problem is not None and "cannot be decoded" in file.problem.message, codec
        assert _interpreter_accepts(tmp_path / f"{codec}.py") is False


def test_idna_cookie_with_a_long_line_follows_the_interpreter(tmp_path: Path) -> None:
    data = b"# coding: idna\nrevision = '" + b"a" * 5000 + b"'\ndown_revision = None\n"
    path = tmp_path / "m.py"
    path.write_bytes(data)
    file = read_revision_file(path)
    assert (file.problem is None) == _interpreter_accepts(path)


def test_a_long_attribute_chain_is_dynamic_not_a_crash(tmp_path: Path) -> None:
    """`down_revision = x.a.a...` x1000 raised RecursionError in `_dotted`."""
    file = read(tmp_path, "revision = 'b'\ndown_revision = x" + ".a" * 1000 + "\n")
    assert file.problem is None and file.down_revision is not None
    assert file.down_revision.shape == "dynamic"


@pytest.mark.parametrize(
    "data",
    [
        b"x = " + b"-" * 100_000 + b"1\n",  # MemoryError in the parser
        b"x = " + b"1+" * 100_000 + b"1\n",  # RecursionError building the tree
    ],
)
def test_parser_exhaustion_is_cl009(data: bytes) -> None:
    file = parse_revision_source(Path("m.py"), b"revision = 'a'\ndown_revision = None\n" + data)
    assert file.problem is not None and "cannot be parsed" in file.problem.message
    # The tolerant scan still recovers the identifiers.
    assert file.revision_id == "a" and file.is_base


def test_any_exception_while_reading_is_cl009_and_the_run_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chainlint import read as read_module
    from chainlint.lint import lint_paths

    versions = write_tree(
        tmp_path / "versions",
        {"a.py": migration("a", None), "b.py": migration("b", "a"), "c.py": migration("c", "x")},
    )
    real = read_module._read_header

    def exploding(module: ast.Module, text: str) -> object:
        if "revision = 'b'" in text:
            raise RuntimeError("boom")
        return real(module, text)

    monkeypatch.setattr(read_module, "_read_header", exploding)
    result = lint_paths([versions])
    assert [(f.code, f.path.name) for f in result.errors] == [("CL009", "b.py")]
    (finding,) = result.errors
    assert "cannot be read: RuntimeError: boom" in finding.message


# -- Limits: size, regular files only -----------------------------------------------------------


def test_a_file_above_the_size_limit_is_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("revision = 'a'\ndown_revision = None\n" + "# padding\n" * 200)
    file = read_revision_file(path, max_size=1000)
    assert file.problem is not None
    assert file.problem.message == "cannot be read: too large (2,036 bytes; max-file-size is 1,000)"
    assert parse_revision_source(path, path.read_bytes(), max_size=1000).problem == file.problem
    assert read_revision_file(path).problem is None  # the default is 5 MB


def test_max_file_size_from_the_command_line_and_the_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainlint.cli import main

    versions = write_tree(
        tmp_path / "versions",
        {"a.py": migration("a", None), "b.py": migration("b", "a") + "#" * 5000 + "\n"},
    )
    with pytest.raises(SystemExit) as exited:
        main(["check", "--no-cache", "--max-file-size", "4000", str(versions)])
    out = capsys.readouterr().out
    assert exited.value.code == 1 and "CL009" in out and "too large (5," in out
    assert "CL001" not in out  # the hole is unknown, not absent
    (tmp_path / "pyproject.toml").write_text("[tool.chainlint]\nmax-file-size = 4000\n")
    with pytest.raises(SystemExit) as exited:
        main(["check", "--no-cache", "--config", str(tmp_path / "pyproject.toml"), str(versions)])
    assert exited.value.code == 1 and "too large" in capsys.readouterr().out


def test_a_fifo_is_a_finding_and_does_not_hang(tmp_path: Path) -> None:
    from chainlint.lint import lint_paths

    versions = write_tree(tmp_path / "versions", {"a.py": migration("a", None)})
    os.mkfifo(versions / "b.py")
    result = lint_paths([versions])
    (finding,) = result.errors
    assert finding.code == "CL009" and finding.path.name == "b.py"
    assert "not a regular file (a FIFO)" in finding.message


def test_a_character_device_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    file = read_revision_file(tmp_path / "zero.py")
    assert file.problem is not None
    assert file.problem.message == "cannot be read: not a regular file (a character device)"


# -- A file with a syntax error keeps its place in the graph ------------------------------------


def test_tolerant_scan_recovers_identifiers_of_an_unparseable_file(tmp_path: Path) -> None:
    source = (
        '"""broken\n\nRevision ID: b\n"""\n'
        "revision: str = 'b'\n"
        "down_revision = (\n    'a1',  # first\n    'a2',\n)\n"
        "branch_labels = None\n"
        "depends_on = helpers.X\n"
        "def upgrade(:\n    pass\n"
    )
    file = read(tmp_path, source)
    assert file.problem is not None and "is not valid Python" in file.problem.message
    assert file.revision_id == "b" and file.down_revisions == ("a1", "a2")
    assert file.down_revision is not None and file.down_revision.items[1].line == 8
    assert file.depends_on is not None and file.depends_on.shape == "dynamic"


def test_unparseable_assignment_is_unknown_not_absent(tmp_path: Path) -> None:
    file = read(tmp_path, "revision = 'b'\ndown_revision = ('a',\ndef upgrade(:\n")
    assert file.revision_id == "b"
    assert file.down_revision is not None and file.down_revision.shape == "dynamic"


def test_syntax_error_in_the_middle_of_a_chain_is_the_one_error(tmp_path: Path) -> None:
    """The child of an unparseable file reported CL001 and wrong heads; the summary counted one
    revision too few."""
    from chainlint.lint import lint_paths

    versions = write_tree(
        tmp_path / "versions",
        {
            "a.py": migration("a", None),
            "b.py": migration("b", "a").replace("def upgrade():", "def upgrade(:"),
            "c.py": migration("c", "b"),
        },
    )
    result = lint_paths([versions])
    assert [(f.code, f.path.name) for f in result.findings] == [("CL009", "b.py")]
    (environment,) = result.environments
    assert environment.summary.revisions == 3
    assert environment.summary.heads == ("c",) and environment.summary.bases == ("a",)


def test_bulk_work_leaves_what_it_made_out_of_later_collections() -> None:
    """After bulk reading, the collector is back on and what was made meanwhile is frozen: the
    next collection does not walk the thousands of records read (it used to, to free nothing)."""
    import gc

    from chainlint.lint import bulk_work

    assert gc.isenabled()
    with bulk_work():
        assert not gc.isenabled()
        made = [[index] for index in range(20_000)]
    try:
        assert gc.isenabled()
        assert gc.get_count()[0] < 1_000
        assert gc.get_freeze_count() >= len(made)
    finally:
        gc.unfreeze()


def test_literal_assignments_read_as_the_general_path_reads_them() -> None:
    """`_constant_assignment`'s shortcut for a one-line literal in an ASCII file gives what
    `_position` and `_literal` give, for every literal of every fixture and real migration."""
    from chainlint.read import Assignment, _ModuleReader, split_lines
    from realworld_trees import cache_root

    def reference(reader: _ModuleReader, node: ast.Constant) -> Assignment:
        line, column = reader._position(node)
        if node.value is None:
            return Assignment("revision", line, column, "none", (), True)
        item = reader._literal(node, line, column)
        return Assignment("revision", line, column, "scalar", (item,), True)

    paths = sorted((Path(__file__).resolve().parent.parent / "fixtures").rglob("*.py"))
    trees = cache_root() / "trees"
    if trees.is_dir():
        paths += sorted(trees.rglob("*.py"))[::5]
    sources = ["x = 'é'\ny = 'a'\nz = (\n  'b'\n)\nw = b'\\xff'\nv = 1.5\nu = None\n"]
    sources += [path.read_bytes().decode("utf-8", "replace") for path in paths]
    compared = 0
    for source in sources:
        try:
            module = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        reader = _ModuleReader(Path("a.py"), source, ModuleConstants(), split_lines(source))
        for node in ast.walk(module):
            if isinstance(node, ast.Constant):
                got = reader._constant_assignment("revision", node, True)
                assert got == reference(reader, node), (source[:80], node.lineno)
                compared += 1
    assert compared > 1000


@pytest.mark.parametrize("size", [0, 1, 999, 1000])
def test_a_regular_file_is_read_whole(tmp_path: Path, size: int) -> None:
    from chainlint.source import read_regular_file

    path = tmp_path / "m.py"
    path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    assert read_regular_file(path, 1000) == path.read_bytes()


@pytest.mark.parametrize(
    ("written", "fstat_says", "expected"),
    [
        (1500, 10, "read"),  # it grew after fstat: read to its end
        (2036, 10, "too large"),  # grew beyond the limit after fstat
        (10, 1500, "read"),  # it shrank: what is there
        (1000, 999, "read"),
    ],
)
def test_a_file_that_changes_size_after_fstat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: int, fstat_says: int, expected: str
) -> None:
    import chainlint.source as source

    path = tmp_path / "m.py"
    path.write_bytes(b"y" * written)
    real = os.fstat

    def stale(descriptor: int) -> os.stat_result:
        status = list(real(descriptor))
        status[6] = fstat_says  # st_size, as the file was a moment before
        return os.stat_result(status)

    monkeypatch.setattr(source.os, "fstat", stale)
    if expected == "too large":
        with pytest.raises(source.NotReadable, match="too large"):
            source.read_regular_file(path, 2000)
    else:
        assert source.read_regular_file(path, 2000) == b"y" * written


def test_a_file_that_cannot_be_parsed_gets_only_its_cl009(tmp_path: Path) -> None:
    """What the tolerant scan recovers of an unparseable file serves the graph, but the file
    gets no finding besides CL009: its unknown parent, long id and stale header are not
    reported."""
    from chainlint.lint import lint_paths

    long_id = "b" * 40
    broken = migration(long_id, "x", revises_header="stale").replace(
        "def upgrade():", "def upgrade(:"
    )
    versions = write_tree(tmp_path / "versions", {"a.py": migration("a", None), "b.py": broken})
    result = lint_paths([versions])
    assert [(f.code, f.path.name) for f in result.findings] == [("CL009", "b.py")]
