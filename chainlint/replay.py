"""Replay: a `chainlint check` identical to an earlier one is answered from a record of that
run, before click or the pipeline is imported.

A `check` run that used the cache leaves, in the cache folder (`$CHAINLINT_CACHE_DIR`, else
`.chainlint_cache/` in the working directory, when that is the cache folder the run used), a
file `replay-<key>`: the run's exact stdout and stderr bytes, its exit code, and the stamp
(size, mtime, ctime, inode: the cache's stat key) of every input the run depended on: each file
it read, each path it probed, each folder it listed (adding, removing or renaming an entry
changes a folder's stamp), and chainlint's own source files. The key is everything else the
output depends on: chainlint's version, the Python interpreter, the working directory, the
arguments, the environment variables (but a few volatile ones) and the output encodings. A run
with the same key whose inputs all have their recorded stamps prints the recorded bytes.

Only what is known to be replayable is recorded or replayed: `check` with the plain (not rich)
output on standard output, the cache on, no `--base` (git state), no `--output-file`, neither
stream a terminal; a run that failed (exit 2, an internal error) is not recorded. Stamps are
taken before their input is used, and a run none of whose inputs changed since shortly before
it started (`_WINDOW_NS`: file-system clocks are coarse, git's "racy clean" problem) is the only
one recorded. A record that is truncated, foreign, of another version or another key is a miss;
so is one copied from elsewhere (inodes and ctimes cannot be carried).

This module imports only what the fast path needs; the recording side (`Recorder`) is fed by
small hooks where the pipeline reads, lists or probes (`seen`, `file_stamps`).
"""

from __future__ import annotations

import os
import stat
import sys

# Not typing's TYPE_CHECKING: importing typing would cost the fast path more than it does.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from io import TextIOWrapper
    from typing import Any, BinaryIO

SCHEMA = 1
_PREFIX = "replay-"
# Records kept in a cache folder (the pre-commit hook passes the staged files: argv varies).
KEEP = 8
# An input whose ctime is this close to the start of the run (or later) makes the run unrecorded.
_WINDOW_NS = 2_000_000_000
# Environment variables that change from one shell command to the next without meaning anything.
_VOLATILE = frozenset({"_", "OLDPWD", "PWD", "SHLVL"})
_FLAGS = frozenset({"--quiet", "-q", "--verbose", "-v", "--exit-zero", "--no-color"})
_OPTIONS = frozenset(
    {
        "--format",
        "--select",
        "--ignore",
        "--extend-select",
        "--max-revision-length",
        "--max-file-size",
        "--config",
    }
)
_MAX_BYTES = 64 * 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

# A stamp: (size, mtime_ns, ctime_ns, inode); an absent path and a dangling symlink have their own.
Stamp = tuple[int, int, int, int]
_ABSENT: Stamp = (-1, -1, -1, -1)


