"""A persistent cache, so repeated runs on an unchanged tree are cheap.

Two files per environment in the project's `.chainlint_cache/` folder (beside the
`pyproject.toml` or `alembic.ini` of the environment; `$CHAINLINT_CACHE_DIR` overrides):

- `read-*.json`: each file's read result, reused while the file's stat key is unchanged (its
  rows apart from their index: see `ReadCache`);
- `result-*.json`: the environment's findings, reused while no file changed at all (a warm
  `check` reads this file alone and never builds the graph);
- `files-*.json`: each file's stat key and row digest when those findings were made, so a run
  after a `touch` or a checkout reads only the files whose stat key changed, and reuses the
  findings when each reads as it did, without loading the read results.

Plain JSON only: a cache folder can arrive inside a pull request, and pickle or marshal data from
it would run or crash code in CI. Each file is one header line (schema version, chainlint's
version, kind, SHA-256 of the rest) and one JSON document; the read cache keeps its rows apart
from that document, each checked against its own digest when read. A file that is foreign,
truncated, tampered with (checksum), too large, not a regular file or a symlink is ignored and
rebuilt; an entry of an unexpected shape, or whose row does not match its digest, is ignored
and re-read. A committed cache cannot match a fresh
checkout: entries are keyed by size, mtime, ctime and inode (as git's index is), and ctime and
inode cannot be carried by a repository. The folder itself is never a symlink (a committed
`.chainlint_cache` symlink must not send files anywhere) and never the filesystem root.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import itertools
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from chainlint import __version__, replay
from chainlint.findings import Finding, Fix

if TYPE_CHECKING:
    from chainlint.discover import Environment
    from chainlint.read import Assignment, AssignmentShape, HeaderField, Identifier, RevisionFile

# The reader and the operation model (chainlint.read, chainlint.ops) are imported by the
# functions that encode and decode files: a warm run answered by the result cache needs neither.

CACHE_DIR = ".chainlint_cache"
SCHEMA = 7
# The markers of a project root, nearest first, for environments without a configuration file.
_ROOT_MARKERS = ("pyproject.toml", "alembic.ini", "setup.cfg", "setup.py", ".git")
# A cache file larger than this is not read (a cache is about 0.3 KB per migration).
_MAX_BYTES = 16 * 1024 * 1024
_MAX_BYTES_PER_FILE = 8 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BY_DESCRIPTOR = (
    os.open in os.supports_dir_fd and os.replace in os.supports_dir_fd and bool(_NOFOLLOW)
)

Stamp = list[int]


# -- where -------------------------------------------------------------------------------------


def project_root(environment: Environment) -> Path:
    """The folder of the environment's `alembic.ini` or `pyproject.toml`; without one, the
    nearest folder above the environment that holds one of the usual project markers."""
    if environment.config_path is not None:
        return Path(os.path.abspath(environment.config_path)).parent
    start = Path(os.path.abspath(environment.root))
    for folder in (start, *start.parents):
        for marker in _ROOT_MARKERS:
            replay.seen(folder / marker)
        if any(os.path.lexists(folder / marker) for marker in _ROOT_MARKERS):
            return folder
    return start.parent


def cache_folder(environment: Environment) -> Path | None:
    """`$CHAINLINT_CACHE_DIR`, or `.chainlint_cache/` at the project root; None where no cache
    may be kept (the root would be the filesystem root)."""
    override = os.environ.get("CHAINLINT_CACHE_DIR")
    if override:
        return Path(os.path.abspath(override))
    root = project_root(environment)
    if root.parent == root:
        return None
    return root / CACHE_DIR


def stamp(path: Path | str) -> Stamp | None:
    """What a file's cache entry is valid for: size, mtime, ctime and inode. An edit that keeps
    the size and restores the mtime (`touch -r`) still changes the ctime."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]


def _seen(path: Any) -> None:
    if type(path) is str:
        replay.seen(path)


