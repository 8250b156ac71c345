"""Reading a training corpus built by `passk corpus build`: its manifest and its records.

A corpus is a folder of gzipped JSONL shards (`train-00000.jsonl.gz`, `valid-00000.jsonl.gz`),
one record a file (`text`, `path`, `source`, `package`, `license`, `sha256`), and
`manifest.json`, which lists the shards of each split and how the corpus was made
(`passk.training.corpus` writes it; the tokenizer, the doctests benchmark and mining read it).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from passk.errors import InputError

MANIFEST = "manifest.json"
SPLITS = ("train", "valid")


def is_corpus(path: str | os.PathLike[str]) -> bool:
    """Whether path is a corpus folder (it has a manifest)."""
    return Path(path).is_dir() and (Path(path) / MANIFEST).is_file()


def read_manifest(corpus_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a corpus built by `build_corpus`."""
    path = Path(corpus_dir) / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{corpus_dir}: not a corpus (no {MANIFEST}); run `passk corpus build`"
        ) from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read the manifest: {e}") from None
    return manifest


def iter_records(
    corpus_dir: str | os.PathLike[str], split: str = "train"
) -> Iterator[dict[str, Any]]:
    """Each file's record (text, path, source, package, license, sha256) in one split."""
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    manifest = read_manifest(corpus_dir)
    for name in manifest["splits"][split]["shards"]:
        path = Path(corpus_dir) / name
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    yield json.loads(line)
        except (OSError, EOFError, ValueError) as e:
            raise InputError(f"{path}: unreadable corpus shard: {e}") from None


def iter_documents(corpus_dir: str | os.PathLike[str], split: str = "train") -> Iterator[str]:
    """The text of each file in one split ("train" or "valid") of a corpus, in shard order."""
    for record in iter_records(corpus_dir, split):
        yield record["text"]
