"""Paths -> Alembic environments: alembic.ini, [tool.alembic], Flask-Migrate, bare folders.

Configuration is read the way Alembic reads it (`%(here)s`, `path_separator`,
`recursive_version_locations = true`), and the files of an environment are exactly the files
Alembic's ScriptDirectory would load. Nothing is imported.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import attrgetter
from pathlib import Path, PurePath
from typing import Any, overload

from chainlint import replay
from chainlint.config import DEFAULT_MAX_FILE_SIZE
from chainlint.errors import DiscoveryError
from chainlint.records import record
from chainlint.source import NotReadable, read_regular_file

# tomllib is imported where a TOML file is parsed: most runs never parse one.

DEFAULT_FILE_TEMPLATE = "%(rev)s_%(slug)s"

# Alembic loads every .py file except __init__* and editor lock files (.#*).
ALEMBIC_LOADS = re.compile(r"(?!\.\#|__init__)(.*\.py)$")

_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}
_LEGACY_SPLIT = re.compile(r", *|(?: +)")
_SKIP_DIRS = {
    "node_modules",
    "venv",
    "env",
    "site-packages",
    "build",
    "dist",
    "__pycache__",
}


class FileList(Sequence[Path]):
    """An environment's files, kept as the path strings discovery found: the Path objects are
    made on first use as a sequence (a warm `check` needs the strings alone, and making 10,000
    Paths costs more than listing and stat-ing the files)."""

    __slots__ = ("_members", "_paths", "strings")

    def __init__(self, strings: Iterable[str]) -> None:
        self.strings: tuple[str, ...] = tuple(strings)
        self._paths: tuple[Path, ...] | None = None
        self._members: frozenset[str] | None = None

    def paths(self) -> tuple[Path, ...]:
        if self._paths is None:
            self._paths = _paths_of(self.strings)
        return self._paths

    def __len__(self) -> int:
        return len(self.strings)

    @overload
    def __getitem__(self, index: int) -> Path: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Path, ...]: ...
    def __getitem__(self, index: int | slice) -> Path | tuple[Path, ...]:
        return self.paths()[index]

    def __iter__(self) -> Iterator[Path]:
        return iter(self.paths())

    def __contains__(self, item: object) -> bool:
        # The strings are normalised as Path's own (joined from a Path's string and names), so
        # string equality is Path equality.
        if not isinstance(item, PurePath):
            return False
        if self._members is None:
            self._members = frozenset(self.strings)
        return str(item) in self._members

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FileList):
            return self.strings == other.strings
        if isinstance(other, tuple):
            return self.paths() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.strings)

    def __repr__(self) -> str:
        return f"FileList({list(self.strings)!r})"


# What Path normalises away (a repeated separator, a `.` part, a trailing separator, an empty
# path), as seen in the strings joined by NUL with a NUL around them: a string with none of them
# is its Path's own string (POSIX; no path holds a NUL).
_NOT_NORMAL = ("//", "/./", "\0./", "/\0", "/.\0", "\0.\0", "\0\0")


def _paths_of(strings: tuple[str, ...]) -> tuple[Path, ...]:
    """A Path per string. When every string is already its Path's own, each Path keeps that
    string as its `str()` (pathlib caches it in `_str`) instead of making a copy on first use:
    every file's path is turned into a string (opening it, the cache), 10k revisions: ~1.4 MB."""
    if os.sep != "/" or not strings:
        return tuple(map(Path, strings))
    joined = "\0" + "\0".join(strings) + "\0"
    if any(pattern in joined for pattern in _NOT_NORMAL):
        return tuple(map(Path, strings))
    paths = _children_of_folders(strings) if _CHILD_PATHS else tuple(map(Path, strings))
    try:
        for path, string in zip(paths, strings, strict=True):
            path._str = string  # type: ignore[attr-defined]
    except AttributeError:  # a pathlib without that cache: it makes its own strings
        pass
    return paths


# Before Python 3.12, parsing a path string (Path(string)) costs five times what pathlib's own
# way for a folder's listing costs (a child of the folder's Path: 10k files, 75 ms vs 15 ms);
# from 3.12 Path(string) parses lazily and is the faster.
_CHILD_PATHS = sys.version_info < (3, 12) and hasattr(Path, "_make_child_relpath")


