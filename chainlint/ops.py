"""What `upgrade()` and `downgrade()` do, read from the reader's single `ast` parse.

One frozen record per operation, in the vocabulary of Alembic's `alembic/operations/ops.py`
(`AddColumnOp` -> `AddColumn`, ...). Nothing is imported or executed. Whatever chainlint cannot see
through — an `op.execute` it cannot parse, connection calls, helper functions, operations under
`if`/`for`/`try`/`with` (other than a `batch_alter_table` block), names it cannot resolve — becomes
`Opaque`, tied to the tables it names, or to the whole schema (`tables == ()`).
"""

from __future__ import annotations

import ast
import builtins as _builtins_module
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import fields, replace
from operator import attrgetter
from typing import Any, Literal, Union

from chainlint.records import record

# Stands for "not given" where Alembic distinguishes it from None (alter_column's server_default).
Unchanged = Literal[False]


@record
class ColumnDef:
    name: str
    # The type expression as written (`sa.String(length=50)`), or None when not given.
    type: str | None
    nullable: bool
    server_default: str | None
    primary_key: bool
    line: int = 0
    column: int = 0
    # Column(index=True) / Column(unique=True): an index or constraint SQLAlchemy names itself.
    index: bool = False
    unique: bool = False


@record
class IndexDef:
    """An `Index(...)` inside `create_table`; name None when the naming convention decides."""

    name: str | None
    columns: tuple[str, ...]
    unique: bool


@record
class ConstraintDef:
    """A unique, check or primary key constraint inside `create_table`."""

    name: str | None
    columns: tuple[str, ...]


@record
class ForeignKeyDef:
    name: str | None
    columns: tuple[str, ...]
    referent: str
    referent_columns: tuple[str, ...]


@record
class CreateTable:
    table: str
    columns: tuple[ColumnDef, ...]
    indexes: tuple[IndexDef, ...]
    uniques: tuple[ConstraintDef, ...]
    foreign_keys: tuple[ForeignKeyDef, ...]
    primary_key: tuple[str, ...]
    line: int
    column: int
    if_not_exists: bool = False
    checks: tuple[ConstraintDef, ...] = ()


@record
class DropTable:
    table: str
    line: int
    column: int
    if_exists: bool = False


@record
class RenameTable:
    table: str
    new_name: str
    line: int
    column: int


@record
class AddColumn:
    table: str
    column_def: ColumnDef
    line: int
    column: int
    if_not_exists: bool = False


@record
class DropColumn:
    table: str
    name: str
    line: int
    column: int
    if_exists: bool = False


@record
class AlterColumn:
    table: str
    name: str
    new_name: str | None
    nullable: bool | None
    type_: str | None
    # False: not given; None: the default is dropped; else the expression as written.
    server_default: str | Unchanged | None
    line: int
    column: int


@record
class CreateIndex:
    table: str
    name: str | None
    columns: tuple[str, ...]
    unique: bool
    line: int
    column: int
    if_not_exists: bool = False


@record
class DropIndex:
    table: str | None
    name: str
    line: int
    column: int
    if_exists: bool = False


@record
class CreateUniqueConstraint:
    table: str
    name: str | None
    columns: tuple[str, ...]
    line: int
    column: int


@record
class CreateForeignKey:
    table: str
    name: str | None
    referent: str
    columns: tuple[str, ...]
    referent_columns: tuple[str, ...]
    line: int
    column: int


@record
class CreatePrimaryKey:
    table: str
    name: str | None
    columns: tuple[str, ...]
    line: int
    column: int


@record
class CreateCheckConstraint:
    table: str
    name: str | None
    condition: str
    line: int
    column: int


@record
class DropConstraint:
    table: str
    name: str
    type_: str | None
    line: int
    column: int


@record
class Opaque:
    """Something that may change the schema in ways chainlint cannot see; `tables == ()` means
    it may touch any table."""

    tables: tuple[str, ...]
    reason: str
    line: int
    column: int
    # The tables are a call's string arguments, some perhaps not table names: only those that
    # are tables at that point count, and when none is, the whole schema does.
    guessed: bool = False


@record
class RowChange:
    """A statement that changes rows, never the schema: `DELETE FROM t` without WHERE and
    `TRUNCATE t` leave the table empty (`emptied`); an INSERT or `op.bulk_insert` adds rows
    (`table` is "" when chainlint cannot tell which table). Kept apart from the schema
    operations: `at` is how many of them run before it."""

    table: str
    emptied: bool
    line: int
    column: int
    at: int = 0


Operation = Union[  # noqa: UP007 (a runtime alias for isinstance and the cache's kinds)
    CreateTable,
    DropTable,
    RenameTable,
    AddColumn,
    DropColumn,
    AlterColumn,
    CreateIndex,
    DropIndex,
    CreateUniqueConstraint,
    CreateForeignKey,
    CreatePrimaryKey,
    CreateCheckConstraint,
    DropConstraint,
    Opaque,
    RowChange,
]


@record
class MigrationOperations:
    upgrade: tuple[Operation, ...] = ()
    downgrade: tuple[Operation, ...] = ()
    has_upgrade: bool = False
    has_downgrade: bool = False
    # The body says nothing: only `pass`, a docstring, `...` or a bare `return`.
    upgrade_is_empty: bool = True
    downgrade_is_empty: bool = True
    # The body's top level raises (an irreversible migration says so on purpose).
    downgrade_raises: bool = False
    # Where `def upgrade`/`def downgrade` are (0 when not defined).
    upgrade_line: int = 0
    downgrade_line: int = 0
    # What each direction does to rows (RowChange.at places it among the operations above).
    upgrade_rows: tuple[RowChange, ...] = ()
    downgrade_rows: tuple[RowChange, ...] = ()

    def ops(self, direction: str) -> tuple[Operation, ...]:
        return self.upgrade if direction == "upgrade" else self.downgrade


NO_OPERATIONS = MigrationOperations()

Resolver = Callable[[ast.expr], object]

# Module roots whose functions never change a schema by being called at statement level.
_HARMLESS_ROOTS = frozenset(
    {
        "sa",
        "sqlalchemy",
        "alembic",
        "logging",
        "logger",
        "log",
        "LOG",
        "print",
        "datetime",
        "json",
        "uuid",
        "time",
        "warnings",
        "os",
        "sys",
        "re",
        "textwrap",
        "typing",
        "enum",
        "decimal",
        "itertools",
        "functools",
        "collections",
        "sqlmodel",
    }
)
# Builtins that cannot reach a database (exec/eval could do anything).
_BUILTINS = frozenset(
    name for name in dir(_builtins_module) if name not in ("exec", "eval", "__import__")
)
# Attribute calls by name that only compute values, whatever module they come from.
_PURE_CALLS = frozenset({"loads", "dumps", "deepcopy", "getLogger", "getint", "getboolean"})
_MAX_INLINE = 4
# Calls that, by their name, look at the schema or the data without changing it.
_INSPECTS = re.compile(
    r"_?(?:has|get|is|exists|check|skip|detect|collect|find|fetch|list|load|read|inspect)_"
    r"|\w*_exists$"
)
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*$")
# Calls that stand for their first argument's string (`op.f("ix_a")`, `sa.text("...")`).
_STRING_WRAPPERS = frozenset({"f", "text", "quoted_name", "conv"})
# The node classes the reader tests most, bound once (ast.parse makes no subclasses of them).
_Attribute, _Call, _Constant, _Expr, _Name, _Starred = (
    ast.Attribute,
    ast.Call,
    ast.Constant,
    ast.Expr,
    ast.Name,
    ast.Starred,
)
_BLOCKS: tuple[type[ast.stmt], ...] = tuple(
    getattr(ast, name)
    for name in ("If", "For", "AsyncFor", "While", "Try", "With", "AsyncWith", "TryStar", "Match")
    if hasattr(ast, name)
)
_BLOCK_TYPES = frozenset(_BLOCKS)
_BLOCK_NAMES = {
    "If": "if",
    "For": "for",
    "AsyncFor": "for",
    "While": "while",
    "Try": "try",
    "TryStar": "try",
    "With": "with",
    "AsyncWith": "with",
    "Match": "match",
}
# Attribute calls that run something against the database.
_EXECUTE_CALLS = frozenset({"execute", "exec_driver_sql", "executescript"})
_SCHEMA_CALLS = frozenset({"create_all", "drop_all", "run_callable", "run_sync", "invoke"})
# `op.*` calls that never change tables, columns, indexes or constraints.
_HARMLESS_OPS = frozenset(
    {
        "f",
        "get_bind",
        "get_context",
        "bulk_insert",
        "inline_literal",
        "create_table_comment",
        "drop_table_comment",
        "implementation_for",
        "register_operation",
    }
)
# Module-level statements that define no function or class and import nothing.
_NOT_DEFINITIONS = frozenset({ast.Assign, ast.AnnAssign, ast.Expr})
# Expression builders whose statements only touch rows.
_DATA_BUILDERS = frozenset({"insert", "update", "delete", "select", "values", "where", "returning"})


