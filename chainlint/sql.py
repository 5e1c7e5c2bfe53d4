"""The operations of an SQL string (`op.execute("ALTER TABLE ...")`), for chainlint/ops.py.

A statement that changes no table, or one ALTER TABLE that changes one column, is read by
pattern; anything else through sqlglot. Imported the first time a migration executes SQL text:
most never do, and its patterns alone take several milliseconds to compile.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from chainlint.ops import (
    AddColumn,
    AlterColumn,
    ColumnDef,
    ConstraintDef,
    CreateIndex,
    CreateTable,
    DropColumn,
    DropIndex,
    DropTable,
    Opaque,
    Operation,
    RenameTable,
    RowChange,
    short_text,
)

_SQLGLOT: Any = None


def _sqlglot() -> Any:
    global _SQLGLOT
    if _SQLGLOT is None:
        import logging

        logging.getLogger("sqlglot").setLevel(logging.CRITICAL)
        import sqlglot
        from sqlglot import exp

        _SQLGLOT = (sqlglot, exp)
    return _SQLGLOT


def read_sql(text: str, line: int, column: int, what: str) -> Iterator[Operation]:
    """The operations and row changes of SQL text executed at (line, column) by `what`."""
    if not text.strip():
        return
    plain = _read_plain_sql(text, line, column, what)
    if plain is not None:
        yield from plain
        return
    yield from _read_sql_with_sqlglot(text, line, column, what)


# One plain name, or `"name"`, `` `name` ``; with at most one schema part.
_PLAIN_PART = r'(?:"[A-Za-z_][A-Za-z0-9_]*"|`[A-Za-z_][A-Za-z0-9_]*`|[A-Za-z_][A-Za-z0-9_]*)'
_ALTER_ONE_COLUMN = re.compile(
    r"\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?"
    rf"(?P<name>{_PLAIN_PART}(?:\.{_PLAIN_PART})?)\s+(?:MODIFY|ALTER)\s+(?P<rest>.*)",
    re.IGNORECASE | re.DOTALL,
)
_OTHER_ACTIONS = re.compile(r"\b(?:ADD|DROP|RENAME|CHANGE)\b|['\\]|--|/\*", re.IGNORECASE)
_ROW_CHANGES = re.compile(r"\s*(?:INSERT|DELETE)\b", re.IGNORECASE)
_KEYWORD_NAMES = frozenset({"ALTER", "TABLE", "IF", "EXISTS", "ONLY", "MODIFY", "COLUMN"})


def _read_plain_sql(text: str, line: int, column: int, what: str) -> list[Operation] | None:
    """What the sqlglot reading gives, for the statements that do not need it (its import
    alone costs as much as parsing a few hundred migrations), or None. Such statements: one
    that changes no table and neither empties nor fills one (UPDATE, SELECT, types, grants,
    ...); an ALTER TABLE of one plain name whose one action changes a column (`MODIFY c TEXT`,
    `ALTER COLUMN c TYPE VARCHAR`), which the model does not read either.
    tests/test_ops.py compares both readings over the real trees' SQL."""
    body = text.rstrip().rstrip(";")
    if ";" in body:
        return None
    if NO_TABLE_EFFECT.match(body):
        # INSERT and DELETE change rows (RowChange): the table name is sqlglot's to read.
        return None if _ROW_CHANGES.match(body) else []
    match = _ALTER_ONE_COLUMN.match(body)
    if match is None:
        return None
    rest = match.group("rest")
    while "(" in rest:  # `VARCHAR(10, 2)`: commas in parentheses do not separate actions
        inner = re.sub(r"\([^()]*\)", "", rest)
        if inner == rest:
            return None
        rest = inner
    if "," in rest or ")" in rest or _OTHER_ACTIONS.search(rest):
        return None
    parts = [part.strip('"`') for part in match.group("name").split(".")]
    if any(part.upper() in _KEYWORD_NAMES for part in parts):
        return None
    table = ".".join(parts)
    return [Opaque((table,), f"{what}: ALTER TABLE {table} ...", line, column)]


