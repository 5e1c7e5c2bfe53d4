"""Discovery: every way an environment is configured, compared with Alembic's own reading of the
same configuration where Alembic can tell (its Config and ScriptDirectory import nothing here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainlint.discover import Environment, discover_environments
from chainlint.errors import DiscoveryError
from chainlint.rules.base import migration
from helpers import write_tree


def alembic_files(ini: Path) -> list[Path]:
    """What Alembic's ScriptDirectory would load for this alembic.ini (file listing only)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.script.base import Script, _only_source_rev_file

    cwd = os.getcwd()
    os.chdir(ini.parent)  # Alembic resolves relative locations against the working directory
    try:
        scripts = ScriptDirectory.from_config(Config(str(ini)))
        files = []
        for location in scripts._version_locations:
            if location.exists():
                for path in Script._list_py_dir(scripts, location):
                    if _only_source_rev_file.match(path.name):
                        files.append(Path(os.path.abspath(path)))
        return files
    finally:
        os.chdir(cwd)


def only(environments: list[Environment]) -> Environment:
    assert len(environments) == 1, environments
    return environments[0]


def test_alembic_ini_with_here_and_default_versions(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "alembic.ini": "[alembic]\nscript_location = %(here)s/db\n",
            "db/versions/a.py": migration("a", None),
            "db/versions/__init__.py": "",
            "db/versions/.#lock.py": "",
            "db/versions/notes.txt": "",
            "db/versions/__pycache__/a.cpython-311.py": "",
            "db/versions/sub/b.py": migration("b", "a"),
            "db/script.py.mako": "",
        },
    )
    env = only(discover_environments([tmp_path]))
    assert env.root == tmp_path / "db" and env.source == "alembic.ini"
    assert env.recursive is False
    assert [p.name for p in env.files] == ["a.py"]
    assert list(env.files) == alembic_files(tmp_path / "alembic.ini")
    assert env.script_template == tmp_path / "db" / "script.py.mako"


@pytest.mark.parametrize(
    ("separator", "value"),
    [
        ("path_separator = os", "%(here)s/v1" + os.pathsep + "%(here)s/v2"),
        ("path_separator = space", "%(here)s/v1 %(here)s/v2"),
        ("path_separator = newline", "\n    %(here)s/v1\n    %(here)s/v2"),
        ("path_separator = ;", "%(here)s/v1;%(here)s/v2"),
        ("version_path_separator = :", "%(here)s/v1:%(here)s/v2"),
        ("", "%(here)s/v1, %(here)s/v2"),  # legacy: commas and spaces
    ],
)
def test_version_locations_split_like_alembic(tmp_path: Path, separator: str, value: str) -> None:
    write_tree(
        tmp_path,
        {
            "alembic.ini": f"[alembic]\nscript_location = %(here)s/db\n{separator}\n"
            f"version_locations = {value}\n",
            "db/env.py": "",
            "v1/a.py": migration("a", None),
            "v2/b.py": migration("b", "a"),
        },
    )
    env = only(discover_environments([tmp_path / "alembic.ini"]))
    assert env.version_locations == (tmp_path / "v1", tmp_path / "v2")
    assert list(env.files) == alembic_files(tmp_path / "alembic.ini")


def test_recursive_version_locations_true_only(tmp_path: Path) -> None:
    for flag, expected in (("true", ["a.py", "b.py"]), ("True", ["a.py"]), ("false", ["a.py"])):
        root = tmp_path / flag
        write_tree(
            root,
            {
                "alembic.ini": "[alembic]\nscript_location = %(here)s/db\n"
                f"recursive_version_locations = {flag}\n",
                "db/versions/a.py": migration("a", None),
                "db/versions/sub/b.py": migration("b", "a"),
            },
        )
        env = only(discover_environments([root]))
        assert [p.name for p in env.files] == expected
        assert list(env.files) == alembic_files(root / "alembic.ini")


def test_pyproject_tool_alembic(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "pyproject.toml": '[tool.alembic]\nscript_location = "%(here)s/db"\n'
            'version_locations = ["%(here)s/db/versions", "%(here)s/extra"]\n'
            "recursive_version_locations = true\n",
            "db/versions/a.py": migration("a", None),
            "extra/deep/b.py": migration("b", "a"),
        },
    )
    env = only(discover_environments([tmp_path]))
    assert env.source == "pyproject.toml" and env.recursive
    assert [p.name for p in env.files] == ["a.py", "b.py"]