def read_operations(
    module: ast.Module,
    resolve_name: Resolver,
    position: Callable[[ast.AST], tuple[int, int]] | None = None,
) -> MigrationOperations:
    """The operations of the module-level `upgrade()` and `downgrade()`; `resolve_name` gives
    the string a Name/Attribute stands for (module constants), anything else when it cannot."""
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    helpers: set[str] = set()
    imported: dict[str, str] = {}
    for stmt in module.body:
        # Exact node types (ast.parse makes no subclasses): most statements are skipped by one
        # set lookup, the rest told apart by identity tests.
        if type(stmt) in _NOT_DEFINITIONS:
            continue
        if type(stmt) is ast.FunctionDef or type(stmt) is ast.AsyncFunctionDef:
            functions[stmt.name] = stmt
            helpers.add(stmt.name)
        elif type(stmt) is ast.ClassDef:
            helpers.add(stmt.name)
        elif type(stmt) is ast.ImportFrom:
            for alias in stmt.names:
                imported[alias.asname or alias.name] = stmt.module or ""
        elif type(stmt) is ast.Import:
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                imported[bound] = alias.name
    helpers -= {"upgrade", "downgrade"}
    reader = _BodyReader(resolve_name, position or _ast_position, helpers, imported)
    reader.functions = {name: function for name, function in functions.items() if name in helpers}
    upgrade = functions.get("upgrade")
    downgrade = functions.get("downgrade")
    up_ops, up_rows = _split_rows(reader.read(upgrade) if upgrade else ())
    down_ops, down_rows = _split_rows(reader.read(downgrade) if downgrade else ())
    raises = False
    if downgrade is not None:
        for stmt in downgrade.body:
            if type(stmt) is ast.Raise:
                raises = True
                break
    return MigrationOperations(
        up_ops,
        down_ops,
        upgrade is not None,
        downgrade is not None,
        upgrade is None or _is_empty(upgrade.body),
        downgrade is None or _is_empty(downgrade.body),
        raises,
        upgrade.lineno if upgrade else 0,
        downgrade.lineno if downgrade else 0,
        up_rows,
        down_rows,
    )


def _split_rows(
    read: Sequence[Operation],
) -> tuple[tuple[Operation, ...], tuple[RowChange, ...]]:
    """The schema operations, and the row changes placed among them."""
    for operation in read:
        if type(operation) is RowChange:
            break
    else:  # no row changes, most functions
        return tuple(read), ()
    schema: list[Operation] = []
    rows: list[RowChange] = []
    for operation in read:
        if isinstance(operation, RowChange):
            rows.append(replace(operation, at=len(schema)))
        else:
            schema.append(operation)
    return tuple(schema), tuple(rows)


def _is_empty(body: Sequence[ast.stmt]) -> bool:
    for stmt in body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.Return) and stmt.value is None:
            continue
        return False
    return True


def _ast_position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1


def _dotted(node: ast.expr) -> str | None:
    """`a.b.c` as a string (None for anything else); a loop, since chains can be long."""
    if type(node) is ast.Name:
        return node.id
    parts = []
    while type(node) is ast.Attribute:
        parts.append(node.attr)
        node = node.value
    if type(node) is not ast.Name:
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _call_name(node: ast.expr) -> str:
    """The last part of a call's dotted callee (`sa.Column(...)` -> "Column"); "" when `node`
    is not a call of a dotted name. What `(_dotted(node.func) or "").rsplit(".", 1)[-1]` gives,
    without building the dotted string."""
    if type(node) is not ast.Call:
        return ""
    func = node.func
    if type(func) is ast.Name:
        return func.id
    if type(func) is not ast.Attribute:
        return ""
    base = func.value
    while type(base) is ast.Attribute:
        base = base.value
    return func.attr if type(base) is ast.Name else ""


def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