class CacheFolder:
    """The cache folder, opened without following symlinks; every file operation goes through
    its descriptor, so a folder swapped for a symlink later cannot redirect writes either."""

    def __init__(self, path: Path, descriptor: int | None) -> None:
        self.path = path
        self._descriptor = descriptor

    @classmethod
    def open(cls, path: Path | None, create: bool) -> CacheFolder | None:
        """None when the folder cannot be used: missing (and not to be created), a symlink, or
        not a directory. A new folder gets a `.gitignore` that ignores everything in it."""
        if path is None:
            return None
        if create:
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            except OSError:
                return None
            else:
                folder = cls.open(path, create=False)
                if folder is not None:
                    folder.write(".gitignore", b"# Created by chainlint.\n*\n")
                return folder
        try:
            status = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISDIR(status.st_mode):  # a symlink (to anything) or a file
            return None
        if not _BY_DESCRIPTOR:
            return cls(path, None)
        try:
            descriptor = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
        except OSError:
            return None
        return cls(path, descriptor)

    def close(self) -> None:
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                os.close(self._descriptor)
            self._descriptor = None

    def _open(self, name: str, flags: int, mode: int = 0o644) -> int:
        if self._descriptor is None:
            full = self.path / name
            if os.path.islink(full):
                raise OSError(f"{full} is a symlink")
            return os.open(full, flags | _NOFOLLOW, mode)
        return os.open(name, flags | _NOFOLLOW, mode, dir_fd=self._descriptor)

    def read(self, name: str, limit: int) -> bytes | None:
        """The file's bytes if it is a regular file (not a symlink, FIFO or device) of at most
        `limit` bytes."""
        try:
            descriptor = self._open(name, os.O_RDONLY | _NONBLOCK)
        except OSError:
            return None
        return replay.read_descriptor(descriptor, limit)

    def open_file(self, name: str, limit: int) -> tuple[BinaryIO, int] | None:
        """The file opened for reading, and its size, if it is a regular file of at most
        `limit` bytes (as `read`, without reading it)."""
        try:
            descriptor = self._open(name, os.O_RDONLY | _NONBLOCK)
        except OSError:
            return None
        try:
            size = replay.regular_size(descriptor, limit)
            if size is not None:
                return os.fdopen(descriptor, "rb", buffering=0), size
        except OSError:
            pass
        os.close(descriptor)
        return None

    def write(self, name: str, *parts: bytes) -> None:
        """Atomically: a temporary file in the folder, then a rename over `name`; `parts` are
        written one after the other (a large document is not joined to its header)."""

        def fill(handle: BinaryIO) -> None:
            for part in parts:
                handle.write(part)

        self._replace(name, fill)

    def replace(self, name: str, fill: Callable[[BinaryIO], None]) -> None:
        """Atomically, as `write`: `fill` writes the new file (and may seek in it)."""
        self._replace(name, fill)

    def _replace(self, name: str, fill: Callable[[BinaryIO], None]) -> None:
        temporary = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            descriptor = self._open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except OSError:
            return
        try:
            with os.fdopen(descriptor, "wb") as handle:
                fill(handle)
            if self._descriptor is None:
                os.replace(self.path / temporary, self.path / name)
            else:
                os.replace(
                    temporary, name, src_dir_fd=self._descriptor, dst_dir_fd=self._descriptor
                )
        except OSError:
            with contextlib.suppress(OSError):
                if self._descriptor is None:
                    os.unlink(self.path / temporary)
                else:
                    os.unlink(temporary, dir_fd=self._descriptor)


def refusal(path: Path | None) -> str | None:
    """Why CacheFolder.open refuses an existing `path` (a symlink, not a folder); None when it
    is usable or simply missing."""
    if path is None:
        return None
    replay.kind_seen(path)  # its contents change as the cache is written
    try:
        status = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(status.st_mode):
        return "a symlink (a cache folder is never used through one); ran without the cache"
    if not stat.S_ISDIR(status.st_mode):
        return "not a folder; ran without the cache"
    return None


@contextlib.contextmanager
def opened(path: Path | None, create: bool) -> Iterator[CacheFolder | None]:
    folder = CacheFolder.open(path, create)
    try:
        yield folder
    finally:
        if folder is not None:
            folder.close()


def _name(kind: str, environment_root: Path) -> str:
    digest = hashlib.sha1(str(environment_root).encode("utf-8")).hexdigest()[:16]
    return f"{kind}-{digest}.json"


# -- the file format: a header line, then one JSON document ------------------------------------


# Compact JSON, made once (json.dumps with separators makes an encoder per call). What the
# cache holds is plain lists and dicts, never circular: the encoder does not look for cycles.
_COMPACT = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _encode(kind: str, payload: Any) -> tuple[bytes, bytes]:
    """The file's header line and body."""
    body = _COMPACT.encode(payload).encode("ascii")
    return _header(kind, hashlib.sha256(body).hexdigest()), body


def build() -> str:
    """chainlint's version and a digest of its own source files' stamps: an edited rule or
    reader makes every cache file stale even while the version string stays the same."""
    return f"{__version__}+{replay.package_stamp()[:16]}"


def _header(kind: str, sha256: str, **more: Any) -> bytes:
    header = {"schema": SCHEMA, "chainlint": build(), "kind": kind, "sha256": sha256, **more}
    return _COMPACT.encode(header).encode("ascii") + b"\n"


def _own_header(header: Any, kind: str) -> bool:
    """Whether a parsed header line is that of a file of this kind written by this build of
    chainlint (its checksum is checked apart)."""
    return (
        type(header) is dict
        and header.get("schema") == SCHEMA
        and header.get("chainlint") == build()
        and header.get("kind") == kind
    )


def _decode(kind: str, data: bytes | None) -> Any:
    """The document, or None for anything that is not an intact file of this kind written by
    this build of chainlint."""
    if data is None:
        return None
    newline = data.find(b"\n", 0, 512)
    if newline < 0:
        return None
    try:
        header = json.loads(data[:newline])
        if not _own_header(header, kind):
            return None
        body = data[newline + 1 :]
        if header.get("sha256") != hashlib.sha256(body).hexdigest():
            return None
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


