"""The operation reader (chainlint/ops.py): what upgrade()/downgrade() do, from the one parse."""

from __future__ import annotations

import functools
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from chainlint.ops import (
    AddColumn,
    AlterColumn,
    CreateForeignKey,
    CreateIndex,
    CreateTable,
    DropColumn,
    DropIndex,
    DropTable,
    MigrationOperations,
    Opaque,
    RenameTable,
    dump_operations,
    load_operations,
)
from chainlint.read import parse_revision_source


def read(body: str, downgrade: str = "pass", prelude: str = "", root: Path | None = None) -> Any:
    source = "\n".join(
        [
            "from alembic import op",
            "import sqlalchemy as sa",
            prelude,
            "revision = 'a'",
            "down_revision = None",
            "",
            "def upgrade():",
            textwrap.indent(textwrap.dedent(body).strip("\n"), "    "),
            "",
            "def downgrade():",
            textwrap.indent(textwrap.dedent(downgrade).strip("\n"), "    "),
            "",
        ]
    )
    path = (root or Path("/nonexistent")) / "a.py"
    file = parse_revision_source(path, source.encode())
    assert file.problem is None, file.problem
    assert file.operations is not None
    return file.operations


def test_create_table_reads_columns_constraints_and_schema() -> None:
    ops = read(
        """
        op.create_table(
            "users",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("email", sa.String(length=50), nullable=False, server_default="x"),
            sa.Column("org_id", sa.Integer(), sa.ForeignKey("orgs.id")),
            sa.UniqueConstraint("email", name="uq_users_email"),
            sa.Index("ix_users_org", "org_id", unique=False),
            schema="app",
        )
        """
    )
    (table,) = ops.upgrade
    assert isinstance(table, CreateTable)
    assert table.table == "app.users" and (table.line, table.column) == (8, 5)
    assert [(c.name, c.type, c.nullable, c.server_default) for c in table.columns] == [
        ("id", "sa.Integer()", False, None),
        ("email", "sa.String(length=50)", False, "'x'"),
        ("org_id", "sa.Integer()", True, None),
    ]
    assert table.primary_key == ("id",)
    assert [(u.name, u.columns) for u in table.uniques] == [("uq_users_email", ("email",))]
    assert [(i.name, i.columns) for i in table.indexes] == [("ix_users_org", ("org_id",))]
    assert [(k.columns, k.referent, k.referent_columns) for k in table.foreign_keys] == [
        (("org_id",), "orgs", ("id",))
    ]


def test_every_alembic_operation_and_op_f_names() -> None:
    ops = read(
        """
        op.add_column("t", sa.Column("c", sa.Integer()), schema="s")
        op.drop_column("t", "c")
        op.alter_column("t", "a", new_column_name="b", nullable=False, type_=sa.Text())
        op.alter_column("t", "b", server_default=None)
        op.create_index(op.f("ix_t_b"), "t", ["b"], unique=True)
        op.drop_index(op.f("ix_t_b"), table_name="t")
        op.rename_table("t", "u")
        op.create_foreign_key("fk", "u", "v", ["x"], ["id"], referent_schema="s")
        op.drop_table("u")
        """
    )
    kinds = [type(o) for o in ops.upgrade]
    assert kinds == [
        AddColumn,
        DropColumn,
        AlterColumn,
        AlterColumn,
        CreateIndex,
        DropIndex,
        RenameTable,
        CreateForeignKey,
        DropTable,
    ]
    add, _, alter, drop_default, index, drop_index, rename, key, _ = ops.upgrade
    assert add.table == "s.t" and add.column_def.name == "c"
    assert (alter.new_name, alter.nullable, alter.type_, alter.server_default) == (
        "b",
        False,
        "sa.Text()",
        False,
    )
    assert drop_default.server_default is None
    assert (index.name, index.columns, index.unique) == ("ix_t_b", ("b",), True)
    assert (drop_index.table, drop_index.name) == ("t", "ix_t_b")
    assert (rename.table, rename.new_name) == ("t", "u")
    assert key.referent == "s.v"