class _Unreadable(Exception):
    """An argument chainlint cannot read: the call becomes Opaque (tied to `tables`)."""

    def __init__(self, reason: str, tables: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tables = tables


class _Args:
    """A call's arguments by Alembic's parameter names."""

    __slots__ = ("rest", "starred", "starred_args", "values")

    def __init__(self, call: ast.Call, names: Sequence[str]) -> None:
        args = call.args
        values: dict[str, ast.expr] = dict(zip(names, args))  # noqa: B905 (fewer args is fine)
        self.values = values
        self.rest: list[ast.expr] = args[len(names) :]
        starred_args = False
        for arg in args:
            if type(arg) is _Starred:
                starred_args = True
                break
        # Whether a * argument was passed (`op.create_table("t", *columns)`).
        self.starred_args = starred_args
        starred = starred_args
        for keyword in call.keywords:
            name = keyword.arg
            if name is None:
                starred = True
            else:
                values[name] = keyword.value
        self.starred = starred

    def get(self, name: str) -> ast.expr | None:
        return self.values.get(name)


class _BodyReader:
    def __init__(
        self,
        resolve_name: Resolver,
        position: Callable[[ast.AST], tuple[int, int]],
        helpers: set[str],
        imported: dict[str, str],
    ) -> None:
        self.resolve_name = resolve_name
        self.position = position
        self.helpers = helpers
        self.imported = imported
        # Strings bound by simple assignments in the function being read (`sql = "..."`).
        self.local: dict[str, str | None] = {}
        self.local_helpers: set[str] = set()
        # Names bound to row statements (`stmt = table.update()...`): executing them is no DDL.
        self.data_names: set[str] = set()
        # Module-level helper functions, read in place of their calls.
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.inlining: list[str] = []

    def _sql_prefix(self, node: ast.expr) -> str | None:
        """The literal start of a statement built at run time (f-string, `.format`, `+`)."""
        if isinstance(node, ast.Call):
            name = _dotted(node.func) or ""
            if name.rsplit(".", 1)[-1] == "text" and node.args:
                return self._sql_prefix(node.args[0])
            if isinstance(node.func, ast.Attribute) and node.func.attr == "format":
                return self._string(node.func.value)
            return None
        if isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
            return self._string(node.left) or self._sql_prefix(node.left)
        return self._string(node)

    def _helper_call(self, call: ast.Call, reason: str) -> Opaque:
        """Code chainlint does not read: tied to the tables its string arguments may name."""
        line, column = self.position(call)
        names = [self._string(arg) for arg in (*call.args, *(k.value for k in call.keywords))]
        strings = tuple(dict.fromkeys(n for n in names if n and _IDENTIFIER.match(n)))
        return Opaque(strings, reason, line, column, True)

    def _inline(self, name: str, call: ast.Call, line: int, column: int) -> Iterator[Operation]:
        """A module-level helper's operations, with the call's string arguments bound to its
        parameters; a recursive or deeply nested helper stays opaque."""
        function = self.functions[name]
        if name in self.inlining or len(self.inlining) >= _MAX_INLINE:
            yield Opaque((), f"calls helper function `{name}()`", line, column)
            return
        if any(isinstance(a, ast.Starred) for a in call.args) or any(
            k.arg is None for k in call.keywords
        ):
            yield Opaque((), f"calls helper function `{name}()` with * or **", line, column)
            return
        bound: dict[str, str | None] = {}
        params = [*function.args.posonlyargs, *function.args.args]
        defaults = function.args.defaults
        for param, default in zip(params[len(params) - len(defaults) :], defaults, strict=True):
            bound[param.arg] = self._string(default)
        for param, kw_default in zip(
            function.args.kwonlyargs, function.args.kw_defaults, strict=True
        ):
            bound[param.arg] = self._string(kw_default) if kw_default is not None else None
        for param, arg in zip(params, call.args, strict=False):
            bound[param.arg] = self._string(arg)
        for keyword in call.keywords:
            if keyword.arg is not None:
                bound[keyword.arg] = self._string(keyword.value)
        for param in params + function.args.kwonlyargs:
            bound.setdefault(param.arg, None)
        saved_local, saved_helpers = self.local, self.local_helpers
        self.local = bound
        self.local_helpers = {
            stmt.name
            for stmt in function.body
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        }
        self.inlining.append(name)
        try:
            operations = self._body(function.body)
        finally:
            self.inlining.pop()
            self.local, self.local_helpers = saved_local, saved_helpers
        yield from operations

    def read(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[Operation, ...]:
        self.local = {}
        self.local_helpers = {
            stmt.name  # type: ignore[attr-defined]
            for stmt in function.body
            if type(stmt) in _NESTED_SCOPES
        }
        return tuple(self._body(function.body))

    def _body(self, body: Sequence[ast.stmt]) -> list[Operation]:
        """A function body's operations; after an `if ...: return`, the rest runs only
        sometimes and is opaque."""
        out: list[Operation] = []
        early: ast.stmt | None = None
        for stmt in body:
            if type(stmt) is ast.Expr:
                # `op.name(...)`, most statements: read by its operation, as _statement does.
                call = stmt.value
                func = call.func if type(call) is ast.Call else None
                if (
                    type(func) is ast.Attribute
                    and type(func.value) is ast.Name
                    and func.value.id == "op"
                ):
                    line, column = self.position(call)
                    operations = self._op(func.attr, call, line, column)  # type: ignore[arg-type]
                else:
                    operations = list(self._statement(stmt))
            else:
                operations = list(self._statement(stmt))
            if early is not None:
                operations = _conditional_ops(operations, "after an early `return`")
            out.extend(operations)
            if early is None and type(stmt) in _BLOCK_TYPES and _returns(stmt):
                early = stmt
        return out

    # -- statements -----------------------------------------------------------------------------

    def _statement(self, stmt: ast.stmt) -> Iterator[Operation]:
        if type(stmt) is ast.Expr:
            # Most statements: `op.name(...)`, read by its operation (what _calls would find).
            call = stmt.value
            if type(call) is ast.Call:
                func = call.func
                if (
                    type(func) is ast.Attribute
                    and type(func.value) is ast.Name
                    and func.value.id == "op"
                ):
                    line, column = self.position(call)
                    yield from self._op(func.attr, call, line, column)
                    return
        kind = type(stmt)
        if kind in _NESTED_SCOPES:
            self.local_helpers.add(stmt.name)  # type: ignore[attr-defined]
            return
        if kind in _BLOCK_TYPES:
            if type(stmt) is ast.With or type(stmt) is ast.AsyncWith:
                batch = self._batch_context(stmt)
                if batch is not None:
                    yield from batch
                    return
            elif type(stmt) is ast.For:
                unrolled = self._literal_loop(stmt)
                if unrolled is not None:
                    yield from unrolled
                    return
            yield from self._conditional(stmt)
            return
        if type(stmt) is ast.Assign and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                text = self._string(stmt.value)
                self.local[target.id] = text
                if _is_data_statement(stmt.value):
                    self.data_names.add(target.id)
                else:
                    self.data_names.discard(target.id)
        yield from self._calls(stmt)

    def _literal_loop(self, stmt: ast.For) -> list[Operation] | None:
        """`for name in ("a", "b"): ...` with no break/continue/else runs its body once per
        string: read it so, the operations are as certain as written out."""
        if not isinstance(stmt.target, ast.Name) or stmt.orelse:
            return None
        values: list[str] = []
        if isinstance(stmt.iter, (ast.Tuple, ast.List)):
            for elt in stmt.iter.elts:
                text = self._string(elt)
                if text is None:
                    return None
                values.append(text)
        else:
            resolved = self.resolve_name(stmt.iter)
            if not (isinstance(resolved, tuple) and all(isinstance(v, str) for v in resolved)):
                return None
            values = list(resolved)
        if any(isinstance(node, (ast.Break, ast.Continue)) for node in ast.walk(stmt)):
            return None
        out: list[Operation] = []
        for value in values:
            self.local[stmt.target.id] = value
            for inner in stmt.body:
                out.extend(self._statement(inner))
        self.local[stmt.target.id] = None
        return out

    def _conditional(self, stmt: ast.stmt) -> Iterator[Operation]:
        """Each schema-changing operation under control flow, as Opaque tied to its tables."""
        kind = _BLOCK_NAMES.get(type(stmt).__name__, "a block")
        operations = _conditional_ops(self._block(stmt), f"under `{kind}`")
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            # A context manager chainlint does not read is tied to the tables its block names.
            named = tuple(
                dict.fromkeys(
                    t
                    for op in operations
                    if isinstance(op, Opaque) and not op.guessed
                    for t in op.tables
                )
            )
            operations = [
                Opaque((*op.tables, *named), op.reason, op.line, op.column, True)
                if isinstance(op, Opaque) and op.guessed
                else op
                for op in operations
            ]
        yield from operations

    def _block(self, node: ast.AST) -> Iterator[Operation]:
        """The operations of a block's statements and expressions, in source order."""
        for child in _children(node):
            if isinstance(child, ast.stmt):
                yield from self._statement(child)
            elif isinstance(child, (ast.excepthandler, ast.withitem)) or (
                type(child).__name__ == "match_case"
            ):
                yield from self._block(child)
            elif isinstance(child, ast.expr):
                yield from self._calls(child, isinstance(node, ast.withitem))

    def _calls(self, node: ast.AST, top: bool = True) -> Iterator[Operation]:
        """The operations of the calls in `node`, in source order; op.* call arguments are read
        by their operation, not searched for further calls."""
        for call, own in _outer_calls(node, top):
            yield from self._call(call, own)

    def _call(self, call: ast.Call, top: bool) -> Iterator[Operation]:
        func = call.func
        line, column = self.position(call)
        if isinstance(func, ast.Attribute):
            owner = func.value
            if isinstance(owner, ast.Name) and owner.id == "op":
                yield from self._op(func.attr, call, line, column)
                return
            if isinstance(owner, ast.Call) and _dotted(owner.func) in ("op.get_bind",):
                if func.attr in _EXECUTE_CALLS:
                    yield from self._execute(call, line, column, f"get_bind().{func.attr}")
                return
            if func.attr in _EXECUTE_CALLS:
                yield from self._execute(call, line, column, f"{_dotted(func) or func.attr}")
                return
            if func.attr in _SCHEMA_CALLS:
                yield Opaque((), f"`{_dotted(func) or func.attr}(...)` call", line, column)
                return
            if func.attr in ("create", "drop") and call.args:
                yield Opaque((), f"`{_dotted(func) or func.attr}(...)` call", line, column)
                return
            if not top or func.attr in _PURE_CALLS or func.attr[:1].isupper():
                return  # json.loads(...), db.Session(...), {"id": uuid()}: values, no DDL
            if _INSPECTS.match(func.attr):
                return  # json.loads(...), db.Session(...), has_table(...): no DDL
            root = _root(func)
            if root in self.helpers or root in self.local_helpers:
                yield self._helper_call(call, f"calls helper `{_dotted(func) or root}`")
                return
            if root in self.imported and not _harmless_module(self.imported[root]):
                yield self._helper_call(call, f"calls `{_dotted(func) or root}`")
            # Other attribute calls (`sa.table(...)`, `logger.info(...)`) change nothing.
            return
        if isinstance(func, ast.Name):
            name = func.id
            if not top or _INSPECTS.match(name):
                return
            if name in self.functions and name not in self.local_helpers:
                yield from self._inline(name, call, line, column)
            elif name in self.helpers or name in self.local_helpers:
                yield self._helper_call(call, f"calls helper function `{name}()`")
            elif name in self.imported:
                if not _harmless_module(self.imported[name]):
                    yield self._helper_call(call, f"calls `{name}()` from {self.imported[name]}")
            elif name not in _BUILTINS and name not in self.local and not name[:1].isupper():
                yield self._helper_call(call, f"calls `{name}()`, defined elsewhere")
            return
        yield Opaque((), "a computed call", line, column)

    # -- op.* ---------------------------------------------------------------------------------

    def _op(
        self, name: str, call: ast.Call, line: int, column: int, batch: str | None = None
    ) -> list[Operation]:
        if batch is None:
            builder = _OP_BUILDERS.get(name)
            if builder is None and name == "bulk_insert":
                return [RowChange(self._bulk_table(call), False, line, column)]
        else:
            builder = _BATCH_BUILDERS.get(name)
        if builder is None:
            if name in _HARMLESS_OPS:
                return []
            if name == "execute":
                what = "op.execute" if not batch else "execute"
                return list(self._execute(call, line, column, what))
            tables: tuple[str, ...] = (batch,) if batch else ()
            return [Opaque(tables, f"`{'batch_op' if batch else 'op'}.{name}`", line, column)]
        try:
            return [builder(self, call, line, column, batch)]
        except _Unreadable as exc:
            tables = exc.tables or ((batch,) if batch else ())
            return [
                Opaque(
                    tables, f"`{'batch_op' if batch else 'op'}.{name}`: {exc.reason}", line, column
                )
            ]

    def _bulk_table(self, call: ast.Call) -> str:
        """The table `op.bulk_insert(sa.table("name", ...), rows)` names; "" when not written
        there."""
        node = call.args[0] if call.args else None
        for keyword in call.keywords:
            if keyword.arg == "table":
                node = keyword.value
        if isinstance(node, ast.Call) and node.args:
            return self._string(node.args[0]) or ""
        return ""

    def _batch_context(self, stmt: ast.With | ast.AsyncWith) -> list[Operation] | None:
        if len(stmt.items) != 1:
            return None
        item = stmt.items[0]
        call = item.context_expr
        if not (isinstance(call, ast.Call) and _dotted(call.func) == "op.batch_alter_table"):
            return None
        line, column = self.position(call)
        args = _Args(call, ("table_name", "schema"))
        try:
            table = self._table(args, "table_name", "schema")
        except _Unreadable as exc:
            return [Opaque(exc.tables, f"op.batch_alter_table: {exc.reason}", line, column)]
        alias = item.optional_vars.id if isinstance(item.optional_vars, ast.Name) else None
        out: list[Operation] = []
        for inner in stmt.body:
            if (
                alias is not None
                and isinstance(inner, ast.Expr)
                and isinstance(inner.value, ast.Call)
                and isinstance(inner.value.func, ast.Attribute)
                and isinstance(inner.value.func.value, ast.Name)
                and inner.value.func.value.id == alias
            ):
                call_line, call_column = self.position(inner.value)
                out.extend(
                    self._op(inner.value.func.attr, inner.value, call_line, call_column, table)
                )
            elif alias is not None and not isinstance(inner, _BLOCKS) and _names(inner, alias):
                # `helper(batch_op, ...)`: batch operations chainlint does not see.
                out.extend(self._statement(inner))
                iline, icolumn = self.position(inner)
                out.append(Opaque((table,), "batch_op passed to other code", iline, icolumn))
            elif isinstance(inner, (ast.If, ast.For, ast.While, ast.Try, ast.With)):
                for operation in self._statement(inner):
                    if isinstance(operation, RowChange) or (
                        isinstance(operation, Opaque) and not operation.tables
                    ):
                        out.append(operation)
                    else:
                        out.append(
                            Opaque(
                                (*tables_of(operation), table),
                                "batch operation under control flow",
                                operation.line,
                                operation.column,
                            )
                        )
                if alias is not None and any(
                    isinstance(n, ast.Name) and n.id == alias for n in ast.walk(inner)
                ):
                    iline, icolumn = self.position(inner)
                    out.append(
                        Opaque((table,), "batch operation under control flow", iline, icolumn)
                    )
            else:
                out.extend(self._statement(inner))
        return out

    # -- argument readers ---------------------------------------------------------------------

    def _string(self, node: ast.expr | None) -> str | None:
        """The string an expression stands for, or None."""
        kind = type(node)
        if kind is _Constant:
            value = node.value  # type: ignore[union-attr]
            return _intern(value) if type(value) is str else None
        if node is None:
            return None
        if kind is _Call:
            assert isinstance(node, ast.Call)
            if node.args and not node.keywords:
                name = _call_name(node)
                if name in _STRING_WRAPPERS:
                    return self._string(node.args[0])
            return None
        if kind is _Name:
            assert isinstance(node, ast.Name)
            local = self.local
            if node.id in local:
                return local[node.id]
            resolved = self.resolve_name(node)
            return resolved if isinstance(resolved, str) else None
        if kind is ast.JoinedStr:
            assert isinstance(node, ast.JoinedStr)
            parts = []
            for value in node.values:
                if type(value) is _Constant and type(value.value) is str:
                    parts.append(value.value)
                elif (
                    type(value) is ast.FormattedValue
                    and value.conversion == -1
                    and value.format_spec is None
                ):
                    text = self._string(value.value)
                    if text is None:
                        return None
                    parts.append(text)
                else:
                    return None
            return "".join(parts)
        if kind is ast.BinOp:
            assert isinstance(node, ast.BinOp)
            if type(node.op) is not ast.Add:
                return None
            left, right = self._string(node.left), self._string(node.right)
            return left + right if left is not None and right is not None else None
        if kind is _Attribute:
            resolved = self.resolve_name(node)  # type: ignore[arg-type]
            return resolved if isinstance(resolved, str) else None
        return None

    def _required(self, args: _Args, name: str, tables: tuple[str, ...] = ()) -> str:
        node = args.values.get(name)
        if type(node) is _Constant and type(node.value) is str:  # most arguments: a literal
            return _intern(node.value)
        value = self._string(node)
        if value is None:
            what = _source(node) if node is not None else "missing"
            raise _Unreadable(f"{name} `{short_text(what)}` cannot be resolved", tables)
        return value

    def _optional_name(self, args: _Args, name: str, tables: tuple[str, ...] = ()) -> str | None:
        node = args.values.get(name)
        if node is None:
            return None
        if type(node) is _Constant:
            value = node.value
            if value is None:
                return None
            if type(value) is str:
                return _intern(value)
        return self._required(args, name, tables)

    def _table(self, args: _Args, name: str, schema_arg: str = "schema") -> str:
        if args.starred:
            raise _Unreadable("arguments passed with * or **")
        table = self._required(args, name)
        schema = self._optional_name(args, schema_arg, (table,))
        return f"{schema}.{table}" if schema else table

    def _names(self, node: ast.expr | None, tables: tuple[str, ...]) -> tuple[str, ...]:
        if node is None:
            return ()
        if isinstance(node, (ast.List, ast.Tuple)):
            out = []
            for elt in node.elts:
                text = self._string(elt)
                out.append(text if text is not None else _source(elt))
            return tuple(out)
        text = self._string(node)
        if text is not None:
            return (text,)
        raise _Unreadable(f"columns `{short_text(_source(node))}` cannot be resolved", tables)

    def _flag(self, node: ast.expr | None, default: bool) -> bool | None:
        if node is None:
            return default
        if type(node) is _Constant and type(node.value) is bool:
            return node.value
        return None

    def _column(self, node: ast.expr, table: str) -> ColumnDef:
        if _call_name(node) != "Column":
            raise _Unreadable(
                f"column `{short_text(_source(node))}` is not a Column(...)", (table,)
            )
        assert isinstance(node, ast.Call)
        keywords: dict[str, ast.expr] = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise _Unreadable("Column(...) with * or ** arguments", (table,))
            keywords[keyword.arg] = keyword.value
        positional = node.args
        for arg in positional:
            if type(arg) is ast.Starred:
                raise _Unreadable("Column(...) with * or ** arguments", (table,))
        line, column = self.position(node)
        name_node = keywords.get("name")
        rest = 0
        if name_node is None and positional:
            name_node = positional[0]
            rest = 1
        name = self._string(name_node)
        if name is None:
            raise _Unreadable("a column name cannot be resolved", (table,))
        type_node = keywords.get("type_")
        if type_node is None and len(positional) > rest and not _is_schema_item(positional[rest]):
            type_node = positional[rest]
        primary_key = _is_true(keywords.get("primary_key"))
        nullable_node = keywords.get("nullable")
        if nullable_node is None:
            nullable = not primary_key
        elif type(nullable_node) is ast.Constant and type(nullable_node.value) is bool:
            nullable = nullable_node.value
        else:
            nullable = True  # unreadable `nullable=`: no rule claims NOT NULL then
        default = keywords.get("server_default")
        server_default = (
            None
            if default is None or (type(default) is ast.Constant and default.value is None)
            else unparse(default)
        )
        index = keywords.get("index")
        unique = keywords.get("unique")
        return ColumnDef(
            name,
            unparse(type_node) if type_node is not None else None,
            nullable,
            server_default,
            primary_key,
            line,
            column,
            type(index) is _Constant and index.value is True,
            type(unique) is _Constant and unique.value is True,
        )

    # -- op.execute ---------------------------------------------------------------------------

    def _execute(self, call: ast.Call, line: int, column: int, what: str) -> Iterator[Operation]:
        node = call.args[0] if call.args else None
        if node is None:
            for keyword in call.keywords:
                if keyword.arg in ("sqltext", "statement", "sql"):
                    node = keyword.value
        if node is None:
            yield Opaque((), f"{what}() without a statement", line, column)
            return
        text = self._string(node)
        if text is None:
            if _is_data_statement(node) or (
                isinstance(node, ast.Name) and node.id in self.data_names
            ):
                if not _only_changes_rows(node):
                    yield RowChange("", False, line, column)  # it may insert, anywhere
                return
            prefix = self._sql_prefix(node)
            if prefix is not None:
                from chainlint.sql import NO_TABLE_EFFECT

                if NO_TABLE_EFFECT.match(prefix):
                    if re.match(r"\s*INSERT\b", prefix, re.IGNORECASE):
                        yield RowChange("", False, line, column)
                    return  # f"UPDATE {table} SET ...": rows only, whatever the names
            yield Opaque((), f"{what}({short_text(_source(node))})", line, column)
            return
        from chainlint.sql import read_sql

        yield from read_sql(text, line, column, what)

    # -- builders (Alembic's parameter names) --------------------------------------------------

    def _create_table(self, call: ast.Call, line: int, column: int, batch: str | None) -> Operation:
        args = _Args(call, ("table_name",))
        if args.starred_args:
            table = self._string(call.args[0]) if call.args else None
            raise _Unreadable("columns passed with *", (table,) if table else ())
        table = self._table(args, "table_name")
        columns: list[ColumnDef] = []
        indexes: list[IndexDef] = []
        uniques: list[ConstraintDef] = []
        checks: list[ConstraintDef] = []
        foreign_keys: list[ForeignKeyDef] = []
        primary_key: list[str] = []
        for item in args.rest:
            kind = _call_name(item)
            if kind == "Column":
                definition = self._column(item, table)
                columns.append(definition)
                if definition.primary_key:
                    primary_key.append(definition.name)
                assert isinstance(item, ast.Call)
                for arg in item.args:
                    if type(arg) is ast.Call and _names_foreign_key(arg):
                        target = self._string(arg.args[0]) if arg.args else None
                        if target:
                            ref_table, _, ref_column = target.rpartition(".")
                            foreign_keys.append(
                                ForeignKeyDef(
                                    self._keyword_name(arg),
                                    (definition.name,),
                                    ref_table,
                                    (ref_column,),
                                )
                            )
                continue
            assert isinstance(item, ast.Call) or kind == ""
            if kind == "PrimaryKeyConstraint":
                assert isinstance(item, ast.Call)
                primary_key = list(self._constraint_columns(item, table))
            elif kind == "UniqueConstraint":
                assert isinstance(item, ast.Call)
                uniques.append(
                    ConstraintDef(self._keyword_name(item), self._constraint_columns(item, table))
                )
            elif kind == "CheckConstraint":
                assert isinstance(item, ast.Call)
                checks.append(ConstraintDef(self._keyword_name(item), ()))
            elif kind == "ForeignKeyConstraint":
                assert isinstance(item, ast.Call)
                local = self._names(item.args[0] if item.args else None, (table,))
                remote = self._names(item.args[1] if len(item.args) > 1 else None, (table,))
                referent = remote[0].rpartition(".")[0] if remote else ""
                foreign_keys.append(
                    ForeignKeyDef(
                        self._keyword_name(item),
                        local,
                        referent,
                        tuple(r.rpartition(".")[2] for r in remote),
                    )
                )
            elif kind == "Index":
                assert isinstance(item, ast.Call)
                index_name = self._string(item.args[0]) if item.args else None
                cols = tuple(
                    self._string(a) or _source(a)
                    for a in item.args[1:]
                    if not isinstance(a, ast.Starred)
                )
                unique = self._flag(
                    next((k.value for k in item.keywords if k.arg == "unique"), None), False
                )
                indexes.append(IndexDef(index_name, cols, unique is True))
            else:
                raise _Unreadable(f"table item `{short_text(_source(item))}`", (table,))
        return CreateTable(
            table,
            tuple(columns),
            tuple(indexes),
            tuple(uniques),
            tuple(foreign_keys),
            tuple(primary_key),
            line,
            column,
            self._flag(args.get("if_not_exists"), False) is True,
            tuple(checks),
        )

    def _batch_outside(
        self, call: ast.Call, line: int, column: int, batch: str | None
    ) -> Operation:
        """`op.batch_alter_table(...)` not as a `with` item (returned by a helper, say)."""
        table = self._table(_Args(call, ("table_name", "schema")), "table_name")
        return Opaque((table,), "op.batch_alter_table outside a `with` block", line, column)

    def _keyword_name(self, call: ast.Call) -> str | None:
        for keyword in call.keywords:
            if keyword.arg == "name":
                return self._string(keyword.value)
        return None

    def _constraint_columns(self, call: ast.Call, table: str) -> tuple[str, ...]:
        out = []
        for arg in call.args:
            text = self._string(arg)
            if text is None:
                raise _Unreadable("constraint columns cannot be resolved", (table,))
            out.append(text)
        return tuple(out)

    def _drop_table(self, call: ast.Call, line: int, column: int, batch: str | None) -> Operation:
        args = _Args(call, ("table_name",))
        table = self._table(args, "table_name")
        return DropTable(table, line, column, self._flag(args.get("if_exists"), False) is True)

    def _rename_table(self, call: ast.Call, line: int, column: int, batch: str | None) -> Operation:
        args = _Args(call, ("old_table_name", "new_table_name"))
        table = self._table(args, "old_table_name")
        new = self._required(args, "new_table_name", (table,))
        schema = self._optional_name(args, "schema", (table,))
        return RenameTable(table, f"{schema}.{new}" if schema else new, line, column)

    def _batch_table(self, args: _Args, batch: str | None, name: str = "table_name") -> str:
        return batch if batch is not None else self._table(args, name)

    def _add_column(self, call: ast.Call, line: int, column: int, batch: str | None) -> Operation:
        args = _Args(call, ("column",) if batch else ("table_name", "column"))
        table = self._batch_table(args, batch)
        node = args.get("column")
        if node is None:
            raise _Unreadable("no column", (table,))
        return AddColumn(
            table,
            self._column(node, table),
            line,
            column,
            self._flag(args.get("if_not_exists"), False) is True,
        )

    def _drop_column(self, call: ast.Call, line: int, column: int, batch: str | None) -> Operation:
        args = _Args(call, ("column_name",) if batch else ("table_name", "column_name"))
        table = self._batch_table(args, batch)
        return DropColumn(
            table,
            self._required(args, "column_name", (table,)),
            line,
            column,
            self._flag(args.get("if_exists"), False) is True,
        )

    def _alter_column(self, call: ast.Call, line: int, column: int, batch: str | None) -> Operation:
        args = _Args(call, ("column_name",) if batch else ("table_name", "column_name"))
        table = self._batch_table(args, batch)
        name = self._required(args, "column_name", (table,))
        new_name = self._optional_name(args, "new_column_name", (table,))
        nullable_node = args.get("nullable")
        nullable = None if nullable_node is None else self._flag(nullable_node, True)
        if nullable_node is not None and nullable is None:
            raise _Unreadable("nullable cannot be read", (table,))
        type_node = args.get("type_")
        default_node = args.get("server_default")
        server_default: str | Unchanged | None
        if default_node is None or (
            isinstance(default_node, ast.Constant) and default_node.value is False
        ):
            server_default = False
        elif isinstance(default_node, ast.Constant) and default_node.value is None:
            server_default = None
        else:
            server_default = unparse(default_node)
        return AlterColumn(
            table,
            name,
            new_name,
            nullable,
            unparse(type_node) if type_node is not None else None,
            server_default,
            line,
            column,
        )

    def _create_index(self, call: ast.Call, line: int, column: int, batch: str | None) -> Operation:
        names = ("index_name", "columns") if batch else ("index_name", "table_name", "columns")
        args = _Args(call, names)
        table = self._batch_table(args, batch)
        unique = self._flag(args.get("unique"), False)
        return CreateIndex(
            table,
            self._optional_name(args, "index_name", (table,)),
            self._names(args.get("columns"), (table,)),
            unique is True,
            line,
            column,
            self._flag(args.get("if_not_exists"), False) is True,
        )

    def _drop_index(self, call: ast.Call, line: int, column: int, batch: str | None) -> Operation:
        args = _Args(call, ("index_name",) if batch else ("index_name", "table_name"))
        if batch is not None:
            table: str | None = batch
        elif args.get("table_name") is not None:
            table = self._table(args, "table_name")
        else:
            table = None
        name = self._required(args, "index_name", (table,) if table else ())
        if table is None:
            schema = self._optional_name(args, "schema")
            name = f"{schema}.{name}" if schema else name
        return DropIndex(
            table, name, line, column, self._flag(args.get("if_exists"), False) is True
        )

    def _create_unique(
        self, call: ast.Call, line: int, column: int, batch: str | None
    ) -> Operation:
        names = (
            ("constraint_name", "columns")
            if batch
            else ("constraint_name", "table_name", "columns")
        )
        args = _Args(call, names)
        table = self._batch_table(args, batch)
        return CreateUniqueConstraint(
            table,
            self._optional_name(args, "constraint_name", (table,)),
            self._names(args.get("columns"), (table,)),
            line,
            column,
        )

    def _create_foreign_key(
        self, call: ast.Call, line: int, column: int, batch: str | None
    ) -> Operation:
        names = (
            ("constraint_name", "referent_table", "local_cols", "remote_cols")
            if batch
            else ("constraint_name", "source_table", "referent_table", "local_cols", "remote_cols")
        )
        args = _Args(call, names)
        table = self._batch_table(args, batch, "source_table")
        if batch is None and args.get("source_schema") is not None:
            schema = self._required(args, "source_schema", ())
            table = f"{schema}.{self._required(args, 'source_table')}"
        referent = self._required(args, "referent_table", (table,))
        referent_schema = self._optional_name(args, "referent_schema", (table,))
        return CreateForeignKey(
            table,
            self._optional_name(args, "constraint_name", (table,)),
            f"{referent_schema}.{referent}" if referent_schema else referent,
            self._names(args.get("local_cols"), (table,)),
            self._names(args.get("remote_cols"), (table,)),
            line,
            column,
        )

    def _create_primary_key(
        self, call: ast.Call, line: int, column: int, batch: str | None
    ) -> Operation:
        names = (
            ("constraint_name", "columns")
            if batch
            else ("constraint_name", "table_name", "columns")
        )
        args = _Args(call, names)
        table = self._batch_table(args, batch)
        return CreatePrimaryKey(
            table,
            self._optional_name(args, "constraint_name", (table,)),
            self._names(args.get("columns"), (table,)),
            line,
            column,
        )

    def _create_check(self, call: ast.Call, line: int, column: int, batch: str | None) -> Operation:
        names = (
            ("constraint_name", "condition")
            if batch
            else ("constraint_name", "table_name", "condition")
        )
        args = _Args(call, names)
        table = self._batch_table(args, batch)
        condition = args.get("condition")
        return CreateCheckConstraint(
            table,
            self._optional_name(args, "constraint_name", (table,)),
            _source(condition) if condition is not None else "",
            line,
            column,
        )

    def _drop_constraint(
        self, call: ast.Call, line: int, column: int, batch: str | None
    ) -> Operation:
        names = (
            ("constraint_name", "type_") if batch else ("constraint_name", "table_name", "type_")
        )
        args = _Args(call, names)
        table = self._batch_table(args, batch)
        return DropConstraint(
            table,
            self._required(args, "constraint_name", (table,)),
            self._optional_name(args, "type_", (table,)),
            line,
            column,
        )


_Builder = Callable[[_BodyReader, ast.Call, int, int, "str | None"], Operation]

_OP_BUILDERS: dict[str, _Builder] = {
    "create_table": _BodyReader._create_table,
    "drop_table": _BodyReader._drop_table,
    "rename_table": _BodyReader._rename_table,
    "add_column": _BodyReader._add_column,
    "drop_column": _BodyReader._drop_column,
    "alter_column": _BodyReader._alter_column,
    "create_index": _BodyReader._create_index,
    "drop_index": _BodyReader._drop_index,
    "create_unique_constraint": _BodyReader._create_unique,
    "create_foreign_key": _BodyReader._create_foreign_key,
    "create_primary_key": _BodyReader._create_primary_key,
    "create_check_constraint": _BodyReader._create_check,
    "drop_constraint": _BodyReader._drop_constraint,
    "batch_alter_table": _BodyReader._batch_outside,
}
_BATCH_BUILDERS: dict[str, _Builder] = {
    name: builder
    for name, builder in _OP_BUILDERS.items()
    if name not in ("create_table", "drop_table", "rename_table", "batch_alter_table")
}


_VALUE_HOLDERS = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return, ast.Await)


def _outer_calls(node: ast.AST, top: bool = True) -> list[tuple[ast.Call, bool]]:
    """Calls in source order, each with whether it is a statement's own value (`helper()`,
    `x = helper()`, `with helper():`) rather than a value inside an expression (`{"id":
    uuid()}`); a call's own arguments are not searched (`op.add_column(..., sa.Column(...))` is
    one call), nor nested function bodies."""
    found: list[tuple[ast.Call, bool]] = []
    _collect_calls(node, top, found)
    return found


# Nodes with no call inside (or whose calls run elsewhere: nested function and class bodies).
_NO_CALLS = frozenset(
    {
        ast.Name,
        ast.Constant,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.Lambda,
        ast.Pass,
        ast.Break,
        ast.Continue,
        ast.Import,
        ast.ImportFrom,
        ast.Global,
        ast.Nonlocal,
        ast.Load,
        ast.Store,
        ast.Del,
    }
)


def _collect_calls(node: ast.AST, top: bool, found: list[tuple[ast.Call, bool]]) -> None:
    kind = type(node)
    if kind is ast.Call:
        found.append((node, top))  # type: ignore[arg-type]
        return
    if kind in _NO_CALLS:
        return
    own: ast.AST | None = None
    if top:
        if isinstance(node, _VALUE_HOLDERS):
            own = getattr(node, "value", None)
        elif kind is ast.withitem:
            own = node.context_expr  # type: ignore[attr-defined]
    # ast.iter_child_nodes, inlined: this walk runs over every statement of every migration.
    names = _CALL_FIELDS.get(kind)
    if names is None:
        names = _CALL_FIELDS[kind] = _call_fields(kind)
    for name in names:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            _collect_calls(value, own is not None and value is own, found)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    _collect_calls(item, own is not None and item is own, found)


# Fields that never hold a call: names, operators, expression contexts, flags.
_LEAF_FIELDS = frozenset(
    {
        "ctx",
        "op",
        "ops",
        "id",
        "attr",
        "arg",
        "asname",
        "module",
        "level",
        "conversion",
        "kind",
        "type_comment",
        "is_async",
        "simple",
        "tag",
    }
)
# Per node class, the fields `_collect_calls` looks into (filled as classes are met).
_CALL_FIELDS: dict[type, tuple[str, ...]] = {}


def _call_fields(kind: type) -> tuple[str, ...]:
    return tuple(name for name in kind._fields if name not in _LEAF_FIELDS)  # type: ignore[attr-defined]


def _children(node: ast.AST) -> list[ast.AST]:
    """`list(ast.iter_child_nodes(node))`, without its generators."""
    found: list[ast.AST] = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            found.append(value)
        elif type(value) is list:
            for item in value:
                if isinstance(item, ast.AST):
                    found.append(item)
    return found


def _source(node: ast.AST) -> str:
    """The expression as `ast.unparse` writes it (through `unparse`'s fast path)."""
    return unparse(node)  # type: ignore[arg-type]


def _names(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _returns(stmt: ast.stmt) -> bool:
    """Whether a block can return from the function (nested functions aside). A `return` is a
    statement: only statement bodies are searched, never expressions."""
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Return:
            return True
        if kind in _NESTED_SCOPES:
            continue
        for name in _BODIES:
            stack.extend(getattr(node, name, ()))
    return False


def _conditional_ops(operations: Iterable[Operation], why: str) -> list[Operation]:
    """Operations that may not run: each schema change as Opaque tied to its tables; rows
    that may be added stay (they may be there), an emptying that may not happen is dropped."""
    return [
        operation if isinstance(operation, RowChange) else _conditional_op(operation, why)
        for operation in operations
        if not (isinstance(operation, RowChange) and operation.emptied)
    ]


_NESTED_SCOPES = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})
# The fields that hold statements (or handlers and match cases, which hold statements).
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def _conditional_op(operation: Operation, why: str) -> Opaque:
    if isinstance(operation, Opaque):
        return operation
    reason = f"{_op_name(operation)} {why}"
    return Opaque(tables_of(operation), reason, operation.line, operation.column)