# -- per-file read results ---------------------------------------------------------------------


def row_text(file: RevisionFile) -> str:
    """A file's cache row as compact JSON: made once, it gives the row's digest and is written
    into the read cache as it is. The encoder walks the records itself, asking for each one's
    cells (`_row_encoder`): no list of lists is made first (10k revisions: ~30% less time)."""
    return _row_encoder().encode(file)


@functools.cache
def _row_encoder() -> json.JSONEncoder:
    """Compact JSON for a RevisionFile: each record given as its cells (the row's order,
    which `decode_file` reads), its nested records and tuples left to the encoder (records
    are acyclic)."""
    from chainlint.ops import MigrationOperations, operations_cells, record_cells
    from chainlint.read import Assignment, HeaderField, Identifier, ReadProblem, RevisionFile

    def file_cells(file: RevisionFile) -> tuple[Any, ...]:
        return (
            file.revision,
            file.down_revision,
            file.branch_labels,
            file.depends_on,
            file.header,
            file.problem,
            file.legacy_revision,
            [[line, sorted(codes) if codes is not None else None] for line, codes in file.noqa],
            file.docstring_lines,
            file.encoding,
            [str(p) for p in file.used_modules],
            file.message,
            file.operations,
        )

    cells: dict[type[Any], Callable[[Any], Any]] = {
        Identifier: attrgetter("value", "line", "column", "source", "kind", "via"),
        Assignment: attrgetter("line", "column", "shape", "annotated", "items"),
        HeaderField: attrgetter("label", "value", "line", "column"),
        ReadProblem: attrgetter("message", "line", "column"),
        RevisionFile: file_cells,
        MigrationOperations: operations_cells,
    }

    def default(value: Any) -> Any:
        make = cells.get(type(value))
        found = make(value) if make is not None else record_cells(value)
        if found is None:
            raise TypeError(f"{type(value).__name__} is not part of a cache row")
        return found

    return json.JSONEncoder(separators=(",", ":"), check_circular=False, default=default)


def text_digest(text: str) -> str:
    """What names a file's row: a digest of its compact JSON text. A file whose stat changed is
    read again; when its new row has the old digest (a `touch`, a checkout that rewrote the
    same bytes, a module change it does not see), the environment's content key is unchanged
    and its findings still hold."""
    return data_digest(text.encode("ascii"))


def data_digest(data: bytes) -> str:
    """`text_digest` of the row whose text is these (ASCII) bytes."""
    return hashlib.sha256(data).hexdigest()[:32]


def content_digest(material: str, paths: Sequence[Path | str], digests: Sequence[str]) -> str:
    """A digest of what the findings depend on: `material` (chainlint's version, the
    environment's configuration, the settings) and each file's path and row digest."""
    digest = hashlib.sha256(material.encode("utf-8"))
    digest.update(b"\0\0" + "\0".join(map(str, paths)).encode("utf-8", "surrogatepass"))
    digest.update(b"\0\0" + "\0".join(digests).encode("ascii"))
    return digest.hexdigest()


class FreshEntry:
    """A read cache entry recorded in this run: the file's stat key, its modules' stat keys,
    and its row: the text when the read made it, else made from `file` when the entry is
    written (not kept: a cold 10k check makes ~8 MB of rows) or its digest asked for first."""

    __slots__ = ("dependencies", "digest", "file", "key", "text")

    def __init__(self, key: Stamp, dependencies: list[Any], file: RevisionFile, text: str | None):
        self.key = key
        self.dependencies = dependencies
        self.file = file
        self.text = text
        self.digest = text_digest(text) if text is not None else None

    def data(self) -> bytes:
        """The row's bytes, its digest set (a row made here is not kept)."""
        if self.text is not None:
            return self.text.encode("ascii")
        data = row_text(self.file).encode("ascii")
        self.digest = data_digest(data)
        return data

    def row_digest(self) -> str:
        """The row's digest; a row made for it is kept, to be written as it is."""
        if self.digest is None:
            self.text = row_text(self.file)
            self.digest = text_digest(self.text)
        return self.digest


