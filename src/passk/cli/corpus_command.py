"""`passk corpus build SOURCE... --out DIR`: build a training corpus (Chen et al. 2021, §3.1).

`corpus` is a group of subcommands; `build` is registered here, `tokenize` beside it by its own
module through the same group.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any


def register(commands: Any) -> Any:
    """Add the `corpus` group to passk's subcommands and its `build`; return the group."""
    p = commands.add_parser(
        "corpus",
        help="build a training corpus of Python files (filtered, deduplicated, decontaminated)",
        description="Build and prepare training data in the manner of Codex (Chen et al. 2021, "
        "section 3.1).",
    )
    corpus_subcommands = p.add_subparsers(
        dest="corpus_command", metavar="SUBCOMMAND", required=True
    )
    register_build(corpus_subcommands)
    return corpus_subcommands


def register_build(corpus_subcommands: Any) -> None:
    p = corpus_subcommands.add_parser(
        "build",
        help="collect .py files, filter, deduplicate and decontaminate them into JSONL shards",
        description="Collect the .py files under each SOURCE directory (and the standard library "
        "or site-packages), drop likely generated, long-lined, low-alphanumeric, unparseable "
        "and non-UTF-8 files, exact and near duplicates, and files overlapping HumanEval; "
        "write train/valid .jsonl.gz shards and manifest.json into DIR.",
    )
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="directories of Python files")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (must not exist)")
    p.add_argument("--stdlib", action="store_true", help="add this Python's standard library")
    p.add_argument("--site-packages", action="store_true", help="add this Python's site-packages")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all CPUs)")
    p.add_argument(
        "--valid-fraction",
        type=float,
        default=0.01,
        help="fraction of files held out for validation (default: 0.01)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the train/valid split (default: 0)")
    p.add_argument("--force", action="store_true", help="replace a non-empty DIR")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_build)


def run_build(args: argparse.Namespace) -> int:
    from passk.training.corpus import build_corpus

    with _progress(not args.no_progress and sys.stderr.isatty()) as on_progress:
        manifest = build_corpus(
            args.sources,
            args.out,
            stdlib=args.stdlib,
            site_packages=args.site_packages,
            workers=args.workers,
            valid_fraction=args.valid_fraction,
            seed=args.seed,
            force=args.force,
            on_progress=on_progress,
        )
    print(_summary_line(manifest, args.out))
    return 0


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not enabled:
        with nullcontext():
            yield None
        return
    from passk.cli.output import progress_bar

    with progress_bar("files") as update:
        yield update


def _summary_line(manifest: dict[str, Any], out: str) -> str:
    counts = manifest["counts"]
    splits = manifest["splits"]
    filtered = sum(counts["filtered"].values())
    duplicates = counts["exact_duplicates"] + counts["near_duplicates"]
    return (
        f"{out}: kept {counts['kept']} of {counts['found']} files "
        f"(train {splits['train']['files']}, valid {splits['valid']['files']}; "
        f"{splits['train']['bytes'] + splits['valid']['bytes']} bytes); dropped {filtered} "
        f"filtered, {duplicates} duplicates, {counts['contaminated']} overlapping HumanEval"
    )