def _is_schema_item(node: ast.expr) -> bool:
    if type(node) is not _Call:
        return False
    # The callee's last name first: `_call_name` gives it or "", so most types stop here.
    func = node.func
    last = func.attr if type(func) is _Attribute else func.id if type(func) is _Name else ""
    if not (last in _SCHEMA_ITEMS or last.endswith("Constraint")):
        return False
    name = _call_name(node)
    return name in _SCHEMA_ITEMS or name.endswith("Constraint")


_SCHEMA_ITEMS = frozenset({"ForeignKey", "Sequence", "Identity", "Computed"})


def _names_foreign_key(call: ast.Call) -> bool:
    """`_call_name(call).endswith("ForeignKey")`, deciding most calls by their last name."""
    func = call.func
    last = func.attr if type(func) is _Attribute else func.id if type(func) is _Name else ""
    return last.endswith("ForeignKey") and _call_name(call).endswith("ForeignKey")


def _is_true(node: ast.expr | None) -> bool:
    """Whether the argument is written `True` (what `_flag(node, False) is True` tells)."""
    return type(node) is ast.Constant and node.value is True


def _is_data_statement(node: ast.expr) -> bool:
    """`table.update().where(...)`, `sa.insert(t).values(...)`: statements that touch rows."""
    current: ast.expr = node
    while isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
        if current.func.attr in _DATA_BUILDERS:
            return True
        current = current.func.value
    if isinstance(current, ast.Call):
        name = _dotted(current.func) or ""
        return name.rsplit(".", 1)[-1] in _DATA_BUILDERS
    return False


