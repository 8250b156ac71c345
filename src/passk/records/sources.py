"""Python source files on disk: finding them under a folder, and reading one as text.

The corpus builder, the doctests benchmark and problem mining read code the same way: `.py`
files under a root in sorted order (version-control and cache folders skipped), each read as
UTF-8 if it is at most 1 MB (the paper's size limit), else dropped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable

MAX_FILE_BYTES = 1_000_000
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn"})


def find_python_files(
    root: str | os.PathLike[str], *, skip_top: Callable[[str], bool] | None = None
) -> list[str]:
    """Paths (relative to root) of the .py files under it, sorted; `skip_top` may leave out
    folders directly under root."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        top = dirpath == str(root)
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIPPED_DIRS and not (top and skip_top and skip_top(d))
        )
        relative = os.path.relpath(dirpath, root)
        found += [
            os.path.normpath(os.path.join(relative, name))
            for name in filenames
            if name.endswith(".py")
        ]
    return sorted(found)


def read_source(path: str | os.PathLike[str]) -> tuple[str | None, str | None]:
    """Read a file as UTF-8 text: (text, None), or (None, reason) when it must be dropped."""
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            return None, "too_large"
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None, "unreadable"
    if len(raw) > MAX_FILE_BYTES:  # grew since the stat
        return None, "too_large"
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "non_utf8"
