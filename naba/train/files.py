"""Atomic writes for the run directory: a killed run never leaves a half-written file or folder.

Files go through naba.corpus.fileio's :func:`atomic_write` (as every file naba writes); folders
are built beside their place and moved in here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from naba.corpus.fileio import atomic_write, current_umask, write_error
from naba.errors import DataError

# ".best.old" (publish_dir) or ".best.old-1a2b3c4d" (naba.model.save_checkpoint)
_OLD = re.compile(r"^\.(.+)\.old(?:-[0-9a-f]+)?$")


def write_json_atomic(path: Path, data: Any) -> None:
    """``data`` as indented JSON, written through :func:`naba.corpus.fileio.atomic_write`."""
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def save_error(path: Path, exc: BaseException) -> DataError | None:
    """The DataError naming ``path`` (:func:`naba.corpus.fileio.write_error`) when ``exc`` is a failed
    write, or None. safetensors and tokenizers (Rust) raise their own types for a full disk or a
    read-only folder, naming the OS error only in the message: "... (os error 28)"."""
    if not isinstance(exc, OSError):
        found = re.search(r"\(os error (\d+)\)", str(exc)) if isinstance(exc, Exception) else None
        if found is None:
            return None
        exc = OSError(int(found.group(1)), os.strerror(int(found.group(1))))
    return write_error(path, exc)


def temp_dir_for(path: Path) -> Path:
    """A fresh folder next to ``path`` to build it in before :func:`publish_dir`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))


def publish_dir(tmp: Path, path: Path) -> None:
    """Move the finished folder ``tmp`` to ``path``, replacing an older ``path``.

    os.replace cannot replace a non-empty folder, so the old one is first renamed aside; at every
    moment either the old or the new folder is complete under some name.
    """
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700
    old = None
    if os.path.lexists(path):  # a dangling link too: a folder cannot be renamed over it
        old = path.with_name(f".{path.name}.old")
        if os.path.lexists(old):
            _remove(old)
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        _remove(old)


def _remove(entry: Path) -> None:
    """Delete a folder, a file or a link; a link's target is left alone (it need not be the run's)."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def remove_temp_dirs(folder: Path) -> None:
    """Clear (or, for a lone ``.NAME.old``, restore) what a run killed while writing left behind."""
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        old = _OLD.match(entry.name)
        if old and not os.path.lexists(folder / old.group(1)):
            # killed between the two renames of a replace: the old folder is the good one
            os.replace(entry, folder / old.group(1))
        elif old or (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            _remove(entry)


def git_description(start: Path) -> str:
    """The commit of the repository holding ``start`` (with "dirty" if it has changes), or "unknown"."""
    try:
        head = subprocess.run(
            ["git", "-C", str(start), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return "unknown"
        status = subprocess.run(
            ["git", "-C", str(start), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + (" dirty" if status.stdout.strip() else "")