class ReadCache:
    """One environment's read results: load, look up, record, save.

    The file (`_READ_HEADER` bytes of header line, then the rows, then the index) keeps each
    file's row as its compact JSON text, apart from the index, which is JSON:
    `{path: [stat key, [[module, stat key], ...], offset, length, row digest]}`, the row being
    `length` bytes at `offset` in the file. The header (schema, chainlint's build, kind, where
    the index starts and its SHA-256) is padded with spaces to its fixed size, so that it can
    be written last. Loading reads the header and the index only (10k revisions: ~1.5 of
    ~9 MB): a row is read when its file is decoded, or when the cache is written again, from
    the file opened at load (replaced by a rename, never rewritten, it stays as it was read),
    and checked against its digest then. A row that does not read back as its digest says is
    read again from its file, as a missing one is.

    An entry loaded is that index item; an entry recorded in this run is a FreshEntry."""

    def __init__(self, folder: Path | None, environment_root: Path, files: int = 0) -> None:
        self.folder = folder
        self.name = _name("read", environment_root)
        self.path = folder / self.name if folder is not None else None
        self.limit = _MAX_BYTES + _MAX_BYTES_PER_FILE * files
        self.entries: dict[str, Any] = {}
        self.dirty = False
        # Entries recorded or forgotten so far: a table made before is still this one's when
        # the count is unchanged.
        self.changes = 0
        # Module stat keys, taken once per run (many files may resolve constants from one).
        self._modules: dict[str, Stamp | None] = {}
        # The file the loaded rows are read from.
        self._document: BinaryIO | None = None
        self._load()

    def _load(self) -> None:
        with opened(self.folder, create=False) as folder:
            found = folder.open_file(self.name, self.limit) if folder is not None else None
        if found is None:
            return
        handle, size = found
        index = _read_index(handle.fileno(), size)
        if index is None:
            handle.close()
            self.dirty = True  # foreign or broken: rebuilt on save
            return
        self.entries, self._document = index, handle

    def close(self) -> None:
        """Close the file the loaded rows are read from (they are not read after)."""
        if self._document is not None:
            self._document.close()
            self._document = None

    def _module_stamp(self, module: Any) -> Stamp | None:
        _seen(module)
        if module not in self._modules:
            self._modules[module] = stamp(module)
        return self._modules[module]

    def valid(self, path: Path, key: Stamp | None) -> bool:
        """Whether the entry of `path` holds for this stat key (and its modules' keys)."""
        entry = self.entries.get(str(path))
        if type(entry) is FreshEntry:
            entry_key, dependencies = entry.key, entry.dependencies
        elif type(entry) is list and len(entry) == 5:
            entry_key, dependencies = entry[0], entry[1]
        else:
            return False
        if key is None or entry_key != key:
            return False
        try:
            for dependency, dependency_key in dependencies:
                if self._module_stamp(dependency) != dependency_key:
                    return False
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, RecursionError):
            return False
        return True

    def get(self, path: Path, key: Stamp | None) -> RevisionFile | None:
        if not self.valid(path, key):
            return None
        try:
            data = self._row_data(self.entries[str(path)])
            if data is None:
                raise ValueError("unexpected cache row")
            return decode_file(path, json.loads(data))
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, RecursionError):
            self.forget(path)  # an entry of an unexpected shape: the file is read again
            return None

    def _row_data(self, entry: Any) -> bytes | None:
        """The entry's row text as bytes; None when it does not read back as its digest says
        (or the entry is of another shape)."""
        if type(entry) is FreshEntry:
            return entry.data()
        if type(entry) is not list or len(entry) != 5 or self._document is None:
            return None
        offset, length, digest = entry[2:]
        if type(offset) is not int or type(length) is not int or not 0 <= length <= self.limit:
            return None
        try:
            data = os.pread(self._document.fileno(), length, offset)
        except (OSError, ValueError, OverflowError):
            return None
        return data if len(data) == length and data_digest(data) == digest else None

    def forget(self, path: Path) -> None:
        self.entries.pop(str(path), None)
        self.dirty = True
        self.changes += 1

    def put(
        self, path: Path, key: Stamp | None, file: RevisionFile, row: str | None = None
    ) -> None:
        """Record a file just read (`row`: its row's JSON, when already made; else it is made
        when written, or when its digest is asked for)."""
        if key is None:
            return
        dependencies = [[str(p), self._module_stamp(str(p))] for p in file.used_modules]
        self.entries[str(path)] = FreshEntry(key, dependencies, file, row)
        self.dirty = True
        self.changes += 1

    def table(self, paths: Sequence[Path | str]) -> tuple[list[Stamp], list[str]] | None:
        """Each file's stat key and row digest, or None when a file has no entry (it could not
        be read)."""
        stamps, digests = [], []
        for path in paths:
            entry = self.entries.get(str(path))
            if type(entry) is FreshEntry:
                stamps.append(entry.key)
                digests.append(entry.row_digest())
            elif type(entry) is list and len(entry) == 5 and type(entry[4]) is str:
                stamps.append(entry[0])
                digests.append(entry[4])
            else:
                return None
        return stamps, digests

    def save(self, keep: set[str]) -> None:
        """Write the entries for `keep` (the environment's current files) atomically."""
        stale = [key for key in self.entries if key not in keep]
        if not self.dirty and not stale:
            return
        for key in stale:
            del self.entries[key]
        with opened(self.folder, create=True) as folder:
            if folder is not None:
                folder.replace(self.name, self._fill)

    def _fill(self, handle: BinaryIO) -> None:
        """Write the file: the rows one after another, each read back and checked first (a row
        that does not read back is left out, its file read again next time, never written
        wrong), then the index, then the header over its placeholder."""
        handle.write(b" " * _READ_HEADER)
        index: list[tuple[str, list[Any]]] = []
        at = _READ_HEADER
        for path, entry in self.entries.items():
            data = self._row_data(entry)
            if data is None:
                continue
            handle.write(data)
            if type(entry) is FreshEntry:
                index.append((path, [entry.key, entry.dependencies, at, len(data), entry.digest]))
            else:
                index.append((path, [entry[0], entry[1], at, len(data), entry[4]]))
            at += len(data)
        digest = hashlib.sha256()
        for chunk in _object_chunks(index):
            digest.update(chunk)
            handle.write(chunk)
        handle.seek(0)
        handle.write(_read_header(digest.hexdigest(), at))