def _children_of_folders(strings: tuple[str, ...]) -> tuple[Path, ...]:
    """Path(string) for each of these normal path strings, made as a child of its folder's
    Path (one parsed per folder)."""
    folders: dict[str, Any] = {}
    paths = []
    for string in strings:
        cut = string.rfind("/")
        folder = string[:cut] if cut > 0 else string[: cut + 1]  # "/a.py": "/"; "a.py": ""
        parent = folders.get(folder)
        if parent is None:
            parent = folders[folder] = Path(folder)._make_child_relpath  # type: ignore[attr-defined]
        paths.append(parent(string[cut + 1 :]))
    return tuple(paths)


def file_strings(files: Sequence[Path]) -> tuple[str, ...]:
    """The path strings of an environment's files, without making a Path per file."""
    return files.strings if isinstance(files, FileList) else tuple(map(str, files))


@record
class Environment:
    """One Alembic environment: one revision graph."""

    # The folder reported as the environment's path (script_location, or the bare versions folder).
    root: Path
    # Where the configuration came from: "alembic.ini", "pyproject.toml", "flask-migrate",
    # "script-folder", "versions-folder".
    source: str
    config_path: Path | None
    version_locations: tuple[Path, ...]
    recursive: bool
    file_template: str
    # The migration files Alembic itself would load, in Alembic's order, de-duplicated by real path
    # (a FileList from discovery; `file_strings` gives their strings).
    files: Sequence[Path]
    # The environment's script.py.mako, when it has one (used by `fix --heads merge`).
    script_template: Path | None = None

    def owns(self, path: Path) -> bool:
        """Whether `path` is one of this environment's files or lies in its folders."""
        folders = (self.root, *self.version_locations)
        return path in self.files or any(_is_within(path, folder) for folder in folders)


@record
class Ignored:
    """A path named on the command line that is not checked, and why (`--verbose` shows it)."""

    path: Path
    # `{0}`, `{1}`, ... stand for `mentions`, which are shown as every path is (relative).
    reason: str
    mentions: tuple[Path, ...] = ()

    def describe(self, show: Callable[[Path], str]) -> str:
        return self.reason.format(*(show(path) for path in self.mentions))


@record
class Discovery:
    environments: tuple[Environment, ...]
    # The given paths that are not migrations of any environment found, in command-line order.
    ignored: tuple[Ignored, ...]


def discover_environments(paths: Sequence[Path]) -> list[Environment]:
    """Every environment the paths name or contain (see `discover`)."""
    return list(discover(paths).environments)


def discover(paths: Sequence[Path]) -> Discovery:
    """Every environment the paths name or contain; files map to the environment that owns
    them (pre-commit passes changed files, and their whole environment is checked). A given
    file that is not one of its environment's migrations is ignored, with the reason."""
    with _sharing_listings():
        return _discover(paths)


def _discover(paths: Sequence[Path]) -> Discovery:
    if not paths:
        paths = [Path.cwd()]
    found: dict[tuple[Path, ...], Environment] = {}
    loose_files: list[Path] = []
    for given in paths:
        path = Path(os.path.abspath(given))
        replay.seen(path)
        if not path.exists():
            raise DiscoveryError(f"{given}: no such file or directory")
        if path.is_dir():
            environments = list(_environments_in(path))
            if not environments:
                raise DiscoveryError(
                    f"no Alembic environment found in {given} (looked for alembic.ini, "
                    f"[tool.alembic] in pyproject.toml, env.py with versions/, or migration files)"
                )
        elif path.name == "pyproject.toml":
            environments = [_require(_from_pyproject(path), path, "has no [tool.alembic] section")]
        elif path.suffix == ".ini":
            environments = [_require(_from_ini(path), path, "has no [alembic] section")]
        else:
            loose_files.append(path)
            continue
        for environment in environments:
            found.setdefault(_key(environment), environment)
    ignored: dict[Path, Ignored] = {}
    if loose_files:
        for environment in _environments_for_files(loose_files, list(found.values()), ignored):
            found.setdefault(_key(environment), environment)
        orphans = [i for i in ignored.values() if i.reason == _NO_ENVIRONMENT]
        if not found and orphans:
            raise DiscoveryError("no Alembic environment found for the given files")
    ordered = tuple(sorted(found.values(), key=lambda e: e.root))
    return Discovery(ordered, tuple(ignored.values()))