def test_batch_block_operations_name_their_table() -> None:
    ops = read(
        """
        with op.batch_alter_table("users", schema="s") as batch_op:
            batch_op.add_column(sa.Column("age", sa.Integer(), nullable=True))
            batch_op.alter_column("name", new_column_name="full_name")
            batch_op.create_index("ix_age", ["age"])
            batch_op.drop_index("ix_old")
        """
    )
    assert [(type(o).__name__, o.table) for o in ops.upgrade] == [
        ("AddColumn", "s.users"),
        ("AlterColumn", "s.users"),
        ("CreateIndex", "s.users"),
        ("DropIndex", "s.users"),
    ]
    assert ops.upgrade[0].line == 9


def test_names_resolve_through_module_constants_and_fstrings() -> None:
    ops = read(
        """
        op.add_column(TABLE, sa.Column(f"{PREFIX}_at", sa.DateTime()))
        op.drop_column(TABLE, COLUMN + "_old")
        """,
        prelude='TABLE = "events"\nPREFIX = "seen"\nCOLUMN = "kind"',
    )
    assert [(o.table, getattr(o, "name", None)) for o in ops.upgrade] == [
        ("events", None),
        ("events", "kind_old"),
    ]
    assert ops.upgrade[0].column_def.name == "seen_at"


def test_constants_from_a_project_module(tmp_path: Path) -> None:
    (tmp_path / "names.py").write_text('USERS = "users"\n')
    ops = read(
        "op.drop_table(names.USERS)",
        prelude="import names",
        root=tmp_path,
    )
    assert ops.upgrade == (DropTable("users", 8, 5),)


@pytest.mark.parametrize(
    ("body", "tables", "fragment"),
    [
        (
            'if op.get_context().dialect.name == "postgresql":\n'
            '    op.add_column("t", sa.Column("c", sa.Integer()))',
            ("t",),
            "add_column under `if`",
        ),
        ("for name in NAMES:\n    op.drop_table(name)", (), "cannot be resolved"),
        (
            'for n in ("a", "b"):\n    if n:\n        break\n    op.drop_table(n)',
            (),
            "table_name `n`",
        ),
        (
            'try:\n    op.drop_index("ix", table_name="t")\nexcept Exception:\n    pass',
            ("t",),
            "try",
        ),
        ("with op.get_context().autocommit_block():\n    op.drop_table('t')", ("t",), "with"),
        ("helper()", (), "helper function `helper()`"),
        ("op.execute(make_sql())", (), "op.execute(make_sql())"),
        ("op.execute(\"DO $$ BEGIN RAISE NOTICE 'x'; END $$\")", (), "op.execute"),
        ("op.get_bind().execute(sa.text(query))", (), "get_bind().execute"),
        ("meta.create_all(op.get_bind())", (), "create_all"),
        ("op.drop_table(unknown_name)", (), "cannot be resolved"),
        ("op.add_column('t', make_column())", ("t",), "not a Column"),
        ("op.create_table('t', *columns)", ("t",), "columns passed with *"),
        ("op.create_exclude_constraint('ex', 't')", (), "`op.create_exclude_constraint`"),
    ],
)
def test_what_cannot_be_seen_through_is_opaque(
    body: str, tables: tuple[str, ...], fragment: str
) -> None:
    ops = read(body + "\n\ndef helper():\n    pass")
    opaque = [o for o in ops.upgrade if isinstance(o, Opaque)]
    assert opaque, ops.upgrade
    assert opaque[0].tables == tables
    assert fragment in opaque[0].reason


def test_literal_loops_and_module_helpers_are_read_through() -> None:
    ops = read(
        """
        for name in ("a", "b"):
            op.add_column(name, sa.Column("seen", sa.Boolean()))
        _drop("c", column="x")
        _recursive()
        """,
        prelude="def _drop(table, column):\n"
        "    op.drop_column(table, column)\n"
        "    op.drop_column(table, 'legacy')\n"
        "def _recursive():\n"
        "    _recursive()",
    )
    assert [
        (type(o).__name__, o.tables if isinstance(o, Opaque) else o.table) for o in ops.upgrade
    ] == [
        ("AddColumn", "a"),
        ("AddColumn", "b"),
        ("DropColumn", "c"),
        ("DropColumn", "c"),
        ("Opaque", ()),
    ]
    assert ops.upgrade[2].name == "x" and ops.upgrade[2].line == 4  # in the helper's body
    assert "helper function `_recursive()`" in ops.upgrade[4].reason