def _only_changes_rows(node: ast.expr) -> bool:
    """`t.update()...`, `sa.delete(t)...`, `select(...)`: a data statement that adds no row."""
    names = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return isinstance(node, ast.Call) and "insert" not in names


def _harmless_module(module: str) -> bool:
    return module.split(".")[0] in _HARMLESS_ROOTS


# One string object for equal names and types across files (a table is named 4 times a file).
_intern = sys.intern


def unparse(node: ast.expr) -> str:
    """`ast.unparse(node)`, computed directly for the shapes column types and defaults almost
    always have (`sa.String(length=50)`, `sa.text('now()')`); ast.unparse (a pure-Python
    visitor) for anything else. Same string either way."""
    fast = _unparse_simple(node, 0)
    return _intern(fast) if fast is not None else ast.unparse(node)


def _unparse_simple(node: ast.expr, depth: int) -> str | None:
    if depth > 8:
        return None
    if type(node) is ast.Call:
        func = node.func
        if type(func) is _Attribute and type(func.value) is _Name:
            head: str | None = f"{func.value.id}.{func.attr}"  # `sa.String`: most calls
            if not node.args and not node.keywords:
                return f"{head}()"
        elif type(func) is not ast.Name and type(func) is not ast.Attribute:
            return None
        else:
            head = _unparse_simple(func, depth + 1)
        if head is None:
            return None
        parts = []
        for arg in node.args:
            text = _unparse_simple(arg, depth + 1)
            if text is None:
                return None
            parts.append(text)
        for keyword in node.keywords:
            if keyword.arg is None:
                return None
            text = _unparse_simple(keyword.value, depth + 1)
            if text is None:
                return None
            parts.append(f"{keyword.arg}={text}")
        return f"{head}({', '.join(parts)})"
    if type(node) is ast.Name:
        return node.id
    if type(node) is ast.Attribute:
        base = node.value
        if type(base) is not ast.Name and type(base) is not ast.Attribute:
            return None  # `(1).real`, calls: unparse's own parenthesising rules
        inner = _unparse_simple(base, depth + 1)
        return None if inner is None else f"{inner}.{node.attr}"
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or type(value) is bool or type(value) is int:
            return repr(value)
        if (
            type(value) is str
            and node.kind is None
            and value.isascii()
            and value.isprintable()
            and "'" not in value
            and "\\" not in value
        ):
            return f"'{value}'"
        return None
    return None


