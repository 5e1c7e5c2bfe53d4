"""One migration file's text -> RevisionFile. Parses with `ast`; never imports, executes or
compiles a migration to bytecode."""

from __future__ import annotations

import ast
import bisect
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from chainlint.config import DEFAULT_MAX_FILE_SIZE
from chainlint.constants import ConstantValue, ModuleConstants
from chainlint.ops import MigrationOperations, read_operations
from chainlint.records import record
from chainlint.source import (
    NotReadable,
    decode_source,
    lenient_encoding,
    read_regular_file,
    too_large,
)

IDENTIFIER_NAMES = ("revision", "down_revision", "branch_labels", "depends_on")

# Alembic takes the id from the file name when a module declares no `revision` (legacy 0.1 files).
LEGACY_REVISION_FILE = re.compile(r"([a-f0-9]+)\.py$")

# A header line: the label, then the value up to the line's end, its spaces and tabs stripped
# after (a lazy value before `[ \t]*$` costs a backtrack per character; tests/test_read.py keeps
# that form as the definition).
_HEADER_LINE = re.compile(r"[ \t]*(Revision ID|Revises|Create Date)[ \t]*:[ \t]*([^\r\n]*)")
# OpenStack projects write the header as comments: `# Revision ID: abc`.
_COMMENT_HEADER_LINE = re.compile(
    r"^(?P<prefix>[ \t]*#[ \t]*)(?P<label>Revision ID|Revises|Create Date)[ \t]*:"
    r"[ \t]*(?P<value>[^\r\n]*?)[ \t]*$"
)
_NOQA = re.compile(
    r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """The text's lines as Python counts them (CR LF, CR or LF), split once per file."""
    return text.split("\n") if "\r" not in text else _LINE_BREAK.split(text)


@record
class Identifier:
    """One identifier as written in the file."""

    # The string, or None when it is not a string the reader could resolve.
    value: str | None
    line: int
    column: int
    # The expression as written, for messages.
    source: str
    # "str" for a string; "dynamic" when computed; otherwise the literal's type ("int", ...).
    kind: str = "str"
    # The module-level or imported constant the value was resolved through, if any.
    via: str | None = None


AssignmentShape = Literal["none", "scalar", "sequence", "dynamic"]


@record
class Assignment:
    """A module-level `revision`, `down_revision`, `branch_labels` or `depends_on`."""

    name: str
    line: int
    column: int
    shape: AssignmentShape
    items: tuple[Identifier, ...] = ()
    annotated: bool = False

    @property
    def strings(self) -> tuple[str, ...]:
        return tuple(item.value for item in self.items if item.value is not None)

    @property
    def unresolved(self) -> tuple[Identifier, ...]:
        return tuple(item for item in self.items if item.value is None)


# `name = None` at one position is one record, however many files say it (files made from one
# template: 10k revisions, ~1.6 MB), as is each docstring line span.
_NONE_ASSIGNMENTS: dict[tuple[str, int, int, bool], Assignment] = {}
_SPANS: dict[tuple[int, int], tuple[int, int]] = {}


def none_assignment(name: str, line: int, column: int, annotated: bool) -> Assignment:
    """The shared record of an assignment of None (frozen: sharing it changes nothing)."""
    key = (name, line, column, annotated)
    found = _NONE_ASSIGNMENTS.get(key)
    if found is None:
        found = _NONE_ASSIGNMENTS[key] = Assignment(name, line, column, "none", (), annotated)
    return found


def line_span(start: int, end: int) -> tuple[int, int]:
    span = (start, end)
    return _SPANS.setdefault(span, span)


@record
class HeaderField:
    """A `Revision ID:`/`Revises:`/`Create Date:` line of the module docstring."""

    label: str
    value: str
    line: int
    # Column where the value starts (1-based).
    column: int


@record
class ReadProblem:
    """Why a file could not be read (CL009)."""

    message: str
    line: int = 1
    column: int = 1


@record
class RevisionFile:
    path: Path
    revision: Assignment | None = None
    down_revision: Assignment | None = None
    branch_labels: Assignment | None = None
    depends_on: Assignment | None = None
    header: tuple[HeaderField, ...] = ()
    problem: ReadProblem | None = None
    # The id Alembic takes from the file name when the module declares no `revision`.
    legacy_revision: str | None = None
    # (line, codes) for each noqa comment; codes None means every code.
    noqa: tuple[tuple[int, frozenset[str] | None], ...] = ()
    # Line ranges of the module docstring (start, end), when there is one.
    docstring_lines: tuple[int, int] | None = None
    encoding: str = "utf-8"
    # Other modules whose constants this file's identifiers were resolved from.
    used_modules: tuple[Path, ...] = ()
    # The first line of the module docstring: the message `alembic history` shows.
    message: str = ""
    # What upgrade()/downgrade() do (chainlint/ops.py); None when the file could not be parsed.
    operations: MigrationOperations | None = None

    @property
    def unscanned(self) -> bool:
        """Whether nothing of the file could be looked at (its identifiers are unknown)."""
        return self.problem is not None and self.problem.message.startswith("cannot be read")

    @property
    def revision_id(self) -> str | None:
        """The id Alembic would give this file, when the reader can tell."""
        if self.revision is None:
            return self.legacy_revision
        if self.revision.shape == "scalar" and self.revision.items[0].kind == "str":
            return self.revision.items[0].value
        return None

    @property
    def down_revisions(self) -> tuple[str, ...]:
        return self.down_revision.strings if self.down_revision else ()

    @property
    def dependencies(self) -> tuple[str, ...]:
        return self.depends_on.strings if self.depends_on else ()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.branch_labels.strings if self.branch_labels else ()

    @property
    def is_base(self) -> bool:
        """Alembic's `Revision.is_base`: `down_revision` is None, `()` or `[]`."""
        dr = self.down_revision
        return dr is not None and (dr.shape == "none" or (dr.shape == "sequence" and not dr.items))

    def header_field(self, label: str) -> HeaderField | None:
        for header_field in self.header:
            if header_field.label == label:
                return header_field
        return None

    def is_suppressed(self, line: int, code: str) -> bool:
        for noqa_line, codes in self.noqa:
            if noqa_line == line and (codes is None or code in codes):
                return True
        return False


def read_revision_file(
    path: Path, constants: ModuleConstants | None = None, max_size: int = DEFAULT_MAX_FILE_SIZE
) -> RevisionFile:
    """Read one migration file. Problems become `RevisionFile.problem`, never exceptions: only
    a regular file of at most `max_size` bytes is read (a FIFO would block, a device never
    ends)."""
    try:
        data = read_regular_file(path, max_size)
    except NotReadable as exc:
        return RevisionFile(path=path, problem=ReadProblem(f"cannot be read: {exc}"))
    except OSError as exc:
        return RevisionFile(
            path=path, problem=ReadProblem(f"cannot be read: {exc.strerror or exc}")
        )
    return parse_revision_source(path, data, constants, max_size)


def parse_revision_source(
    path: Path,
    data: bytes,
    constants: ModuleConstants | None = None,
    max_size: int = DEFAULT_MAX_FILE_SIZE,
) -> RevisionFile:
    """Parse one file's bytes. Anything that goes wrong on one file is a problem (CL009) on
    that file, never an exception."""
    if len(data) > max_size:
        return RevisionFile(
            path=path, problem=ReadProblem(f"cannot be read: {too_large(len(data), max_size)}")
        )
    try:
        return _parse(path, data, constants or ModuleConstants())
    except Exception as exc:  # one file's failure stays on that file
        return RevisionFile(
            path=path,
            problem=ReadProblem(f"cannot be read: {type(exc).__name__}: {_one_line(exc)}"),
        )


def _parse(path: Path, data: bytes, constants: ModuleConstants) -> RevisionFile:
    try:
        # The bytes, as import hands them to the compiler: the interpreter's own tokenizer
        # decides the encoding (BOM, PEP 263 cookie) and which bytes it accepts (it skips the
        # contents of comments). Nothing is compiled to bytecode.
        module = ast.parse(data, filename=str(path))
    except (SyntaxError, ValueError) as exc:
        return _unparseable(path, data, constants, _parse_problem(data, exc))
    except (RecursionError, MemoryError) as exc:
        problem = ReadProblem(f"cannot be parsed: {type(exc).__name__}: {_one_line(exc)}")
        return _unparseable(path, data, constants, problem)
    text, encoding = _source_text(data)
    lines = split_lines(text)
    reader = _ModuleReader(path, text, constants, lines)
    assignments = reader.read_assignments(module)
    docstring_lines, header = _read_header(module, lines)
    operations = read_operations(module, reader._constant, reader._position)
    legacy = None
    if "revision" not in assignments:
        match = LEGACY_REVISION_FILE.match(path.name)
        legacy = match.group(1) if match else None
    return RevisionFile(
        path=path,
        revision=assignments.get("revision"),
        down_revision=assignments.get("down_revision"),
        branch_labels=assignments.get("branch_labels"),
        depends_on=assignments.get("depends_on"),
        header=header,
        legacy_revision=legacy,
        noqa=_read_noqa(text, lines),
        docstring_lines=docstring_lines,
        encoding=encoding,
        used_modules=tuple(sorted(reader.used_modules)),
        message=_docstring_message(module),
        operations=operations,
    )


def _docstring_message(module: ast.Module) -> str:
    """Alembic's `Script.doc` (the docstring's first paragraph), first line only."""
    doc = ast.get_docstring(module, clean=False)
    lines = doc.strip().splitlines() if doc else []
    return lines[0].strip() if lines else ""


_DECODING_ERRORS = (
    "(unicode error)",
    "unknown encoding",
    "encoding problem",
    "decoding with",
    "Non-UTF-8 code",
)


def _parse_problem(data: bytes, exc: SyntaxError | ValueError) -> ReadProblem:
    if "null bytes" in str(exc) or b"\0" in data:
        try:
            decode_source(data)
        except (SyntaxError, LookupError, UnicodeError) as decode_error:
            return ReadProblem(f"cannot be decoded: {_one_line(decode_error)}")
        return ReadProblem("contains NUL bytes: not Python source (binary file?)")
    if not isinstance(exc, SyntaxError):
        return ReadProblem(f"cannot be parsed: {_one_line(exc)}")
    message = exc.msg or _one_line(exc)
    line = exc.lineno if exc.lineno and exc.lineno > 0 else 1
    column = max(exc.offset or 1, 1)
    if message.startswith(_DECODING_ERRORS):
        return ReadProblem(f"cannot be decoded: {message}", line, column)
    return ReadProblem(f"is not valid Python: {message}", line, column)


def _source_text(data: bytes) -> tuple[str, str]:
    """The text of a file the interpreter accepted, for positions, headers and noqa comments.
    Bytes the tokenizer let through undecoded (in comments) are replaced: they sit after every
    node on their line, so no position moves."""
    try:
        return decode_source(data)
    except (SyntaxError, LookupError, UnicodeError):
        encoding = lenient_encoding(data)
    try:
        return data.decode(encoding, errors="replace"), encoding
    except (LookupError, UnicodeError):  # a codec without a "replace" handler
        return data.decode("utf-8", errors="replace"), encoding


# A module-level identifier assignment, for files the parser refuses (the tolerant scan).
_SCAN = re.compile(
    r"^(?P<name>revision|down_revision|branch_labels|depends_on)[ \t]*(?::[^=\r\n]*)?=(?!=)",
    re.MULTILINE,
)
# How many lines one scanned assignment may span (a long merge tuple).
_SCAN_LINES = 50


def _unparseable(
    path: Path, data: bytes, constants: ModuleConstants, problem: ReadProblem
) -> RevisionFile:
    """A file that cannot be parsed keeps its problem (CL009), and what a tolerant scan
    recovers of its identifiers, so the rest of the graph stays whole."""
    try:
        text, encoding = _source_text(data)
        assignments = _scan_assignments(path, text, constants)
    except Exception:  # the scan is a best effort; the problem is already known
        return RevisionFile(path=path, problem=problem)
    return RevisionFile(
        path=path,
        revision=assignments.get("revision"),
        down_revision=assignments.get("down_revision"),
        branch_labels=assignments.get("branch_labels"),
        depends_on=assignments.get("depends_on"),
        problem=problem,
        noqa=_read_noqa(text),
        encoding=encoding,
    )


def _scan_assignments(path: Path, text: str, constants: ModuleConstants) -> dict[str, Assignment]:
    """Each `revision`/`down_revision`/`branch_labels`/`depends_on` assignment that starts a
    line and parses on its own (with the lines after it, for a long tuple); the last wins."""
    lines = split_lines(text)
    found: dict[str, Assignment] = {}
    reader = _ModuleReader(path, text, constants, lines)
    offset = 0
    line_starts = []
    for line in lines:
        line_starts.append(offset)
        offset += len(line) + 1
    for match in _SCAN.finditer("\n".join(lines)):
        number = bisect.bisect_right(line_starts, match.start())
        for end in range(number, min(number + _SCAN_LINES, len(lines)) + 1):
            snippet = "\n" * (number - 1) + "\n".join(lines[number - 1 : end])
            try:
                module = ast.parse(snippet)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            found.update(reader.read_assignments(module))
            break
        else:
            # Assigned, but not readable: the value is unknown, not absent.
            name = match.group("name")
            source = lines[number - 1].strip()[:80]
            item = Identifier(None, number, 1, source, "dynamic")
            found[name] = Assignment(name, number, 1, "dynamic", (item,))
    return found


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _ModuleReader:
    """Finds the module-level identifier assignments and resolves names to constants."""

    def __init__(
        self, path: Path, text: str, constants: ModuleConstants, lines: list[str] | None = None
    ) -> None:
        self.path = path
        self.text = text
        self._lines = lines if lines is not None else split_lines(text)
        # ast's columns count UTF-8 bytes: in ASCII text they are character offsets already.
        self._ascii = text.isascii()
        self.constants = constants
        self.local: dict[str, ConstantValue] = {}
        self.imports: dict[str, tuple[str, int, str | None]] = {}
        self.used_modules: set[Path] = set()

    def read_assignments(self, module: ast.Module) -> dict[str, Assignment]:
        found: dict[str, Assignment] = {}
        for stmt in module.body:
            # Exact node types (ast.parse makes no subclasses): identity tests, the most common
            # first (Alembic's template annotates its four assignments).
            if type(stmt) is ast.AnnAssign:
                if stmt.value is not None:
                    self._assign(found, stmt.target, stmt.value, annotated=True)
                continue
            kind = type(stmt)
            if kind is ast.FunctionDef or kind is ast.Expr:
                continue
            # `type(stmt) is` below, not `kind is`: mypy narrows stmt only through the former.
            if type(stmt) is ast.Assign:
                for target in stmt.targets:
                    self._assign(found, target, stmt.value, annotated=False)
            elif type(stmt) is ast.ImportFrom or type(stmt) is ast.Import:
                self._record_import(stmt)
            elif type(stmt) is ast.AugAssign:
                if type(stmt.target) is ast.Name:
                    self._dynamic(found, stmt.target.id, stmt)
            elif kind in _CONDITIONAL_STATEMENTS:
                # Assigned under a condition: the value depends on run time.
                for name, node in _conditional_assignments(stmt):
                    self._dynamic(found, name, node)
        return found

    def _dynamic(self, found: dict[str, Assignment], name: str, node: ast.AST) -> None:
        self.local.pop(name, None)
        if name in IDENTIFIER_NAMES:
            line, column = self._position(node)
            source = self._segment(node) or name
            found[name] = Assignment(
                name,
                line,
                column,
                "dynamic",
                (Identifier(None, line, column, source.strip().splitlines()[0], "dynamic"),),
            )

    def _assign(
        self, found: dict[str, Assignment], target: ast.expr, value: ast.expr, *, annotated: bool
    ) -> None:
        if type(target) is ast.Name:  # exact node types: ast.parse makes no subclasses
            self._bind(found, target.id, value, annotated)
        elif isinstance(target, (ast.Tuple, ast.List)):
            names = [elt for elt in target.elts if isinstance(elt, ast.Name)]
            if (
                len(names) == len(target.elts)
                and isinstance(value, (ast.Tuple, ast.List))
                and len(value.elts) == len(names)
            ):
                for name_node, item in zip(names, value.elts, strict=True):
                    self._bind(found, name_node.id, item, annotated)
            else:
                for elt in target.elts:
                    if isinstance(elt, ast.Name):
                        self._dynamic(found, elt.id, value)

    def _bind(
        self, found: dict[str, Assignment], name: str, value: ast.expr, annotated: bool
    ) -> None:
        if type(value) is ast.Constant:
            # Most assignments: a string or None (what _constant would say, without the call).
            constant = value.value
            if constant is None or type(constant) is str:
                self.local[name] = constant
            else:
                self.local.pop(name, None)
            if name in IDENTIFIER_NAMES:
                found[name] = self._constant_assignment(name, value, annotated)
            return
        resolved = self._constant(value)
        if resolved is not _UNRESOLVED:
            self.local[name] = resolved  # type: ignore[assignment]
        else:
            self.local.pop(name, None)
        if name in IDENTIFIER_NAMES:
            found[name] = self._assignment(name, value, annotated)

    def _constant_assignment(self, name: str, value: ast.Constant, annotated: bool) -> Assignment:
        """`_assignment` of a literal: None, a string, or another literal's type."""
        line = value.lineno
        if self._ascii and value.end_lineno == line and line <= len(self._lines):
            # Most assignments: an ASCII file, a one-line literal. What _position and _segment
            # give, without their general cases.
            offset = value.col_offset
            column = offset + 1
            constant = value.value
            if constant is None:
                return none_assignment(name, line, column, annotated)
            source = self._lines[line - 1][offset : value.end_col_offset]
            if type(constant) is str:
                item = Identifier(_intern(constant), line, column, source)
            else:
                item = Identifier(None, line, column, source, type(constant).__name__)
            return Assignment(name, line, column, "scalar", (item,), annotated)
        line, column = self._position(value)
        if value.value is None:
            return none_assignment(name, line, column, annotated)
        item = self._literal(value, line, column)
        return Assignment(name, line, column, "scalar", (item,), annotated)

    def _assignment(self, name: str, value: ast.expr, annotated: bool) -> Assignment:
        if type(value) is ast.Constant:
            return self._constant_assignment(name, value, annotated)
        line, column = self._position(value)
        if isinstance(value, (ast.Tuple, ast.List)):
            items = tuple(self._identifier(elt) for elt in value.elts)
            return Assignment(name, line, column, "sequence", items, annotated)
        resolved = self._constant(value)
        if resolved is None:
            return none_assignment(name, line, column, annotated)
        if isinstance(resolved, tuple):
            via = _dotted(value)
            items = tuple(Identifier(v, line, column, via or v, "str", via) for v in resolved)
            return Assignment(name, line, column, "sequence", items, annotated)
        item = self._identifier(value)
        shape: AssignmentShape = "dynamic" if item.kind == "dynamic" else "scalar"
        return Assignment(name, line, column, shape, (item,), annotated)

    def _identifier(self, node: ast.expr) -> Identifier:
        line, column = self._position(node)
        if isinstance(node, ast.Constant):
            return self._literal(node, line, column)
        source = self._segment(node)
        resolved = self._constant(node)
        if isinstance(resolved, str):
            return Identifier(resolved, line, column, source, "str", _dotted(node))
        return Identifier(None, line, column, source, "dynamic")

    def _literal(self, node: ast.Constant, line: int, column: int) -> Identifier:
        """A literal as an identifier: a string is one; any other literal is named by its type."""
        source = self._segment(node)
        if isinstance(node.value, str):
            return Identifier(_intern(node.value), line, column, source)
        return Identifier(None, line, column, source, type(node.value).__name__)

    def _constant(self, node: ast.expr) -> ConstantValue | object:
        """A string, tuple of strings or None the expression stands for, or _UNRESOLVED."""
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, str):
                return node.value
            return _UNRESOLVED
        if isinstance(node, (ast.Tuple, ast.List)):
            values = [self._constant(elt) for elt in node.elts]
            if all(isinstance(v, str) for v in values):
                return tuple(values)  # type: ignore[arg-type]
            return _UNRESOLVED
        dotted = _dotted(node)
        if dotted is None:
            return _UNRESOLVED
        head, _, rest = dotted.partition(".")
        if not rest and head in self.local:
            return self.local[head]
        if head in self.imports:
            module, level, attribute = self.imports[head]
            parts = ([attribute] if attribute else []) + (rest.split(".") if rest else [])
            found = self.constants.resolve(self.path.parent, module, level, parts)
            if found is not None:
                self.used_modules.add(found.module)
                return found.value
        return _UNRESOLVED

    def _record_import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    self.imports[alias.asname] = (alias.name, 0, None)
                else:
                    top = alias.name.split(".")[0]
                    self.imports[top] = (top, 0, None)
        else:
            for alias in stmt.names:
                bound = alias.asname or alias.name
                self.imports[bound] = (stmt.module or "", stmt.level, alias.name)
                self.local.pop(bound, None)

    def _segment(self, node: ast.AST) -> str:
        """The node's source text (ast.get_source_segment splits the whole file per call)."""
        start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        if start is None or end is None:
            return ""
        first, last = getattr(node, "col_offset", 0), getattr(node, "end_col_offset", 0)
        if self._ascii:
            text_lines = self._lines[start - 1 : end]
            if not text_lines:
                return ""
            if len(text_lines) == 1:
                return text_lines[0][first:last]
            return "\n".join([text_lines[0][first:], *text_lines[1:-1], text_lines[-1][:last]])
        lines = [line.encode("utf-8") for line in self._lines[start - 1 : end]]
        if not lines:
            return ""
        if len(lines) == 1:
            return lines[0][first:last].decode("utf-8", "replace")
        chunk = [lines[0][first:], *lines[1:-1], lines[-1][:last]]
        return "\n".join(part.decode("utf-8", "replace") for part in chunk)

    def _position(self, node: ast.AST) -> tuple[int, int]:
        line: int = getattr(node, "lineno", 1)
        offset: int = getattr(node, "col_offset", 0)
        # ast counts UTF-8 bytes; editors and SARIF count characters.
        if offset and not self._ascii and line - 1 < len(self._lines):
            offset = len(self._lines[line - 1].encode("utf-8")[:offset].decode("utf-8", "ignore"))
        return line, offset + 1