def test_batch_block_under_if_is_opaque_for_its_table() -> None:
    ops = read(
        """
        if is_sqlite:
            with op.batch_alter_table("users") as batch_op:
                batch_op.drop_column("legacy")
        """
    )
    assert [(type(o).__name__, o.tables) for o in ops.upgrade] == [("Opaque", ("users",))]


def test_plain_ddl_in_execute_is_read_with_sqlglot() -> None:
    ops = read(
        '''
        op.execute("""
            CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT NOT NULL);
            CREATE UNIQUE INDEX ix_audit_note ON audit (note);
            ALTER TABLE audit ADD COLUMN seen BOOLEAN DEFAULT false;
            ALTER TABLE audit RENAME COLUMN note TO body;
            UPDATE audit SET seen = true;
            DROP TABLE IF EXISTS legacy;
        """)
        conn = op.get_bind()
        conn.execute(sa.text("ALTER TABLE audit DROP COLUMN seen"))
        '''
    )
    kinds = [type(o).__name__ for o in ops.upgrade]
    assert kinds == [
        "CreateTable",
        "CreateIndex",
        "AddColumn",
        "AlterColumn",
        "DropTable",
        "DropColumn",
    ]
    create = ops.upgrade[0]
    assert [(c.name, c.nullable) for c in create.columns] == [("id", False), ("note", False)]
    assert ops.upgrade[1].unique and ops.upgrade[1].columns == ("note",)
    assert ops.upgrade[3].new_name == "body"
    assert ops.upgrade[4].if_exists


def test_data_only_statements_are_not_operations() -> None:
    ops = read(
        """
        conn = op.get_bind()
        conn.execute(sa.text("UPDATE users SET active = true"))
        op.execute(users.update().values(active=True))
        op.bulk_insert(users, [{"id": 1}])
        logger.info("done")
        print("done")
        """
    )
    assert ops.upgrade == ()
    assert not ops.upgrade_is_empty


def test_empty_missing_and_raising_bodies() -> None:
    ops = read('"""Nothing."""\npass', downgrade="raise NotImplementedError()")
    assert ops.upgrade_is_empty and ops.has_upgrade
    assert ops.downgrade_raises and not ops.downgrade_is_empty
    file = parse_revision_source(Path("/x/a.py"), b"revision = 'a'\ndown_revision = None\n")
    assert file.operations == MigrationOperations()
    assert not file.operations.has_upgrade and not file.operations.has_downgrade


def test_positions_count_characters_not_bytes() -> None:
    ops = read('x = "é"; op.drop_table("t")')
    assert (ops.upgrade[0].line, ops.upgrade[0].column) == (8, 14)


def _sample() -> MigrationOperations:
    return read(
        """
        op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.UniqueConstraint("id"), sa.Index(None, "id"),
                        sa.ForeignKeyConstraint(["id"], ["u.id"], name="fk"))
        with op.batch_alter_table("t") as batch_op:
            batch_op.alter_column("id", server_default=sa.text("0"))
        op.create_check_constraint("ck", "t", "id > 0")
        op.create_unique_constraint(None, "t", ["id"])
        op.create_primary_key("pk", "t", ["id"])
        op.drop_constraint("ck", "t", type_="check")
        op.drop_index("ix", if_exists=True)
        if x:
            op.drop_table("t")
        """,
        downgrade='op.drop_table("t")',
    )


def test_dump_and_load_give_back_the_same_operations() -> None:
    ops = _sample()
    data = json.loads(json.dumps(dump_operations(ops)))
    assert load_operations(data) == ops


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop(),
        lambda d: d.__setitem__(0, [True, True, True, True, "yes"]),
        lambda d: d.__setitem__(1, [1]),
        lambda d: d[2].append(["DropTable", "t", 1, 1]),
        lambda d: d[2].append(["Nope", "t", 1, 1, False]),
        lambda d: d[2].append(["DropTable", 5, 1, 1, False]),
        lambda d: d[2][0].__setitem__(2, [["IndexDef", None, ["id"], "no"]]),
        lambda d: d[2][0].__setitem__(2, [["ColumnDef", None, ["id"], False]]),
        lambda d: d[2].append({"kind": "DropTable"}),
        lambda d: d.__setitem__(3, None),
    ],
)
def test_load_rejects_every_shape_it_did_not_write(mutate: Any) -> None:
    data = json.loads(json.dumps(dump_operations(_sample())))
    mutate(data)
    with pytest.raises(ValueError):
        load_operations(data)


