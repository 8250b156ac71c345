"""Files that appear complete or not at all: text written beside its path and renamed over it,
directories swapped in by renames, and an early check that an output path can be written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from passk.errors import OutputError


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write text beside path, flush it to disk, then rename it over path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise OutputError(f"{path}: cannot write: {e.strerror}") from None
    try:
        set_default_mode(fd)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: {e.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_default_mode(fd: int) -> None:
    """Give a file made by mkstemp (mode 0600) the mode an ordinary new file gets (umask)."""
    mask = os.umask(0)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)


def check_writable(path: str | os.PathLike[str]) -> None:
    """Fail early, before any work, when path's folder cannot take a new file."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a directory")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise OutputError(f"{path}: cannot write: {blocker} is not a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as e:
        raise OutputError(f"{path}: cannot write: {e.strerror}") from None


def replace_directory(new: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Put the complete directory `new` at `dest`, replacing what was there, by renames.

    The old `dest` is renamed to `dest.old` first and removed last, so that at every moment
    one complete copy is at `dest` or `dest.old` (`complete_directory` finds it after a
    crash). `new` must be on the same filesystem, e.g. a temporary folder beside `dest`.
    """
    new, dest = Path(new), Path(dest)
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.rename(dest, old)
    os.rename(new, dest)
    shutil.rmtree(old, ignore_errors=True)


def complete_directory(
    dest: str | os.PathLike[str], is_complete: Callable[[Path], bool] | None = None
) -> Path | None:
    """`dest`, or the `dest.old` a crash in `replace_directory` left, whichever exists first
    (and passes `is_complete(path)` when given)."""
    dest = Path(dest)
    for path in (dest, dest.with_name(dest.name + ".old")):
        if path.is_dir() and (is_complete is None or is_complete(path)):
            return path
    return None