def _key(environment: Environment) -> tuple[Path, ...]:
    return (environment.root, *environment.version_locations)


def _require(environment: Environment | None, path: Path, why: str) -> Environment:
    if environment is None:
        raise DiscoveryError(f"{path} {why}")
    return environment


# -- searching folders ------------------------------------------------------------------------


def _environments_in(folder: Path) -> Iterator[Environment]:
    configured: list[Environment] = []
    script_folders: list[Path] = []
    for current, dirs, names in _walk(folder):
        if "alembic.ini" in names:
            environment = _from_ini(current / "alembic.ini")
            if environment is not None:
                configured.append(environment)
        if "pyproject.toml" in names:
            environment = _from_pyproject(current / "pyproject.toml")
            if environment is not None:
                configured.append(environment)
        if "env.py" in names and "versions" in dirs:
            script_folders.append(current)
    covered = {e.root for e in configured}
    yield from configured
    for script_folder in script_folders:
        if script_folder not in covered and not any(_is_within(script_folder, c) for c in covered):
            yield _from_script_folder(script_folder, "script-folder", None)
    if not configured and not script_folders and _looks_like_versions_folder(folder):
        yield _bare_versions_folder(folder)


def _walk(folder: Path) -> Iterator[tuple[Path, list[str], set[str]]]:
    """A pruned walk for configuration: no hidden, virtualenv or build folders, no symlinks.
    What os.walk(folder, followlinks=False) yields, the folders filtered and sorted, each
    folder's file names as a set; each listing is kept for `_walk_files` (one scandir of a
    versions folder per discovery, not two)."""
    top = os.fspath(folder)
    try:
        entries = _sorted_listing(top)
    except OSError:
        return
    dirs: list[str] = []
    linked: set[str] = set()
    names: set[str] = set()
    for entry in entries:
        try:
            is_folder = entry.is_dir()
        except OSError:
            is_folder = False
        if not is_folder:
            names.add(entry.name)
        elif not entry.name.startswith(".") and entry.name not in _SKIP_DIRS:
            dirs.append(entry.name)
            if entry.is_symlink():
                linked.add(entry.name)
        if entry.is_symlink():
            replay.seen(entry.path)  # what it points to may change without the folder changing
    yield Path(top), dirs, names
    for name in dirs:
        if name not in linked:
            yield from _walk(Path(top, name))


# The sorted listings of the folders scanned during one `discover` call, by folder string.
_LISTINGS: dict[str, list[os.DirEntry[str]]] | None = None


def _sorted_listing(folder: str) -> list[os.DirEntry[str]]:
    """The folder's entries sorted by name (raises OSError), scanned once per discovery."""
    if _LISTINGS is not None:
        entries = _LISTINGS.get(folder)
        if entries is not None:
            return entries
    replay.seen(folder)
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=_NAME)
    if _LISTINGS is not None:
        _LISTINGS[folder] = entries
    return entries


@contextlib.contextmanager
def _sharing_listings() -> Iterator[None]:
    global _LISTINGS
    _LISTINGS = {}
    try:
        yield
    finally:
        _LISTINGS = None


def _looks_like_versions_folder(folder: Path) -> bool:
    """A folder named on the command line is a bare versions folder when it is called
    `versions` or holds a file that assigns `down_revision`."""
    if folder.name == "versions":
        return True
    for path in _list_py_files(folder, recursive=True)[:200]:
        replay.seen(path)
        try:
            if b"down_revision" in read_regular_file(Path(path), DEFAULT_MAX_FILE_SIZE):
                return True
        except (OSError, NotReadable):
            continue
    return False


_NO_ENVIRONMENT = "no Alembic environment above it"


