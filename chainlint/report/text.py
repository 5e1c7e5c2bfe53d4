"""`--format text`: one line per finding, then a summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.text import Text

from chainlint.findings import Finding
from chainlint.lint import LintResult
from chainlint.report import display_path, escape_text

_STYLE = {"error": "bold red", "warning": "yellow"}


def finding_line(finding: Finding, cwd: Path) -> Text:
    line = Text()
    location = f"{escape_text(display_path(finding.path, cwd))}:{finding.line}:{finding.column}"
    line.append(location, "bold")
    line.append(" ")
    line.append(finding.code, _STYLE[finding.severity])
    line.append(" ")
    line.append(escape_text(finding.message))
    if finding.fixable:
        line.append(" [*]", "cyan")
    return line


def summary_line(findings: list[Finding], environments: int, revisions: int) -> Text:
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    fixable = sum(1 for f in findings if f.fixable)
    scope = (
        f"{revisions} revision{'s' if revisions != 1 else ''} in {environments} "
        f"environment{'s' if environments != 1 else ''}"
    )
    if not findings:
        return Text(f"All checks passed ({scope}).", "green")
    text = Text()
    text.append(
        f"Found {errors} error{'s' if errors != 1 else ''} and {warnings} "
        f"warning{'s' if warnings != 1 else ''} ({scope}).",
        "bold",
    )
    if fixable:
        text.append(f"\n[*] {fixable} fixable with `chainlint fix`.", "cyan")
    return text


def render_text(result: LintResult, console: Console, cwd: Path, quiet: bool = False) -> None:
    for finding in result.findings:
        console.print(finding_line(finding, cwd), soft_wrap=True, highlight=False)
    if not quiet:
        revisions = sum(env.summary.revisions for env in result.environments)
        console.print(
            summary_line(result.findings, len(result.environments), revisions),
            soft_wrap=True,
            highlight=False,
        )