def _object_chunks(items: list[tuple[str, Any]], size: int = 500) -> Iterator[bytes]:
    """`json.dumps(dict(items))` (compact) in chunks of `size` items, each made by one C call:
    the index (10k revisions: ~1.5 MB) is never one string while the check's files are held."""
    yield b"{"
    comma = b""
    for start in range(0, len(items), size):
        yield comma + _COMPACT.encode(dict(items[start : start + size])).encode("ascii")[1:-1]
        comma = b","
    yield b"}"


# The read cache file's header line, padded with spaces (see ReadCache).
_READ_HEADER = 512


def _read_header(sha256: str, index: int) -> bytes:
    return _header("read", sha256, index=index)[:-1].ljust(_READ_HEADER - 1) + b"\n"


def _read_index(descriptor: int, size: int) -> dict[str, Any] | None:
    """The index of the read cache file open at `descriptor` (`size` bytes), or None for
    anything that is not an intact read cache written by this build of chainlint."""
    try:
        head = os.pread(descriptor, _READ_HEADER, 0)
        if len(head) != _READ_HEADER or not head.endswith(b"\n"):
            return None
        header = json.loads(head)
        if (
            not _own_header(header, "read")
            or type(header.get("index")) is not int
            or not _READ_HEADER <= header["index"] <= size
        ):
            return None
        body = os.pread(descriptor, size - header["index"], header["index"])
        if header.get("sha256") != hashlib.sha256(body).hexdigest():
            return None
        index = json.loads(body)
    except (OSError, ValueError, RecursionError):
        return None
    return index if type(index) is dict else None


ReadMany = Callable[[list[Path]], list[tuple["RevisionFile", str | None]]]


def refresh(
    paths: list[Path], keys: list[Stamp | None], cache: ReadCache, read: ReadMany
) -> dict[int, RevisionFile]:
    """Read again every file whose entry is missing or no longer valid, and record it; the
    files read, by index. Valid entries are not decoded."""
    missing = [
        i
        for i, (path, key) in enumerate(zip(paths, keys, strict=True))
        if not cache.valid(path, key)
    ]
    fresh: dict[int, RevisionFile] = {}
    for index, (file, text) in zip(missing, read([paths[i] for i in missing]), strict=True):
        fresh[index] = file
        if not file.unscanned:
            cache.put(paths[index], keys[index], file, text)
    return fresh


# How to do `work` over files, maybe split with a forked helper (chainlint.lint.spread_work):
# the files, the work on files[low:high], and what a valid result is.
Spread = Callable[[list[Path], Callable[[int, int], list[Any]], Callable[[Any], bool]], list[Any]]


def cached_files(
    paths: list[Path],
    keys: list[Stamp | None],
    cache: ReadCache,
    read: ReadMany,
    fresh: dict[int, RevisionFile],
    spread: Spread | None = None,
) -> list[RevisionFile]:
    """Every file: the ones just read, the others decoded from their entries (through `spread`
    when given); a row of an unexpected shape is read again."""
    todo = [i for i in range(len(paths)) if i not in fresh]
    chosen = [paths[i] for i in todo]

    def decode(low: int, high: int) -> list[RevisionFile | None]:
        return [cache.get(chosen[j], keys[todo[j]]) for j in range(low, high)]

    decoded = spread(chosen, decode, _decoded) if spread else decode(0, len(chosen))
    found: list[RevisionFile | None] = [fresh.get(i) for i in range(len(paths))]
    for index, file in zip(todo, decoded, strict=True):
        found[index] = file
        if file is None:  # decoded by a helper, its entry not forgotten here yet
            cache.forget(paths[index])
    broken = [i for i, file in enumerate(found) if file is None]
    for index, (file, text) in zip(broken, read([paths[i] for i in broken]), strict=True):
        found[index] = file
        if not file.unscanned:
            cache.put(paths[index], keys[index], file, text)
    return [file for file in found if file is not None]


def _decoded(item: Any) -> bool:
    from chainlint.read import RevisionFile

    return item is None or type(item) is RevisionFile


