"""Exact and near-duplicate removal for the training corpus.

Chen et al. (2021) do not describe their deduplication; we follow the common practice for code
corpora (Allamanis 2019, "The adverse effects of code duplication"; CodeParrot; The Stack):
exact duplicates by a hash of whitespace-normalised content, then near duplicates by MinHash
LSH at Jaccard 0.85 over 5-token shingles. The first file in (source, path) order is kept.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

NUM_PERM = 128
JACCARD_THRESHOLD = 0.85
SHINGLE_TOKENS = 5
MINHASH_SEED = 1

_WORD_SPLIT = re.compile(r"\W+")


def normalized_hash(text: str) -> str:
    """SHA-256 of the text with trailing whitespace stripped and blank lines dropped.

    >>> normalized_hash("x = 1  \\n\\n") == normalized_hash("x = 1\\n")
    True
    """
    lines = (line.rstrip() for line in text.splitlines())
    return hashlib.sha256("\n".join(line for line in lines if line).encode()).hexdigest()


def shingles(text: str) -> set[bytes]:
    """The set of 5-word shingles; a file shorter than that is one shingle."""
    words = [w for w in _WORD_SPLIT.split(text) if w]
    n = SHINGLE_TOKENS
    if len(words) <= n:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


def minhash_signature(text: str) -> Any:
    """The MinHash (a compact, picklable LeanMinHash of NUM_PERM values) of the text's shingles."""
    from datasketch import LeanMinHash, MinHash

    m = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED)
    m.update_batch(sorted(shingles(text)))
    return LeanMinHash(m)


class Deduplicator:
    """Keeps the first of each exact or near-duplicate group, in the order files are offered.

    Only hashes and signatures are held, never texts, so memory grows slowly with the corpus.
    """

    def __init__(self) -> None:
        from datasketch import MinHashLSH

        self._exact: dict[str, str] = {}
        self._lsh = MinHashLSH(threshold=JACCARD_THRESHOLD, num_perm=NUM_PERM)

    def check(self, key: str, content_hash: str, signature: Any) -> tuple[str, str] | None:
        """(reason, key of the kept file) if this file duplicates an earlier one; else remember it."""
        if content_hash in self._exact:
            return "exact_duplicate", self._exact[content_hash]
        self._exact[content_hash] = key
        similar = self._lsh.query(signature)
        if similar:
            return "near_duplicate", min(similar)
        self._lsh.insert(key, signature)
        return None