def _read_sql_with_sqlglot(text: str, line: int, column: int, what: str) -> Iterator[Operation]:
    sqlglot, exp = _sqlglot()
    statements = None
    for dialect in (None, "postgres", "mysql"):
        try:
            statements = sqlglot.parse(text, read=dialect)
            break
        except Exception:  # sqlglot raises many kinds; any failure means "cannot read"
            continue
    if statements is None:
        for part in _split_sql(text):
            yield from _command(part, line, column, what)
        return
    for statement in statements:
        if statement is None:
            continue
        if isinstance(statement, exp.Command):
            yield from _command(statement.sql(), line, column, what)
            continue
        try:
            yield from _sql_statement(statement, exp, line, column, what)
        except Exception:
            yield Opaque(
                _sql_tables(statement, exp), f"{what} with SQL chainlint cannot read", line, column
            )


# Statements sqlglot keeps as text, classified by their first words.
NO_TABLE_EFFECT = re.compile(
    r"\s*(?:(?:CREATE|DROP|ALTER)\s+(?:OR\s+REPLACE\s+)?(?:EXTENSION|TYPE|SEQUENCE|FUNCTION|"
    r"PROCEDURE|TRIGGER|VIEW|MATERIALIZED\s+VIEW|DOMAIN|RULE|POLICY|CAST|ROLE|USER|AGGREGATE|"
    r"COLLATION|OPERATOR|LANGUAGE|EVENT)\b|COMMENT\s+ON\b|GRANT\b|REVOKE\b|SET\b|ANALYZE\b|"
    r"VACUUM\b|LOCK\b|REINDEX\b|REFRESH\b|SELECT\b|INSERT\b|UPDATE\b|DELETE\b|PRAGMA\b|"
    r"NOTIFY\b|COMMIT\b|BEGIN\b|START\s+TRANSACTION\b)",
    re.IGNORECASE,
)
_ALTER_TABLE = re.compile(
    r"\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?P<name>[\w.`\"\[\]]+)", re.IGNORECASE
)


def _split_sql(text: str) -> list[str]:
    """Statements separated by `;` (a dollar-quoted body keeps the text whole)."""
    if "$$" in text or ("'" in text and ";" in text.split("'", 1)[1]):
        return [text]
    return [part for part in text.split(";") if part.strip()]


def _command(text: str, line: int, column: int, what: str) -> Iterator[Operation]:
    if NO_TABLE_EFFECT.match(text):
        return
    match = _ALTER_TABLE.match(text)
    if match and not re.search(r"\bRENAME\b", text, re.IGNORECASE):
        name = match.group("name").replace('"', "").replace("`", "").strip("[]")
        yield Opaque((name,), f"{what}: ALTER TABLE {name} ...", line, column)
        return
    words = " ".join(text.split()[:3])
    yield Opaque(
        (), f"{what} with SQL chainlint cannot read ({short_text(words)} ...)", line, column
    )


def _sql_column(item: Any, exp: Any, line: int, column: int, keyed: bool) -> ColumnDef:
    """A column definition of CREATE TABLE, or (not `keyed`: its PRIMARY KEY not read) of
    ALTER TABLE ADD."""
    constraints = [c.args.get("kind") for c in item.constraints]
    is_pk = keyed and any(isinstance(c, exp.PrimaryKeyColumnConstraint) for c in constraints)
    not_null = any(isinstance(c, exp.NotNullColumnConstraint) for c in constraints)
    default = next(
        (c.this.sql() for c in constraints if isinstance(c, exp.DefaultColumnConstraint)), None
    )
    kind_node = item.args.get("kind")
    kind = kind_node.sql() if kind_node is not None else None
    return ColumnDef(item.name, kind, not (not_null or is_pk), default, is_pk, line, column)


def _sql_name(table: Any) -> str:
    schema = table.args.get("db")
    name = table.name
    return f"{schema.name}.{name}" if schema is not None and schema.name else name


def _sql_tables(statement: Any, exp: Any) -> tuple[str, ...]:
    names = []
    for table in statement.find_all(exp.Table):
        if table.name:
            names.append(_sql_name(table))
    return tuple(dict.fromkeys(names))