def read_with_cache(
    paths: list[Path], cache: ReadCache, read: ReadMany, spread: Spread | None = None
) -> list[RevisionFile]:
    """Each file from the cache when its entry is valid, else through `read`, which returns
    (file, its row's JSON text or None) pairs; the cache is saved after."""
    keys = [stamp(path) for path in paths]
    files = cached_files(paths, keys, cache, read, refresh(paths, keys, cache, read), spread)
    cache.save({str(p) for p in paths})
    cache.close()
    return files


# -- RevisionFile <-> plain JSON rows ----------------------------------------------------------
#
# Rows are lists in a fixed order (the field names are not repeated per file). Decoding checks
# each row's cell types in one set lookup, so a well-formed file of the wrong shape fails here,
# as a ValueError, and never later in a rule.

_ASSIGNMENTS = ("revision", "down_revision", "branch_labels", "depends_on")
# Each shape as the reader's own string object (one per shape, not one per decoded row).
_SHAPES: dict[str, AssignmentShape] = {
    "none": "none",
    "scalar": "scalar",
    "sequence": "sequence",
    "dynamic": "dynamic",
}
_NONE = type(None)
_IDENTIFIER_ROWS = frozenset(
    (value, int, int, str, str, via) for value in (str, _NONE) for via in (str, _NONE)
)
_ASSIGNMENT_ROW = (int, int, str, bool, list)
_HEADER_ROW = (str, str, int, int)
_PROBLEM_ROW = (str, int, int)
_FILE_ROWS = frozenset(
    (*assignments, list, problem, legacy, list, docstring, str, list, str, operations)
    for assignments in itertools.product((list, _NONE), repeat=4)
    for problem in (list, _NONE)
    for legacy in (str, _NONE)
    for docstring in (list, _NONE)
    for operations in (list, _NONE)
)


def encode_file(file: RevisionFile) -> list[Any]:
    """A file's cache row as plain JSON data: what `row_text` writes, parsed."""
    return json.loads(row_text(file))  # type: ignore[no-any-return]


def _check(row: Any, allowed: Any) -> Any:
    if type(row) is not list or tuple(map(type, row)) not in allowed:
        raise ValueError("unexpected cache row")
    return row


def decode_file(path: Path, row: Any) -> RevisionFile:
    """Raises ValueError (or TypeError, IndexError) for a row of the wrong shape."""
    from chainlint.ops import load_operations
    from chainlint.read import ReadProblem, RevisionFile, line_span

    _check(row, _FILE_ROWS)
    revision, down, labels, depends, header, problem, legacy, noqa, docstring = row[:9]
    encoding, used, message, operations = row[9:]
    return RevisionFile(
        path=path,
        revision=_assignment_in("revision", revision),
        down_revision=_assignment_in("down_revision", down),
        branch_labels=_assignment_in("branch_labels", labels),
        depends_on=_assignment_in("depends_on", depends),
        header=tuple([_header_in(field) for field in header]),
        problem=ReadProblem(*_check(problem, (_PROBLEM_ROW,))) if problem is not None else None,
        legacy_revision=legacy,
        noqa=tuple([_noqa_in(item) for item in noqa]),
        docstring_lines=(
            line_span(docstring[0], docstring[1])
            if docstring is not None and _ints(docstring, 2)
            else None
        ),
        encoding=_intern(encoding),
        used_modules=tuple(Path(p) for p in used if type(p) is str or _bad()),
        message=message,
        operations=load_operations(operations) if operations is not None else None,
    )


def _assignment_in(name: str, row: Any) -> Assignment | None:
    if row is None:
        return None
    read = _reader()
    line, column, written, annotated, items = _check(row, (_ASSIGNMENT_ROW,))
    shape = _SHAPES.get(written)
    # A scalar or dynamic value is one item (RevisionFile.revision_id reads items[0]).
    if (
        shape is None
        or (shape in ("scalar", "dynamic") and len(items) != 1)
        or (shape == "none" and items)
    ):
        raise ValueError("unexpected assignment shape")
    if shape == "none":
        shared: Assignment = read.none_assignment(name, line, column, annotated)
        return shared
    items = tuple([_identifier_in(item) for item in items])
    assignment: Assignment = read.Assignment(name, line, column, shape, items, annotated)
    return assignment


# Equal strings as one object, as the reader shares them (json.loads makes one per occurrence).
_intern = sys.intern


def _identifier_in(item: Any) -> Identifier:
    value, line, column, source, kind, via = _check(item, _IDENTIFIER_ROWS)
    shared = _intern(value) if value is not None else None
    via = _intern(via) if via else via
    identifier: Identifier = _reader().Identifier(shared, line, column, source, _intern(kind), via)
    return identifier


def _header_in(item: Any) -> HeaderField:
    label, value, line, column = _check(item, (_HEADER_ROW,))
    field: HeaderField = _reader().HeaderField(_intern(label), _intern(value), line, column)
    return field


@functools.cache
def _reader() -> Any:
    """chainlint.read, imported once a row is decoded (a warm run never needs it), not by an
    import statement in each decoding function (~40k of them at 10k revisions)."""
    import chainlint.read

    return chainlint.read


