"""Render an environment's `script.py.mako` without running any code from it.

A pull request controls that file, so Mako (which compiles a template to Python and runs it)
is never used. This renderer understands only what Alembic's own templates (generic, async,
multidb, pyproject) are made of: `${name}`, `${repr(name)}`, `${a if a else "x"}`,
`${name | comma,n}`, `${context.get("%s_x" % name, "pass")}`, `% if`/`% elif`/`% else`/`% endif`,
`% for name in re.split(r',\\s*', name):`/`% endfor`, `## comments`, `%%`, a trailing `\\`, an
`<%! import re %>` block and `<% name = config.get_main_option("option") %>`. Expressions are
parsed with `ast` and evaluated by walking that small whitelist; anything else raises
UnsupportedTemplate, and the caller falls back to the built-in template.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_MODULE_BLOCK = re.compile(r"<%!(.*?)%>", re.DOTALL)
_CODE_BLOCK = re.compile(r"<%(?![!-])(.*?)%>", re.DOTALL)
_ASSIGN_OPTION = re.compile(
    r"""^(?P<name>[A-Za-z_]\w*)\s*=\s*config\.get_main_option\(\s*(?P<q>["'])(?P<option>[\w.-]+)(?P=q)\s*\)$"""
)
_FILTERS = re.compile(r"^\s*\w+(?:\s*,\s*\w+)*\s*$")
# The only split patterns Alembic's templates use (multidb: the `databases` option).
_SPLIT_PATTERNS = {r",\s*"}
# Alembic's templates are about 1 KB; a template far larger, or nested deeper, is not one.
MAX_TEMPLATE_SIZE = 256 * 1024
_MAX_DEPTH = 20
# `"%s_upgrades" % name`: only plain %s (and %%) directives, never a width that builds a huge
# string.
_PERCENT_S = re.compile(r"%(?!s|%)")


class UnsupportedTemplate(Exception):
    """The template uses something this renderer does not understand (and will not run)."""

    def __init__(self, line: int, what: str) -> None:
        super().__init__(f"line {line}: {what}")
        self.line = line
        self.what = what


class _Undefined:
    """A name the context does not define: false in a test, an error when rendered."""

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


@dataclass
class _Text:
    line: int
    text: str


@dataclass
class _If:
    line: int
    branches: list[tuple[str | None, list[Any]]] = field(default_factory=list)


@dataclass
class _For:
    line: int
    name: str
    iterable: str
    body: list[Any] = field(default_factory=list)


def render_template(
    text: str, context: Mapping[str, Any], options: Mapping[str, str] | None = None
) -> str:
    """The rendered text, or UnsupportedTemplate. `options` are the `[alembic]` main options
    (what `config.get_main_option` returns)."""
    if len(text) > MAX_TEMPLATE_SIZE:
        raise UnsupportedTemplate(1, f"more than {MAX_TEMPLATE_SIZE // 1024} KB of text")
    options = options or {}
    modules: set[str] = set()
    variables: dict[str, Any] = dict(context)

    def module_block(match: re.Match[str]) -> str:
        line = text.count("\n", 0, match.start()) + 1
        for statement in match.group(1).splitlines():
            statement = statement.strip()
            if not statement:
                continue
            if statement != "import re":
                raise UnsupportedTemplate(line, f"<%! {statement} %>")
            modules.add("re")
        return ""

    def code_block(match: re.Match[str]) -> str:
        line = text.count("\n", 0, match.start()) + 1
        for statement in match.group(1).splitlines():
            statement = statement.strip()
            if not statement:
                continue
            assignment = _ASSIGN_OPTION.match(statement)
            if assignment is None:
                raise UnsupportedTemplate(line, f"<% {statement} %>")
            option = options.get(assignment.group("option"))
            if option is None:
                raise UnsupportedTemplate(
                    line, f"the option {assignment.group('option')!r} is not set in alembic.ini"
                )
            variables[assignment.group("name")] = option
        return ""

    text = _MODULE_BLOCK.sub(module_block, text)
    text = _CODE_BLOCK.sub(code_block, text)
    if "<%" in text or "%>" in text:
        line = text.count("\n", 0, text.find("<%") if "<%" in text else text.find("%>")) + 1
        raise UnsupportedTemplate(line, "a Mako tag other than <%! import re %> or <% %>")
    nodes = _parse(text)
    evaluator = _Evaluator(variables, options, modules)
    try:
        return "".join(_render(nodes, evaluator))
    except RecursionError as exc:  # an expression nested beyond any real template
        raise UnsupportedTemplate(1, "expressions nested too deeply") from exc


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines with their newline, a trailing backslash joining a line to the next (Mako's
    line continuation)."""
    number = 0
    pending = ""
    start = 1
    for raw in text.splitlines(keepends=True):
        number += 1
        if not pending:
            start = number
        body = raw.rstrip("\r\n")
        if body.endswith("\\") and not body.endswith("\\\\"):
            pending += body[:-1]
            continue
        yield start, pending + raw
        pending = ""
    if pending:
        yield start, pending


_CONTROL = re.compile(r"^[ \t]*%(?!%)[ \t]*(?P<body>.*?)[ \t]*$")


def _parse(text: str) -> list[Any]:
    root: list[Any] = []
    stack: list[Any] = []

    def target() -> list[Any]:
        if not stack:
            return root
        top = stack[-1]
        return top.branches[-1][1] if isinstance(top, _If) else top.body  # type: ignore[no-any-return]

    for number, line in _lines(text):
        stripped = line.lstrip(" \t")
        if stripped.startswith("##"):
            continue
        control = _CONTROL.match(line.rstrip("\r\n"))
        if control is None:
            if stripped.startswith("%%"):
                line = line.replace("%%", "%", 1)
            target().append(_Text(number, line))
            continue
        body = control.group("body")
        keyword = body.split(None, 1)[0].rstrip(":") if body else ""
        if keyword in ("if", "for") and len(stack) >= _MAX_DEPTH:
            raise UnsupportedTemplate(number, f"control lines nested more than {_MAX_DEPTH} deep")
        if keyword == "if" and body.endswith(":"):
            node = _If(number, [(body[2:-1].strip(), [])])
            target().append(node)
            stack.append(node)
        elif keyword == "elif" and body.endswith(":") and stack and isinstance(stack[-1], _If):
            stack[-1].branches.append((body[4:-1].strip(), []))
        elif keyword == "else" and body == "else:" and stack and isinstance(stack[-1], _If):
            stack[-1].branches.append((None, []))
        elif keyword == "endif" and body == "endif" and stack and isinstance(stack[-1], _If):
            stack.pop()
        elif keyword == "for" and body.endswith(":"):
            loop = re.match(r"^for\s+([A-Za-z_]\w*)\s+in\s+(.+):$", body)
            if loop is None:
                raise UnsupportedTemplate(number, f"% {body}")
            node_for = _For(number, loop.group(1), loop.group(2))
            target().append(node_for)
            stack.append(node_for)
        elif keyword == "endfor" and body == "endfor" and stack and isinstance(stack[-1], _For):
            stack.pop()
        else:
            raise UnsupportedTemplate(number, f"% {body}")
    if stack:
        raise UnsupportedTemplate(stack[-1].line, "a control line that is never closed")
    return root


def _render(nodes: list[Any], evaluator: _Evaluator) -> Iterator[str]:
    for node in nodes:
        if isinstance(node, _Text):
            yield _substitute(node, evaluator)
        elif isinstance(node, _If):
            for condition, body in node.branches:
                if condition is None or evaluator.value(condition, node.line):
                    yield from _render(body, evaluator)
                    break
        else:
            values = evaluator.value(node.iterable, node.line)
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise UnsupportedTemplate(node.line, f"% for over {node.iterable}")
            for value in values:
                evaluator.names[node.name] = value
                yield from _render(node.body, evaluator)
            evaluator.names.pop(node.name, None)


def _substitute(node: _Text, evaluator: _Evaluator) -> str:
    text = node.text
    out: list[str] = []
    position = 0
    while True:
        start = text.find("${", position)
        if start < 0:
            out.append(text[position:])
            return "".join(out)
        out.append(text[position:start])
        end = _closing_brace(text, start + 2)
        if end < 0:
            raise UnsupportedTemplate(node.line, "a ${ without its closing }")
        out.append(evaluator.expression(text[start + 2 : end], node.line))
        position = end + 1


def _closing_brace(text: str, index: int) -> int:
    depth = 0
    quote: str | None = None
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return index
            depth -= 1
        index += 1
    return -1


def _comma(value: Any) -> str:
    """Alembic's `comma` filter (util.format_as_comma)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    raise TypeError(value)


_FILTER_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "comma": _comma,
    "trim": lambda v: str(v).strip(),
    "str": str,
}


class _Evaluator:
    def __init__(self, names: dict[str, Any], options: Mapping[str, str], modules: set[str]):
        self.names = names
        self.options = options
        self.modules = modules

    def expression(self, source: str, line: int) -> str:
        filters: list[str] = []
        if "|" in source:
            head, _, tail = source.rpartition("|")
            if _FILTERS.match(tail):
                source = head
                filters = [f.strip() for f in tail.split(",")]
        value = self.value(source, line)
        default = "n" not in filters
        for name in filters:
            if name == "n":
                continue
            function = _FILTER_FUNCTIONS.get(name)
            if function is None:
                raise UnsupportedTemplate(line, f"the filter {name!r}")
            try:
                value = function(value)
            except TypeError as exc:
                raise UnsupportedTemplate(line, f"the filter {name!r} on {source.strip()}") from exc
        if isinstance(value, _Undefined):
            raise UnsupportedTemplate(line, f"${{{source.strip()}}} names nothing Alembic defines")
        if default or not isinstance(value, str):
            value = str(value)
        return value  # type: ignore[no-any-return]

    def value(self, source: str, line: int) -> Any:
        if len(source) > 1000:
            raise UnsupportedTemplate(line, "an expression of more than 1000 characters")
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise UnsupportedTemplate(line, f"the expression {source.strip()!r}") from exc
        return self._eval(tree.body, line, source.strip())

    def _eval(self, node: ast.expr, line: int, source: str) -> Any:
        def unsupported() -> UnsupportedTemplate:
            return UnsupportedTemplate(line, f"the expression {source!r}")

        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, bool, type(None))):
            return node.value
        if isinstance(node, ast.Name):
            return self.names.get(node.id, UNDEFINED)
        if isinstance(node, ast.IfExp):
            test = self._eval(node.test, line, source)
            return self._eval(node.body if test else node.orelse, line, source)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not self._eval(node.operand, line, source)
        if isinstance(node, ast.BoolOp):
            values = [self._eval(v, line, source) for v in node.values]
            if isinstance(node.op, ast.And):
                return all(values) and values[-1]
            return next((v for v in values if v), values[-1])
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left = self._eval(node.left, line, source)
            right = self._eval(node.comparators[0], line, source)
            op = node.ops[0]
            if isinstance(op, (ast.Is, ast.IsNot)) and right is None:
                return (left is None) == isinstance(op, ast.Is)
            if isinstance(op, (ast.Eq, ast.NotEq)) and _plain(left) and _plain(right):
                return (left == right) == isinstance(op, ast.Eq)
            raise unsupported()
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
        ):
            right = self._eval(node.right, line, source)
            if not isinstance(right, str) or _PERCENT_S.search(node.left.value):
                raise unsupported()
            try:
                return node.left.value % right
            except (TypeError, ValueError) as exc:
                raise unsupported() from exc
        if isinstance(node, ast.Call) and not node.keywords:
            return self._call(node, line, source)
        raise unsupported()

    def _call(self, node: ast.Call, line: int, source: str) -> Any:
        args = [self._eval(a, line, source) for a in node.args]
        function = node.func
        if (
            isinstance(function, ast.Name)
            and function.id == "repr"
            and len(args) == 1
            and (_plain(args[0]) or _strings(args[0]))
        ):
            return repr(args[0])
        if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
            owner, method = function.value.id, function.attr
            named = len(args) in (1, 2) and isinstance(args[0], str)
            default = args[1] if len(args) == 2 else None
            if owner == "context" and method == "get" and named:
                found = self.names.get(args[0], UNDEFINED)
                if isinstance(found, _Undefined):
                    return default if len(args) == 2 else UNDEFINED
                return found
            if owner == "config" and method == "get_main_option" and named:
                return self.options.get(args[0], default)
            if (
                owner == "re"
                and "re" in self.modules
                and method == "split"
                and len(args) == 2
                and args[0] in _SPLIT_PATTERNS
                and isinstance(args[1], str)
            ):
                return [part for part in re.split(args[0], args[1])]
        raise UnsupportedTemplate(line, f"the expression {source!r}")


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, bool, type(None)))


def _strings(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value)
