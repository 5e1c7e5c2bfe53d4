"""How edits are applied: a string literal at its position and a header line, as text; an
assignment's new value through libcst (exactly that node).

Everything else in the file survives byte for byte: comments, quote styles, encoding cookie,
BOM and line endings (the text is decoded and encoded back with the file's own encoding, and
libcst round-trips a module exactly).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Sequence

import libcst as cst

from chainlint.edits import ReplaceHeaderLine, ReplaceString, SetAssignment
from chainlint.source import decode_source

SourceEdit = ReplaceString | SetAssignment | ReplaceHeaderLine

_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


class EditFailed(Exception):
    """The file no longer holds what the edit expects: it is left alone."""


def apply_source_edits(data: bytes, edits: Sequence[SourceEdit]) -> bytes:
    """The file's new bytes after the edits, or EditFailed with the reason: a file libcst
    cannot parse or walk (nested too deeply), or a new value the file's encoding cannot
    represent, refuses the fix on that file only."""
    try:
        return _apply(data, edits)
    except RecursionError as exc:
        raise EditFailed("the file is nested too deeply for libcst to edit it") from exc
    except UnicodeEncodeError as exc:
        raise EditFailed(
            f"the new value cannot be written in the file's encoding ({exc.encoding}): "
            f"{exc.object[exc.start : exc.end]!r}"
        ) from exc
    except (UnicodeError, LookupError) as exc:
        # Codecs such as idna raise plain UnicodeError on text they cannot encode.
        raise EditFailed(f"the file's encoding cannot write it back: {exc}") from exc


def _apply(data: bytes, edits: Sequence[SourceEdit]) -> bytes:
    try:
        code, encoding = decode_source(data)
    except (SyntaxError, LookupError, UnicodeError) as exc:
        raise EditFailed(f"the file cannot be decoded to edit it: {type(exc).__name__}") from exc
    strings = [e for e in edits if isinstance(e, ReplaceString)]
    headers = [e for e in edits if isinstance(e, ReplaceHeaderLine)]
    assignments = [e for e in edits if isinstance(e, SetAssignment)]
    # Strings first: their positions are the file's as it was read.
    if strings:
        code = _replace_strings(code, strings)
    if headers:
        code = _apply_header_edits(code, headers)
    if assignments:
        try:
            module = cst.parse_module(code)
        except RecursionError:
            raise
        except Exception as exc:  # libcst raises its own ParserSyntaxError and others
            raise EditFailed(f"libcst cannot parse the file: {type(exc).__name__}") from exc
        # libcst drops the final CR of a CR-only file: put back what its round trip loses at
        # the end, and never write a file it would change anywhere else.
        kept = module.code
        if not code.startswith(kept):
            raise EditFailed("libcst does not give the file back byte for byte")
        transformer = _AssignmentEditor(assignments)
        code = module.visit(transformer).code + code[len(kept) :]
        missing = [e for e in assignments if id(e) not in transformer.done]
        if missing:
            raise EditFailed(f"could not find the target of {missing[0]!r}")
    return code.encode(encoding)


def _replace_strings(code: str, edits: Sequence[ReplaceString]) -> str:
    """Each string literal at an edit's position (which says which literal: no syntax tree is
    needed) replaced by the new value with the same prefix and quotes, after checking that it
    still holds the old value."""
    lines = _LINES.findall(code)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    spans: dict[int, tuple[int, str]] = {}
    for edit in edits:
        index = edit.line - 1
        if not 0 <= index < len(lines) or not 0 < edit.column <= len(lines[index]):
            raise EditFailed(f"line {edit.line} no longer holds '{edit.old}'")
        offset = starts[index] + edit.column - 1
        literal = _string_literal(code, offset)
        if literal is None or _literal_value(literal) != edit.old:
            raise EditFailed(f"line {edit.line} no longer holds '{edit.old}'")
        match = _STRING_START.match(literal)
        assert match is not None  # a string token starts so
        replacement = _string(edit.new, match.group("prefix"), match.group("quote"))
        if spans.get(offset, (0, replacement))[1] != replacement:
            raise EditFailed(f"two edits of the string on line {edit.line} disagree")
        spans[offset] = (offset + len(literal), replacement)
    for offset in sorted(spans, reverse=True):
        stop, replacement = spans[offset]
        code = code[:offset] + replacement + code[stop:]
    return code


_STRING_START = re.compile(r"(?P<prefix>[A-Za-z]{0,2})(?P<quote>\'\'\'|\"\"\"|'|\")")


def _string_literal(code: str, offset: int) -> str | None:
    """The string token that starts at `offset`, or None."""
    if not _STRING_START.match(code, offset):
        return None
    tokens = tokenize.generate_tokens(io.StringIO(code[offset:]).readline)
    try:
        token = next(tokens)
    except (tokenize.TokenError, SyntaxError, StopIteration):
        return None
    return token.string if token.type == tokenize.STRING and token.start == (1, 0) else None


def _literal_value(literal: str) -> object:
    try:
        return ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None  # an f-string, or not a literal


def _apply_header_edits(code: str, edits: Sequence[ReplaceHeaderLine]) -> str:
    lines = _LINES.findall(code)
    for edit in edits:
        index = edit.line - 1
        if index >= len(lines):
            raise EditFailed(f"line {edit.line} is gone")
        line = lines[index]
        match = re.match(
            rf"^(?P<head>[ \t]*(?:#[ \t]*)?{re.escape(edit.label)}[ \t]*:[ \t]*)"
            rf"(?P<value>{re.escape(edit.old)})"
            rf"(?P<tail>[ \t]*(?:\"\"\"|''')?[ \t]*(?:\r\n|\r|\n)?)$",
            line,
        )
        if match is None:
            raise EditFailed(f"line {edit.line} no longer says {edit.label}: {edit.old}")
        head = match.group("head")
        if not edit.new:
            head = head.rstrip(" \t")
        elif head.endswith(":"):
            head += " "
        lines[index] = head + edit.new + match.group("tail")
    return "".join(lines)


class _AssignmentEditor(cst.CSTTransformer):
    """Gives module-level assignments their new values, quoted as the file quotes strings."""

    def __init__(self, edits: Sequence[SetAssignment]) -> None:
        super().__init__()
        self.assignments = {e.name: e for e in edits}
        self.quote = "'"
        self.done: set[int] = set()

    # Only module-level assignments are identifiers; function and class bodies are skipped.
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.BaseExpression:
        if original_node.quote in ("'", '"'):
            self.quote = original_node.quote
        return updated_node

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        if len(updated_node.targets) != 1:
            return updated_node
        target = updated_node.targets[0].target
        edit = self._assignment_edit(target)
        if edit is None:
            return updated_node
        return updated_node.with_changes(value=self._value(edit, updated_node.value))

    def leave_AnnAssign(
        self, original_node: cst.AnnAssign, updated_node: cst.AnnAssign
    ) -> cst.AnnAssign:
        if updated_node.value is None:
            return updated_node
        edit = self._assignment_edit(updated_node.target)
        if edit is None:
            return updated_node
        return updated_node.with_changes(value=self._value(edit, updated_node.value))

    def _assignment_edit(self, target: cst.BaseExpression) -> SetAssignment | None:
        if isinstance(target, cst.Name) and target.value in self.assignments:
            return self.assignments[target.value]
        return None

    def _value(self, edit: SetAssignment, old: cst.BaseExpression) -> cst.BaseExpression:
        # The last module-level assignment is the one that counts; each one gets the value.
        self.done.add(id(edit))
        quote = _quote_of(old) or self.quote
        value = edit.value
        if value is None:
            return cst.Name("None")
        if isinstance(value, str):
            return cst.SimpleString(f"{quote}{_escape(value, quote)}{quote}")
        elements = [
            cst.Element(cst.SimpleString(f"{quote}{_escape(v, quote)}{quote}")) for v in value
        ]
        if isinstance(old, cst.List):
            return cst.List(elements)
        if len(elements) == 1:
            return cst.Tuple([elements[0].with_changes(comma=cst.Comma())])
        return cst.Tuple(elements)


def _quote_of(node: cst.BaseExpression) -> str | None:
    for child in _walk(node):
        if isinstance(child, cst.SimpleString) and child.quote in ("'", '"'):
            return child.quote
    return None


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    found = [node]
    for child in node.children:
        found.extend(_walk(child))
    return found


def _string(value: str, prefix: str, quote: str) -> str:
    """`value` as a literal with this prefix and these quotes."""
    return f"{prefix}{quote}{_escape(value, quote)}{quote}"


def _escape(value: str, quote: str) -> str:
    escaped = value.replace("\\", "\\\\")
    return escaped.replace(quote[0], "\\" + quote[0]) if len(quote) == 1 else escaped
