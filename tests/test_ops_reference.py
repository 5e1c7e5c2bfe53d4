"""The operation reader against its reference (tests/ops_reference.py, the reader before its
speed work): the same operations, positions and reasons for every module.

Compared as `dump_operations` data (each reader has its own record classes): every fixture and
every cached real-world migration, and generated bodies that mix the arguments, keywords and
statements each code path of the reader treats apart.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

import ops_reference
from chainlint import ops
from chainlint.constants import ModuleConstants
from chainlint.read import _ModuleReader, split_lines


def _both(source: str, path: Path = Path("/nonexistent/a.py")) -> tuple[Any, Any]:
    module = ast.parse(source)
    lines = split_lines(source)
    reader = _ModuleReader(path, source, ModuleConstants(), lines)
    reader.read_assignments(module)
    new = ops.read_operations(module, reader._constant, reader._position)
    old = ops_reference.read_operations(module, reader._constant, reader._position)
    # dump_operations is what the cache row's encoder writes: compared with the reference's.
    return ops.dump_operations(new), ops_reference.dump_operations(old)


@functools.cache
def _sources() -> list[tuple[Path, str]]:
    from realworld_trees import cache_root

    paths = sorted((Path(__file__).resolve().parent.parent / "fixtures").rglob("*.py"))
    trees = cache_root() / "trees"
    if trees.is_dir():
        paths += sorted(trees.rglob("*.py"))
    found = []
    for path in paths:
        try:
            source = path.read_bytes().decode("utf-8")
            ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        found.append((path, source))
    return found


def test_every_fixture_and_real_migration_reads_as_the_reference_reads_it() -> None:
    compared = 0
    for path, source in _sources():
        new, old = _both(source, path)
        assert new == old, path
        compared += 1
    assert compared > 50


# -- generated bodies -------------------------------------------------------------------------

_OPS = (
    "create_table",
    "drop_table",
    "rename_table",
    "add_column",
    "drop_column",
    "alter_column",
    "create_index",
    "drop_index",
    "create_unique_constraint",
    "create_foreign_key",
    "create_primary_key",
    "create_check_constraint",
    "drop_constraint",
    "batch_alter_table",
    "execute",
    "bulk_insert",
    "get_bind",
    "f",
    "rename_column",
)
_VALUES = (
    "'t'",
    "'s.t'",
    "'ix_t_a'",
    "None",
    "True",
    "False",
    "1",
    "x",
    "T",
    "NAMES",
    "sa.Integer()",
    "sa.String(length=50)",
    "sa.String(50)",
    "sa.text('now()')",
    "sa.Column('c', sa.Integer(), nullable=False)",
    "sa.Column('id', sa.Integer(), primary_key=True)",
    "sa.Column('c', sa.String(), sa.ForeignKey('u.id', name='fk'), index=True, unique=True)",
    "sa.Column('c', sa.Boolean(), server_default=sa.false(), nullable=x)",
    "sa.Column('c', sa.DateTime(timezone=True), server_default=None, nullable=None)",
    "sa.Column(name='c', type_=sa.Integer())",
    "sa.Column(T, sa.ForeignKey('u.id'))",
    "sa.Column(*cols)",
    "sa.Column('c', **kw)",
    "sa.Column(x)",
    "sa.PrimaryKeyConstraint('id', name='pk')",
    "sa.PrimaryKeyConstraint(x)",
    "sa.UniqueConstraint('a', 'b', name=op.f('uq'))",
    "sa.CheckConstraint('a > 0', name='ck')",
    "sa.ForeignKeyConstraint(['a'], ['u.id'], name='fk')",
    "sa.ForeignKeyConstraint(x, ['u.id'])",
    "sa.Index('ix', 'a', sa.text('lower(b)'), unique=True)",
    "sa.Index('ix', *cols)",
    "['a', 'b']",
    "('a', x)",
    "[x]",
    "f't_{x}'",
    "f't_{T}'",
    "f'{x!r}'",
    "op.f('ix_t_a')",
    "'a' + 'b'",
    "'a' + x",
    "'a' % x",
    '"ALTER TABLE t ADD COLUMN a INT"',
    "'DROP TABLE t; DELETE FROM u'",
    "'UPDATE t SET a = 1'",
    "sa.table('t', sa.column('a'))",
    "t.update().values(a=1)",
    "sa.insert(t)",
    "{'a': 1}",
    "lambda: 0",
    "x.y",
    "mod.NAME",
    "'é'",
    "-1",
)
_KEYWORDS = (
    "schema",
    "table_name",
    "if_exists",
    "if_not_exists",
    "unique",
    "nullable",
    "type_",
    "server_default",
    "new_column_name",
    "existing_type",
    "column_name",
    "columns",
    "constraint_name",
    "source_schema",
    "referent_schema",
    "referent_table",
    "local_cols",
    "remote_cols",
    "condition",
    "sqltext",
    "name",
    "mysql_engine",
)

_values = st.sampled_from(_VALUES)
_positional = st.lists(st.one_of(_values, _values.map("*{}".format)), max_size=5)
_keyword = st.one_of(
    st.tuples(st.sampled_from(_KEYWORDS), _values).map("{0[0]}={0[1]}".format),
    st.just("**kw"),
)


@st.composite
def _call(draw: st.DrawFn, owner: str = "op") -> str:
    positional = draw(_positional)
    keywords = draw(st.lists(_keyword, max_size=3, unique_by=lambda k: k.split("=")[0]))
    name = draw(st.sampled_from(_OPS))
    return f"{owner}.{name}({', '.join([*positional, *keywords])})"


_other = st.sampled_from(
    (
        "x = 'u'",
        "x = sa.table('t')",
        "stmt = t.update().values(a=1)",
        "op.execute(stmt)",
        "conn = op.get_bind()",
        "conn.execute(sa.text('DROP TABLE t'))",
        "op.get_bind().execute('CREATE TABLE t (a INT)')",
        "helper('t')",
        "helper(x)",
        "other()",
        "Model.metadata.create_all(bind)",
        "sa.Table('t', meta).create(bind)",
        "logger.info('x')",
        "print(x)",
        "has_table('t')",
        "def inner():\n    op.drop_table('t')",
        "inner()",
        "return",
        "pass",
        "...",
        "raise NotImplementedError",
        "session.commit()",
        "mod.fn('t')",
    )
)


@st.composite
def _statements(draw: st.DrawFn, depth: int = 0) -> list[str]:
    out: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(("op", "op", "op", "other", "batch", "block", "loop")))
        if kind == "op":
            out.append(draw(_call()))
        elif kind == "other":
            out.append(draw(_other))
        elif kind == "batch":
            table = draw(_values)
            inner = [draw(_call("b")) for _ in range(draw(st.integers(1, 3)))]
            if draw(st.booleans()):
                inner.append(draw(_other))
            if draw(st.booleans()):
                inner.append("helper(b)")
            if draw(st.booleans()):
                inner.append("if x:\n    " + draw(_call("b")))
            body = "\n".join("    " + line for text in inner for line in text.split("\n"))
            out.append(f"with op.batch_alter_table({table}) as b:\n{body}")
        elif depth < 2:
            inner = draw(_statements(depth + 1)) or ["pass"]
            body = "\n".join("    " + line for text in inner for line in text.split("\n"))
            head = draw(
                st.sampled_from(
                    ("if x:", "for x in rows:", "while x:", "with ctx():", "try:")
                    if kind == "block"
                    else ("for x in ('a', 'b'):", "for x in NAMES:", "for x in ['a', y]:")
                )
            )
            tail = "\nexcept Exception:\n    pass" if head == "try:" else ""
            out.append(f"{head}\n{body}{tail}")
    return out


def _module(upgrade: list[str], downgrade: list[str]) -> str:
    def body(statements: list[str]) -> str:
        lines = [line for text in statements or ["pass"] for line in text.split("\n")]
        return "\n".join("    " + line for line in lines)

    return (
        "from alembic import op\nimport sqlalchemy as sa\nfrom mod import fn\nimport mod\n"
        "T = 'const_t'\nNAMES = ('n1', 'n2')\nrevision = 'a'\ndown_revision = None\n\n"
        "def helper(t, c='c'):\n    op.drop_column(t, c)\n\n"
        f"def upgrade():\n{body(upgrade)}\n\ndef downgrade():\n{body(downgrade)}\n"
    )


@given(_statements(), _statements())
@example(["op.create_table('t', sa.Column('id', sa.Integer(), primary_key=True))"], [])
@example(["op.drop_index('ix', table_name='t', schema='s')", "op.drop_index('ix', schema='s')"], [])
@example(["op.add_column('t', sa.Column('c', sa.Integer()), schema=T)"], ["return"])
def test_generated_bodies_read_as_the_reference_reads_them(
    upgrade: list[str], downgrade: list[str]
) -> None:
    source = _module(upgrade, downgrade)
    try:
        ast.parse(source)
    except SyntaxError:  # `*x` where Python refuses it, `return` outside a function body
        return
    new, old = _both(source)
    assert new == old, source


def test_every_keyword_and_value_of_every_operation_reads_as_the_reference_reads_it() -> None:
    """Each operation with each value in each of its first positions, and with each keyword
    given each value: the product the generated bodies only sample."""
    plain = ("'t'", "'c'", "['a']", "'u'", "['id']")
    for owner in ("op", "b"):
        for name in _OPS:
            calls = []
            for position in range(4):
                for value in _VALUES:
                    args = [*plain[:position], value, *plain[position + 1 : 4]]
                    calls.append(f"{owner}.{name}({', '.join(args)})")
            for keyword in _KEYWORDS:
                for value in _VALUES:
                    calls.append(f"{owner}.{name}('t', 'c', {keyword}={value})")
                    calls.append(f"{owner}.{name}('c', {keyword}={value}, **kw)")
            if owner == "b":
                calls = ["with op.batch_alter_table('bt') as b:", *("    " + c for c in calls)]
            new, old = _both(_module(calls, []))
            assert new == old, name