def test_flask_migrate_layout(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "migrations/alembic.ini": "[alembic]\n# no script_location\n",
            "migrations/env.py": "",
            "migrations/versions/a.py": migration("a", None),
        },
    )
    env = only(discover_environments([tmp_path]))
    assert env.source == "flask-migrate" and env.root == tmp_path / "migrations"


def test_monorepo_and_script_folder_without_ini(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "billing/alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
            "billing/migrations/versions/a.py": migration("a", None),
            "users/db/env.py": "",
            "users/db/versions/u.py": migration("u", None),
            "node_modules/x/alembic.ini": "[alembic]\nscript_location = nowhere\n",
            ".venv/lib/alembic.ini": "[alembic]\nscript_location = nowhere\n",
        },
    )
    environments = discover_environments([tmp_path])
    assert [(e.root, e.source) for e in environments] == [
        (tmp_path / "billing" / "migrations", "alembic.ini"),
        (tmp_path / "users" / "db", "script-folder"),
    ]


def test_files_map_to_their_whole_environment(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
            "migrations/versions/a.py": migration("a", None),
            "migrations/versions/b.py": migration("b", "a"),
            "app/models.py": "x = 1\n",
            "django/migrations/0001_initial.py": "class Migration: pass\n",
        },
    )
    changed = [
        tmp_path / "migrations" / "versions" / "b.py",
        tmp_path / "app" / "models.py",
        tmp_path / "django" / "migrations" / "0001_initial.py",
    ]
    env = only(discover_environments(changed))
    assert [p.name for p in env.files] == ["a.py", "b.py"]


def test_bare_versions_folder_is_read_recursively(tmp_path: Path) -> None:
    versions = write_tree(
        tmp_path / "versions", {"a.py": migration("a", None), "x/y/b.py": migration("b", "a")}
    )
    env = only(discover_environments([versions]))
    assert env.source == "versions-folder" and env.recursive
    assert [p.name for p in env.files] == ["a.py", "b.py"]


def test_symlinked_file_loaded_once_and_symlink_loop_kept_for_the_reader(tmp_path: Path) -> None:
    versions = write_tree(tmp_path / "versions", {"a.py": migration("a", None)})
    (versions / "alias.py").symlink_to(versions / "a.py")
    (versions / "loop.py").symlink_to(versions / "loop.py")
    (versions / "dir_link").symlink_to(versions)
    env = only(discover_environments([versions]))
    assert [p.name for p in env.files] == ["a.py", "loop.py"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no Alembic environment found"),
        ({"alembic.ini": "[alembic]\nscript_location = %(here)s/missing\n"}, "does not exist"),
        (
            {
                "alembic.ini": "[alembic]\npath_separator = tab\nversion_locations = a\n"
                "script_location = %(here)s\n"
            },
            "not a valid path_separator",
        ),
        ({"alembic.ini": "not an ini\n"}, "cannot read Alembic configuration"),
    ],
)
def test_configuration_problems_are_one_line(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    write_tree(tmp_path, files)
    with pytest.raises(DiscoveryError, match=message) as raised:
        discover_environments([tmp_path])
    assert "\n" not in str(raised.value)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="no such file or directory"):
        discover_environments([tmp_path / "nope"])


def test_files_outside_the_version_locations_are_not_migrations(tmp_path: Path) -> None:
    """`chainlint check manage.py app/models.py` beside alembic.ini gave CL007 on each (the
    project root was taken for a bare versions folder); they are ignored, and the given
    migration still maps to its environment."""
    from chainlint.lint import lint_paths

    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    write_tree(
        tmp_path,
        {
            "manage.py": "import app\n",
            "app/models.py": "class User: pass\n",
            "migrations/env.py": "from alembic import context\n",
            "migrations/versions/a.py": migration("a", None),
        },
    )
    paths = [tmp_path / "manage.py", tmp_path / "app" / "models.py"]
    result = lint_paths([*paths, tmp_path / "migrations" / "versions" / "a.py"])
    assert [e.environment.root for e in result.environments] == [tmp_path / "migrations"]
    assert result.findings == []
    assert discover_environments(paths) == []


