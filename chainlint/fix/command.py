"""`chainlint fix` end to end: discover, fix each environment, write or diff, report."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from rich.text import Text

from chainlint.config import Settings
from chainlint.discover import Environment, discover
from chainlint.fix import EnvironmentFix, fix_environment, unified_diff
from chainlint.fix.plan import HeadsMode
from chainlint.fix.transaction import fix_transaction
from chainlint.journal import journal_notice
from chainlint.report import display_path, escape_text, ignored_lines
from chainlint.report.text import finding_line


def run_fix(
    paths: Sequence[Path],
    settings: Settings,
    heads: str,
    diff: bool,
    quiet: bool,
    console: Any,
    base_ref: str | None = None,
    named: Sequence[str] = (),
    verbose: bool = False,
) -> int:
    """Returns the exit code: with --diff, 1 when anything would change; otherwise 1 when an
    error-severity finding remains. `named` are the rules the user named (their warnings'
    fixes apply too). `verbose`: say on stderr which given paths are not checked, and why."""
    cwd = Path.cwd()
    results = []
    if diff:
        settings = settings.with_options(cache=False)  # --diff writes nothing, not even a cache
    discovery = discover(list(paths))
    if verbose and discovery.ignored:
        sys.stderr.write(ignored_lines(discovery.ignored, cwd))

    def plan(environment: Environment) -> EnvironmentFix:
        editable = None
        base = None
        if base_ref is not None:
            # Only revisions new on this branch may change; REF's files are never edited
            # unless the user names the rule of that file's own finding.
            from chainlint.git import base_snapshot
            from chainlint.lint import read_environment

            base = base_snapshot(environment, base_ref)
            current = [f.revision_id for f in read_environment(environment)]
            editable = {
                rev for rev in current if rev is not None and rev not in base.graph.revisions
            }
        return fix_environment(environment, settings, cast(HeadsMode, heads), editable, named, base)

    for environment in discovery.environments:
        if diff:
            # --diff writes nothing, so it takes no lock and leaves a journal to `fix`.
            notice = journal_notice(environment)
            if notice is not None:
                sys.stderr.write(f"chainlint: {escape_text(notice)}\n")
            results.append(plan(environment))
            continue
        result, finished = fix_transaction(environment, plan)
        if finished:
            shown = display_path(environment.root, cwd)
            console.print(Text(f"Finished an interrupted chainlint fix in {shown}.", "green"))
        results.append(result)
    behind = base_ref is not None and any(f.code == "CL201" for r in results for f in r.remaining)
    if diff:
        text = "".join(unified_diff(r.workspace, cwd) for r in results if r.workspace.changed())
        sys.stdout.write(text)
        # What the diff cannot show (a template not used, a database to update): on stderr.
        for result in results:
            for applied in result.applied:
                for note in applied.notes:
                    sys.stderr.write(f"chainlint: {escape_text(note)}\n")
        if behind:
            _print_behind(console, base_ref)
        return 1 if text or behind else 0
    _report(results, console, cwd, quiet)
    if behind:
        _print_behind(console, base_ref)
    return 1 if any(f.severity == "error" for r in results for f in r.remaining) else 0


def _print_behind(console: Any, base_ref: str | None) -> None:
    console.print(
        Text(
            f"This branch has not merged {base_ref} yet, so its heads cannot be fixed here: merge "
            f"or rebase onto {base_ref} (`git merge {base_ref}` or `git rebase {base_ref}`), "
            f"then run `chainlint fix --base {base_ref}` again.",
            "yellow",
        ),
        soft_wrap=True,
        highlight=False,
    )


def _report(results: list[EnvironmentFix], console: Any, cwd: Path, quiet: bool) -> None:
    fixed = sum(len(r.applied) for r in results)
    for result in results:
        for applied in result.applied:
            finding = applied.finding
            written = applied.paths[0] if applied.paths else finding.path
            line = Text("Fixed ", "green")
            if written == result.workspace.current_path(finding.path):
                line.append(f"{display_path(written, cwd)}:{finding.line} ")
            else:
                line.append(f"{display_path(written, cwd)} ")
            line.append(finding.code, "bold")
            line.append(f" {escape_text(applied.description)}")
            console.print(line, soft_wrap=True, highlight=False)
            for note in applied.notes:
                console.print(
                    Text(f"    {escape_text(note)}", "yellow"), soft_wrap=True, highlight=False
                )
        for finding in result.remaining:
            console.print(finding_line(finding, cwd), soft_wrap=True, highlight=False)
            reason = next(
                (
                    r.reason
                    for r in result.refused
                    if r.finding.code == finding.code
                    and r.finding.path == finding.path
                    and r.finding.line == finding.line
                ),
                None,
            )
            if reason:
                console.print(
                    Text(f"    not fixed: {escape_text(reason)}", "yellow"),
                    soft_wrap=True,
                    highlight=False,
                )
    unnamed = sorted({f.code for r in results for f in r.unnamed})
    if unnamed:
        count = sum(len(r.unnamed) for r in results)
        console.print(
            Text(
                f"{count} warning{'s' if count != 1 else ''} with a fix not applied: a "
                f"warning's fix applies only when its rule is named (--extend-fix "
                f"{','.join(unnamed)}).",
                "yellow",
            ),
            soft_wrap=True,
            highlight=False,
        )
    if quiet:
        return
    remaining = sum(len(r.remaining) for r in results)
    errors = sum(1 for r in results for f in r.remaining if f.severity == "error")
    summary = f"Fixed {fixed} finding{'s' if fixed != 1 else ''}; {remaining} remaining"
    summary += f" ({errors} error{'s' if errors != 1 else ''})." if remaining else "."
    console.print(Text(summary, "bold"), highlight=False)
