"""The schema replay (chainlint/schema.py), `chainlint schema`, and the operations in the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chainlint.cache import text_digest
from chainlint.cli import main
from chainlint.config import Settings
from chainlint.graph import RevisionGraph
from chainlint.lint import check_graph, read_environment
from chainlint.rules.base import migration
from chainlint.schema import Origin, schema_history
from helpers import (
    findings_of,
    graph_of,
    read_cache_file,
    versions_environment,
    write_read_cache_file,
    write_tree,
)

ROOT = Path(__file__).resolve().parent.parent
USERS = """op.create_table(
    "users",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("email", sa.String(length=200), nullable=True),
)"""


def history_of(tmp_path: Path, files: dict[str, str]):  # type: ignore[no-untyped-def]
    return schema_history(graph_of(write_tree(tmp_path / "versions", files)))


def test_replay_follows_the_graph_with_renames_and_batch(tmp_path: Path) -> None:
    history = history_of(
        tmp_path,
        {
            "a.py": migration("a", None, upgrade=USERS),
            "b.py": migration(
                "b",
                "a",
                upgrade='with op.batch_alter_table("users") as batch_op:\n'
                '    batch_op.alter_column("email", new_column_name="mail")\n'
                '    batch_op.create_index("ix_mail", ["mail"], unique=True)\n'
                'op.rename_table("users", "accounts")',
            ),
        },
    )
    before, after = history.before("b"), history.after("b")
    assert list(before.tables) == ["users"] and list(before.tables["users"].columns) == [
        "id",
        "email",
    ]
    accounts = after.tables["accounts"]
    assert accounts.known and list(accounts.columns) == ["id", "mail"]
    assert accounts.indexes["ix_mail"].columns == ("mail",) and accounts.indexes["ix_mail"].unique
    assert accounts.columns["id"].created_by == "a" and accounts.created_by == "a"
    assert history.at_heads() == after
    assert history.problems == []


def test_opaque_makes_only_its_tables_partial(tmp_path: Path) -> None:
    history = history_of(
        tmp_path,
        {
            "a.py": migration(
                "a",
                None,
                upgrade=USERS + '\nop.create_table("orgs", sa.Column("id", sa.Integer()))',
            ),
            "b.py": migration(
                "b", "a", upgrade="op.execute('ALTER TABLE orgs ADD CONSTRAINT c CHECK (id > 0)')"
            ),
        },
    )
    schema = history.at_heads()
    assert schema.tables["users"].known and not schema.tables["orgs"].known
    assert not schema.everything_partial
    (note,) = schema.opaque
    assert note.revision == "b" and note.tables == ("orgs",)


def test_an_opaque_operation_naming_no_table_makes_everything_partial(tmp_path: Path) -> None:
    history = history_of(
        tmp_path,
        {
            "a.py": migration("a", None, upgrade=USERS),
            "b.py": migration("b", "a", upgrade="migrate_data()"),
            "c.py": migration("c", "b", upgrade='op.drop_column("users", "nickname")'),
        },
    )
    schema = history.at_heads()
    assert schema.everything_partial and not schema.tables["users"].known
    assert history.problems == []  # nothing is claimed about a partial table


def test_a_table_never_created_is_partial_and_never_claimed(tmp_path: Path) -> None:
    history = history_of(
        tmp_path,
        {
            "a.py": migration(
                "a",
                None,
                upgrade='op.add_column("legacy", sa.Column("x", sa.Integer()))\n'
                'op.drop_column("legacy", "y")\n'
                'op.add_column("legacy", sa.Column("x", sa.Integer()))',
            ),
        },
    )
    legacy = history.at_heads().tables["legacy"]
    assert not legacy.known and list(legacy.columns) == ["x"]
    assert history.problems == []


def test_depends_on_is_applied_before_the_revision(tmp_path: Path) -> None:
    history = history_of(
        tmp_path,
        {
            "a.py": migration("a", None, upgrade=USERS),
            "o.py": migration(
                "o", None, upgrade='op.create_table("orgs", sa.Column("id", sa.Integer()))'
            ),
            "b.py": migration(
                "b",
                "a",
                depends_on="o",
                upgrade='op.add_column("orgs", sa.Column("name", sa.String()))',
            ),
        },
    )
    before = history.before("b")
    assert set(before.tables) == {"users", "orgs"}
    assert history.after("b").tables["orgs"].known
    assert history.problems == []


def test_merge_of_branches_that_drop_the_same_column(tmp_path: Path) -> None:
    history = history_of(
        tmp_path,
        {
            "a.py": migration("a", None, upgrade=USERS),
            "b.py": migration("b", "a", upgrade='op.drop_column("users", "email")'),
            "c.py": migration("c", "a", upgrade='op.drop_column("users", "email")'),
            "m.py": migration("m", ("b", "c")),
        },
    )
    (problem,) = history.problems
    assert (problem.kind, problem.merge, problem.what) == ("missing", "m", "column users.email")
    assert {problem.revision, problem.origin.revision} == {"b", "c"}  # type: ignore[union-attr]


def test_merge_of_independent_branches_is_their_union(tmp_path: Path) -> None:
    history = history_of(
        tmp_path,
        {
            "a.py": migration("a", None, upgrade=USERS),
            "b.py": migration("b", "a", upgrade='op.drop_column("users", "email")'),
            "c.py": migration(
                "c", "a", upgrade='op.add_column("users", sa.Column("age", sa.Integer()))'
            ),
            "m.py": migration("m", ("b", "c")),
            "n.py": migration("n", "m", upgrade='op.drop_column("users", "email")'),
        },
    )
    assert list(history.before("n").tables["users"].columns) == ["id", "age"]
    (problem,) = history.problems
    assert problem.revision == "n" and problem.origin.revision == "b"  # type: ignore[union-attr]


def test_a_cycle_gives_no_schema_and_no_traceback(tmp_path: Path) -> None:
    history = history_of(
        tmp_path, {"a.py": migration("a", "b", upgrade=USERS), "b.py": migration("b", "a")}
    )
    assert history.cyclic and history.problems == [] and history.reverts == {}
    assert history.at_heads().tables == {}


def test_unknown_parent_makes_the_history_untraced(tmp_path: Path) -> None:
    history = history_of(
        tmp_path,
        {
            "b.py": migration("b", "nowhere", upgrade='op.drop_table("users")'),
            "c.py": migration("c", "b", upgrade='op.drop_table("users")'),
        },
    )
    assert history.problems == []
    assert history.at_heads().everything_partial


def test_round_trip_names_what_is_left_behind_and_lost(tmp_path: Path) -> None:
    history = history_of(
        tmp_path,
        {
            "a.py": migration("a", None, upgrade=USERS, downgrade='op.drop_table("users")'),
            "b.py": migration(
                "b",
                "a",
                upgrade='op.add_column("users", sa.Column("age", sa.Integer()))',
                downgrade='op.drop_column("users", "email")\nop.drop_column("users", "gone")',
            ),
        },
    )
    assert set(history.reverts) == {"b"}
    revert = history.reverts["b"]
    assert revert.left_behind == ("column users.age",)
    assert revert.lost == ("column users.email",)
    assert [f.what for f in revert.failures] == ["column users.gone"]


def test_operations_survive_the_cache_and_results_are_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read cache stores RevisionFile.operations: a warm run reads them from JSON and must
    find exactly what a cold run finds."""
    versions = write_tree(
        tmp_path / "versions",
        {
            "a.py": migration("a", None, upgrade=USERS, downgrade='op.drop_table("users")'),
            "b.py": migration(
                "b",
                "a",
                upgrade='op.add_column("users", sa.Column("plan", sa.String(), nullable=False))\n'
                'op.execute("CREATE INDEX ix_plan ON users (plan)")',
                downgrade='op.drop_index("ix_plan")',
            ),
            "c.py": migration(
                "c", "a", upgrade='op.add_column("users", sa.Column("plan", sa.String()))'
            ),
            "m.py": migration("m", ("b", "c")),
        },
    )
    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)
    environment = versions_environment(versions)
    settings = Settings(select=("ALL",))
    cold_files = read_environment(environment, cache=True)
    assert (tmp_path / "cache").is_dir()
    warm_files = read_environment(environment, cache=True)
    plain_files = read_environment(environment, cache=False)
    assert [f.operations for f in warm_files] == [f.operations for f in plain_files]
    assert warm_files == plain_files == cold_files
    results = [
        check_graph(RevisionGraph(environment, files), settings)
        for files in (plain_files, warm_files)
    ]
    assert results[0] == results[1]
    assert {f.code for f in results[0]} >= {"CL301", "CL303", "CL305"}