def _project(root: Path) -> Path:
    """alembic.ini beside manage.py, app/models.py and README.md; migrations/ holds env.py."""
    root.mkdir(exist_ok=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    return write_tree(
        root,
        {
            "manage.py": "import app\n",
            "app/models.py": "class User: pass\n",
            "README.md": "# app\n",
            "migrations/env.py": "from alembic import context\n",
            "migrations/versions/a.py": migration("a", None),
            "migrations/versions/__init__.py": "",
            "migrations/versions/notes.txt": "",
            "migrations/versions/sub/b.py": migration("b", "a"),
            "migrations/versions/__pycache__/c.py": "",
            "scripts/tool.py": "print(1)\n",
        },
    )


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("manage.py", "outside the version locations of {root}/alembic.ini ({versions})"),
        ("app/models.py", "outside the version locations of {root}/alembic.ini ({versions})"),
        ("migrations/env.py", "outside the environment's version locations ({versions})"),
        ("README.md", "not a .py file"),
        ("migrations/versions/notes.txt", "not a .py file"),
        (
            "migrations/versions/__init__.py",
            "Alembic does not load __init__ files or editor lock files (.#*)",
        ),
        (
            "migrations/versions/sub/b.py",
            "in a subfolder of {versions}, and recursive_version_locations is off",
        ),
        ("migrations/versions/__pycache__/c.py", "inside __pycache__"),
        ("migrations/versions/alias.py", "the same file as {versions}/a.py (Alembic loads "),
    ],
)
def test_a_given_file_that_is_not_a_migration_is_ignored_with_its_reason(
    tmp_path: Path, given: str, reason: str
) -> None:
    """Issue 10: `--verbose` says which given files discovery ignored and why; discovery
    returns them (command-line order), the migration beside them is still checked."""
    from chainlint.discover import discover

    root = _project(tmp_path)
    versions = root / "migrations" / "versions"
    (versions / "alias.py").symlink_to(versions / "a.py")
    discovery = discover([root / given, versions / "a.py"])
    assert [e.root for e in discovery.environments] == [root / "migrations"]
    (ignored,) = discovery.ignored
    assert ignored.path == root / given
    described = ignored.describe(lambda path: path.as_posix())
    assert described.startswith(reason.format(root=root.as_posix(), versions=versions.as_posix()))


def test_a_given_file_under_no_environment_is_ignored_when_others_are_checked(
    tmp_path: Path,
) -> None:
    from chainlint.discover import discover

    root = _project(tmp_path / "project")
    stray = tmp_path / "elsewhere" / "tool.py"
    write_tree(stray.parent, {"tool.py": "print(1)\n"})
    discovery = discover([stray, root / "migrations" / "versions" / "a.py", stray])
    assert [(i.path, i.describe(str)) for i in discovery.ignored] == [
        (stray, "no Alembic environment above it")
    ]
    with pytest.raises(DiscoveryError, match="no Alembic environment found for the given files"):
        discover([stray])


def test_migrations_and_folders_given_are_not_reported_as_ignored(tmp_path: Path) -> None:
    from chainlint.discover import discover

    root = _project(tmp_path)
    versions = root / "migrations" / "versions"
    assert discover([root, versions / "a.py", root / "alembic.ini"]).ignored == ()


def test_a_given_file_behind_a_symlinked_folder_is_ignored(tmp_path: Path) -> None:
    from chainlint.discover import discover

    versions = write_tree(tmp_path / "versions", {"a.py": migration("a", None)})
    write_tree(tmp_path / "other", {"x.py": migration("x", "a")})
    (versions / "linked").symlink_to(tmp_path / "other")
    discovery = discover([versions / "a.py", versions / "linked" / "x.py"])
    assert [(i.path.name, i.describe(str)) for i in discovery.ignored] == [
        ("x.py", "behind a symlinked folder (Alembic does not follow those)")
    ]


def _tricky_tree(root: Path) -> Path:
    """Nested version folders, hidden, skipped and symlinked folders, symlinked files, a
    __pycache__ and files Alembic does not load."""
    versions = write_tree(
        root / "migrations" / "versions",
        {
            "b.py": migration("b", "a"),
            "a.py": migration("a", None),
            "__init__.py": "",
            ".#lock.py": "",
            "notes.txt": "",
            "sub/c.py": migration("c", "b"),
            "sub/deeper/d.py": migration("d", "c"),
            "__pycache__/x.py": "",
            ".hidden/e.py": migration("e", "d"),
            "node_modules/f.py": migration("f", "e"),
        },
    )
    (versions / "alias.py").symlink_to(versions / "a.py")
    (versions / "linked").symlink_to(versions / "sub")
    (versions / "loop.py").symlink_to(versions / "loop.py")
    (root / "migrations" / "env.py").write_text("")
    (root / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\nrecursive_version_locations = true\n"
        "path_separator = os\n"
    )
    return versions


def _os_walk(folder: Path) -> list[tuple[Path, list[str], set[str]]]:
    """The configuration walk as it was written with os.walk (the reference)."""
    from chainlint.discover import _SKIP_DIRS

    out = []
    for current, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        out.append((Path(current), list(dirs), set(names)))
    return out