_UNRESOLVED = object()
# One string object for equal names, ids and labels across files (10k revisions: ~10 MB).
_intern = sys.intern
_CONDITIONAL_STATEMENTS = frozenset({ast.If, ast.Try, ast.With, ast.For, ast.While})


def _dotted(node: ast.expr) -> str | None:
    """`a.b.c` as a string (None for anything else); a loop, since chains can be long."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _conditional_assignments(stmt: ast.stmt) -> Iterator[tuple[str, ast.AST]]:
    for node in ast.walk(stmt):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    yield name.id, node


def _read_header(
    module: ast.Module, lines: list[str]
) -> tuple[tuple[int, int] | None, tuple[HeaderField, ...]]:
    if not module.body:
        return None, ()
    first = module.body[0]
    if not (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return None, _read_comment_header(module, lines)
    start, end = first.lineno, first.end_lineno or first.lineno
    docstring = first.value.value
    if (
        "Revision ID" not in docstring
        and "Revises" not in docstring
        and "Create Date" not in docstring
    ):
        return line_span(start, end), ()  # no label in the docstring: none on its lines either
    found: dict[str, HeaderField] = {}
    # Each of the docstring's source lines that names a label is matched on its own (the
    # pattern anchors at the line's start and never crosses its end); the others cannot match.
    for number in range(start, min(end, len(lines)) + 1):
        line = lines[number - 1]
        if "Revision ID" not in line and "Revises" not in line and "Create Date" not in line:
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            continue
        label = match.group(1)
        if label in found:
            continue
        value = match.group(2).rstrip(" \t")
        if number == end:
            # The closing quotes may share the line: `Revises: abc"""`.
            value = value.rstrip("\"'").rstrip()
        found[label] = HeaderField(_intern(label), _intern(value), number, match.start(2) + 1)
    return line_span(start, end), tuple(found.values())


def _read_comment_header(module: ast.Module, lines: list[str]) -> tuple[HeaderField, ...]:
    """Header fields written as comments above the `revision` assignment."""
    if not any("Revision ID" in line for line in lines[:200]):
        return ()
    stop = next(
        (
            stmt.lineno
            for stmt in module.body
            if isinstance(stmt, (ast.Assign, ast.AnnAssign))
            and any(isinstance(t, ast.Name) and t.id == "revision" for t in _targets(stmt))
        ),
        len(lines),
    )
    found: dict[str, HeaderField] = {}
    for number in range(1, min(stop, len(lines)) + 1):
        match = _COMMENT_HEADER_LINE.match(lines[number - 1])
        if match and match.group("label") not in found:
            label = match.group("label")
            found[label] = HeaderField(
                label, match.group("value"), number, match.start("value") + 1
            )
    return tuple(found.values())


def _targets(stmt: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return list(stmt.targets) if isinstance(stmt, ast.Assign) else [stmt.target]


def _read_noqa(
    text: str, lines: list[str] | None = None
) -> tuple[tuple[int, frozenset[str] | None], ...]:
    # Lowercasing keeps "noqa" in any case (no other character matches n, o, q or a ignoring
    # case), at a fraction of an IGNORECASE search.
    lowered = text.lower()
    if "noqa" not in lowered:
        return ()
    result = []
    # Only the lines that say "noqa" are searched: lowering moves no line break.
    said = split_lines(lowered)
    for number, line in enumerate(lines if lines is not None else split_lines(text), start=1):
        if "noqa" not in said[number - 1]:
            continue
        match = _NOQA.search(line)
        if match:
            codes = match.group("codes")
            result.append(
                (number, frozenset(re.findall(r"[A-Z]+[0-9]+", codes.upper())) if codes else None)
            )
    return tuple(result)


def header_revises(value: str) -> tuple[str, ...]:
    """Split a `Revises:` value as Alembic writes it (`a, b`). Older templates wrote a base as
    `None` and a merge as a tuple's repr (`('a', 'b')`); both are read the same way."""
    parts = tuple(part.strip().strip("'\"") for part in value.strip().strip("()[]").split(","))
    parts = tuple(part for part in parts if part)
    return () if parts == ("None",) else parts