def test_a_tampered_operation_in_the_cache_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = write_tree(tmp_path / "versions", {"a.py": migration("a", None, upgrade=USERS)})
    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)
    environment = versions_environment(versions)
    expected = read_environment(environment, cache=False)
    read_environment(environment, cache=True)
    (cache_file,) = (tmp_path / "cache").glob("read-*.json")
    header, document = read_cache_file(cache_file)
    (entry,) = document.values()
    row = json.loads(entry[2])  # the row is kept as its JSON text
    row[12][2][0][0] = "DropEverything"  # the row's operations: first upgrade op's kind
    entry[2] = json.dumps(row, separators=(",", ":"))
    # Correct checksums: only the operation's shape can give the tampering away.
    entry[3] = text_digest(entry[2])
    write_read_cache_file(cache_file, header, document)
    assert read_environment(environment, cache=True) == expected


def _schema_command(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chainlint", "schema", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
    )


def test_schema_command_json_is_versioned_and_text_reads_like_psql(tmp_path: Path) -> None:
    fixture = ROOT / "fixtures" / "column-already-exists"
    done = _schema_command(["--format", "json", "--revision", "002_conditional", "."], fixture)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["version"] == 1
    (environment,) = document["environments"]
    assert environment["revision"] == "002_conditional"
    table = environment["tables"]["step_executions"]
    assert table["known"] is True
    assert table["columns"]["condition_expression"]["created_by"] == "002_conditional"
    assert table["columns"]["id"] == {
        "type": "sa.Integer()",
        "nullable": False,
        "server_default": None,
        "created_by": "001_initial",
        "path": "migrations/versions/001_initial.py",
        "line": 20,
    }
    assert table["indexes"]["ix_step_executions_status"]["columns"] == ["status"]
    assert environment["opaque"] == []
    text = _schema_command([], fixture)
    assert text.returncode == 0, text.stderr
    assert 'Table "step_executions" (partial' in text.stdout
    assert "condition_expression | sa.Text()" in text.stdout