def _sql_statement(
    statement: Any, exp: Any, line: int, column: int, what: str
) -> Iterator[Operation]:
    if isinstance(statement, exp.Insert):
        table = statement.find(exp.Table)
        yield RowChange(_sql_name(table) if table is not None else "", False, line, column)
        return
    if isinstance(statement, exp.Delete) and not statement.args.get("where"):
        target = statement.this
        joined = any(statement.args.get(k) for k in ("using", "tables"))
        if isinstance(target, exp.Table) and not joined and not target.args.get("joins"):
            yield RowChange(_sql_name(target), True, line, column)
        return
    if isinstance(statement, exp.TruncateTable):
        for table in statement.expressions:
            if isinstance(table, exp.Table):
                yield RowChange(_sql_name(table), True, line, column)
        return
    if isinstance(statement, (exp.Update, exp.Delete, exp.Select, exp.Merge)):
        return
    if isinstance(statement, (exp.Comment, exp.Set, exp.Transaction, exp.Commit, exp.Pragma)):
        return
    kind = str(statement.args.get("kind") or "").upper()
    if isinstance(statement, exp.Create) and kind == "TABLE":
        schema = statement.this
        if not isinstance(schema, exp.Schema) or statement.expression is not None:
            yield Opaque(_sql_tables(statement, exp), f"{what}: CREATE TABLE AS", line, column)
            return
        table = _sql_name(schema.this)
        columns = []
        primary: list[str] = []
        uniques = []
        for item in schema.expressions:
            if isinstance(item, exp.ColumnDef):
                made = _sql_column(item, exp, line, column, keyed=True)
                columns.append(made)
                if made.primary_key:
                    primary.append(item.name)
            elif isinstance(item, exp.PrimaryKey):
                primary = [e.name for e in item.expressions]
            elif isinstance(item, exp.UniqueColumnConstraint):
                names = item.this.expressions if isinstance(item.this, exp.Schema) else []
                uniques.append(ConstraintDef(None, tuple(e.name for e in names)))
            else:
                yield Opaque(
                    (table,), f"{what}: CREATE TABLE item chainlint cannot read", line, column
                )
                return
        yield CreateTable(
            table,
            tuple(columns),
            (),
            tuple(uniques),
            (),
            tuple(primary),
            line,
            column,
            bool(statement.args.get("exists")),
        )
        return
    if isinstance(statement, exp.Create) and kind == "INDEX":
        index = statement.this
        table_node = index.args.get("table")
        params = index.args.get("params")
        cols = tuple(
            (o.this.name if isinstance(o.this, exp.Column) else o.sql())
            for o in (params.args.get("columns") or [] if params is not None else [])
        )
        yield CreateIndex(
            _sql_name(table_node),
            index.name,
            cols,
            bool(statement.args.get("unique")),
            line,
            column,
            bool(statement.args.get("exists")),
        )
        return
    if isinstance(statement, exp.Create) and kind in ("VIEW", "FUNCTION", "PROCEDURE", "TRIGGER"):
        return
    if isinstance(statement, exp.Drop) and kind == "TABLE":
        for table in statement.args.get("tables") or []:
            yield DropTable(_sql_name(table), line, column, bool(statement.args.get("exists")))
        return
    if isinstance(statement, exp.Drop) and kind == "INDEX":
        for index in statement.args.get("tables") or []:
            yield DropIndex(
                None, _sql_name(index), line, column, bool(statement.args.get("exists"))
            )
        return
    if isinstance(statement, exp.Drop) and kind in ("VIEW", "FUNCTION", "PROCEDURE", "TRIGGER"):
        return
    if isinstance(statement, exp.Alter) and kind == "TABLE":
        table = _sql_name(statement.this)
        for action in statement.args.get("actions") or []:
            if isinstance(action, exp.ColumnDef):
                made = _sql_column(action, exp, line, column, keyed=False)
                yield AddColumn(table, made, line, column)
            elif isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "COLUMN":
                for dropped in action.args.get("tables") or []:
                    yield DropColumn(
                        table, dropped.name, line, column, bool(action.args.get("exists"))
                    )
            elif isinstance(action, exp.RenameColumn):
                yield AlterColumn(
                    table, action.this.name, action.args["to"].name, None, None, False, line, column
                )
            elif isinstance(action, exp.AlterRename):
                yield RenameTable(table, _sql_name(action.this), line, column)
            else:
                yield Opaque((table,), f"{what}: ALTER TABLE {table} ...", line, column)
        return
    if NO_TABLE_EFFECT.match(statement.sql()):
        return
    yield Opaque(
        _sql_tables(statement, exp), f"{what} with SQL chainlint does not model", line, column
    )