def _noqa_in(item: Any) -> tuple[int, frozenset[str] | None]:
    line, codes = item
    if type(line) is not int:
        raise ValueError("unexpected noqa line")
    if codes is None:
        return line, None
    if type(codes) is not list or not all(type(code) is str for code in codes):
        raise ValueError("unexpected noqa codes")
    return line, frozenset(codes)


def _ints(row: list[Any], count: int) -> bool:
    if len(row) != count or not all(type(value) is int for value in row):
        raise ValueError("unexpected cache row")
    return True


def _bad() -> bool:
    raise ValueError("unexpected cache row")


# -- whole-environment results -----------------------------------------------------------------
#
# When no file of an environment (nor any project module its constants came from) changed, and
# neither did the settings, the findings cannot have changed either: `check` reuses them without
# reading a single migration or building the graph.

Summary = tuple[int, tuple[str, ...], tuple[str, ...]]

_FINDING_ROWS = frozenset(
    (str, str, str, str, str, int, int, revision, fix, environment)
    for revision in (str, _NONE)
    for fix in (list, _NONE)
    for environment in (str, _NONE)
)


# More files than this with a new stat key (a checkout of another branch): the read results
# are loaded instead of reading every such file before knowing whether any changed.
_TOUCHED_LIMIT = 200

# Each file's stat key and row digest (`ResultCache.load_touched`).
Table = tuple[list[Stamp], list[str]]
ReadDigests = Callable[[list[int]], list[str | None]]


def _mtime_ns(path: Path | str) -> int | None:
    key = stamp(path)
    return key[1] if key is not None else None


def _heads_timed_as_they_were(document: Any) -> bool:
    """Whether each head file CL010 ordered by mtime (heads of one group with the same
    `Create Date:`) has the mtime it had when the findings were made: no row holds it, so
    findings reused because every file reads as it did must not outlive a change of it."""
    try:
        pairs = document["head_times"]
        return type(pairs) is list and all(
            type(path) is str and _mtime_ns(path) == mtime for path, mtime in pairs
        )
    except (KeyError, TypeError, ValueError):
        return False


class ResultCache:
    """The environment's findings, under two keys: the stat key of every file (`key`: a warm
    run reads this file alone) and the content key (`content`: see `content_digest`), which
    still matches when files were touched but read the same. Beside it, the files table: each
    file's stat key and row digest for that content."""

    def __init__(self, folder: Path | None, environment_root: Path, files: int = 0) -> None:
        self.folder = folder
        self.name = _name("result", environment_root)
        self.table_name = _name("files", environment_root)
        self.path = folder / self.name if folder is not None else None
        self.limit = _MAX_BYTES + _MAX_BYTES_PER_FILE * files
        self._document: Any = None
        self._loaded = False

    def _read(self) -> Any:
        if not self._loaded:
            self._loaded = True
            with opened(self.folder, create=False) as folder:
                if folder is not None:
                    self._document = _decode("result", folder.read(self.name, self.limit))
        return self._document

    def load(self, key: str) -> tuple[Summary, list[Finding]] | None:
        """The findings, when every file and imported module has the stat key they had."""
        document = self._read()
        try:
            if type(document) is not dict or document["key"] != key:
                return None
            for module, module_key in document["modules"]:
                _seen(module)
                if stamp(module) != module_key:
                    return None
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError):
            return None
        return self._findings(document)

    def load_touched(
        self,
        key: str,
        material: str,
        paths: Sequence[str],
        keys: list[Stamp | None],
        read: ReadDigests,
    ) -> tuple[Summary, list[Finding]] | None:
        """The findings, when the files whose stat key changed (at most `_TOUCHED_LIMIT`) read
        as they did: `read` gives the row digests of the files at these indices (None for a
        file that could not be read). The other files' digests come from the files table, which
        must be the one of these findings (same content key) for these very paths, and no
        module may have changed. Rekeyed for the next run when they do."""
        document = self._read()
        try:
            content = document["content"]
            if type(content) is not str:
                return None
            for module, module_key in document["modules"]:
                _seen(module)
                if stamp(module) != module_key:
                    return None
            with opened(self.folder, create=False) as folder:
                data = folder.read(self.table_name, self.limit) if folder is not None else None
            table = _decode("files", data)
            if type(table) is not dict or table["content"] != content:
                return None
            stamps, digests = table["stamps"], table["digests"]
            if (
                table["paths"] != list(paths)
                or type(stamps) is not list
                or len(stamps) != len(paths)
                or type(digests) is not list
                or len(digests) != len(paths)
                or not all(type(d) is str for d in digests)
                or content_digest(material, paths, digests) != content
            ):
                return None
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError):
            return None
        pairs = enumerate(zip(stamps, keys, strict=True))
        changed = [i for i, (old, new) in pairs if new is None or old != new]
        if not changed or len(changed) > _TOUCHED_LIMIT:
            return None
        fresh = read(changed)
        if any(d is None or d != digests[i] for i, d in zip(changed, fresh, strict=True)):
            return None
        if not _heads_timed_as_they_were(document):
            return None
        found = self._findings(document)
        if found is None:
            return None
        for index in changed:
            stamps[index] = keys[index]
        self._write({**document, "key": key})
        self.write_table(content, paths, (stamps, digests))
        return found

    def load_content(self, content: str | None) -> tuple[Summary, list[Finding]] | None:
        """The findings, when every file reads as it did (the modules' constants are part of
        each file's row)."""
        document = self._read()
        if content is None or type(document) is not dict or document.get("content") != content:
            return None
        if not _heads_timed_as_they_were(document):
            return None
        return self._findings(document)

    @staticmethod
    def _findings(document: Any) -> tuple[Summary, list[Finding]] | None:
        try:
            count, heads, bases = _check(document["summary"], ((int, list, list),))
            if not all(type(h) is str for h in [*heads, *bases]):
                return None
            findings = [_finding_in(row) for row in document["findings"]]
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError):
            return None
        return (count, tuple(heads), tuple(bases)), findings

    def rekey(self, key: str, paths: Sequence[Path | str] = (), table: Table | None = None) -> None:
        """After a content hit: the same findings, under the files' new stat key (and the
        files table, with the files' current stat keys)."""
        document = self._read()
        modules = [[module, stamp(module)] for module, _ in document["modules"]]
        self._write({**document, "key": key, "modules": modules})
        if table is not None:
            self.write_table(document["content"], paths, table)

    def save(
        self,
        key: str,
        summary: Summary,
        findings: list[Finding],
        modules: set[Path],
        content: str | None = None,
        head_files: Sequence[Path] = (),
    ) -> None:
        """Write the findings (`content`: the key the files table was written for)."""
        self._write(
            {
                "key": key,
                "content": content,
                "modules": [[str(m), stamp(m)] for m in sorted(modules)],
                "head_times": [[str(p), _mtime_ns(p)] for p in head_files],
                "summary": [summary[0], list(summary[1]), list(summary[2])],
                "findings": [_finding_out(f) for f in findings],
            }
        )

    def _write(self, document: Any) -> None:
        with opened(self.folder, create=True) as folder:
            if folder is not None:
                folder.write(self.name, *_encode("result", document))

    def write_table(self, content: str, paths: Sequence[Path | str], table: Table) -> None:
        """The files table: each file's stat key and row digest, for this content key."""
        stamps, digests = table
        document = {
            "content": content,
            "paths": list(map(str, paths)),
            "stamps": stamps,
            "digests": digests,
        }
        with opened(self.folder, create=True) as folder:
            if folder is not None:
                folder.write(self.table_name, *_encode("files", document))