@pytest.mark.parametrize(
    "expression",
    [
        "sa.String(length=50)",
        "sa.Numeric(10, 2)",
        "sa.text('now()')",
        "postgresql.ENUM('a', 'b', name='kind', create_type=False)",
        "sa.Integer",
        "(1).real",
        "sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), 'mysql')",
        "sa.String(*args)",
        "-1",
        "'it''s'",
        "(a + b).c",
    ],
)
def test_types_are_written_as_ast_unparse_writes_them(expression: str) -> None:
    import ast

    from chainlint.ops import _source

    node = ast.parse(expression, mode="eval").body
    assert _source(node) == ast.unparse(node)


def test_row_changes_are_read_apart_from_the_schema_operations() -> None:
    """Issue 10 (CL305 on Airflow's 0093): `DELETE FROM t` without WHERE and TRUNCATE empty a
    table, INSERT and bulk_insert fill one; none changes the schema (no Opaque), each is placed
    among the schema operations, and the read cache keeps them."""
    from chainlint.ops import RowChange

    ops = read(
        """
        op.execute("DELETE FROM callback_request")
        op.rename_table("callback_request", "callback")
        op.execute("TRUNCATE TABLE a, s.b")
        op.execute("DELETE FROM c WHERE id > 1")
        op.execute("DELETE t FROM t JOIN u ON t.id = u.id")
        op.execute("INSERT INTO d VALUES (1)")
        op.bulk_insert(sa.table("e", sa.column("id")), [{"id": 1}])
        op.bulk_insert(some_table, [])
        op.execute(sa.insert(some_table))
        op.execute(sa.update(some_table).values(x=1))
        if flag:
            op.execute("DELETE FROM f")
            op.execute("INSERT INTO g VALUES (1)")
        op.drop_table("h")
        """,
        downgrade='op.execute("DELETE FROM callback")',
    )
    assert [type(op).__name__ for op in ops.upgrade] == ["RenameTable", "DropTable"]
    assert [(r.table, r.emptied, r.at) for r in ops.upgrade_rows] == [
        ("callback_request", True, 0),
        ("a", True, 1),
        ("s.b", True, 1),
        ("d", False, 1),
        ("e", False, 1),
        ("", False, 1),
        ("", False, 1),
        ("g", False, 1),
    ]
    assert ops.downgrade_rows == (RowChange("callback", True, 24, 5, 0),)
    assert load_operations(json.loads(json.dumps(dump_operations(ops)))) == ops


# -- the reader's fast paths give what the plain definitions give ------------------------------

ODD_EXPRESSIONS = (
    "f(sa.String(length=50), 'it''s', \"it's\", 'a\\\\b', 'tab\\t', 'é', b'x', u'u', None,"
    ' True, 1, -1, 1.5, 1e309, 10**100, (1).real, x[0], sa.text("now()"),'
    " sa.Enum(u'a', 'b', name=u'e'), f'{x}', (a, b), [a], {a: b}, *args, k=lambda: 0, **kw)"
)


@functools.cache
def _corpus() -> list[Any]:
    """The modules of every fixture and, when cached, every real-world migration tree."""
    import ast

    from realworld_trees import cache_root

    paths = sorted((Path(__file__).resolve().parent.parent / "fixtures").rglob("*.py"))
    trees = cache_root() / "trees"
    if trees.is_dir():
        # Every third file of every tree: each shape the trees have, at a test's cost.
        paths += sorted(trees.rglob("*.py"))[::3]
    modules = [ast.parse(ODD_EXPRESSIONS)]
    for path in paths:
        try:
            modules.append(ast.parse(path.read_bytes()))
        except (SyntaxError, ValueError):
            continue
    return modules


def test_call_name_is_the_last_part_of_the_dotted_callee() -> None:
    """`_call_name` (a loop over the callee) gives what splitting `_dotted(call.func)` gives,
    on every node of the corpus."""
    import ast

    from chainlint.ops import _call_name, _dotted

    calls = 0
    for module in _corpus():
        for node in ast.walk(module):
            if isinstance(node, ast.Call):
                calls += 1
                assert _call_name(node) == (_dotted(node.func) or "").rsplit(".", 1)[-1]
            elif isinstance(node, ast.expr):
                assert _call_name(node) == ""
    assert calls > 1000