def _environments_for_files(
    files: list[Path], known: list[Environment], ignored: dict[Path, Ignored]
) -> Iterator[Environment]:
    """Map loose files to their environments: one already found, one configured above them, or
    their folder as a bare versions folder. A file that is none of its environment's migrations
    goes to `ignored`, with the reason."""
    loaded: dict[tuple[Path, ...], set[str]] = {}
    for file in files:
        environment = next((e for e in known if e.owns(file)), None)
        if environment is None:
            environment, configured = _environment_above(file)
            if environment is not None:
                known.append(environment)
                yield environment
            elif file.suffix != ".py":
                ignored.setdefault(file, Ignored(file, "not a .py file"))
                continue
            elif configured is not None:
                # A file outside the version locations of a configured environment above it
                # (manage.py, app/models.py beside alembic.ini) is not a migration.
                ignored.setdefault(file, _outside(file, configured))
                continue
            elif _looks_like_versions_folder(file.parent):
                # Only a folder that looks like Alembic's: a Django migrations/ folder is not.
                environment = _bare_versions_folder(file.parent)
                known.append(environment)
                yield environment
            else:
                ignored.setdefault(file, Ignored(file, _NO_ENVIRONMENT))
                continue
        if _key(environment) not in loaded:
            strings = file_strings(environment.files)
            loaded[_key(environment)] = {os.path.abspath(f) for f in strings}
        if str(file) not in loaded[_key(environment)]:
            ignored.setdefault(file, _not_loaded(file, environment))


def _outside(file: Path, environment: Environment) -> Ignored:
    locations = environment.version_locations
    listed = ", ".join(f"{{{index}}}" for index in range(1, len(locations) + 1))
    if environment.config_path is None:
        return Ignored(
            file, f"outside the environment's version locations ({listed})", (file, *locations)
        )
    return Ignored(
        file,
        f"outside the version locations of {{0}} ({listed})",
        (environment.config_path, *locations),
    )


def _not_loaded(file: Path, environment: Environment) -> Ignored:
    """Why a file inside an environment's folders is not one of the files Alembic loads."""
    if file.suffix != ".py":
        return Ignored(file, "not a .py file")
    if not ALEMBIC_LOADS.match(file.name):
        return Ignored(file, "Alembic does not load __init__ files or editor lock files (.#*)")
    location = next((v for v in environment.version_locations if _is_within(file, v)), None)
    if location is None:
        return _outside(file, environment)
    if any(part.endswith("__pycache__") for part in file.relative_to(location).parts[:-1]):
        return Ignored(file, "inside __pycache__")
    if file.parent != location and not environment.recursive:
        return Ignored(
            file, "in a subfolder of {0}, and recursive_version_locations is off", (location,)
        )
    replay.seen(file)
    real = os.path.realpath(file)
    same = next((f for f in environment.files if os.path.realpath(f) == real), None)
    if same is not None:
        return Ignored(file, "the same file as {0} (Alembic loads each file once)", (same,))
    return Ignored(file, "behind a symlinked folder (Alembic does not follow those)")


def _environment_above(file: Path) -> tuple[Environment | None, Environment | None]:
    """The configured environment above `file` that owns it, and the nearest configured
    environment found above it at all."""
    nearest: Environment | None = None
    for folder in file.parents:
        candidates: list[Environment | None] = []
        for name in ("alembic.ini", "pyproject.toml", "env.py", "versions"):
            replay.seen(folder / name)
        if (folder / "alembic.ini").is_file():
            candidates.append(_from_ini(folder / "alembic.ini"))
        if (folder / "pyproject.toml").is_file():
            candidates.append(_from_pyproject(folder / "pyproject.toml"))
        if (folder / "env.py").is_file() and (folder / "versions").is_dir():
            candidates.append(_from_script_folder(folder, "script-folder", None))
        for environment in candidates:
            if environment is not None:
                nearest = nearest or environment
                if environment.owns(file):
                    return environment, environment
    return None, nearest


# -- reading configuration --------------------------------------------------------------------


def _from_ini(ini: Path) -> Environment | None:
    here = ini.parent.absolute()
    parser = configparser.ConfigParser({"here": here.as_posix()})
    replay.seen(ini)
    try:
        with ini.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise DiscoveryError(
            f"{ini}: cannot read Alembic configuration: {_first_line(exc)}"
        ) from exc
    if not parser.has_section("alembic"):
        return None
    toml = _tool_alembic(here / "pyproject.toml") or {}

    def option(name: str) -> str | None:
        try:
            if parser.has_option("alembic", name):
                return parser.get("alembic", name)
        except configparser.Error as exc:
            raise DiscoveryError(f"{ini}: option {name}: {_first_line(exc)}") from exc
        value = toml.get(name)
        return value if isinstance(value, str) else None

    script_location = option("script_location")
    if script_location is None:
        replay.seen(here / "env.py")
        if (here / "env.py").is_file():
            # Flask-Migrate's migrations/alembic.ini: the folder itself is the script location.
            return _from_script_folder(here, "flask-migrate", ini)
        raise DiscoveryError(f"{ini}: no script_location in [alembic]")
    script_folder = _resolve_location(script_location, here, ini)
    locations = _version_locations(parser, toml, here, ini)
    recursive = _boolean(parser, toml, "recursive_version_locations", ini)
    template = option("file_template") or DEFAULT_FILE_TEMPLATE
    return _environment(script_folder, "alembic.ini", ini, locations, recursive, template)