def short_text(text: str) -> str:
    """The text on one line, at most 60 characters (for messages)."""
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _op_name(operation: Operation) -> str:
    name = type(operation).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def tables_of(operation: Operation) -> tuple[str, ...]:
    """The tables an operation names (both names for a rename)."""
    if isinstance(operation, Opaque):
        return operation.tables
    if isinstance(operation, RenameTable):
        return (operation.table, operation.new_name)
    table = operation.table
    return (table,) if table else ()


# -- plain-JSON form for the read cache ---------------------------------------------------------

_KINDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        CreateTable,
        DropTable,
        RenameTable,
        AddColumn,
        DropColumn,
        AlterColumn,
        CreateIndex,
        DropIndex,
        CreateUniqueConstraint,
        CreateForeignKey,
        CreatePrimaryKey,
        CreateCheckConstraint,
        DropConstraint,
        Opaque,
        RowChange,
    )
}
_NESTED: dict[str, type[Any]] = {
    "ColumnDef": ColumnDef,
    "IndexDef": IndexDef,
    "ConstraintDef": ConstraintDef,
    "ForeignKeyDef": ForeignKeyDef,
}


# Every record an operation is made of, by class (what `record_cells` encodes).
_RECORD_KINDS = frozenset((*_KINDS.values(), *_NESTED.values()))
# What a record's fields are, by class: one attrgetter call gives them all as a tuple.
_FIELD_VALUES: dict[type[Any], Callable[[Any], tuple[Any, ...]]] = {}


