"""click commands: parse options, call the pipeline, pick a reporter. No logic lives here."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import click

from chainlint import __version__
from chainlint.errors import ChainlintError
from chainlint.records import record

F = TypeVar("F", bound=Callable[..., Any])

CHECK_FORMATS = ("text", "json", "sarif", "github", "gitlab")


class DefaultCommandGroup(click.Group):
    """`chainlint PATH...` means `chainlint check PATH...`, as `ruff PATH` meant `ruff check`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (
            args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")
        ):
            args = ["check", *args]
        return super().parse_args(ctx, args)


@record
class RunOptions:
    """The options `check` and `fix` share, resolved once."""

    settings: Any
    quiet: bool
    color: bool | None
    # The codes given with --select on this command line (`fix` treats them as named).
    cli_select: tuple[str, ...] = ()
    verbose: bool = False


VERBOSE = click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Say on stderr which given paths were not checked (and a cache folder not used), and why.",
)


def print_ignored(ignored: Sequence[Any], verbose: bool) -> None:
    if verbose and ignored:
        from chainlint.report import ignored_lines

        sys.stderr.write(ignored_lines(ignored, Path.cwd()))


def selection_options(func: F) -> F:
    """Add the shared options; the command receives them as one `run: RunOptions`."""

    @functools.wraps(func)
    def command(
        *args: Any,
        select: tuple[str, ...],
        ignore: tuple[str, ...],
        extend_select: tuple[str, ...],
        max_revision_length: int | None,
        max_file_size: int | None,
        config_file: Path | None,
        no_cache: bool,
        quiet: bool,
        verbose: bool,
        color: bool | None,
        **kwargs: Any,
    ) -> Any:
        settings = load_run_settings(
            config_file, select, ignore, extend_select, max_revision_length, no_cache
        ).with_options(max_file_size=max_file_size)
        from chainlint.config import parse_codes

        cli_select = parse_codes(select) or ()
        run = RunOptions(settings, quiet, color, cli_select, verbose)
        return func(*args, run=run, **kwargs)

    wrapped: Any = command
    for option in reversed(
        [
            click.option(
                "--select", multiple=True, help="Rule codes or prefixes to enable (CL001,CL1,ALL)."
            ),
            click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable."),
            click.option("--extend-select", multiple=True, help="Codes to add to the selection."),
            click.option(
                "--max-revision-length",
                type=click.IntRange(min=1),
                default=None,
                help="Longest allowed revision id (default 32: alembic_version is VARCHAR(32)).",
            ),
            click.option(
                "--max-file-size",
                type=click.IntRange(min=1),
                default=None,
                help="Largest migration file read, in bytes (default 5 MB); larger ones are CL009.",
            ),
            click.option(
                "--config",
                "config_file",
                type=click.Path(path_type=Path, dir_okay=False),
                default=None,
                help="A pyproject.toml or TOML file with [tool.chainlint] settings.",
            ),
            click.option("--no-cache", is_flag=True, help="Do not read or write the cache."),
            click.option("--quiet", "-q", is_flag=True, help="Print findings only."),
            VERBOSE,
            click.option(
                "--color/--no-color",
                default=None,
                help="Force colour on or off (NO_COLOR is respected).",
            ),
        ]
    ):
        wrapped = option(wrapped)
    return cast(F, wrapped)


def make_console(color: bool | None, stderr: bool = False) -> Any:
    from rich.console import Console

    from chainlint import replay

    replay.refuse()  # what rich prints depends on the terminal

    if color is None:
        no_color = bool(os.environ.get("NO_COLOR"))
        return Console(stderr=stderr, no_color=no_color, highlight=False, soft_wrap=True)
    return Console(
        stderr=stderr,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        soft_wrap=True,
        color_system="auto" if color else None,
    )


