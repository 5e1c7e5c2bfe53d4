"""How edits are applied: libcst changes of exactly the targeted nodes; header lines by line.

Everything else in the file survives byte for byte: comments, quote styles, encoding cookie,
BOM and line endings (libcst round-trips a module exactly; the encoding it detected is used
to write it back).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from chainlint.edits import ReplaceHeaderLine, ReplaceString, SetAssignment

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
        module = cst.parse_module(data)
    except RecursionError:
        raise
    except Exception as exc:  # libcst raises its own ParserSyntaxError and others
        raise EditFailed(f"libcst cannot parse the file: {type(exc).__name__}") from exc
    encoding = module.encoding
    code = module.code
    header_edits = [e for e in edits if isinstance(e, ReplaceHeaderLine)]
    node_edits = [e for e in edits if not isinstance(e, ReplaceHeaderLine)]
    if header_edits:
        code = _apply_header_edits(code, header_edits)
    if node_edits:
        wrapper = MetadataWrapper(cst.parse_module(code))
        transformer = _NodeEditor(node_edits)
        code = wrapper.visit(transformer).code
        missing = [e for e in node_edits if id(e) not in transformer.done]
        if missing:
            raise EditFailed(f"could not find the target of {missing[0]!r}")
    return code.encode(encoding)


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


class _NodeEditor(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, edits: Sequence[ReplaceString | SetAssignment]) -> None:
        super().__init__()
        self.strings = {(e.line, e.column): e for e in edits if isinstance(e, ReplaceString)}
        self.assignments = {e.name: e for e in edits if isinstance(e, SetAssignment)}
        self.quote = "'"
        self.done: set[int] = set()
        self._depth = 0

    # Only module-level assignments are identifiers; track nesting to skip function bodies.
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._depth += 1
        return True

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self._depth -= 1
        return updated_node

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self._depth += 1
        return True

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        self._depth -= 1
        return updated_node

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.BaseExpression:
        position = self.get_metadata(PositionProvider, original_node).start
        edit = self.strings.get((position.line, position.column + 1))
        if edit is None:
            if self._depth == 0 and original_node.quote in ("'", '"'):
                self.quote = original_node.quote
            return updated_node
        if original_node.evaluated_value != edit.old:
            raise EditFailed(f"line {edit.line} no longer holds '{edit.old}'")
        self.done.add(id(edit))
        return updated_node.with_changes(value=_string(edit.new, original_node))

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        if self._depth or len(updated_node.targets) != 1:
            return updated_node
        target = updated_node.targets[0].target
        edit = self._assignment_edit(target)
        if edit is None:
            return updated_node
        return updated_node.with_changes(value=self._value(edit, updated_node.value))

    def leave_AnnAssign(
        self, original_node: cst.AnnAssign, updated_node: cst.AnnAssign
    ) -> cst.AnnAssign:
        if self._depth or updated_node.value is None:
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


def _string(value: str, like: cst.SimpleString) -> str:
    """`value` as a literal with the same prefix and quotes as `like`."""
    return f"{like.prefix}{like.quote}{_escape(value, like.quote)}{like.quote}"


def _escape(value: str, quote: str) -> str:
    escaped = value.replace("\\", "\\\\")
    return escaped.replace(quote[0], "\\" + quote[0]) if len(quote) == 1 else escaped