def test_a_long_attribute_chain_is_read_without_recursion() -> None:
    """`sa.x.x....Column(...)` thousands deep parses; reading it must not exhaust the stack
    (the file was CL009 `RecursionError` before)."""
    chain = "sa" + ".x" * 2000
    source = (
        "revision = 'a'\ndown_revision = None\n"
        f"def upgrade():\n    op.create_table('t', {chain}.Column('id', sa.Integer()))\n"
    )
    file = parse_revision_source(Path("a_chain.py"), source.encode())
    assert file.problem is None and file.operations is not None
    [table] = file.operations.upgrade
    assert isinstance(table, CreateTable) and [c.name for c in table.columns] == ["id"]


def test_source_is_ast_unparse_for_every_expression() -> None:
    import ast

    from chainlint.ops import _source

    count = 0
    for module in _corpus():
        for node in ast.walk(module):
            if isinstance(node, ast.expr):
                assert _source(node) == ast.unparse(node), ast.dump(node)
                count += 1
    assert count > 1000


def _reference_outer_calls(node: Any, top: bool = True) -> Any:
    """The definition: calls in source order by ast.iter_child_nodes, with whether each is a
    statement's own value; no call's arguments, no nested function body."""
    import ast

    if isinstance(node, ast.Call):
        yield node, top
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
        return
    holders = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return, ast.Await)
    for child in ast.iter_child_nodes(node):
        own = (isinstance(node, holders) and child is getattr(node, "value", None)) or (
            isinstance(node, ast.withitem) and child is node.context_expr
        )
        yield from _reference_outer_calls(child, top and own)


def _reference_returns(stmt: Any) -> bool:
    import ast

    stack = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return False


def test_call_search_and_return_search_follow_their_definitions() -> None:
    import ast

    from chainlint.ops import _outer_calls, _returns

    statements = 0
    for module in _corpus():
        for node in ast.walk(module):
            if isinstance(node, ast.stmt):
                for top in (True, False):
                    assert _outer_calls(node, top) == list(_reference_outer_calls(node, top))
                assert _returns(node) == _reference_returns(node), ast.dump(node)
                statements += 1
    assert statements > 1000


def test_op_statements_read_as_the_general_path_reads_them() -> None:
    """`op.name(...)` statements take a shortcut past the call search: same operations."""
    import ast

    from chainlint.ops import _ast_position, _BodyReader

    def reader() -> Any:
        return _BodyReader(lambda node: None, _ast_position, set(), {})

    count = 0
    for module in _corpus():
        for node in ast.walk(module):
            if (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and isinstance(node.value.func.value, ast.Name)
                and node.value.func.value.id == "op"
            ):
                assert list(reader()._statement(node)) == list(reader()._calls(node))
                count += 1
    assert count > 100


PLAIN_SQL_CASES = (
    "UPDATE dashboards SET published='1'",
    "update t set a = 1;",
    "SELECT 1 UNION SELECT 2",
    "DROP TYPE IF EXISTS objecttypes",
    "CREATE TYPE kind AS ENUM ('a', 'b')",
    "CREATE EXTENSION IF NOT EXISTS pgcrypto",
    "ALTER SEQUENCE s RESTART WITH 10",
    "COMMENT ON TABLE t IS 'x'",
    "GRANT SELECT ON t TO reader",
    "SET search_path = public",
    "PRAGMA foreign_keys=OFF",
    "ALTER TABLE slices MODIFY params MEDIUMTEXT",
    "ALTER TABLE `t` MODIFY c TEXT NOT NULL",
    "ALTER TABLE t MODIFY COLUMN c VARCHAR(255)",
    'ALTER TABLE "tagged_object" ALTER COLUMN "object_type" TYPE VARCHAR',
    'ALTER TABLE public."Tag" ALTER COLUMN x SET NOT NULL',
    "ALTER TABLE IF EXISTS ONLY a.b ALTER COLUMN x TYPE NUMERIC(10, 2)",
    "ALTER TABLE a ALTER COLUMN x TYPE INT USING x::int",
    # Not decided without sqlglot: several statements or actions, other actions, odd names.
    "UPDATE t SET a = 1; DROP TABLE u",
    "ALTER TABLE t ALTER COLUMN a TYPE INT, ALTER COLUMN b TYPE INT",
    "ALTER TABLE t ALTER COLUMN a DROP DEFAULT",
    "ALTER TABLE t ADD COLUMN a INT",
    "ALTER TABLE t RENAME TO u",
    "ALTER TABLE a.b.c ALTER COLUMN x TYPE INT",
    "ALTER TABLE [t] ALTER COLUMN x INT",
    "ALTER TABLE only ALTER COLUMN x TYPE INT",
    "ALTER TABLE t ALTER COLUMN x SET DEFAULT 'a, b'",
    "ALTER TABLE t MODIFY c VARCHAR(10",
    "ALTER TABLE t MODIFY c TEXT -- , ADD d INT",
    "DROP TABLE t",
    "CREATE TABLE t (a INT)",
    "  INSERT INTO t (a) SELECT b FROM u  ",
    "DELETE FROM t",
    "DELETE FROM t WHERE a = 1",
    "TRUNCATE TABLE a",
)