def load_run_settings(
    config_file: Path | None,
    select: Sequence[str],
    ignore: Sequence[str],
    extend_select: Sequence[str],
    max_revision_length: int | None,
    no_cache: bool,
) -> Any:
    from chainlint.config import load_settings, parse_codes

    settings = load_settings(config_file)
    return settings.with_options(
        select=parse_codes(select) if select else None,
        ignore=(*settings.ignore, *(parse_codes(ignore) or ())) if ignore else None,
        extend_select=(*settings.extend_select, *(parse_codes(extend_select) or ()))
        if extend_select
        else None,
        max_revision_length=max_revision_length,
        cache=False if no_cache else None,
    )


def fail(message: str) -> NoReturn:
    from chainlint.report import escape_text

    click.echo(f"chainlint: {escape_text(message)}", err=True)
    sys.exit(2)


@click.group(cls=DefaultCommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chainlint")
def cli() -> None:
    """Static analyzer and autofixer for Alembic revision chains. Never imports a migration."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format", "output_format", type=click.Choice(CHECK_FORMATS), default="text", show_default=True
)
@click.option(
    "--base", "base_ref", default=None, help="Compare with a git ref (pull-request gate)."
)
@click.option(
    "--output-file",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the report to this file (replaced atomically) instead of standard output.",
)
@click.option(
    "--exit-zero",
    is_flag=True,
    help="Exit 0 even when there are error findings (usage errors still exit 2).",
)
@selection_options
def check(
    paths: tuple[Path, ...],
    output_format: str,
    base_ref: str | None,
    output_file: Path | None,
    exit_zero: bool,
    run: RunOptions,
) -> None:
    """Check the revision chains of every Alembic environment under PATHS."""
    from chainlint.lint import lint_paths

    result = lint_paths(list(paths) or [Path.cwd()], run.settings, base_ref, reuse=True)
    print_ignored(result.ignored, run.verbose)
    cwd = Path.cwd()
    from chainlint.journal import journal_notice

    for environment in result.environments:
        # `check` never writes: a half-done fix is reported and left to `chainlint fix`.
        notice = journal_notice(environment.environment)
        if notice is not None:
            from chainlint.report import escape_text

            click.echo(f"chainlint: warning: {escape_text(notice)}", err=True)
    if output_format == "text":
        from chainlint.report.text import render_plain, render_text, wants_rich

        if output_file is None:
            if wants_rich(run.color, sys.stdout):
                render_text(result, make_console(run.color), cwd, run.quiet)
            else:
                plain = render_plain(result, cwd, run.quiet)
                # Not a terminal: rich would print exactly this, uncoloured.
                if plain is not None:
                    sys.stdout.write(plain)
                else:
                    render_text(result, make_console(run.color), cwd, run.quiet)
        else:
            plain = render_plain(result, cwd, run.quiet)
            if plain is None:
                console = make_file_console()
                render_text(result, console, cwd, run.quiet)
                plain = console.file.getvalue()
            write_output(output_file, plain)
    elif output_file is None:
        click.echo(render(output_format, result, cwd), nl=False)
    else:
        write_output(output_file, render(output_format, result, cwd))
    code = 1 if result.errors and not exit_zero else 0
    if base_ref is None and output_file is None and run.settings.cache:
        from chainlint import replay
        from chainlint.cache import cache_folder

        replay.finish(code, [cache_folder(env.environment) for env in result.environments])
    from chainlint.entry import keep_until_exit

    keep_until_exit(result)
    sys.exit(code)


def make_file_console() -> Any:
    """A console that renders plain text into memory, never cropped or wrapped."""
    import io

    from rich.console import Console

    return Console(
        file=io.StringIO(), no_color=True, color_system=None, highlight=False, width=4096
    )


def write_output(path: Path, text: str) -> None:
    from chainlint.report import write_report

    write_report(path, text)


def render(output_format: str, result: Any, cwd: Path) -> str:
    if output_format == "json":
        from chainlint.report.json import render_json

        return render_json(result, cwd)
    if output_format == "sarif":
        from chainlint.report.sarif import render_sarif

        return render_sarif(result, cwd)
    if output_format == "github":
        from chainlint.report.github import render_github

        return render_github(result, cwd)
    from chainlint.report.gitlab import render_gitlab

    return render_gitlab(result, cwd)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--diff", is_flag=True, help="Write nothing; print a unified diff; exit 1 if it would change."
)
@click.option(
    "--heads",
    type=click.Choice(["merge", "rebase"]),
    default=None,
    help="How to fix multiple heads: write a merge revision (default), or re-parent the "
    "younger branch (the default with --base).",
)
@click.option(
    "--base",
    "base_ref",
    default=None,
    help="Edit only revisions new since this git ref (a migration that exists on REF only when "
    "its own finding's rule is named).",
)
@click.option(
    "--extend-fix",
    multiple=True,
    help="Warning codes or prefixes whose fixes to apply too (CL101,CL1); "
    "a code given with --select counts as well.",
)
@selection_options
def fix(
    paths: tuple[Path, ...],
    diff: bool,
    heads: str | None,
    base_ref: str | None,
    extend_fix: tuple[str, ...],
    run: RunOptions,
) -> None:
    """Repair what can be repaired without guessing; never touches a file it cannot parse.

    \b
    Scope: the fixes of error findings apply by default. A warning's fix (CL013, CL101,
    CL102) applies only when its rule is named: --extend-fix CODES, `extend-fix = [...]`
    in [tool.chainlint], or a code or prefix given with --select here (not ALL).
    --diff shows exactly what fix would write.
    """
    from chainlint.config import parse_codes
    from chainlint.fix.command import run_fix
    from chainlint.rules import known_code

    named = (*run.settings.extend_fix, *(parse_codes(extend_fix) or ()))
    for code in named:
        if not known_code(code):
            fail(f"unknown rule code or prefix {code!r} in extend-fix")
    named += tuple(code for code in run.cli_select if code != "ALL")
    mode = heads or ("rebase" if base_ref else "merge")
    targets = list(paths) or [Path.cwd()]
    console = make_console(run.color)
    sys.exit(
        run_fix(targets, run.settings, mode, diff, run.quiet, console, base_ref, named, run.verbose)
    )


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["tree", "mermaid", "dot", "json"]),
    default="tree",
    show_default=True,
)
@click.option("--full", is_flag=True, help="Do not collapse long linear runs in the tree.")
@click.option("--since", default=None, help="Only this revision and its descendants.")
@click.option("--heads-only", is_flag=True, help="Only the heads and their own branches.")
@click.option("--color/--no-color", default=None, help="Force colour on or off.")
@VERBOSE
def graph(
    paths: tuple[Path, ...],
    output_format: str,
    full: bool,
    since: str | None,
    heads_only: bool,
    color: bool | None,
    verbose: bool,
) -> None:
    """Show the revision history: forks, merges, branch labels, heads and defects."""
    from chainlint.config import load_settings
    from chainlint.lint import lint_paths
    from chainlint.report import history

    result = lint_paths(list(paths) or [Path.cwd()], load_settings())
    print_ignored(result.ignored, verbose)
    cwd = Path.cwd()
    # Always a graph: `graph` never reuses cached results.
    graphs = [env.graph for env in result.environments if env.graph is not None]
    starts = history.resolve_since(graphs, since) if since is not None else {}
    views = [
        history.build_view(graph, result.findings, cwd, starts[index], heads_only)
        if since is not None
        else history.build_view(graph, result.findings, cwd, None, heads_only)
        for index, graph in enumerate(graphs)
        if since is None or index in starts
    ]
    if output_format == "tree":
        console = make_console(color)
        if not console.is_terminal:
            console.width = 4096  # piped: never crop or wrap a revision's line
        for view in views:
            console.print(history.render_tree(view, full))
    elif output_format == "json":
        click.echo(history.render_json(views), nl=False)
    else:
        render_one = history.render_mermaid if output_format == "mermaid" else history.render_dot
        click.echo("\n".join(render_one(view) for view in views), nl=False)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--revision", default=None, help="Show the schema after this revision (default: all heads)."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the cache.")
@VERBOSE
def schema(
    paths: tuple[Path, ...], revision: str | None, output_format: str, no_cache: bool, verbose: bool
) -> None:
    """Show the schema the migrations build: tables, columns, indexes, who made each."""
    from chainlint.config import load_settings
    from chainlint.discover import discover
    from chainlint.lint import refused_cache_folders
    from chainlint.report.schema import environment_views, render_schema_json, render_schema_text

    settings = load_settings()
    cache = settings.cache and not no_cache and not os.environ.get("CHAINLINT_NO_CACHE")
    discovery = discover(list(paths) or [Path.cwd()])
    views = environment_views(discovery.environments, revision, cache)
    refused = refused_cache_folders(discovery.environments) if cache else ()
    print_ignored((*discovery.ignored, *refused), verbose)
    render = render_schema_json if output_format == "json" else render_schema_text
    click.echo(render(views, Path.cwd()), nl=False)


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--url",
    default=None,
    help="Database URL (default: $CHAINLINT_DATABASE_URL, $DATABASE_URL, alembic.ini).",
)
@click.option(
    "--format", "output_format", type=click.Choice(CHECK_FORMATS), default="text", show_default=True
)
@click.option("--require-head", is_flag=True, help="Pending migrations are an error (CL402).")
@click.option("--version-table", default=None, help="Alembic's version table (default: env.py's).")
@click.option("--version-table-schema", default=None, help="The schema of the version table.")
@click.option("--quiet", "-q", is_flag=True, help="Print findings only.")
@click.option("--color/--no-color", default=None, help="Force colour on or off.")
def db(
    path: Path | None,
    url: str | None,
    output_format: str,
    require_head: bool,
    version_table: str | None,
    version_table_schema: str | None,
    quiet: bool,
    color: bool | None,
) -> None:
    """Compare a live database with the migration files, read-only, and say what to run."""
    from chainlint.config import load_settings
    from chainlint.dbcheck import DatabaseOptions, check_database

    options = DatabaseOptions(url, require_head, version_table, version_table_schema)
    result = check_database(path or Path.cwd(), options, load_settings())
    cwd = Path.cwd()
    if output_format == "text":
        from chainlint.report.status import render_status
        from chainlint.report.text import render_text

        console = make_console(color)
        if not quiet:
            render_status(result.state, result.origin, console)
        render_text(result.lint, console, cwd, quiet)
    elif output_format == "json":
        import json

        from chainlint.report.status import status_dict

        document = json.loads(render(output_format, result.lint, cwd))
        document["database"] = status_dict(result.state, result.origin)
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(render(output_format, result.lint, cwd), nl=False)
    sys.exit(1 if result.errors else 0)


@cli.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule.")
def rule(code: str | None, show_all: bool) -> None:
    """Explain a rule (by code or name: CL010, multiple-heads): what it does, why it matters,
    an example, the fix."""
    from chainlint.docs import rule_page
    from chainlint.rules import ALL_RULES, rule_for

    console = make_console(None)
    if show_all or code is None:
        if not console.is_terminal:
            for item in ALL_RULES:
                fix = "fix" if item.fixable else "-"
                default = "" if item.default_enabled else " (off by default)"
                click.echo(f"{item.code}  {item.name:<28} {item.severity:<8} {fix}{default}")
            return
        from rich.table import Table

        table = Table("code", "name", "severity", "fix", "default", box=None, pad_edge=False)
        for item in ALL_RULES:
            table.add_row(
                item.code,
                item.name,
                item.severity,
                "yes" if item.fixable else "no",
                "on" if item.default_enabled else "off",
            )
        console.print(table)
        return
    page = rule_page(rule_for(code))
    if console.is_terminal:
        from rich.markdown import Markdown

        console.print(Markdown(page))
    else:
        click.echo(page, nl=False)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: every user-facing failure is one line on stderr and exit 2."""
    for stream in (sys.stdout, sys.stderr):
        # A terminal whose encoding cannot show a character gets an escape, not a traceback.
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="chainlint",
            standalone_mode=False,
        )
    except ChainlintError as exc:
        fail(str(exc))
    except click.exceptions.Abort:
        fail("aborted")
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        fail("interrupted")
    except Exception as exc:  # a traceback reaching the user is a bug; say where it happened
        fail(f"internal error: {type(exc).__name__}: {exc}")
    sys.exit(0)