def _from_pyproject(pyproject: Path) -> Environment | None:
    toml = _tool_alembic(pyproject)
    if not toml or not isinstance(toml.get("script_location"), str):
        return None
    here = pyproject.parent.absolute()
    script_folder = _resolve_location(toml["script_location"], here, pyproject)
    raw = toml.get("version_locations")
    locations: tuple[Path, ...] | None = None
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise DiscoveryError(f"{pyproject}: [tool.alembic] version_locations must be a list")
        locations = tuple(_resolve_location(v, here, pyproject) for v in raw)
    recursive = toml.get("recursive_version_locations", False)
    if not isinstance(recursive, bool):
        raise DiscoveryError(f"{pyproject}: recursive_version_locations must be true or false")
    template = toml.get("file_template")
    template = template if isinstance(template, str) else DEFAULT_FILE_TEMPLATE
    return _environment(script_folder, "pyproject.toml", pyproject, locations, recursive, template)


def _tool_alembic(pyproject: Path) -> dict[str, Any] | None:
    """[tool.alembic] with `%(here)s` substituted, as Alembic does for TOML values."""
    replay.seen(pyproject)
    if not pyproject.is_file():
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DiscoveryError(f"{pyproject}: cannot read: {_first_line(exc)}") from exc
    section = data.get("tool", {}).get("alembic")
    if not isinstance(section, dict):
        return None
    args = {"here": pyproject.parent.absolute().as_posix()}
    return {key: _substitute(value, args, pyproject) for key, value in section.items()}


def _substitute(value: Any, args: Mapping[str, str], origin: Path) -> Any:
    try:
        if isinstance(value, str):
            return value % args
        if isinstance(value, list):
            return [v % args if isinstance(v, str) else v for v in value]
    except (KeyError, ValueError, TypeError) as exc:
        raise DiscoveryError(f"{origin}: bad %-substitution in {value!r}") from exc
    return value


def _version_locations(
    parser: configparser.ConfigParser, toml: Mapping[str, Any], here: Path, ini: Path
) -> tuple[Path, ...] | None:
    try:
        raw = parser.get("alembic", "version_locations", fallback=None)
        separator = None
        for name in ("path_separator", "version_path_separator"):
            if parser.has_option("alembic", name):
                separator = parser.get("alembic", name)
                break
    except configparser.Error as exc:
        raise DiscoveryError(f"{ini}: {_first_line(exc)}") from exc
    if raw:
        if separator is None:
            # Alembic's legacy behaviour: split on commas and spaces.
            items = _LEGACY_SPLIT.split(raw)
        elif separator in _SEPARATORS:
            items = [x.strip() for x in raw.split(_SEPARATORS[separator]) if x]
        else:
            raise DiscoveryError(
                f"{ini}: '{separator}' is not a valid path_separator; expected 'space', "
                f"'newline', 'os', ':' or ';'"
            )
        return tuple(_resolve_location(item, here, ini) for item in items if item.strip())
    listed = toml.get("version_locations")
    if isinstance(listed, list):
        return tuple(_resolve_location(str(item), here, ini) for item in listed)
    return None


def _boolean(
    parser: configparser.ConfigParser, toml: Mapping[str, Any], name: str, ini: Path
) -> bool:
    if parser.has_option("alembic", name):
        # Alembic compares the raw string with "true", nothing else.
        return parser.get("alembic", name) == "true"
    value = toml.get(name, False)
    if not isinstance(value, bool):
        raise DiscoveryError(f"{ini}: boolean value expected for {name}")
    return value


