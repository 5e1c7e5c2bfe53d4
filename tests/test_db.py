"""`chainlint db` on SQLite databases built by real Alembic, then damaged as users damage them.

Every run is wrapped in `unchanged(...)`: the database file's bytes and mtime are the same
afterwards, and no journal appears beside it."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from chainlint.dbcheck import literal_url
from db_helpers import HISTORY, Project, alembic_project, sqlite_file, unchanged
from helpers import run_cli

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The HISTORY project; alembic.ini names the database as `sqlite:///%(here)s/app.db`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CHAINLINT_DATABASE_URL", raising=False)
    return alembic_project(
        tmp_path, HISTORY, f"sqlite:///{tmp_path / 'app.db'}", "sqlite:///%(here)s/app.db"
    )


def db_path(project: Project) -> Path:
    return project.root / "app.db"


def chainlint_db(project: Project, capsys: Capsys, *args: str) -> tuple[int, str, str]:
    with unchanged(db_path(project)):
        return run_cli(["db", *args], capsys)


# -- status and the rules, on databases built by Alembic ---------------------------------------


def test_a_database_at_head_passes(project: Project, capsys: Capsys) -> None:
    project.alembic("upgrade", "head")
    code, out, err = chainlint_db(project, capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"Database: sqlite:///{project.root}/app.db (from alembic.ini)",
        "  revision: c3 (head)",
        "  heads:    c3",
        "  pending:  none (at head)",
        "All checks passed (3 revisions in 1 environment).",
    ]


def test_a_database_behind_lists_pending_in_upgrade_order(project: Project, capsys: Capsys) -> None:
    project.alembic("upgrade", "a1")
    code, out, _ = chainlint_db(project, capsys)
    assert code == 0  # a warning
    assert "  pending:  2: b2 -> c3" in out
    assert (
        "migrations/versions/b2_create_steps.py:12:12 CL402 the database is at 'a1'; "
        "2 migrations are pending: 'b2' and 'c3'." in out
    )
    assert "Run: `alembic upgrade head`" in out


def test_require_head_makes_pending_migrations_an_error(project: Project, capsys: Capsys) -> None:
    project.alembic("upgrade", "b2")
    code, out, _ = chainlint_db(project, capsys, "--require-head")
    assert code == 1
    assert "Found 1 error and 0 warnings" in out
    project.alembic("upgrade", "head")
    assert chainlint_db(project, capsys, "--require-head")[0] == 0


def test_renamed_id_is_found_and_the_printed_stamp_repairs_it(
    project: Project, capsys: Capsys
) -> None:
    project.alembic("upgrade", "head")
    # The user changed the applied head's id in its file after applying it.
    path = project.versions / "c3_add_condition.py"
    path.write_text(path.read_text().replace("'c3'", "'ae1038f5c3d2'"))
    code, out, _ = chainlint_db(project, capsys)
    assert code == 1
    assert "revision: c3 (unknown: no file declares it)" in out
    finding = next(line for line in out.splitlines() if " CL401 " in line)
    assert finding.startswith("migrations/versions/c3_add_condition.py:12:12 CL401 ")
    assert "did you mean 'ae1038f5c3d2'" in finding
    assert "Can't locate revision identified by 'c3'" in finding
    assert "Repair: `alembic stamp --purge ae1038f5c3d2`" in finding
    with pytest.raises(Exception, match="Can't locate revision identified by 'c3'"):
        project.alembic("stamp", "ae1038f5c3d2")  # what the user tried first
    project.alembic("stamp", "ae1038f5c3d2", purge=True)  # the printed repair
    code, out, _ = chainlint_db(project, capsys)
    assert code == 0 and "All checks passed" in out


def test_a_partial_id_alembic_resolves_is_not_reported(project: Project, capsys: Capsys) -> None:
    project.alembic("upgrade", "head")
    path = project.versions / "c3_add_condition.py"
    path.write_text(path.read_text().replace("'c3'", "'c3_add_condition'"))
    assert "c3_add_condition (head)" in project.alembic("current")  # Alembic: a partial id
    code, out, _ = chainlint_db(project, capsys)
    assert code == 0 and "All checks passed" in out
    assert "revision: c3 (= c3_add_condition, a partial id) (head)" in out


def test_the_printed_update_statement_repairs_one_row_of_several(
    project: Project, capsys: Capsys
) -> None:
    project.alembic("upgrade", "head")
    # A second, independent branch applied beside the main one; then the main row is mistyped.
    (project.versions / "x1_other.py").write_text(
        HISTORY["a1_create_runs.py"]
        .replace("'a1'", "'x1'")
        .replace("branch_labels = None", "branch_labels = 'other'")
        .replace('"workflow_runs"', '"other_runs"')
    )
    project.alembic("upgrade", "other@head")
    with sqlite3.connect(db_path(project)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'c3x' WHERE version_num='c3'")
    connection.close()
    code, out, _ = chainlint_db(project, capsys)
    assert code == 1
    finding = next(line for line in out.splitlines() if " CL401 " in line)
    statement = "UPDATE alembic_version SET version_num = 'c3' WHERE version_num = 'c3x';"
    assert finding.endswith("Repair: " + statement)
    assert "--purge" not in finding  # it would drop the other branch's row
    with sqlite3.connect(db_path(project)) as connection:
        connection.execute(statement)
    connection.close()
    assert chainlint_db(project, capsys)[0] == 0
    assert set(project.alembic("current").split()) >= {"c3", "x1"}


def test_tables_without_a_version_table_are_unstamped(project: Project, capsys: Capsys) -> None:
    import sqlalchemy as sa

    # create_all() at application start, no `alembic stamp`.
    metadata = sa.MetaData()
    sa.Table("workflow_runs", metadata, sa.Column("id", sa.Integer, primary_key=True))
    engine = sa.create_engine(project.admin_url)
    metadata.create_all(engine)
    engine.dispose()
    code, out, _ = chainlint_db(project, capsys)
    assert code == 1
    assert "revision: none (no alembic_version table)" in out
    assert (
        "migrations/versions/a1_create_runs.py:12:12 CL404 the database has 1 table "
        "('workflow_runs') but no alembic_version table" in out
    )
    with pytest.raises(Exception, match="already exists"):
        project.alembic("upgrade", "head")  # what CL404 warns about


def test_an_empty_database_is_not_initialised(project: Project, capsys: Capsys) -> None:
    sqlite_file(db_path(project))
    code, out, err = chainlint_db(project, capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"chainlint: sqlite:///{project.root}/app.db: not initialised (no alembic_version "
        "table, no tables): run `alembic upgrade head`\n"
    )


def test_two_rows_on_one_branch_are_one_line(project: Project, capsys: Capsys) -> None:
    project.alembic("upgrade", "head")
    with sqlite3.connect(db_path(project)) as connection:
        connection.execute("INSERT INTO alembic_version VALUES ('a1')")
    connection.close()
    with pytest.raises(Exception, match="overlaps with other requested revisions"):
        project.alembic("upgrade", "head")
    code, _, err = chainlint_db(project, capsys)
    assert code == 2 and err.count("\n") == 1
    assert "holds both 'a1' and 'c3', which are on one branch" in err
    assert "DELETE FROM alembic_version WHERE version_num = 'a1';" in err


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(
    project: Project, capsys: Capsys
) -> None:
    code, out, err = run_cli(["db"], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"chainlint: sqlite:///{project.root}/app.db: no such database file")
    assert not db_path(project).exists()


def test_formats_carry_the_status_and_the_findings(project: Project, capsys: Capsys) -> None:
    project.alembic("upgrade", "a1")
    code, out, _ = chainlint_db(project, capsys, "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert document["database"] == {
        "url": f"sqlite:///{project.root}/app.db",
        "url_from": "alembic.ini",
        "dialect": "sqlite",
        "version_table": "alembic_version",
        "state": "behind",
        "revisions": ["a1"],
        "unknown_revisions": [],
        "heads": ["c3"],
        "pending": ["b2", "c3"],
        "tables": 1,
    }
    assert [f["code"] for f in document["findings"]] == ["CL402"]
    assert document["findings"][0]["fix"] == {
        "description": "alembic upgrade head",
        "applicable": False,
    }
    sarif = json.loads(chainlint_db(project, capsys, "--format", "sarif")[1])
    result = sarif["runs"][0]["results"][0]
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == "CL402"
    github = chainlint_db(project, capsys, "--format", "github")[1]
    assert github.startswith("::warning ") and "CL402" in github
    gitlab = json.loads(chainlint_db(project, capsys, "--format", "gitlab")[1])
    assert gitlab[0]["check_name"] == "CL402"


# -- where the URL and the version table come from ----------------------------------------------


def test_url_precedence(project: Project, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    project.alembic("upgrade", "head")
    other = sqlite_file(project.root / "other.db", ("CREATE TABLE t (id INTEGER)",))
    monkeypatch.setenv("DATABASE_URL", other)
    assert "CL404" in chainlint_db(project, capsys)[1]  # $DATABASE_URL beats alembic.ini
    monkeypatch.setenv("CHAINLINT_DATABASE_URL", project.admin_url)
    out = chainlint_db(project, capsys)[1]
    assert "(from $CHAINLINT_DATABASE_URL)" in out and "CL404" not in out
    out = chainlint_db(project, capsys, "--url", other)[1]
    assert "(from --url)" in out and "CL404" in out


def test_relative_sqlite_url_in_alembic_ini_is_taken_from_its_folder(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CHAINLINT_DATABASE_URL", raising=False)
    project = alembic_project(
        tmp_path / "api", HISTORY, f"sqlite:///{tmp_path / 'api' / 'app.db'}", "sqlite:///app.db"
    )
    project.alembic("upgrade", "head")
    monkeypatch.chdir(tmp_path)
    with unchanged(db_path(project)):
        code, out, _ = run_cli(["db", "api"], capsys)
    assert code == 0 and "revision: c3 (head)" in out


@pytest.mark.parametrize(
    "value",
    [
        "driver://user:pass@localhost/dbname",  # what `alembic init` writes
        "%(DB_URL)s",
        "postgresql://%(user)s@localhost/db",
        "${DATABASE_URL}",
    ],
)
def test_a_templated_ini_url_is_not_used(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CHAINLINT_DATABASE_URL", raising=False)
    alembic_project(tmp_path, HISTORY, "sqlite://", value.replace("%", "%%"))
    code, out, err = run_cli(["db"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(
        "chainlint: no database URL: pass --url, or set CHAINLINT_DATABASE_URL or DATABASE_URL "
        "(alembic.ini's sqlalchemy.url "
    )
    assert "pass@" not in err


def test_literal_url_substitutes_only_here(tmp_path: Path) -> None:
    assert literal_url("sqlite:///%(here)s/app.db", tmp_path) == f"sqlite:///{tmp_path}/app.db"
    assert literal_url("postgresql://u:p%%40x@h/db", tmp_path) == "postgresql://u:p%40x@h/db"
    assert literal_url("%(here)s/app.db", tmp_path) is None  # not a URL


def test_version_table_is_read_from_env_py_without_importing_it(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    configure = ", version_table=VERSIONS, version_table_schema=None"
    project = alembic_project(
        tmp_path, HISTORY, f"sqlite:///{tmp_path / 'app.db'}", "sqlite:///app.db", configure
    )
    env_py = project.root / "migrations" / "env.py"
    env_py.write_text(
        'VERSIONS = "orchestrator_versions"\n'
        + env_py.read_text()
        # Executing env.py outside Alembic would leave this marker.
        + '\nif not hasattr(context, "script"):\n    open("IMPORTED", "w").close()\n'
    )
    project.alembic("upgrade", "b2")
    with unchanged(db_path(project)):
        code, out, _ = run_cli(["db"], capsys)
    assert "revision: b2" in out and "CL402" in out
    assert code == 0
    assert not (tmp_path / "IMPORTED").exists()
    # --version-table names another table: this one does not exist, and tables do.
    with unchanged(db_path(project)):
        code, out, _ = run_cli(["db", "--version-table", "alembic_version"], capsys)
    assert code == 1 and "but no alembic_version table" in out


def test_a_computed_version_table_asks_for_the_option(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    project = alembic_project(
        tmp_path,
        HISTORY,
        f"sqlite:///{tmp_path / 'app.db'}",
        "sqlite:///app.db",
        ', version_table=os.environ["VERSION_TABLE"]',
    )
    sqlite_file(db_path(project), ("CREATE TABLE t (id INTEGER)",))
    code, _, err = run_cli(["db"], capsys)
    assert code == 2
    assert err == (
        f"chainlint: {project.root}/migrations/env.py:13: version_table is not a literal "
        "chainlint can read; pass --version-table NAME\n"
    )
    code, out, _ = run_cli(["db", "--version-table", "alembic_version"], capsys)
    assert code == 1 and "CL404" in out


# -- bad input: one line, exit 2 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql+psycopg2://app:Hunter2-Secret@db.internal/app",
            "chainlint: postgresql+psycopg2://app:***@db.internal/app: the postgresql+psycopg2 "
            "driver is not installed (no module named 'psycopg2'): pip install "
            "'chainlint[postgresql]' and use a postgresql+psycopg:// URL",
        ),
        (
            "mysql://app:Hunter2-Secret@db/app",
            "chainlint: mysql://app:***@db/app: chainlint db reads SQLite and PostgreSQL "
            "databases, not 'mysql'",
        ),
        ("not a url", "chainlint: not a database URL: 'not a url'"),
        (
            "postgresql://app:Hunter2-Secret@127.0.0.1:1/app",
            "chainlint: postgresql://app:***@127.0.0.1:1/app: connection failed:",
        ),
    ],
)
def test_bad_urls_give_one_line_without_the_password(
    project: Project, capsys: Capsys, url: str, message: str
) -> None:
    if "psycopg2" in url and "psycopg2" in sys.modules:
        pytest.skip("psycopg2 is installed here")
    code, out, err = run_cli(["db", "--url", url], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(message) and err.count("\n") == 1
    assert "Hunter2" not in err


def test_without_sqlalchemy_the_extra_is_named(
    project: Project, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.alembic("upgrade", "head")
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # `import sqlalchemy` fails
    code, out, err = run_cli(["db"], capsys)
    assert (code, out) == (2, "")
    assert err == (
        "chainlint: reading a database needs SQLAlchemy: pip install 'chainlint[db]' "
        "(or 'chainlint[postgresql]' for PostgreSQL)\n"
    )


def test_a_file_that_is_not_a_database_is_one_line(project: Project, capsys: Capsys) -> None:
    db_path(project).write_text("not sqlite\n" * 100)
    with unchanged(db_path(project)):
        code, _, err = run_cli(["db"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "file is not a database" in err


# -- damage the schema model explains (CL403, CL404 with a revision, CL406) ---------------------


def test_a_half_applied_migration_names_present_and_missing(
    project: Project, capsys: Capsys
) -> None:
    # c3 adds a column, then an index; the index step fails (SQLite runs DDL without a
    # transaction, so the column stays: a half-applied migration, as on MySQL).
    path = project.versions / "c3_add_condition.py"
    path.write_text(
        path.read_text().replace(
            'sa.Column("condition_expression", sa.Text()))',
            'sa.Column("condition_expression", sa.Text()))\n'
            '    op.create_index("ix_steps_condition", "step_executions", ["no_such_column"])',
        )
    )
    project.alembic("upgrade", "b2")
    with pytest.raises(Exception, match="no_such_column"):
        project.alembic("upgrade", "head")
    code, out, _ = chainlint_db(project, capsys)
    assert code == 1
    finding = next(line for line in out.splitlines() if " CL403 " in line)
    assert (
        "'c3' is half applied: column step_executions.condition_expression already exists; "
        "index ix_steps_condition does not (versions/c3_add_condition.py:20)"
    ) in finding
    assert "then `alembic stamp c3`; do not drop what exists, that loses its data" in finding
    assert "DROP" not in finding and "CL402" not in out


def test_create_all_matching_a_revision_is_stamped_there(project: Project, capsys: Capsys) -> None:
    project.alembic("upgrade", "b2")
    with sqlite3.connect(db_path(project)) as connection:
        connection.execute("DROP TABLE alembic_version")  # as if create_all() had built it
    connection.close()
    code, out, _ = chainlint_db(project, capsys)
    assert code == 1
    finding = next(line for line in out.splitlines() if " CL404 " in line)
    assert finding.startswith("migrations/versions/b2_create_steps.py:12:12 CL404 ")
    assert finding.endswith("Its schema is the schema after 'b2'. Run: `alembic stamp b2`")
    project.alembic("stamp", "b2")
    code, out, _ = chainlint_db(project, capsys)
    assert code == 0 and "CL402" in out
    project.alembic("upgrade", "head")  # the stamp was right: the rest applies cleanly


def test_a_deleted_revision_is_found_by_its_schema(project: Project, capsys: Capsys) -> None:
    project.alembic("upgrade", "b2")
    with sqlite3.connect(db_path(project)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '5f0c9e1a77d3'")
    connection.close()
    code, out, _ = chainlint_db(project, capsys)
    assert code == 1
    finding = next(line for line in out.splitlines() if " CL401 " in line)
    assert "the database's schema is the schema after 'b2'" in finding
    assert "Repair: `alembic stamp --purge b2`" in finding
    project.alembic("stamp", "b2", purge=True)
    assert chainlint_db(project, capsys)[0] == 0


def test_a_column_added_by_hand_is_drift(project: Project, capsys: Capsys) -> None:
    project.alembic("upgrade", "head")
    with sqlite3.connect(db_path(project)) as connection:
        connection.execute("ALTER TABLE workflow_runs ADD COLUMN priority INTEGER")
    connection.close()
    code, out, _ = chainlint_db(project, capsys)
    assert code == 0  # a warning
    finding = next(line for line in out.splitlines() if " CL406 " in line)
    assert finding.startswith(
        "migrations/versions/a1_create_runs.py:19:1 CL406 column workflow_runs.priority exists "
        "in the database, but no migration up to 'c3' made it"
    )
    assert "do not drop it, that loses its data" in finding