def test_schema_command_unknown_revision_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    fixture = ROOT / "fixtures" / "column-already-exists"
    with pytest.raises(SystemExit) as exited:
        main(["schema", str(fixture), "--revision", "nope"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no revision 'nope'" in err


def _cl305(upgrade: str, tmp_path: Path) -> list[int]:
    versions = write_tree(
        tmp_path / "versions",
        {
            "a.py": migration(
                "a", None, upgrade='op.create_table("t", sa.Column("id", sa.Integer))'
            ),
            "b.py": migration("b", "a", upgrade=upgrade),
        },
    )
    return [f.line for f in findings_of(versions, Settings(select=("CL305",)))]


ADD = 'op.add_column("t", sa.Column("x", sa.Integer(), nullable=False))'


@pytest.mark.parametrize(
    ("upgrade", "lines"),
    [
        # Airflow 0093: DELETE FROM, then rename, then NOT NULL columns on the empty table.
        (f'op.execute("DELETE FROM t")\n{ADD}', []),
        (f'op.execute("delete from t;")\n{ADD}', []),
        (f'op.execute("TRUNCATE TABLE t")\n{ADD}', []),
        (
            'op.execute("DELETE FROM t")\nop.rename_table("t", "u")\n'
            'op.add_column("u", sa.Column("x", sa.Integer(), nullable=False))',
            [],
        ),
        (f'op.execute("DELETE FROM t WHERE id = 1")\n{ADD}', [20]),
        (f'op.execute("DELETE FROM other")\n{ADD}', [20]),
        (f'{ADD}\nop.execute("DELETE FROM t")', [19]),
        (f'if x:\n    op.execute("DELETE FROM t")\n{ADD}', [21]),
        (f'op.execute("DELETE FROM t")\nop.execute("INSERT INTO t VALUES (1)")\n{ADD}', [21]),
        (f'op.execute("DELETE FROM t")\nop.bulk_insert(sa.table("t"), [{{"id": 1}}])\n{ADD}', [21]),
        (f'op.execute("DELETE FROM t")\nop.bulk_insert(tbl, [{{"id": 1}}])\n{ADD}', [21]),
        (f'op.execute("DELETE FROM t")\nop.execute(sa.insert(tbl))\n{ADD}', [21]),
        (f'op.execute("DELETE FROM t")\nop.execute(sa.update(tbl).values(x=1))\n{ADD}', []),
        (f'op.execute("DELETE FROM t")\nop.bulk_insert(sa.table("other"), [])\n{ADD}', []),
        # Created in this revision, then filled: the add fails as well.
        (
            'op.create_table("n", sa.Column("id", sa.Integer))\n'
            'op.bulk_insert(sa.table("n"), [{"id": 1}])\n'
            'op.add_column("n", sa.Column("x", sa.Integer(), nullable=False))',
            [21],
        ),
    ],
)
def test_cl305_knows_a_table_emptied_in_the_same_upgrade(
    tmp_path: Path, upgrade: str, lines: list[int]
) -> None:
    """Issue 10: Airflow's 0093 deletes every row of callback_request, renames it and adds NOT
    NULL columns: CL305 warned although the table is empty. Rows deleted without WHERE (or
    TRUNCATE) make the table empty until something inserts again."""
    assert _cl305(upgrade, tmp_path) == lines


def test_replay_tables_get_removals_and_constraints_only_when_they_have_some() -> None:
    """A replay state holds every table its history made: a table that nothing removed from
    holds no dict for removals, and its constraints are a tuple its copies share."""
    from chainlint.ops import ColumnDef, CreateTable, CreateUniqueConstraint, DropColumn
    from chainlint.schema import _State, replay

    def column(name: str) -> ColumnDef:
        return ColumnDef(name, "sa.Integer()", True, None, False, 2, 9, False, False)

    state = _State()
    path = Path("a.py")
    replay(state, "a", path, [CreateTable("t", (column("x"), column("y")), (), (), (), (), 1, 1)])
    table = state.tables["t"]
    assert table.removed is None and table.constraints == ()
    unique = CreateUniqueConstraint("t", "uq", ("x",), 3, 5)
    replay(state, "b", path, [unique])
    assert [c.name for c in state.tables["t"].constraints] == ["uq"]
    copy = state.copy()
    assert copy.tables["t"].constraints is state.tables["t"].constraints
    problems: list[object] = []
    replay(copy, "c", path, [DropColumn("t", "x", 4, 5)], problems.append)
    assert problems == [] and state.tables["t"].removed is None
    assert copy.tables["t"].removed is not None and list(copy.tables["t"].removed) == [
        ("column", "x")
    ]
    assert [c.name for c in copy.tables["t"].constraints] == []
    assert [c.name for c in state.tables["t"].constraints] == ["uq"]


def test_replay_tables_keep_creation_columns_and_indexes_as_their_operations() -> None:
    """What a table was created with (its create_table's columns, an index created in the same
    revision) is kept as the operations' own records; the schema made from them is the same
    Columns and Indexes, with the creating revision, and later changes are their own."""
    from chainlint.ops import AddColumn, AlterColumn, ColumnDef, CreateIndex, CreateTable
    from chainlint.schema import Column, Index, _State, replay

    x = ColumnDef("x", "sa.Integer()", False, None, False, 2, 9, False, False)
    y = ColumnDef("y", "sa.Text()", True, None, False, 3, 9, False, False)
    unnamed = CreateIndex("t", None, ("y",), False, 5, 5)
    named = CreateIndex("t", "ix_x", ("x",), True, 6, 5)
    a, b = Path("a.py"), Path("b.py")
    state = _State()
    replay(state, "a", a, [CreateTable("t", (x, y), (), (), (), ("x",), 1, 5), unnamed, named])
    table = state.tables["t"]
    assert table.columns["x"] is x and table.indexes["ix_t_y"] is unnamed
    later = CreateIndex("t", "ix_later", ("x",), True, 3, 5)
    z = ColumnDef("z", None, True, None, False, 4, 9, False, False)
    rename = AlterColumn("t", "y", "w", False, None, False, 6, 5)
    replay(state, "b", b, [later, AddColumn("t", z, 4, 5), rename])
    frozen = state.freeze().tables["t"]
    assert dict(frozen.columns) == {
        "x": Column("x", "sa.Integer()", False, None, "a", a, 2),
        "z": Column("z", None, True, None, "b", b, 4),
        "w": Column("w", "sa.Text()", False, None, "a", a, 3),
    }
    assert dict(frozen.indexes) == {
        "ix_t_y": Index("ix_t_y", "t", ("w",), False, "a", a, 5, True),
        "ix_x": Index("ix_x", "t", ("x",), True, "a", a, 6, False),
        "ix_later": Index("ix_later", "t", ("x",), True, "b", b, 3, False),
    }
    problems: list[Any] = []
    replay(state, "c", b, [AddColumn("t", x, 8, 5), named], problems.append)
    assert [(p.kind, p.what, p.origin) for p in problems] == [
        ("exists", "column t.x", Origin("a", a, 2)),
        ("exists", "index ix_x", Origin("a", a, 6)),
    ]


def test_create_table_columns_with_an_index_a_unique_or_a_repeated_name() -> None:
    """`Column(index=True)` makes SQLAlchemy's own index, `Column(unique=True)` an unnamed
    unique constraint, and a column named twice in one create_table fails (CL301) with the
    first one kept: the replay's shortcut for plain columns leaves these to add_column."""
    from chainlint.ops import ColumnDef, CreateTable
    from chainlint.schema import Column, Index, _State, replay

    a = Path("a.py")
    plain = ColumnDef("id", "sa.Integer()", False, None, True, 2, 9, False, False)
    indexed = ColumnDef("email", "sa.String()", True, None, False, 3, 9, True, False)
    unique = ColumnDef("code", "sa.String()", True, None, False, 4, 9, False, True)
    again = ColumnDef("id", "sa.Text()", True, None, False, 5, 9, False, False)
    found: list[Any] = []
    state = _State()
    operation = CreateTable("t", (plain, indexed, unique, again), (), (), (), ("id",), 1, 5)
    replay(state, "a", a, [operation], found.append)
    frozen = state.freeze().tables["t"]
    assert list(frozen.columns) == ["id", "email", "code"]
    assert frozen.columns["id"] == Column("id", "sa.Integer()", False, None, "a", a, 2)
    assert dict(frozen.indexes) == {
        "ix_t_email": Index("ix_t_email", "t", ("email",), False, "a", a, 3, True)
    }
    assert [(c.kind, c.name, c.columns) for c in frozen.uniques] == [("unique", None, ("code",))]
    assert [(p.kind, p.what, p.origin) for p in found] == [
        ("exists", "column t.id", Origin("a", a, 2))
    ]
