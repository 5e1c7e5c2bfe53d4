"""`--format text`: one line per finding, then a summary.

Rendered with rich on a terminal (or with colour forced); otherwise written as plain text
without importing rich, byte for byte what rich would print there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from chainlint.findings import Finding
from chainlint.lint import LintResult
from chainlint.report import display_path, escape_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

_STYLE = {"error": "bold red", "warning": "yellow"}
# What rich's Text drops from the strings it is given (bell, backspace, VT, FF, CR).
_RICH_STRIPS = dict.fromkeys((7, 8, 11, 12, 13))

Parts = list[tuple[str, str | None]]


def _finding_parts(finding: Finding, cwd: Path) -> Parts:
    parts: Parts = [
        (f"{escape_text(display_path(finding.path, cwd))}:{finding.line}:{finding.column}", "bold"),
        (" ", None),
        (finding.code, _STYLE[finding.severity]),
        (" ", None),
        (escape_text(finding.message), None),
    ]
    if finding.fixable:
        parts.append((" [*]", "cyan"))
    return parts


def _summary_parts(findings: list[Finding], environments: int, revisions: int) -> Parts:
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    fixable = sum(1 for f in findings if f.fixable)
    scope = (
        f"{revisions} revision{'s' if revisions != 1 else ''} in {environments} "
        f"environment{'s' if environments != 1 else ''}"
    )
    if not findings:
        return [(f"All checks passed ({scope}).", "green")]
    parts: Parts = [
        (
            f"Found {errors} error{'s' if errors != 1 else ''} and {warnings} "
            f"warning{'s' if warnings != 1 else ''} ({scope}).",
            "bold",
        )
    ]
    if fixable:
        parts.append((f"\n[*] {fixable} fixable with `chainlint fix`.", "cyan"))
    return parts


def _text(parts: Parts) -> Text:
    from rich.text import Text

    text = Text()
    for string, style in parts:
        text.append(string, style)
    return text


def finding_line(finding: Finding, cwd: Path) -> Text:
    return _text(_finding_parts(finding, cwd))


def summary_line(findings: list[Finding], environments: int, revisions: int) -> Text:
    return _text(_summary_parts(findings, environments, revisions))


def _report_parts(result: LintResult, cwd: Path, quiet: bool) -> list[Parts]:
    lines = [_finding_parts(finding, cwd) for finding in result.findings]
    if not quiet:
        revisions = sum(env.summary.revisions for env in result.environments)
        lines.append(_summary_parts(result.findings, len(result.environments), revisions))
    return lines


def render_text(result: LintResult, console: Console, cwd: Path, quiet: bool = False) -> None:
    for parts in _report_parts(result, cwd, quiet):
        console.print(_text(parts), soft_wrap=True, highlight=False)


def render_plain(result: LintResult, cwd: Path, quiet: bool = False) -> str | None:
    """The report as rich prints it when not on a terminal; None when only rich can say (a tab:
    rich expands it by display cells)."""
    lines = ["".join(string for string, _ in parts) for parts in _report_parts(result, cwd, quiet)]
    text = "".join(f"{line}\n" for line in lines).translate(_RICH_STRIPS)
    return None if "\t" in text else text


def wants_rich(color: bool | None, stream: TextIO) -> bool:
    """Whether rich would treat `stream` as a terminal (rich's own rules: --color, then
    TTY_COMPATIBLE, FORCE_COLOR, isatty)."""
    if color is not None:
        return color
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False