def _field_values(kind: type[Any]) -> Callable[[Any], tuple[Any, ...]]:
    names = [f.name for f in fields(kind)]
    getter = attrgetter(*names) if len(names) > 1 else (lambda value: (getattr(value, names[0]),))
    _FIELD_VALUES[kind] = getter
    return getter


def operations_cells(ops: MigrationOperations) -> tuple[Any, ...]:
    """dump_operations' shape with each operation left a record, for a JSON encoder whose
    `default` gives a record's cells (`record_cells`): the encoder walks the tuples itself."""
    return (
        (
            ops.has_upgrade,
            ops.has_downgrade,
            ops.upgrade_is_empty,
            ops.downgrade_is_empty,
            ops.downgrade_raises,
        ),
        (ops.upgrade_line, ops.downgrade_line),
        ops.upgrade,
        ops.downgrade,
        ops.upgrade_rows,
        ops.downgrade_rows,
    )


def record_cells(value: Any) -> list[Any] | None:
    """An operation record (or one nested in it) as [kind, *fields], the fields as they are;
    None for anything else."""
    kind = type(value)
    getter = _FIELD_VALUES.get(kind)
    if getter is None:
        if kind not in _RECORD_KINDS:
            return None
        getter = _field_values(kind)
    return [kind.__name__, *getter(value)]