def _sql_texts() -> list[str]:
    """Every string of the real trees that starts like SQL, and the cases above."""
    import ast

    from realworld_trees import cache_root

    texts = list(PLAIN_SQL_CASES)
    trees = cache_root() / "trees"
    for path in sorted(trees.rglob("*.py")) if trees.is_dir() else []:
        try:
            module = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(module):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words = node.value.split(None, 1)
                if words and words[0].upper() in SQL_WORDS:
                    texts.append(node.value)
    return texts


SQL_WORDS = {"SELECT", "INSERT", "UPDATE", "DELETE", "ALTER", "CREATE", "DROP", "SET", "GRANT"}


def test_sql_read_without_sqlglot_is_what_sqlglot_reading_gives() -> None:
    from chainlint.sql import _read_plain_sql, _read_sql_with_sqlglot

    decided = 0
    for text in _sql_texts():
        plain = _read_plain_sql(text, 3, 5, "op.execute")
        if plain is not None:
            assert plain == list(_read_sql_with_sqlglot(text, 3, 5, "op.execute")), text
            decided += 1
    assert decided >= 20
    undecided = PLAIN_SQL_CASES[PLAIN_SQL_CASES.index("UPDATE t SET a = 1; DROP TABLE u") :]
    assert all(_read_plain_sql(text, 1, 1, "x") is None for text in undecided)


def test_sql_reading_is_imported_only_by_a_migration_that_executes_sql(tmp_path: Path) -> None:
    """chainlint.sql (its patterns take milliseconds to compile) and sqlglot (far more) load
    only when needed: not for a migration without `op.execute` of SQL text, and sqlglot not
    for a statement read by pattern."""
    import subprocess
    import sys

    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from chainlint.read import parse_revision_source
        for source in sys.argv[1:]:
            file = parse_revision_source(Path("a.py"), source.encode())
            assert file.problem is None and file.operations is not None, file
            print(len(file.operations.upgrade), "chainlint.sql" in sys.modules,
                  "sqlglot" in sys.modules)
        """
    )
    head = 'from alembic import op\nrevision = "a"\ndown_revision = None\n\ndef upgrade():\n'
    sources = [
        head + '    op.drop_table("t")\n',
        head + '    op.execute("UPDATE t SET a = 1")\n',
        head + '    op.execute("DROP TABLE t")\n',
    ]
    done = subprocess.run(
        [sys.executable, "-c", code, *sources], capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[:3] == ["1 False False", "0 True False", "1 True True"]


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("str", ["t"], [None, 1, True, ["t"]]),
        ("str?", [None, "t"], [1, False, ["t"]]),
        ("int", [0, 7], [None, "1", True, 1.0]),
        ("bool", [True, False], [None, 0, "yes"]),
        ("bool?", [None, True, False], [0, "yes"]),
        ("default", [None, False, "now()"], [True, 0, ["x"]]),
    ],
)
def test_each_cell_type_takes_its_values_and_refuses_others(
    kind: str, good: list[Any], bad: list[Any]
) -> None:
    from chainlint.ops import _check

    check = _check(kind)
    for value in good:
        assert check(value) == value and type(check(value)) is type(value)
    for value in bad:
        with pytest.raises(ValueError, match=f"expected {re.escape(kind)}"):
            check(value)