def test_configuration_walk_is_os_walks(tmp_path: Path) -> None:
    from chainlint.discover import _walk

    _tricky_tree(tmp_path)
    assert list(_walk(tmp_path)) == _os_walk(tmp_path)


def test_recursive_files_are_alembics_own(tmp_path: Path) -> None:
    _tricky_tree(tmp_path)
    env = only(discover_environments([tmp_path]))
    loaded, seen = [], set()
    for path in alembic_files(tmp_path / "alembic.ini"):
        if os.path.realpath(path) not in seen:  # Alembic: "File ... loaded twice! ignoring."
            seen.add(os.path.realpath(path))
            loaded.append(path)
    assert list(env.files) == loaded
    names = ["a.py", "b.py", "loop.py", "e.py", "f.py", "c.py", "d.py"]
    assert [p.name for p in env.files] == names


def test_file_list_is_the_tuple_of_its_paths(tmp_path: Path) -> None:
    from chainlint.discover import FileList, file_strings

    _tricky_tree(tmp_path)
    env = only(discover_environments([tmp_path]))
    files = env.files
    assert isinstance(files, FileList)
    paths = tuple(Path(s) for s in files.strings)
    # Each string is its Path's own string: string equality is Path equality.
    assert [str(p) for p in paths] == list(files.strings) == list(file_strings(files))
    assert files == paths and tuple(files) == paths and len(files) == len(paths)
    assert files[0] == paths[0] and files[1:3] == paths[1:3] and files[-1] == paths[-1]
    assert all(p in files for p in paths) and all(env.owns(p) for p in paths)
    first = str(paths[0])
    candidates = [Path(f"{first}/"), Path(first.replace("/", "//")), Path(f"/{first}")]
    candidates += [Path(first.replace("/versions/", "/./versions/")), tmp_path / "nope.py", first]
    assert [c in files for c in candidates] == [c in paths for c in candidates]
    assert file_strings(paths) == files.strings
    assert hash(files) == hash(FileList(files.strings)) and files == FileList(files.strings)


def test_file_list_paths_keep_the_discovered_strings(tmp_path: Path) -> None:
    """A file's Path holds the very string discovery found as its str() (no second copy per
    file); strings a Path would normalise get Paths that make their own."""
    from chainlint.discover import FileList

    _tricky_tree(tmp_path)
    files = only(discover_environments([tmp_path])).files
    assert isinstance(files, FileList)
    assert all(str(p) is s for p, s in zip(files, files.strings, strict=True))
    first = files.strings[0]
    odd = FileList([first, first.replace("/versions/", "/./versions/"), f"{first}/", "./a.py"])
    assert [str(p) for p in odd] == [str(Path(s)) for s in odd.strings]
    assert [str(p) for p in odd] == [first, first, first, "a.py"]


@given(
    st.lists(
        st.lists(
            st.sampled_from(["a", "b.py", "..", "x y", "é", "v1", ".hidden", "a.b.py"]),
            min_size=1,
            max_size=4,
        ).map(lambda parts: "/".join(parts)),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(["", "/", "/tmp/"]),
)
def test_file_list_paths_equal_each_string_parsed(names: list[str], prefix: str) -> None:
    """However the Paths are made (from 3.12 by Path(string); before, as children of each
    folder's Path), each equals Path(string) in every way a rule or the cache can see."""
    from chainlint.discover import FileList, _children_of_folders

    strings = tuple(prefix + name for name in names)
    parsed = tuple(map(Path, strings))
    made = [tuple(FileList(strings))]
    if hasattr(Path, "_make_child_relpath"):  # the way before 3.12, wherever pathlib has it
        made.append(_children_of_folders(strings))
    for paths in made:
        assert paths == parsed
        assert [p.parts for p in paths] == [p.parts for p in parsed]
        assert [(str(p), p.name, str(p.parent), hash(p)) for p in paths] == [
            (str(p), p.name, str(p.parent), hash(p)) for p in parsed
        ]
        assert all(type(p) is type(q) for p, q in zip(paths, parsed, strict=True))


def test_listings_are_not_kept_between_discoveries(tmp_path: Path) -> None:
    """Discovery scans each folder once per call; the next call sees a file added since."""
    versions = _tricky_tree(tmp_path)
    first = only(discover_environments([tmp_path]))
    (versions / "z.py").write_text(migration("z", "d"))
    second = only(discover_environments([tmp_path]))
    assert list(second.files) == [*first.files[:3], versions / "z.py", *first.files[3:]]