def dump_operations(ops: MigrationOperations) -> list[Any]:
    """Plain JSON data: [flags, lines, [upgrade ops], [downgrade ops], [upgrade row changes],
    [downgrade row changes]]; each op is [kind, *fields] in the dataclass's field order (what
    the cache row holds: `operations_cells` encoded, parsed)."""
    return json.loads(_OPERATIONS_JSON.encode(operations_cells(ops)))  # type: ignore[no-any-return]


def _cells_or_refuse(value: Any) -> list[Any]:
    cells = record_cells(value)
    if cells is None:
        raise TypeError(f"{type(value).__name__} is not part of an operation")
    return cells


_OPERATIONS_JSON = json.JSONEncoder(
    separators=(",", ":"), check_circular=False, default=_cells_or_refuse
)


# The declared type of every field, checked on load.
_FieldCheck = Callable[[Any], Any]


def _check(kind: str) -> _FieldCheck:
    """The check of one declared field type: the value, strings interned (as the reader shares
    them); ValueError for a value of another type. One small function per type, as it runs for
    every cell of every operation decoded from the cache."""
    return _FIELD_CHECKS[kind]


def _wrong(kind: str, value: Any) -> ValueError:
    return ValueError(f"expected {kind}, got {type(value).__name__}")


def _str_cell(value: Any) -> Any:
    if type(value) is not str:
        raise _wrong("str", value)
    return _intern(value)


def _optional_str_cell(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is not str:
        raise _wrong("str?", value)
    return _intern(value)


def _int_cell(value: Any) -> Any:
    if type(value) is not int:
        raise _wrong("int", value)
    return value


def _bool_cell(value: Any) -> Any:
    if type(value) is not bool:
        raise _wrong("bool", value)
    return value


def _optional_bool_cell(value: Any) -> Any:
    if value is not None and type(value) is not bool:
        raise _wrong("bool?", value)
    return value


def _default_cell(value: Any) -> Any:
    if value is None or value is False:
        return value
    if type(value) is not str:
        raise _wrong("default", value)
    return _intern(value)


_FIELD_CHECKS: dict[str, _FieldCheck] = {
    "str": _str_cell,
    "str?": _optional_str_cell,
    "int": _int_cell,
    "bool": _bool_cell,
    "bool?": _optional_bool_cell,
    "default": _default_cell,
}


def _tuple_of(item: _FieldCheck) -> _FieldCheck:
    def check(value: Any) -> Any:
        if type(value) is not list:
            raise ValueError("expected a list")
        return tuple([item(v) for v in value])

    return check


def _record(name: str) -> _FieldCheck:
    kinds = _NESTED if name in _NESTED else _KINDS

    def check(value: Any) -> Any:
        return _load_record(value, kinds, name)

    return check


_STR, _OPT, _INT, _BOOL = _check("str"), _check("str?"), _check("int"), _check("bool")
_NAMES = _tuple_of(_STR)
_SCHEMAS: dict[str, tuple[_FieldCheck, ...]] = {
    "ColumnDef": (_STR, _OPT, _BOOL, _OPT, _BOOL, _INT, _INT, _BOOL, _BOOL),
    "IndexDef": (_OPT, _NAMES, _BOOL),
    "ConstraintDef": (_OPT, _NAMES),
    "ForeignKeyDef": (_OPT, _NAMES, _STR, _NAMES),
    "CreateTable": (
        _STR,
        _tuple_of(_record("ColumnDef")),
        _tuple_of(_record("IndexDef")),
        _tuple_of(_record("ConstraintDef")),
        _tuple_of(_record("ForeignKeyDef")),
        _NAMES,
        _INT,
        _INT,
        _BOOL,
        _tuple_of(_record("ConstraintDef")),
    ),
    "DropTable": (_STR, _INT, _INT, _BOOL),
    "RenameTable": (_STR, _STR, _INT, _INT),
    "AddColumn": (_STR, _record("ColumnDef"), _INT, _INT, _BOOL),
    "DropColumn": (_STR, _STR, _INT, _INT, _BOOL),
    "AlterColumn": (
        _STR,
        _STR,
        _OPT,
        _check("bool?"),
        _OPT,
        _check("default"),
        _INT,
        _INT,
    ),
    "CreateIndex": (_STR, _OPT, _NAMES, _BOOL, _INT, _INT, _BOOL),
    "DropIndex": (_OPT, _STR, _INT, _INT, _BOOL),
    "CreateUniqueConstraint": (_STR, _OPT, _NAMES, _INT, _INT),
    "CreateForeignKey": (_STR, _OPT, _STR, _NAMES, _NAMES, _INT, _INT),
    "CreatePrimaryKey": (_STR, _OPT, _NAMES, _INT, _INT),
    "CreateCheckConstraint": (_STR, _OPT, _STR, _INT, _INT),
    "DropConstraint": (_STR, _STR, _OPT, _INT, _INT),
    "Opaque": (_NAMES, _STR, _INT, _INT, _BOOL),
    "RowChange": (_STR, _BOOL, _INT, _INT, _INT),
}


def _load_record(value: Any, kinds: dict[str, type[Any]], expected: str | None = None) -> Any:
    if type(value) is not list or not value or type(value[0]) is not str:
        raise ValueError("expected [kind, *fields]")
    kind, *cells = value
    if kind not in kinds or (expected is not None and kind != expected):
        raise ValueError(f"unknown operation kind {kind!r}")
    checks = _SCHEMAS[kind]
    if len(cells) != len(checks):
        raise ValueError(f"{kind}: expected {len(checks)} fields, got {len(cells)}")
    # The lengths are equal (checked above).
    return kinds[kind](*[check(cell) for check, cell in zip(checks, cells, strict=False)])


def load_operations(data: Any) -> MigrationOperations:
    """The inverse of dump_operations; raises ValueError on any shape it did not write."""
    if type(data) is not list or len(data) != 6:
        raise ValueError("expected a list of 6")
    flags, lines, upgrade, downgrade, upgrade_rows, downgrade_rows = data
    if type(flags) is not list or len(flags) != 5 or any(type(f) is not bool for f in flags):
        raise ValueError("expected 5 booleans")
    if type(lines) is not list or len(lines) != 2 or any(type(n) is not int for n in lines):
        raise ValueError("expected 2 line numbers")
    if any(type(part) is not list for part in (upgrade, downgrade, upgrade_rows, downgrade_rows)):
        raise ValueError("expected lists of operations")
    rows = {"RowChange": RowChange}
    try:
        has_upgrade, has_downgrade, upgrade_is_empty, downgrade_is_empty, raises = flags
        return MigrationOperations(
            tuple([_load_record(op, _KINDS) for op in upgrade]),
            tuple([_load_record(op, _KINDS) for op in downgrade]),
            has_upgrade,
            has_downgrade,
            upgrade_is_empty,
            downgrade_is_empty,
            raises,
            lines[0],
            lines[1],
            tuple([_load_record(op, rows) for op in upgrade_rows]),
            tuple([_load_record(op, rows) for op in downgrade_rows]),
        )
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


__all__ = [
    "NO_OPERATIONS",
    "AddColumn",
    "AlterColumn",
    "ColumnDef",
    "ConstraintDef",
    "CreateCheckConstraint",
    "CreateForeignKey",
    "CreateIndex",
    "CreatePrimaryKey",
    "CreateTable",
    "CreateUniqueConstraint",
    "DropColumn",
    "DropConstraint",
    "DropIndex",
    "DropTable",
    "ForeignKeyDef",
    "IndexDef",
    "MigrationOperations",
    "Opaque",
    "Operation",
    "RenameTable",
    "RowChange",
    "dump_operations",
    "load_operations",
    "operations_cells",
    "read_operations",
    "record_cells",
    "tables_of",
]
