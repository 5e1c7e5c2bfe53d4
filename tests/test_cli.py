"""The command line: exit codes, output formats, selection, configuration, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chainlint import __version__
from chainlint.rules.base import migration
from helpers import run_cli as run
from helpers import write_tree

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "fixtures" / "seed-broken-chain" / "api" / "migrations" / "versions"


@pytest.fixture
def chain(workdir: Path) -> Path:
    return write_tree(
        workdir / "versions",
        {
            "a.py": migration("a", None),
            "b.py": migration("b", "a"),
            "c.py": migration("c", "b_typo"),
        },
    )


def test_text_output_lists_findings_and_summary(
    chain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["check", str(chain)], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("versions/c.py:13:17 CL001 down_revision 'b_typo'")
    assert "did you mean 'b' (declared in versions/b.py)?" in lines[0]
    assert "Found 1 error and 0 warnings (3 revisions in 1 environment)." in out
    assert "1 fixable with `chainlint fix`" in out


def test_check_is_the_default_command(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(chain)], capsys)
    assert code == 1 and "CL001" in out


def test_json_output_follows_the_schema(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", "--format", "json", str(chain)], capsys)
    assert code == 1
    document = json.loads(out)
    assert document["version"] == 1
    assert document["environments"] == [
        {"path": "versions", "revisions": 3, "heads": ["b", "c"], "bases": ["a"]}
    ]
    (finding,) = document["findings"]
    assert finding == {
        "code": "CL001",
        "name": "unknown-down-revision",
        "severity": "error",
        "message": finding["message"],
        "path": "versions/c.py",
        "line": 13,
        "column": 17,
        "revision": "c",
        "fix": {"description": "set down_revision to 'b'", "applicable": True},
    }


def test_clean_tree_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = write_tree(
        tmp_path / "versions", {"a.py": migration("a", None), "b.py": migration("b", "a")}
    )
    code, out, _ = run(["check", str(versions)], capsys)
    assert code == 0
    assert "All checks passed (2 revisions in 1 environment)." in out


def test_warnings_alone_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = write_tree(
        tmp_path / "versions",
        {"a.py": migration("a", None), "b.py": migration("b", "a", revises_header="zzz")},
    )
    code, out, _ = run(["check", str(versions)], capsys)
    assert code == 0 and "CL101" in out


def test_select_and_ignore(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", "--ignore", "CL001", str(chain)], capsys)[0] == 0
    assert run(["check", "--select", "CL1", str(chain)], capsys)[0] == 0
    assert run(["check", "--select", "CL0", str(chain)], capsys)[0] == 1


def test_unknown_code_is_a_usage_error(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["check", "--select", "XY999", str(chain)], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        "chainlint: unknown rule code or prefix 'XY999' in select/ignore"
    ]


def test_max_revision_length_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = write_tree(tmp_path / "versions", {"a.py": migration("abcdefghij", None)})
    assert run(["check", str(versions)], capsys)[0] == 0
    code, out, _ = run(["check", "--max-revision-length", "8", str(versions)], capsys)
    # VARCHAR(32) explains only the default limit; a chosen limit claims no column type.
    assert code == 1 and "longer than max-revision-length 8" in out and "VARCHAR" not in out


def test_pyproject_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(
        tmp_path,
        {
            "pyproject.toml": '[tool.chainlint]\nignore = ["CL001"]\nmax-revision-length = 8\n',
            "versions/a.py": migration("abcdefghij", None),
            "versions/b.py": migration("b", "missing"),
        },
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["check", "versions"], capsys)
    assert code == 1
    assert "CL006" in out and "CL001" not in out


def test_bad_pyproject_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(tmp_path, {"pyproject.toml": "[tool.chainlint]\nselect = 3\n", "versions/a.py": ""})
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["check", "versions"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "select must be a list" in err


def test_noqa_suppresses_one_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = migration("abcdefghij", None).replace(
        "revision = 'abcdefghij'", "revision = 'abcdefghij'  # noqa: CL006"
    )
    versions = write_tree(tmp_path / "versions", {"a.py": source})
    assert run(["check", "--max-revision-length", "8", str(versions)], capsys)[0] == 0


def test_missing_path_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["check", str(tmp_path / "nope")], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "nope" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and __version__ in out


def test_rule_page(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["rule", "CL001"], capsys)
    assert code == 0
    assert "unknown-down-revision" in out and "## Why is this bad?" in out
    code, _, err = run(["rule", "CL999"], capsys)
    assert code == 2 and "unknown rule code" in err


def test_junk_directory_never_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_tree(
        tmp_path / "versions",
        {
            "a.py": migration("a", None),
            "junk.py": os.urandom(2048),
            "latin.py": "revision = 'é'\n".encode("latin-1"),
            "syntax.py": "revision = 'x'\ndef (:\n",
            "empty.py": "",
        },
    )
    (versions / "loop1.py").symlink_to(versions / "loop2.py")
    (versions / "loop2.py").symlink_to(versions / "loop1.py")
    code, out, err = run(["check", "--format", "json", str(versions)], capsys)
    assert code == 1, err
    codes = sorted((f["path"].split("/")[-1], f["code"]) for f in json.loads(out)["findings"])
    assert ("junk.py", "CL009") in codes
    assert ("latin.py", "CL009") in codes
    assert ("syntax.py", "CL009") in codes
    assert ("empty.py", "CL007") in codes
    assert ("loop1.py", "CL009") in codes and ("loop2.py", "CL009") in codes
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    [
        # Mentions [tool.chainlint] only in a comment: the old text search took it for a table.
        ("tool = 1  # [tool.chainlint] moved to setup.cfg\n", "key 'tool' must be a table"),
        ("[tool]\nchainlint = 5\n", "[tool.chainlint] must be a table, not an integer (5)"),
        ("tool.chainlint = 'CL001'\n", "[tool.chainlint] must be a table, not a string"),
        ("[tool.chainlint]\nselct = ['CL001']\n", "unknown key 'selct'; did you mean 'select'?"),
        ("[tool.chainlint.per-file-ignores]\nx = 1\n", "unknown key 'per-file-ignores'"),
        ("[tool]\nchainlint.select = ['XY9']\n", "select: unknown rule code or prefix 'XY9'"),
        ("[tool.chainlint]\nextend-fix = 'CL1'\nmax-file-size = 0\n", "max-file-size must be"),
        ("[tool.chainlint]\nmax-file-size = true\n", "max-file-size must be a positive integer"),
        ("[tool.chainlint]\nextend-fix = [1]\n", "extend-fix must be a list of rule codes"),
        ("[tool.chainlint]\nextend-fix = ['NOPE1']\n", "extend-fix: unknown rule code"),
        ("[tool.chainlint]\nselect = [\n", "is not valid TOML"),
    ],
)
def test_configuration_errors_name_the_file_and_key(
    pyproject: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_tree(tmp_path, {"pyproject.toml": pyproject, "versions/a.py": migration("a", None)})
    monkeypatch.chdir(tmp_path)
    for args in (["check", "versions"], ["check", "--config", "pyproject.toml", "versions"]):
        code, out, err = run(args, capsys)
        assert code == 2 and out == ""
        (line,) = err.strip().splitlines()
        assert "pyproject.toml" in line and expected in line, line
        assert "internal error" not in line


def test_configuration_is_found_structurally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Dotted keys and inline tables configure chainlint as well as a [tool.chainlint] header."""
    files = {"versions/a.py": migration("a", None), "versions/b.py": migration("b", "gone")}
    monkeypatch.chdir(tmp_path)
    for pyproject in (
        "[tool]\nchainlint.ignore = ['CL001']\n",
        "tool = {chainlint = {ignore = ['CL001']}}\n",
    ):
        write_tree(tmp_path, {"pyproject.toml": pyproject, **files})
        assert run(["check", "versions"], capsys)[0] == 0, pyproject
    for pyproject in (
        "[ tool . 'chainlint' ]\nignore = ['CL001']\n",
        "tool.chainlint.ignore = ['CL001']\n",
    ):
        write_tree(tmp_path, {"pyproject.toml": pyproject})
        assert run(["check", "versions"], capsys)[0] == 0, pyproject
    # A pyproject.toml that only names chainlint as a dependency configures nothing (and is
    # not even parsed: an unrelated syntax error elsewhere is not chainlint's to report).
    for pyproject in (
        "[project]\nname = 'chainlint'\ndependencies = ['chainlint']\n",
        "[project]\ndependencies = [\n  'chainlint>=0.1',\n]\nbroken = [\n",
    ):
        write_tree(tmp_path, {"pyproject.toml": pyproject})
        assert run(["check", "versions"], capsys)[0] == 1, pyproject


