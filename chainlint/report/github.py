"""`--format github`: GitHub Actions workflow commands, shown as pull-request annotations."""

from __future__ import annotations

from pathlib import Path

from chainlint.lint import LintResult
from chainlint.report import display_path, escape_text


def _data(text: str) -> str:
    # Control characters (a log renders ANSI escapes) and lone surrogates are made visible;
    # the workflow-command escapes below then cover what is left.
    text = escape_text(text)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result: LintResult, cwd: Path) -> str:
    lines = []
    for finding in result.findings:
        command = "error" if finding.severity == "error" else "warning"
        lines.append(
            f"::{command} file={_property(display_path(finding.path, cwd))},"
            f"line={finding.line},col={finding.column},"
            f"title={_property(f'{finding.code} {finding.name}')}::{_data(finding.message)}"
        )
    return "".join(line + "\n" for line in lines)