def input_stamp(path: str) -> Stamp:
    """The stamp of what `path` names, following symlinks; a symlink to nothing (or a loop) is
    stamped as itself with size -2; a path that cannot be stat-ed at all is `_ABSENT`."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        try:
            status = os.lstat(path)
        except (OSError, ValueError):
            return _ABSENT
        return (-2, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)
    return (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)


def kind_stamp(path: str) -> Stamp:
    """Only what kind of thing `path` is, not following a symlink (-1: nothing): for a path
    whose contents do not matter, such as a cache folder (the run writes into it)."""
    try:
        return (-3, stat.S_IFMT(os.lstat(path).st_mode), 0, 0)
    except (OSError, ValueError):
        return (-3, -1, 0, 0)


# -- the fast path -----------------------------------------------------------------------------


def replayable_args(args: Sequence[str]) -> bool:
    """Whether these arguments are a `check` whose output can be replayed (a whitelist: any
    other command, option or spelling is run in full)."""
    rest = list(args[1:] if args and args[0] == "check" else args)
    if rest and rest[0] in ("fix", "graph", "schema", "db", "rule"):
        return False
    index = 0
    while index < len(rest):
        arg = rest[index]
        index += 1
        if not arg.startswith("-"):
            continue  # a path
        name, equals, _ = arg.partition("=")
        if name in _OPTIONS:
            if not equals:
                index += 1  # the option's value
            continue
        if arg not in _FLAGS:
            return False
    return True


def _streams_replayable() -> bool:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is None or stream.isatty() or not hasattr(stream, "buffer"):
                return False
        except (ValueError, OSError):
            return False
    return True


def folder_path() -> str:
    """Where the records live: `$CHAINLINT_CACHE_DIR`, else `.chainlint_cache` here."""
    override = os.environ.get("CHAINLINT_CACHE_DIR")
    return os.path.abspath(override) if override else os.path.join(os.getcwd(), ".chainlint_cache")


def key_material(args: Sequence[str]) -> bytes:
    """Everything but the inputs that the output of `chainlint ARGS` depends on. NUL never
    occurs in an argument, a variable or a path, so joining with it is unambiguous."""
    from chainlint import __version__

    environment = sorted(f"{k}={v}" for k, v in os.environ.items() if k not in _VOLATILE)
    parts = [
        str(SCHEMA),
        __version__,
        sys.version,
        sys.executable,
        os.getcwd(),
        str(getattr(sys.stdout, "encoding", "")),
        str(getattr(sys.stderr, "encoding", "")),
        str(len(args)),
        *args,
        *environment,
    ]
    return "\0".join(parts).encode("utf-8", "surrogateescape")


def _sha256(data: bytes) -> str:
    # CPython's own SHA-256: hashlib's import (OpenSSL) costs more than the whole lookup.
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]
        except ImportError:  # pragma: no cover - a Python without the builtin modules
            from hashlib import sha256
    return str(sha256(data).hexdigest())


def record_name(digest: str) -> str:
    return f"{_PREFIX}{digest[:24]}.json"


def _read_record(folder: str, name: str) -> bytes | None:
    """The record's bytes: a regular file (never through a symlink) in a real folder."""
    try:
        status = os.lstat(folder)
        if not stat.S_ISDIR(status.st_mode):
            return None
        directory = os.open(folder, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    except (OSError, ValueError):
        return None
    try:
        descriptor = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    return read_descriptor(descriptor, _MAX_BYTES)


def read_descriptor(descriptor: int, limit: int) -> bytes | None:
    """The bytes of the open file `descriptor` (closed after) if it is a regular file (not a
    FIFO or a device) of at most `limit` bytes; None otherwise or on an error."""
    try:
        size = regular_size(descriptor, limit)
        if size is None:
            return None
        chunks = []
        remaining = size
        while remaining > 0:
            chunk = os.read(descriptor, remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(descriptor)


def regular_size(descriptor: int, limit: int) -> int | None:
    """The size of the open file `descriptor` if it is a regular file (not a FIFO or a device)
    of at most `limit` bytes, else None; OSError from fstat passes."""
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode) or status.st_size > limit:
        return None
    return status.st_size


class Record:
    """A decoded record: the output, and the inputs with their stamps (`head`: configuration,
    folders, probes and chainlint's own files; `files`: the migration files, in bulk)."""

    __slots__ = ("code", "file_stamps", "files", "head", "head_stamps", "stderr", "stdout")

    def __init__(
        self,
        code: int,
        stdout: bytes,
        stderr: bytes,
        head: list[str],
        head_stamps: list[int],
        files: list[str],
        file_stamps: list[int],
    ) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.head = head
        self.head_stamps = head_stamps
        self.files = files
        self.file_stamps = file_stamps


def encode_record(digest: str, record: Record) -> tuple[bytes, ...]:
    """One header line (schema, version, kind, CRC-32 of the rest), then one JSON document, in
    parts written one after the other: at 10k files the document is ~1.5 MB, and made whole (as
    text, then as bytes, then after its header) it was the last peak of a cold check's memory.
    The bytes of the output as Latin-1 text (one character per byte), the paths as one string
    joined by NUL, the stamps as one flat list: json decodes each in one C call."""
    import json
    from zlib import crc32

    document = {
        "key": digest,
        "code": record.code,
        "stdout": record.stdout.decode("latin-1"),
        "stderr": record.stderr.decode("latin-1"),
        "head": "\0".join(record.head),
        "head_stamps": record.head_stamps,
        "files": "\0".join(record.files),
        "file_stamps": record.file_stamps,
    }
    # `json.dumps(document)` (compact), a member at a time. A path that is not UTF-8 is held
    # as lone surrogates, which JSON escapes and gives back.
    body = []
    checksum = 0
    for index, (name, value) in enumerate(document.items()):
        opening = "{" if index == 0 else ","
        part = f"{opening}{json.dumps(name)}:{json.dumps(value, separators=(',', ':'))}"
        data = part.encode("ascii")
        del part
        body.append(data)
        checksum = crc32(data, checksum)
    body.append(b"}")
    checksum = crc32(b"}", checksum)
    return (_header(checksum), *body)


def _header(checksum: int) -> bytes:
    from chainlint import __version__

    fields = f'"schema":{SCHEMA},"chainlint":"{__version__}","kind":"replay","crc32":{checksum}'
    return ("{" + fields + "}\n").encode("ascii")


def decode_record(data: bytes | None, digest: str) -> Record | None:
    """The record, or None for anything but an intact record of this version and key. The
    checksum is a CRC-32, not a digest: it catches a truncated or damaged file; a forged one
    could not match anyway (its stamps would need this machine's inodes and ctimes)."""
    if data is None:
        return None
    import json
    from zlib import crc32

    newline = data.find(b"\n", 0, 512)
    if newline < 0:
        return None
    try:
        header = json.loads(data[:newline])
        if type(header) is not dict or data[: newline + 1] != _header(header.get("crc32", -1)):
            return None
        body = memoryview(data)[newline + 1 :]
        if crc32(body) != header["crc32"]:
            return None
        document = json.loads(bytes(body))
        if type(document) is not dict or document.get("key") != digest:
            return None
        code, out, err = document["code"], document["stdout"], document["stderr"]
        head, head_stamps = document["head"], document["head_stamps"]
        files, file_stamps = document["files"], document["file_stamps"]
        if (
            type(code) is not int
            or not all(type(text) is str for text in (out, err, head, files))
            or type(head_stamps) is not list
            or type(file_stamps) is not list
        ):
            return None
        head_list = head.split("\0") if head else []
        file_list = files.split("\0") if files else []
        if len(head_stamps) != 4 * len(head_list) or len(file_stamps) != 4 * len(file_list):
            return None
        return Record(
            code,
            out.encode("latin-1"),
            err.encode("latin-1"),
            head_list,
            head_stamps,
            file_list,
            file_stamps,
        )
    except (ValueError, KeyError, TypeError, RecursionError, UnicodeError):
        return None


def _flat_stamps(paths: Iterable[str]) -> list[int]:
    flat: list[int] = []
    add = flat.extend
    status = os.stat
    for path in paths:
        try:
            found = status(path)
        except (OSError, ValueError):
            add(input_stamp(path))
            continue
        add((found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino))
    return flat


def _head_unchanged(record: Record) -> bool:
    stamps = record.head_stamps
    for index, path in enumerate(record.head):
        recorded = tuple(stamps[4 * index : 4 * index + 4])
        current = kind_stamp(path) if recorded[0] == -3 else input_stamp(path)
        if current != recorded:
            return False
    return True


def start(args: Sequence[str]) -> None:
    """For the `chainlint` command: replay an identical earlier run and exit, or else (when
    this run may be recorded) start recording it. Returns to run in full."""
    started = _clock()
    if (
        os.environ.get("CHAINLINT_NO_CACHE")
        or not replayable_args(args)
        or not _streams_replayable()
    ):
        return
    try:
        folder = folder_path()
        digest = _sha256(key_material(args))
    except (OSError, ValueError, UnicodeError):
        return
    name = record_name(digest)
    record = decode_record(_read_record(folder, name), digest)
    handed = None
    if record is not None and _head_unchanged(record):
        current = _flat_stamps(record.files)
        if current == record.file_stamps:
            _replay(record)
        # The stamps of the migration files, for the full run (it would take them again).
        handed = (record.files, current)
    global _RECORDER
    _RECORDER = Recorder(folder, name, digest, started, handed)


def _replay(record: Record) -> None:
    try:
        sys.stderr.flush()
        sys.stderr.buffer.write(record.stderr)
        sys.stderr.flush()
        sys.stdout.flush()
        sys.stdout.buffer.write(record.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # As the full run would end when its reader has gone (exit 1 below, like Python's).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(record.code)


def _clock() -> int:
    import time

    return time.time_ns()


# -- recording ---------------------------------------------------------------------------------


class _Tee:
    """A binary stream that writes to `target` and keeps a copy of what it wrote."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.copy = bytearray()

    def write(self, data: Any) -> int:
        self.copy += data
        self.target.write(data)
        return len(data)

    def flush(self) -> None:
        self.target.flush()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def closed(self) -> bool:
        return bool(self.target.closed)

    def close(self) -> None:
        self.flush()


def _capture(stream: Any) -> tuple[TextIOWrapper, _Tee]:
    import io

    tee = _Tee(stream.buffer)
    buffer: Any = tee
    wrapper = io.TextIOWrapper(
        buffer,
        encoding=stream.encoding,
        errors=stream.errors,
        newline="\n",
        line_buffering=stream.line_buffering,
        write_through=True,
    )
    return wrapper, tee


class Recorder:
    """What a full run depends on, gathered while it runs: each input's stamp, taken before
    the input is used (the first time it is seen)."""

    def __init__(
        self,
        folder: str,
        name: str,
        digest: str,
        started: int,
        handed: tuple[list[str], list[int]] | None = None,
        capture: bool = True,
    ) -> None:
        self.folder = folder
        self.name = name
        self.digest = digest
        self.started = started
        # The files and their flat stamps taken by the lookup that missed.
        self.handed = handed
        self.head: dict[str, Stamp] = {}
        # The migration files (the environments' files, in order) and their flat stamps.
        self.files: list[str] = []
        self.file_stamps_taken: list[int] = []
        self.refused = False
        self._tees: tuple[_Tee, _Tee] | None = None
        # The streams wrapped: closing one (when no longer referenced) closes its file.
        self._wrapped = (sys.stdout, sys.stderr)
        if capture:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout, out = _capture(sys.stdout)
            sys.stderr, err = _capture(sys.stderr)
            self._tees = (out, err)

    def see(self, path: str) -> None:
        if path not in self.head or self.head[path][0] == -3:
            self.head[path] = input_stamp(path)

    def see_kind(self, path: str) -> None:
        if path not in self.head:
            self.head[path] = kind_stamp(path)

    def file_stamps(
        self, paths: Sequence[str], stamp: Callable[[str], list[int] | None]
    ) -> list[list[int] | None]:
        handed = self.handed
        if handed is not None and len(handed[0]) == len(paths) and handed[0] == list(paths):
            # The usual miss (a file touched or edited): the lookup stat-ed exactly these.
            flat = handed[1]
            self.handed = None
        else:
            flat = []
            add = flat.extend
            files, taken = handed if handed is not None else ([], [])
            known = dict(zip(files, range(0, len(taken), 4), strict=True))
            for path in paths:
                at = known.get(path)
                if at is not None:
                    add(taken[at : at + 4])
                    continue
                key = stamp(path)
                add(key if key is not None else input_stamp(path))
        self.files += paths
        self.file_stamps_taken += flat
        # The cache's stat keys: None for a file that cannot be stat-ed (or a dangling symlink).
        return [flat[i : i + 4] if flat[i] >= 0 else None for i in range(0, len(flat), 4)]

    def output(self) -> tuple[bytes, bytes] | None:
        if self._tees is None:
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        out, err = self._tees
        return bytes(out.copy), bytes(err.copy)

    def record(self, code: int) -> Record | None:
        """The record of this run, or None when it may not be replayed (an input changed
        within the window before the run started, or a stamp does not fit)."""
        output = self.output()
        if self.refused or output is None:
            return None
        for path in _own_inputs():
            self.see(path)
        limit = self.started - _window()
        files = set(self.files)
        head = {p: s for p, s in self.head.items() if p not in files}
        # A configuration file or folder that changed while the run used it: already stale.
        for path, recorded in head.items():
            if (kind_stamp(path) if recorded[0] == -3 else input_stamp(path)) != recorded:
                return None
        head_stamps = [value for s in head.values() for value in s]
        # Racy: an input whose ctime is within the window (absent ones have -1, kinds 0).
        ctimes = [*head_stamps[2::4], *self.file_stamps_taken[2::4]]
        if ctimes and max(ctimes) >= limit:
            return None
        return Record(
            code, output[0], output[1], list(head), head_stamps, self.files, self.file_stamps_taken
        )


def _window() -> int:
    # Tests shorten the window to replay right after they change a file.
    configured = os.environ.get("CHAINLINT_REPLAY_WINDOW_MS", "")
    return int(configured) * 1_000_000 if configured.isdigit() else _WINDOW_NS


def _package_inputs() -> list[str]:
    """chainlint's own source files and folders."""
    package = os.path.dirname(os.path.abspath(__file__))
    found = [package]
    for current, folders, names in os.walk(package):
        folders[:] = sorted(f for f in folders if f != "__pycache__")
        found += [os.path.join(current, f) for f in folders]
        found += [os.path.join(current, n) for n in sorted(names) if n.endswith(".py")]
    return found


def _own_inputs() -> list[str]:
    """chainlint's own source files and folders, and the folders its dependencies were
    imported from (an upgrade adds and removes entries there)."""
    found = _package_inputs()
    standard = os.path.dirname(os.__file__)
    for module in list(sys.modules.values()):
        location = getattr(module, "__file__", None)
        if not isinstance(location, str) or location.startswith(standard):
            continue
        found.append(os.path.dirname(os.path.dirname(os.path.abspath(location))))
    return list(dict.fromkeys(found))


def package_stamp() -> str:
    """A digest of chainlint's own source files' stamps: a changed rule makes cached results
    stale even when the version string stays the same."""
    global _PACKAGE_STAMP
    if _PACKAGE_STAMP is None:
        text = "\0".join(f"{p}={input_stamp(p)}" for p in _package_inputs())
        _PACKAGE_STAMP = _sha256(text.encode("utf-8", "surrogateescape"))
    return _PACKAGE_STAMP


_PACKAGE_STAMP: str | None = None
_RECORDER: Recorder | None = None


# -- the hooks the pipeline calls --------------------------------------------------------------


def seen(path: Any) -> None:
    """The run reads, lists or probes `path` now (a str or a Path)."""
    if _RECORDER is not None:
        _RECORDER.see(os.path.abspath(path))


def kind_seen(path: Any) -> None:
    """The run looks only at what kind of thing `path` is (a folder, a symlink, nothing)."""
    if _RECORDER is not None:
        _RECORDER.see_kind(os.path.abspath(path))


def file_stamps(
    paths: Sequence[str], stamp: Callable[[str], list[int] | None]
) -> list[list[int] | None]:
    """The migration files' stat keys (the cache's), recorded as inputs when recording."""
    if _RECORDER is None:
        return [stamp(path) for path in paths]
    return _RECORDER.file_stamps(paths, stamp)


def refuse() -> None:
    """This run's output cannot be replayed (rich rendered it)."""
    if _RECORDER is not None:
        _RECORDER.refused = True


def finish(code: int, cache_folders: Iterable[Any]) -> None:
    """At the end of a replayable `check`: write its record when the record's folder is a
    real folder and one of the cache folders the run used; keep the `KEEP` newest records."""
    recorder = _RECORDER
    if recorder is None:
        return
    if recorder.folder not in {os.path.abspath(f) for f in cache_folders if f is not None}:
        return
    record = recorder.record(code)
    if record is None:
        return
    data = encode_record(recorder.digest, record)
    from pathlib import Path

    from chainlint.cache import opened

    with opened(Path(recorder.folder), create=False) as folder:
        if folder is None:
            return
        folder.write(recorder.name, *data)
    prune(recorder.folder, KEEP)


def prune(folder: str, keep: int) -> None:
    """Remove all but the `keep` most recently written records of `folder`."""
    try:
        directory = os.open(folder, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    except OSError:
        return
    try:
        records = []
        with os.scandir(directory) as listing:
            for entry in listing:
                if entry.name.startswith(_PREFIX) and entry.is_file(follow_symlinks=False):
                    records.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.name))
        for _, name in sorted(records, reverse=True)[keep:]:
            try:
                os.unlink(name, dir_fd=directory)
            except OSError:
                continue
    except OSError:
        return
    finally:
        os.close(directory)