def environment_material(environment: Any, settings: Any) -> str:
    """What a check's findings depend on besides the files: chainlint's version, the
    environment's configuration and the settings."""
    material = [
        __version__,
        str(environment.root),
        environment.source,
        [str(p) for p in environment.version_locations],
        environment.recursive,
        environment.file_template,
        # Every setting but the cache switch itself (dataclasses: new settings join the key).
        [getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name != "cache"],
    ]
    return json.dumps(material)


def environment_key(
    environment: Any,
    settings: Any,
    paths: Sequence[Path | str],
    keys: list[Stamp | None] | None = None,
) -> str:
    """The material, and every file's path and stat key (`keys`, when already taken)."""
    digest = hashlib.sha256(environment_material(environment, settings).encode("utf-8"))
    # The paths apart by NUL (no path holds one), then the stat keys as one JSON list: two C
    # calls for 10,000 files instead of a line formatted per file.
    digest.update(b"\0\0" + "\0".join(map(str, paths)).encode("utf-8", "surrogatepass"))
    stamps = keys if keys is not None else [stamp(path) for path in paths]
    digest.update(b"\0\0" + _COMPACT.encode(stamps).encode("ascii"))
    return digest.hexdigest()


def _finding_out(finding: Finding) -> list[Any]:
    return [
        finding.code,
        finding.name,
        finding.severity,
        finding.message,
        str(finding.path),
        finding.line,
        finding.column,
        finding.revision,
        [finding.fix.description, finding.fix.applicable] if finding.fix else None,
        str(finding.environment) if finding.environment else None,
    ]


def _finding_in(row: Any) -> Finding:
    code, name, severity, message, path, line, column, revision, fix, environment = _check(
        row, _FINDING_ROWS
    )
    if severity not in ("error", "warning"):
        raise ValueError("unexpected severity")
    if fix is not None:
        description, applicable = _check(fix, ((str, bool),))
        # The edits are not kept: `check` only reports a fix; `fix` recomputes it.
        fix = Fix(description, applicable)
    return Finding(
        code,
        name,
        severity,
        message,
        Path(path),
        line,
        column,
        revision,
        fix,
        Path(environment) if environment else None,
    )
