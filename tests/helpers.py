"""Test helpers: write tiny migration folders and run chainlint on them in-process."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from chainlint.cli import main
from chainlint.config import Settings
from chainlint.discover import DEFAULT_FILE_TEMPLATE, Environment
from chainlint.findings import Finding
from chainlint.graph import RevisionGraph
from chainlint.lint import check_graph, read_environment

_ALEMBIC_LOADS = re.compile(r"(?!\.\#|__init__)(.*\.py)$")


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`chainlint ARGS` in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    assert isinstance(exited.value.code, int)
    return exited.value.code, captured.out, captured.err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (relative POSIX path -> bytes), to compare before and after."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity and no user configuration; its stdout."""
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "HOME": str(repo),
        },
    )
    return done.stdout


def versions_environment(versions: Path) -> Environment:
    """A bare versions folder, walked as Alembic walks a recursive version location."""
    files: list[Path] = []
    for folder, dirs, names in sorted(_walk(versions)):
        del dirs
        files += [folder / n for n in sorted(names) if _ALEMBIC_LOADS.match(n)]
    return Environment(
        root=versions,
        source="versions-folder",
        config_path=None,
        version_locations=(versions,),
        recursive=True,
        file_template=DEFAULT_FILE_TEMPLATE,
        files=tuple(files),
    )


def _walk(root: Path) -> list[tuple[Path, list[str], list[str]]]:
    out = []
    for folder, dirs, names in root.walk() if hasattr(root, "walk") else _os_walk(root):
        if folder.name.endswith("__pycache__"):
            continue
        out.append((folder, dirs, names))
    return out


def _os_walk(root: Path):  # type: ignore[no-untyped-def]
    import os

    for folder, dirs, names in os.walk(root):
        yield Path(folder), dirs, names


def graph_of(versions: Path) -> RevisionGraph:
    env = versions_environment(versions)
    return RevisionGraph(env, read_environment(env))


def findings_of(
    versions: Path, settings: Settings | None = None, base: Mapping[str, str] | None = None
) -> list[Finding]:
    """Findings for a versions folder; `base` is the folder as it is on `main` (for CL2xx)."""
    graph = graph_of(versions)
    snapshot = None
    if base is not None:
        from chainlint.git import BaseSnapshot
        from chainlint.read import parse_revision_source

        contents = {versions / name: source.encode() for name, source in base.items()}
        files = [parse_revision_source(path, data) for path, data in sorted(contents.items())]
        snapshot = BaseSnapshot("main", RevisionGraph(graph.environment, files), contents)
    return check_graph(graph, settings or Settings(select=("ALL",)), snapshot)


def chain_with_defects(root: Path, count: int) -> Path:
    """A linear chain of `count` revisions with a mistyped `down_revision` (r05) and a file
    that does not parse: findings to compare across ways of checking."""
    from chainlint.rules.base import migration

    files = {
        f"r{i:02}.py": migration(f"r{i:02}", f"r{i - 1:02}" if i else None) for i in range(count)
    }
    files["r05.py"] = migration("r05", "r04_typo", revises_header="stale")
    files["zz_bad.py"] = "def (:\n"
    return write_tree(root, files)


# The read cache file as these tests read and write it themselves (chainlint.cache.ReadCache): a
# header line padded with spaces to 512 bytes, the rows one after another, then the index
# `{path: [stat key, modules, offset, length, row digest]}`, whose SHA-256 the header holds.
READ_HEADER = 512


def read_cache_file(path: Path) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The header and the entries of a read cache file, each `[stat key, modules, row text,
    row digest]` (the row read from where its index item says)."""
    data = path.read_bytes()
    assert data[READ_HEADER - 1 : READ_HEADER] == b"\n"
    header = json.loads(data[:READ_HEADER])
    body = data[header["index"] :]
    assert header["sha256"] == hashlib.sha256(body).hexdigest()
    entries = {}
    for name, (key, modules, offset, length, digest) in json.loads(body).items():
        entries[name] = [key, modules, data[offset : offset + length].decode("ascii"), digest]
    return header, entries


def write_read_cache_file(path: Path, header: dict[str, Any], entries: dict[str, Any]) -> None:
    """Write `entries` (as `read_cache_file` gives them, or changed) as a read cache file with a
    correct index checksum: what only the entries' content can reveal as wrong. An entry whose
    third cell is a text has it written as its row; any other is written as its index item."""
    rows, index = b"", {}
    for name, entry in entries.items():
        if type(entry) is list and len(entry) >= 3 and type(entry[2]) is str:
            data = entry[2].encode("ascii")
            where = [READ_HEADER + len(rows), len(data)]
            index[name] = [*entry[:2], *where, *entry[3:]]
            rows += data
        else:
            index[name] = entry
    body = json.dumps(index).encode("ascii")
    meta = {**header, "sha256": hashlib.sha256(body).hexdigest(), "index": READ_HEADER + len(rows)}
    line = json.dumps(meta).encode("ascii").ljust(READ_HEADER - 1) + b"\n"
    path.write_bytes(line + rows + body)
