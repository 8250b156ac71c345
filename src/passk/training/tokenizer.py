"""A byte-level BPE tokenizer for code, with tokens for runs of whitespace.

Chen et al. (2021), section 3.1: Codex uses GPT-3's tokenizer plus "an additional set of tokens
for representing whitespace runs of different lengths", which "allows us to represent code
using approximately 30% fewer tokens". GPT-3's BPE was fitted to web text, where runs of
spaces are rare, so it has almost no merges for them; code is full of them (indentation).

We train both variants on the same corpus, differing only in what the pre-tokenizer lets BPE
merge:

* without whitespace tokens, each space or tab that precedes another is its own pre-token, so
  BPE can learn " def" but never "    " (GPT-3's tokenizer, in effect, on code);
* with whitespace tokens, the GPT-2 pre-tokenizer as is: a run of blanks before a word is one
  pre-token (all but the last blank, which prefixes the word), so BPE learns a token per
  frequent indentation (3, 7, 11... spaces, then " def") and one run is one token. (Isolating
  whole runs instead, " {2,}", measured 8% more tokens: words lose their space prefix.)

Both are byte-level (Radford et al. 2019), so decode(encode(text)) == text for any text. The
tokenizer is saved as a Hugging Face directory that `AutoTokenizer.from_pretrained` loads, plus
`passk_tokenizer.json`, which says how it was made and from which corpus.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from passk.errors import InputError
from passk.records.files import write_text_atomic

EOS = "<|endoftext|>"
BOS = "<|startoftext|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = [EOS, BOS, PAD]
MIN_VOCAB_SIZE = 256 + len(SPECIAL_TOKENS)  # every byte, then the special tokens
TOKENIZER_FILE = "tokenizer.json"
INFO_FILE = "passk_tokenizer.json"
INFO_VERSION = 1

# Without: a space or tab followed by another stands alone, so no merge can span a run.
_SINGLE_BLANKS = r"[ \t](?=[ \t])"


def train_tokenizer(
    corpus_dir: str | Path,
    out: str | Path,
    *,
    vocab_size: int = 8192,
    whitespace_tokens: bool = True,
    max_bytes: int | None = None,
) -> Path:
    """Train a byte-level BPE tokenizer on the corpus's train split; save it to `out`."""
    corpus_dir, out = Path(corpus_dir), Path(out)
    check_vocab_size(vocab_size)
    if max_bytes is not None and max_bytes < 1:
        raise InputError(f"--max-bytes must be at least 1, got {max_bytes}")
    require_split(corpus_dir, "train")
    tok = _fit(_capped(read_texts(corpus_dir, "train"), max_bytes), vocab_size, whitespace_tokens)
    _save(tok, out)
    info = {
        "version": INFO_VERSION,
        "kind": "byte-level BPE",
        "vocab_size": tok.get_vocab_size(),
        "requested_vocab_size": vocab_size,
        "whitespace_tokens": whitespace_tokens,
        "max_bytes": max_bytes,
        "special_tokens": {"eos": EOS, "bos": BOS, "pad": PAD},
        "corpus": corpus_identity(corpus_dir),
    }
    write_text_atomic(out / INFO_FILE, json.dumps(info, indent=2) + "\n")
    return out


def compare_tokenizers(
    corpus_dir: str | Path, *, vocab_size: int = 8192, max_bytes: int | None = None
) -> dict[str, Any]:
    """Train both variants on the train split; report tokens per byte on the valid split."""
    corpus_dir = Path(corpus_dir)
    require_split(corpus_dir, "valid")
    report: dict[str, Any] = {"vocab_size": vocab_size, "max_bytes": max_bytes}
    with tempfile.TemporaryDirectory(prefix="passk-tokenizers-") as tmp:
        for name, whitespace in (
            ("without_whitespace_tokens", False),
            ("with_whitespace_tokens", True),
        ):
            path = train_tokenizer(
                corpus_dir, Path(tmp) / name, vocab_size=vocab_size,
                whitespace_tokens=whitespace, max_bytes=max_bytes,
            )  # fmt: skip
            report[name] = measure(load_tokenizer(path), read_texts(corpus_dir, "valid"))
    without = report["without_whitespace_tokens"]["tokens_per_byte"]
    with_ = report["with_whitespace_tokens"]["tokens_per_byte"]
    report["reduction_percent"] = round(100 * (1 - with_ / without), 2)
    return report