def test_extend_fix_and_max_file_size_settings(tmp_path: Path) -> None:
    from chainlint.config import DEFAULT_MAX_FILE_SIZE, load_settings

    (tmp_path / "pyproject.toml").write_text(
        "[tool.chainlint]\nextend-fix = ['cl101', 'CL102']\nmax-file-size = 1000\n"
    )
    settings = load_settings(start=tmp_path)
    assert settings.extend_fix == ("CL101", "CL102") and settings.max_file_size == 1000
    (tmp_path / "pyproject.toml").write_text("[tool.chainlint]\n")
    settings = load_settings(start=tmp_path)
    assert settings.extend_fix == () and settings.max_file_size == DEFAULT_MAX_FILE_SIZE


@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "github", "gitlab"])
def test_output_file_holds_the_report_of_every_format(
    output_format: str, chain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed, _ = run(["check", "--format", output_format, str(chain)], capsys)
    target = chain.parent / "reports" / f"chainlint.{output_format}"
    code_to_file, out, err = run(
        ["check", "--format", output_format, "--output-file", str(target), str(chain)], capsys
    )
    assert (code, code_to_file) == (1, 1) and out == "" and err == ""
    assert target.read_text(encoding="utf-8") == printed
    # An existing report is replaced whole, atomically: no temporary file is left behind.
    target.write_text("stale " * 10_000)
    run(["check", "--format", output_format, "-o", str(target), str(chain)], capsys)
    assert target.read_text(encoding="utf-8") == printed
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_output_file_that_cannot_be_written_is_one_line(
    chain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (chain.parent / "blocker").write_text("a file, not a folder")
    code, out, err = run(
        ["check", "-o", str(chain.parent / "blocker" / "r.txt"), str(chain)], capsys
    )
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("chainlint: cannot write ") and "blocker" in line


def test_exit_zero_keeps_the_report_but_not_usage_errors(
    chain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["check", "--exit-zero", str(chain)], capsys)
    assert code == 0 and "CL001" in out and "Found 1 error" in out
    code, _, err = run(["check", "--exit-zero", "--select", "XY999", str(chain)], capsys)
    assert code == 2 and "XY999" in err
    code, _, err = run(["check", "--exit-zero", str(chain.parent / "nope")], capsys)
    assert code == 2


def test_readme_pre_commit_snippet_pins_no_missing_tag() -> None:
    """The snippet once said `rev: v0.1.0`, a tag that does not exist: pre-commit fails on it."""
    import re
    import subprocess

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (rev,) = re.findall(r"^\s*rev:\s*(\S+)", readme, re.MULTILINE)
    tags = subprocess.run(
        ["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    assert rev in tags or re.fullmatch(r"<[a-z-]+>", rev), rev
    assert "commit SHA" in readme


IGNORED = {
    "manage.py": "chainlint: ignored manage.py: outside the version locations of alembic.ini "
    "(migrations/versions)\n",
    "README.md": "chainlint: ignored README.md: not a .py file\n",
    "migrations/env.py": "chainlint: ignored migrations/env.py: outside the environment's "
    "version locations (migrations/versions)\n",
    "migrations/versions/__init__.py": "chainlint: ignored migrations/versions/__init__.py: "
    "Alembic does not load __init__ files or editor lock files (.#*)\n",
    "migrations/versions/sub/b.py": "chainlint: ignored migrations/versions/sub/b.py: in a "
    "subfolder of migrations/versions, and recursive_version_locations is off\n",
}


@pytest.fixture
def project(workdir: Path) -> Path:
    """alembic.ini, a migration, and files beside it that are not migrations."""
    (workdir / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    return write_tree(
        workdir,
        {
            "manage.py": "import app\n",
            "README.md": "# app\n",
            "migrations/env.py": "from alembic import context\n",
            "migrations/versions/a.py": migration("a", None),
            "migrations/versions/__init__.py": "",
            "migrations/versions/sub/b.py": migration("b", "a"),
        },
    )


@pytest.mark.parametrize("command", ["check", "fix", "graph", "schema"])
@pytest.mark.parametrize("given", sorted(IGNORED))
def test_verbose_says_which_given_paths_were_ignored_and_why(
    project: Path, capsys: pytest.CaptureFixture[str], command: str, given: str
) -> None:
    """Issue 10: `chainlint check manage.py` beside alembic.ini ignores manage.py silently;
    `-v` says so on stderr, one line per path, relative; without it stderr stays empty."""
    paths = [given, "migrations/versions/a.py"]
    code, out, err = run([command, *paths], capsys)
    assert (code, err) == (0, "")
    code_verbose, out_verbose, err_verbose = run([command, "-v", *paths], capsys)
    assert (code_verbose, out_verbose) == (0, out)
    assert err_verbose == IGNORED[given]
    assert run([command, "--verbose", *paths], capsys)[2] == IGNORED[given]


@pytest.mark.parametrize("output_format", ["json", "sarif"])
def test_verbose_leaves_machine_output_unchanged(
    project: Path, capsys: pytest.CaptureFixture[str], output_format: str
) -> None:
    paths = [*sorted(IGNORED), "migrations/versions/a.py"]
    plain = run(["check", "--format", output_format, *paths], capsys)
    verbose = run(["check", "-v", "--format", output_format, *paths], capsys)
    assert verbose[1].encode() == plain[1].encode()
    json.loads(verbose[1])
    assert verbose[2] == "".join(IGNORED[p] for p in paths[:-1])
    graph = run(["graph", "--format", "json", *paths], capsys)
    assert run(["graph", "-v", "--format", "json", *paths], capsys)[1].encode() == graph[1].encode()


def test_verbose_says_a_symlinked_cache_folder_was_not_used(
    project: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 10: a committed `.chainlint_cache` symlink is refused (issue 11) without a word."""
    monkeypatch.delenv("CHAINLINT_CACHE_DIR", raising=False)
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (project / ".chainlint_cache").symlink_to(elsewhere)
    line = (
        "chainlint: ignored .chainlint_cache: a symlink (a cache folder is never used through "
        "one); ran without the cache\n"
    )
    for command in ("check", "graph", "schema"):
        assert run([command, "migrations"], capsys)[2] == ""
        assert run([command, "-v", "migrations"], capsys)[2] == line
    assert run(["check", "-v", "--no-cache", "migrations"], capsys)[2] == ""
    assert list(elsewhere.iterdir()) == []