def _resolve_location(location: str, here: Path, origin: Path) -> Path:
    """A script or version location as a folder. Relative paths are taken from the config
    file's folder, where `alembic` is run; `package:path` resources are looked up as folders
    above it, never imported."""
    location = location.strip()
    if not os.path.isabs(location) and ":" in location:
        package, *rest = location.split(":")
        relative = Path(*package.split("."), *[part for part in rest if part])
        for anchor in (here, *here.parents, here / "src"):
            replay.seen(anchor / relative)
            if (anchor / relative).is_dir():
                return (anchor / relative).absolute()
        raise DiscoveryError(f"{origin}: cannot find the folder of resource location {location!r}")
    path = Path(location)
    if path.is_absolute():
        return path
    # Alembic resolves relative paths against the working directory: usually the config's
    # folder, sometimes the project root above it (mlflow ships `mlflow/store/db_migrations`).
    for anchor in (here, *here.parents, Path.cwd()):
        replay.seen(anchor / path)
        if (anchor / path).exists():
            return (anchor / path).absolute()
    return (here / path).absolute()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# -- building environments --------------------------------------------------------------------


def _from_script_folder(folder: Path, source: str, config: Path | None) -> Environment:
    return _environment(folder.absolute(), source, config, None, False, DEFAULT_FILE_TEMPLATE)


def _bare_versions_folder(folder: Path) -> Environment:
    # A versions folder named directly is read recursively.
    folder = folder.absolute()
    return _environment(folder, "versions-folder", None, (folder,), True, DEFAULT_FILE_TEMPLATE)


def _environment(
    script_folder: Path,
    source: str,
    config: Path | None,
    locations: tuple[Path, ...] | None,
    recursive: bool,
    file_template: str,
) -> Environment:
    replay.seen(script_folder)
    if source != "versions-folder" and not script_folder.is_dir():
        raise DiscoveryError(
            f"{config or script_folder}: script_location {script_folder} does not exist"
        )
    if locations is None:
        locations = (script_folder / "versions",)
    template = script_folder / "script.py.mako"
    return Environment(
        root=script_folder,
        source=source,
        config_path=config,
        version_locations=locations,
        recursive=recursive,
        file_template=file_template,
        files=alembic_files(locations, recursive),
        script_template=template if template.is_file() else None,
    )


def alembic_files(locations: Sequence[Path], recursive: bool) -> FileList:
    """The files Alembic's ScriptDirectory loads from these version locations, in its order."""
    seen: set[str] = set()
    files: list[str] = []
    loads = ALEMBIC_LOADS.match
    for location in locations:
        replay.seen(location)
        if not location.exists():
            continue  # Alembic skips version locations that do not exist
        real_root = os.path.realpath(location)
        for path, real in _walk_files(str(location), real_root, recursive):
            if real in seen:
                continue  # Alembic: "File ... loaded twice! ignoring."
            seen.add(real)
            if loads(real.rpartition(os.sep)[2]):  # os.path.basename(real)
                files.append(path)
    return FileList(files)


_NAME = attrgetter("name")


def _walk_files(folder: str, real_root: str, recursive: bool) -> list[tuple[str, str]]:
    """(path, real path) strings for each file, in Alembic's order: files sorted per folder,
    folders sorted, `__pycache__` skipped, symlinked folders not followed. Only symlinked files
    need resolving; every other real path follows from the folder's. No Path is made per file."""
    found: list[tuple[str, str]] = []
    pending = [(folder, real_root)]
    while pending:
        current, real_current = pending.pop(0)
        if current.endswith("__pycache__"):
            continue
        try:
            entries = _sorted_listing(current)
        except OSError:
            continue
        folders = []
        # os.path.join(real_current, name), as a concatenation (a name never holds a separator).
        prefix = real_current if real_current.endswith(os.sep) else real_current + os.sep
        for entry in entries:
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_folder = False
            if is_folder:
                folders.append((entry.path, prefix + entry.name))
                continue
            if entry.is_symlink():
                replay.seen(entry.path)
                try:
                    if os.path.isdir(entry.path):
                        continue  # a symlinked folder: os.walk lists it, never as a file
                    real = str(Path(entry.path).resolve())
                except (OSError, RuntimeError):  # a symlink loop: the reader reports it
                    real = entry.path
            else:
                real = prefix + entry.name
            found.append((entry.path, real))
        if recursive:
            pending[:0] = folders
    return found


def _list_py_files(folder: Path, recursive: bool) -> list[str]:
    return [path for path, _ in _walk_files(str(folder), os.path.realpath(folder), recursive)]


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True
