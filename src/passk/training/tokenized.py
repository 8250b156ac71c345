"""Tokenize a corpus into flat arrays of token ids, one per split, for training.

Chen et al. (2021), section 3.1 trains on files concatenated into one token stream. As in
GPT-2/nanoGPT, each split becomes one flat binary array (`train.bin`, `valid.bin`) that a
training loop memory-maps (`numpy.memmap(path, dtype)`), with the EOS id after every document
so that decoding and splitting on EOS gives back the corpus texts. `stats.json` says the dtype,
the token and document counts, and which tokenizer and corpus made the arrays.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from passk.errors import InputError, OutputError
from passk.records.files import set_default_mode, write_text_atomic
from passk.training.tokenizer import (
    EOS,
    chunked,
    corpus_identity,
    load_tokenizer,
    read_texts,
    read_tokenizer_info,
    require_split,
)

SPLITS = ("train", "valid")
STATS_FILE = "stats.json"
_BATCH = 1024  # documents per encode_batch: enough to keep the Rust thread pool busy


def tokenize_corpus(corpus_dir: str | Path, tokenizer_dir: str | Path, out: str | Path) -> dict:
    """Write `<split>.bin` token arrays and `stats.json` to `out`; return the stats."""
    corpus_dir, tokenizer_dir, out = Path(corpus_dir), Path(tokenizer_dir), Path(out)
    require_split(corpus_dir, "train")
    tok, info = load_tokenizer(tokenizer_dir), read_tokenizer_info(tokenizer_dir)
    eos = tok.token_to_id(EOS)
    if eos is None:
        raise InputError(f"{tokenizer_dir}: tokenizer has no {EOS} token")
    vocab_size = tok.get_vocab_size()
    dtype = "uint16" if vocab_size <= 2**16 else "uint32"
    stats: dict[str, Any] = {
        "dtype": dtype,
        "vocab_size": vocab_size,
        "eos_id": eos,
        "splits": {},
        "tokenizer": {"path": str(tokenizer_dir.resolve()), "info": info},
        "corpus": corpus_identity(corpus_dir),
    }
    for split in SPLITS:
        if split == "train" or any(corpus_dir.glob(f"{split}-*.jsonl.gz")):
            stats["splits"][split] = _write_split(tok, corpus_dir, split, out, dtype, eos)
    write_text_atomic(out / STATS_FILE, json.dumps(stats, indent=2) + "\n")
    return stats


def _write_split(
    tok: Any, corpus_dir: Path, split: str, out: Path, dtype: str, eos: int
) -> dict[str, Any]:
    # Written under a temporary name and renamed at the end: a killed run leaves no half array.
    import numpy as np

    path = out / f"{split}.bin"
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=out)
        set_default_mode(fd)
    except OSError as e:
        raise OutputError(f"{path}: cannot write: {e.strerror}") from None
    tokens = documents = 0
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunked(read_texts(corpus_dir, split), _BATCH):
                encodings = tok.encode_batch(chunk, add_special_tokens=False)
                ids = [i for e in encodings for i in (*e.ids, eos)]
                np.asarray(ids, dtype=dtype).tofile(f)
                tokens, documents = tokens + len(ids), documents + len(chunk)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"file": path.name, "tokens": tokens, "documents": documents}


def read_stats(data: str | Path) -> dict[str, Any]:
    """The stats.json of a tokenized data directory (one clear error when it has none)."""
    path = Path(data) / STATS_FILE
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{data}: no {STATS_FILE}; make the data with passk corpus tokenize"
        ) from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    if not isinstance(stats, dict):
        raise InputError(f"{path}: expected a JSON object")
    return stats


def tokenizer_of(data: str | Path) -> str:
    """The tokenizer directory that made the data, as its stats.json names it."""
    path = (read_stats(data).get("tokenizer") or {}).get("path")
    if not path:
        raise InputError(f"{Path(data) / STATS_FILE} names no tokenizer: pass --tokenizer")
    return str(path)
