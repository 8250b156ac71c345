"""The tokenizer stage: BPE with whitespace-run tokens, and tokenized corpora.

The corpus fixture is real Python (standard-library modules) written in the corpus format:
`train-*.jsonl.gz` / `valid-*.jsonl.gz` shards of {"text", "path", ...} lines and a manifest.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from passk.cli import tokenizer_command
from passk.errors import InputError
from passk.training.tokenized import tokenize_corpus
from passk.training.tokenizer import (
    BOS,
    EOS,
    PAD,
    compare_tokenizers,
    load_tokenizer,
    train_tokenizer,
)

VOCAB = 1024
STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = [
    "argparse", "textwrap", "string", "shlex", "fnmatch", "glob", "difflib", "heapq", "bisect",
    "copy", "dataclasses", "enum", "functools", "inspect", "pprint", "tokenize", "typing",
    "ast", "csv", "calendar", "configparser", "contextlib", "fractions", "ftplib", "gettext",
]  # fmt: skip


def write_corpus(root: Path, splits: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, texts in splits.items():
        with gzip.open(root / f"{split}-00000.jsonl.gz", "wt", encoding="utf-8") as f:
            for i, text in enumerate(texts):
                row = {"text": text, "path": f"{split}/{i}.py", "source": "stdlib",
                       "package": "stdlib", "license": "PSF-2.0",
                       "sha256": hashlib.sha256(text.encode()).hexdigest()}  # fmt: skip
                f.write(json.dumps(row) + "\n")
    shards = {split: {"shards": [f"{split}-00000.jsonl.gz"]} for split in splits}
    (root / "manifest.json").write_text(json.dumps({"splits": shards}))
    return root


@pytest.fixture(scope="module")
def texts() -> dict[str, list[str]]:
    sources = [(STDLIB / f"{m}.py").read_text(encoding="utf-8") for m in MODULES]
    # Odd shapes the valid split must survive too: tabs, trailing blanks, non-ASCII, specials.
    odd = ["", "\t\tx = 1  \n\n\n", "s = 'é 😀 \\u00e9'\r\n", f"# {EOS} in a comment\n"]
    return {"train": sources[:-5], "valid": sources[-5:] + odd}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, texts: dict[str, list[str]]) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"), texts)


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> dict[bool, Path]:
    root = tmp_path_factory.mktemp("tokenizers")
    return {
        ws: train_tokenizer(corpus, root / str(ws), vocab_size=VOCAB, whitespace_tokens=ws)
        for ws in (True, False)
    }


@pytest.mark.parametrize("whitespace", [True, False])
def test_round_trip_every_valid_file(
    tokenizers: dict[bool, Path], texts: dict[str, list[str]], whitespace: bool
) -> None:
    tok = load_tokenizer(tokenizers[whitespace])
    for text in texts["valid"]:
        ids = tok.encode(text, add_special_tokens=False).ids
        assert tok.decode(ids, skip_special_tokens=False) == text


def test_whitespace_runs_are_single_tokens(tokenizers: dict[bool, Path]) -> None:
    with_ws, without = load_tokenizer(tokenizers[True]), load_tokenizer(tokenizers[False])
    line = "        return x\n"
    assert with_ws.encode(line).tokens[:2] == ["Ġ" * 7, "Ġreturn"]
    assert all(set(t) != {"Ġ"} or len(t) == 1 for t in without.encode(line).tokens)


def test_whitespace_tokens_cut_tokens_per_byte(corpus: Path) -> None:
    report = compare_tokenizers(corpus, vocab_size=VOCAB)
    without = report["without_whitespace_tokens"]["tokens_per_byte"]
    with_ws = report["with_whitespace_tokens"]["tokens_per_byte"]
    assert with_ws < 0.9 * without  # the paper reports about 30% fewer tokens
    assert report["reduction_percent"] == pytest.approx(100 * (1 - with_ws / without), abs=0.01)


def test_auto_tokenizer_loads_with_special_tokens(tokenizers: dict[bool, Path]) -> None:
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(tokenizers[True]))
    assert (hf.eos_token, hf.bos_token, hf.pad_token) == (EOS, BOS, PAD)
    assert len({hf.eos_token_id, hf.bos_token_id, hf.pad_token_id}) == 3
    assert hf.decode(hf.encode("def f():\n    pass\n")) == "def f():\n    pass\n"


def test_info_describes_tokenizer(tokenizers: dict[bool, Path], corpus: Path) -> None:
    info = json.loads((tokenizers[False] / "passk_tokenizer.json").read_text())
    assert info["whitespace_tokens"] is False
    assert info["vocab_size"] == load_tokenizer(tokenizers[False]).get_vocab_size() <= VOCAB
    manifest = hashlib.sha256((corpus / "manifest.json").read_bytes()).hexdigest()
    assert info["corpus"]["manifest_sha256"] == manifest


def test_tokenize_corpus_decodes_to_texts(
    tmp_path: Path, corpus: Path, tokenizers: dict[bool, Path], texts: dict[str, list[str]]
) -> None:
    stats = tokenize_corpus(corpus, tokenizers[True], tmp_path / "tokens")
    tok = load_tokenizer(tokenizers[True])
    eos = tok.token_to_id(EOS)
    assert stats["dtype"] == "uint16" and stats["eos_id"] == eos
    for split, docs in texts.items():
        ids = np.memmap(tmp_path / "tokens" / f"{split}.bin", dtype=np.uint16, mode="r")
        assert stats["splits"][split] == {"file": f"{split}.bin", "tokens": len(ids),
                                          "documents": len(docs)}  # fmt: skip
        assert ids[-1] == eos
        # A literal "<|endoftext|>" in a text is encoded as EOS too; split where we put one.
        bounds = np.cumsum([len(tok.encode(d).ids) + 1 for d in docs])
        pieces = np.split(np.asarray(ids), bounds[:-1])
        assert [tok.decode(p[:-1].tolist(), skip_special_tokens=False) for p in pieces] == docs
    written = json.loads((tmp_path / "tokens" / "stats.json").read_text())
    assert written["splits"] == stats["splits"]
    assert not list((tmp_path / "tokens").glob(".*.tmp"))


def test_deterministic(tmp_path: Path, corpus: Path, tokenizers: dict[bool, Path]) -> None:
    again = train_tokenizer(corpus, tmp_path / "again", vocab_size=VOCAB)
    before = (tokenizers[True] / "tokenizer.json").read_bytes()
    assert (again / "tokenizer.json").read_bytes() == before
    tokenize_corpus(corpus, tokenizers[True], tmp_path / "a")
    tokenize_corpus(corpus, again, tmp_path / "b")
    for name in ("train.bin", "valid.bin"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_max_bytes_caps_training_text(tmp_path: Path, corpus: Path) -> None:
    small = train_tokenizer(corpus, tmp_path / "small", vocab_size=VOCAB, max_bytes=2000)
    # Too little text to learn every merge the vocabulary has room for.
    assert load_tokenizer(small).get_vocab_size() < VOCAB


def test_bad_corpus(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such corpus directory"):
        train_tokenizer(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no train split"):
        train_tokenizer(tmp_path / "empty", tmp_path / "out")
    only_valid = write_corpus(tmp_path / "only-valid", {"valid": ["x = 1\n"]})
    with pytest.raises(InputError, match="no train split"):
        train_tokenizer(only_valid, tmp_path / "out")
    with pytest.raises(InputError, match="no valid split"):
        compare_tokenizers(write_corpus(tmp_path / "only-train", {"train": ["x\n"]}))
    assert not (tmp_path / "out").exists()


def test_vocab_too_small(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"--vocab-size must be at least 259 .* got 258"):
        train_tokenizer(corpus, tmp_path / "out", vocab_size=258)


def test_bad_tokenizer_dir(corpus: Path, tmp_path: Path, tokenizers: dict[bool, Path]) -> None:
    with pytest.raises(InputError, match=r"no tokenizer\.json"):
        tokenize_corpus(corpus, tmp_path, tmp_path / "out")
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_bytes(
        (tokenizers[True] / "tokenizer.json").read_bytes()
    )
    with pytest.raises(InputError, match=r"no passk_tokenizer\.json"):
        tokenize_corpus(corpus, tmp_path / "tok", tmp_path / "out")
    (tmp_path / "tok" / "tokenizer.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot load tokenizer"):
        tokenize_corpus(corpus, tmp_path / "tok", tmp_path / "out")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="passk")
    commands = parser.add_subparsers(dest="command")
    tokenizer_command.register(commands)
    tokenizer_command.register_tokenize(commands.add_parser("corpus").add_subparsers())
    return parser.parse_args(argv)


def test_cli(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["tokenizer", "train", str(corpus), "--vocab-size", "300",
                  "--no-whitespace-tokens", "--out", str(tmp_path / "tok")])  # fmt: skip
    assert args.handler(args) == 0
    assert (
        capsys.readouterr().out
        == f"wrote {tmp_path / 'tok'} (vocab 300, whitespace tokens False)\n"
    )
    args = parse(["corpus", "tokenize", str(corpus), "--tokenizer", str(tmp_path / "tok"),
                  "--out", str(tmp_path / "ids")])  # fmt: skip
    assert args.handler(args) == 0
    assert json.loads(capsys.readouterr().out)["dtype"] == "uint16"
    args = parse(["tokenizer", "compare", str(corpus), "--vocab-size", "10"])
    with pytest.raises(InputError, match="--vocab-size must be at least"):
        args.handler(args)