def measure(tok: Any, texts: Iterator[str], batch: int = 256) -> dict[str, Any]:
    """Tokens, UTF-8 bytes and tokens per byte of texts under a `tokenizers.Tokenizer`."""
    tokens = nbytes = docs = 0
    for chunk in chunked(texts, batch):
        tokens += sum(len(e.ids) for e in tok.encode_batch(chunk, add_special_tokens=False))
        nbytes += sum(len(t.encode("utf-8")) for t in chunk)
        docs += len(chunk)
    return {
        "documents": docs,
        "bytes": nbytes,
        "tokens": tokens,
        "tokens_per_byte": round(tokens / nbytes, 5) if nbytes else 0.0,
    }


def load_tokenizer(tokenizer_dir: str | Path) -> Any:
    """The `tokenizers.Tokenizer` saved in a directory by `train_tokenizer`."""
    from tokenizers import Tokenizer

    path = Path(tokenizer_dir) / TOKENIZER_FILE
    if not path.is_file():
        raise InputError(f"{tokenizer_dir}: not a tokenizer directory (no {TOKENIZER_FILE})")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # the Rust side raises a bare Exception on a malformed file
        raise InputError(f"{path}: cannot load tokenizer: {e}") from None


def read_tokenizer_info(tokenizer_dir: str | Path) -> dict[str, Any]:
    """The `passk_tokenizer.json` description of a tokenizer directory."""
    path = Path(tokenizer_dir) / INFO_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{tokenizer_dir}: not a passk tokenizer (no {INFO_FILE})") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    if not isinstance(info, dict):
        raise InputError(f"{path}: expected a JSON object")
    return info


def check_vocab_size(vocab_size: int) -> None:
    if vocab_size < MIN_VOCAB_SIZE:
        raise InputError(
            f"--vocab-size must be at least {MIN_VOCAB_SIZE} (256 bytes + "
            f"{len(SPECIAL_TOKENS)} special tokens), got {vocab_size}"
        )


def require_split(corpus_dir: Path, split: str) -> list[Path]:
    """The split's shards, or an InputError naming what is missing."""
    if not corpus_dir.is_dir():
        raise InputError(f"{corpus_dir}: no such corpus directory")
    shards = sorted(corpus_dir.glob(f"{split}-*.jsonl.gz"))
    if not shards:
        raise InputError(f"{corpus_dir}: corpus has no {split} split ({split}-*.jsonl.gz)")
    return shards


def corpus_identity(corpus_dir: Path) -> dict[str, Any]:
    """Where the corpus is and the sha256 of its manifest, so artifacts name their data."""
    manifest = corpus_dir / "manifest.json"
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else None
    return {"path": str(corpus_dir.resolve()), "manifest_sha256": digest}


def _fit(texts: Iterator[str], vocab_size: int, whitespace_tokens: bool) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.pre_tokenizer = byte_level
    if not whitespace_tokens:
        single = pre_tokenizers.Split(Regex(_SINGLE_BLANKS), behavior="isolated")
        tok.pre_tokenizer = pre_tokenizers.Sequence([single, byte_level])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def _save(tok: Any, out: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=BOS, pad_token=PAD)
    hf.save_pretrained(str(out))


def _capped(texts: Iterator[str], max_bytes: int | None) -> Iterator[str]:
    # The document that reaches the cap is cut there, so the cap is exact.
    left = max_bytes
    for text in texts:
        if left is None:
            yield text
            continue
        data = text.encode("utf-8")
        yield data[:left].decode("utf-8", errors="ignore")
        left -= len(data)
        if left <= 0:
            return


def chunked(texts: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_texts(corpus_dir: Path, split: str) -> Iterator[str]:
    from passk.records.corpus import iter_documents

    return iter_documents(corpus_dir, split=split)
