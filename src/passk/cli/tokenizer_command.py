"""`passk tokenizer train|compare` and `passk corpus tokenize`: the tokenizer stage.

`register(commands)` adds the `tokenizer` group; `register_tokenize(corpus_subcommands)` adds
`tokenize` under the `corpus` group, whose parser another module owns.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(commands: Any) -> None:
    group = commands.add_parser(
        "tokenizer",
        help="train a byte-level BPE tokenizer (with whitespace-run tokens) on a corpus",
        description="Train a BPE tokenizer on a corpus's train split, or compare the variants "
        "with and without whitespace-run tokens (Chen et al. 2021, section 3.1).",
    )
    group.set_defaults(handler=lambda args: _usage(group))
    sub = group.add_subparsers(dest="tokenizer_command", metavar="COMMAND")
    train = sub.add_parser("train", help="train a tokenizer and save it as a HF directory")
    _common(train)
    train.add_argument("--out", required=True, help="output tokenizer directory")
    train.add_argument(
        "--whitespace-tokens",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="learn tokens for runs of spaces and tabs (default: on)",
    )
    train.set_defaults(handler=run_train)
    compare = sub.add_parser(
        "compare", help="tokens per byte on the valid split, with and without whitespace tokens"
    )
    _common(compare)
    compare.set_defaults(handler=run_compare)


def register_tokenize(corpus_subcommands: Any) -> None:
    p = corpus_subcommands.add_parser(
        "tokenize",
        help="tokenize a corpus into flat token arrays (train.bin, valid.bin)",
        description="Encode each split into a flat array of token ids (uint16 when the "
        "vocabulary fits), documents separated by the EOS id, plus stats.json.",
    )
    p.add_argument("corpus", help="corpus directory")
    p.add_argument("--tokenizer", required=True, help="tokenizer directory (passk tokenizer train)")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(handler=run_tokenize)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("corpus", help="corpus directory (passk corpus build)")
    p.add_argument("--vocab-size", type=int, default=8192, help="vocabulary size (default: 8192)")
    p.add_argument("--max-bytes", type=int, default=None, help="train on at most this much text")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_train(args: argparse.Namespace) -> int:
    from passk.training.tokenizer import read_tokenizer_info, train_tokenizer

    out = train_tokenizer(
        args.corpus,
        args.out,
        vocab_size=args.vocab_size,
        whitespace_tokens=args.whitespace_tokens,
        max_bytes=args.max_bytes,
    )
    info = read_tokenizer_info(out)
    print(f"wrote {out} (vocab {info['vocab_size']}, whitespace tokens {args.whitespace_tokens})")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from passk.training.tokenizer import compare_tokenizers

    report = compare_tokenizers(args.corpus, vocab_size=args.vocab_size, max_bytes=args.max_bytes)
    for name in ("without_whitespace_tokens", "with_whitespace_tokens"):
        row = report[name]
        print(f"{name}: {row['tokens_per_byte']:.4f} tokens/byte ({row['tokens']} tokens)")
    print(f"reduction: {report['reduction_percent']:.1f}%")
    return 0


def run_tokenize(args: argparse.Namespace) -> int:
    from passk.training.tokenized import tokenize_corpus

    stats = tokenize_corpus(args.corpus, args.tokenizer, args.out)
    print(json.dumps({"dtype": stats["dtype"], "splits": stats["splits"]}))
    return 0
