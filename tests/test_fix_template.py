"""`fix --heads merge` renders the environment's script.py.mako without running code from it:
chainlint's own renderer gives what Mako gives for every template Alembic ships, and falls
back to the built-in template (saying so) for anything else; Mako is never imported."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from chainlint.fix.template import UnsupportedTemplate, render_template
from chainlint.rules.base import migration
from helpers import write_tree
from oracle import alembic_view

ROOT = Path(__file__).resolve().parent.parent


def alembic_templates() -> list[Path]:
    import alembic

    folder = Path(alembic.__file__).parent / "templates"
    return sorted(folder.glob("*/script.py.mako"))


def project(tmp_path: Path, template: str) -> Path:
    """An alembic.ini project with two heads and the given script.py.mako."""
    root = tmp_path / "proj"
    write_tree(
        root,
        {
            "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n"
            "databases = engine1, engine2\n",
            "migrations/script.py.mako": template,
            "migrations/versions/a.py": migration("a", None),
            "migrations/versions/b.py": migration("b", "a"),
            "migrations/versions/c.py": migration("c", "a"),
        },
    )
    return root


def run_fix(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`chainlint fix` in a fresh interpreter, which then reports whether Mako got imported."""
    script = (
        "import sys\n"
        "from chainlint.cli import main\n"
        "try:\n"
        f"    main(['fix', *{list(args)!r}, {str(root)!r}])\n"
        "finally:\n"
        "    print('MAKO IMPORTED' if 'mako' in sys.modules else 'mako not imported')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        cwd=root,
        check=False,
    )


HOSTILE = [
    "<%! import pathlib; pathlib.Path({marker!r}).write_text('ran') %>",
    "<% import pathlib; pathlib.Path({marker!r}).write_text('ran') %>",
    "${{__import__('pathlib').Path({marker!r}).write_text('ran')}}",
    "% if __import__('pathlib').Path({marker!r}).write_text('ran'):\n% endif",
    "<%! open({marker!r}, 'w') %>",
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
def test_template_code_never_runs_under_fix_or_diff(tmp_path: Path, hostile: str) -> None:
    marker = tmp_path / "MARKER"
    generic = alembic_templates()[[p.parent.name for p in alembic_templates()].index("generic")]
    root = project(tmp_path, hostile.format(marker=str(marker)) + "\n" + generic.read_text())
    done = run_fix(root, "--diff")
    assert done.returncode == 1, done.stderr
    assert not marker.exists()
    assert "mako not imported" in done.stdout
    assert "+down_revision = ('b', 'c')" in done.stdout
    assert "which chainlint never runs: written from the built-in template" in done.stderr
    done = run_fix(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not marker.exists()
    assert "mako not imported" in done.stdout
    assert "which chainlint never runs: written from the built-in template" in done.stdout
    view = alembic_view(root / "migrations" / "versions")
    assert view.error is None and len(view.heads) == 1


@pytest.mark.parametrize("template", alembic_templates(), ids=lambda p: p.parent.name)
def test_alembic_templates_render_as_mako_renders_them(template: Path, tmp_path: Path) -> None:
    from alembic.config import Config
    from alembic.util import format_as_comma
    from mako.template import Template

    root = project(tmp_path, template.read_text())
    context = {
        "up_revision": "0123456789ab",
        "down_revision": ("b", "c"),
        "branch_labels": None,
        "depends_on": None,
        "create_date": datetime(2024, 5, 6, 7, 8, 9, 123456),
        "message": "merge heads",
    }
    extra = {"imports": "", "upgrades": "", "downgrades": ""}
    config = Config(str(root / "alembic.ini"))
    expected = Template(filename=str(template)).render_unicode(
        **context, **extra, comma=format_as_comma, config=config
    )
    options = {"databases": "engine1, engine2", "script_location": "x"}
    assert render_template(template.read_text(), {**context, **extra}, options) == expected


@pytest.mark.parametrize("template", alembic_templates(), ids=lambda p: p.parent.name)
def test_merge_from_each_alembic_template_is_accepted_by_alembic(
    template: Path, tmp_path: Path
) -> None:
    root = project(tmp_path, template.read_text())
    done = run_fix(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "built-in template" not in done.stdout
    assert "mako not imported" in done.stdout
    (merge,) = (root / "migrations" / "versions").glob("*_merge_heads.py")
    text = merge.read_text()
    assert "down_revision: Union[str, Sequence[str], None] = ('b', 'c')" in text
    assert "Revises: b, c" in text
    view = alembic_view(root / "migrations" / "versions")
    assert view.error is None
    assert view.heads == {merge.name.split("_")[0]}
    assert view.parents[merge.name.split("_")[0]] == ("b", "c")


@pytest.mark.parametrize(
    "source",
    [
        "${x.__class__}",
        "${open('x')}",
        "<%include file='other.mako'/>",
        "<%def name='f()'>x</%def>",
        "% while True:\n% endwhile",
        "${missing}",
        "% if up_revision:\nnever closed",
        "${up_revision | h}",
        "${[c for c in up_revision]}",
        '${"%999999999s" % up_revision}',
        "% if up_revision:\n" * 30 + "% endif\n" * 30,
        "${" + "not " * 5000 + "up_revision}",
        "<% x = 1",
        "x" * (300 * 1024),
    ],
    ids=range(14),
)
def test_anything_else_is_unsupported(source: str) -> None:
    with pytest.raises(UnsupportedTemplate):
        render_template(source, {"up_revision": "a"})


def test_supported_control_lines() -> None:
    source = (
        "## a comment\n"
        "% if branch_labels:\n"
        "labels ${repr(branch_labels)}\n"
        "% elif not depends_on:\n"
        "  %% no deps, 100%% sure\n"
        "% else:\n"
        "deps\n"
        "% endif\n"
        "joined \\\n"
        "line ${down_revision | comma,n}\n"
    )
    from alembic.util import format_as_comma
    from mako.template import Template

    context = {"branch_labels": None, "depends_on": None, "down_revision": ("a", "b")}
    rendered = render_template(source, context)
    assert rendered == "  % no deps, 100%% sure\njoined line a, b\n"
    assert rendered == Template(source).render_unicode(**context, comma=format_as_comma)


def test_a_template_that_is_not_a_regular_file_is_never_read(tmp_path: Path) -> None:
    root = project(tmp_path, "")
    template = root / "migrations" / "script.py.mako"
    template.unlink()
    os.mkfifo(template)  # reading it would block forever
    done = subprocess.run(
        [sys.executable, "-m", "chainlint", "fix", "--diff", str(root)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "+down_revision = ('b', 'c')" in done.stdout
