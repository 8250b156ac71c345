"""`passk mine SOURCE... --out problems.jsonl`: HumanEval-shaped problems from real code
(Chen et al. 2021, section 4.1, the data of Codex-S)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from passk.cli.options import add_execution_options, execution_options, positive_float


def register(commands: Any) -> None:
    p = commands.add_parser(
        "mine",
        help="mine HumanEval-shaped problems (prompt, solution, tests) from corpora or code",
        description="Find standalone documented functions in each SOURCE (a corpus from "
        "`passk corpus build`, a folder, or a .py file), test them with their docstring "
        "examples or with calls traced while the project's tests run in the sandbox, keep "
        "those whose own code passes, and write human-eval JSONL with mine_manifest.json "
        "beside it.",
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="corpora, folders or .py files")
    p.add_argument("--out", required=True, metavar="FILE", help="problems JSONL to write")
    p.add_argument(
        "--split",
        choices=["train", "valid"],
        default=None,
        help="read only this split of a corpus (default: both)",
    )
    p.add_argument(
        "--valid-fraction",
        type=float,
        default=0.05,
        help="fraction of problems held out in FILE's .valid.jsonl sibling (default: 0.05)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the train/valid split (default: 0)")
    p.add_argument(
        "--untested",
        metavar="FILE",
        default=None,
        help="also write the standalone documented functions that got no test to FILE (and "
        "its .valid.jsonl sibling): deduplicated and decontaminated but never run, training "
        "data only; their test fails whatever the completion",
    )
    p.add_argument(
        "--no-trace",
        action="store_true",
        help="tests from docstring examples only; do not run the projects' tests",
    )
    p.add_argument(
        "--trace-timeout",
        type=positive_float,
        default=20.0,
        metavar="SECONDS",
        help="CPU seconds for each traced test file or module's examples (default: 20)",
    )
    add_execution_options(p, cluster=False, mode=False)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.mining import MineOptions, mine

    options = MineOptions(
        split=args.split,
        valid_fraction=args.valid_fraction,
        seed=args.seed,
        trace=not args.no_trace,
        trace_timeout=args.trace_timeout,
    )
    execution = execution_options(args)
    with _progress(not args.no_progress) as on_progress:
        mined = mine(
            args.sources,
            args.out,
            options=options,
            execution=execution,
            on_progress=on_progress,
            on_start=lambda line: print(line, file=sys.stderr),
            untested=args.untested,
        )
    for line in summary_lines(mined.manifest):
        print(line)
    return 0


def summary_lines(manifest: dict[str, Any]) -> list[str]:
    """What a run found, kept and dropped, step by step, and where it wrote."""
    counts, steps, files = manifest["counts"], manifest["steps"], manifest["files"]
    lines = [
        f"{counts['files']} files, {counts['functions']} top-level functions, "
        f"{counts['candidates']} standalone with a docstring ({counts['self_contained']} use "
        f"builtins only, {counts['stdlib_imports']} also the standard library)",
    ]
    for name, step in steps.items():
        dropped = ", ".join(f"{r} {n}" for r, n in step["dropped"].items() if n)
        lines.append(
            f"  {name}: kept {step['kept']} of {step['seen']}"
            + (f"; dropped {dropped}" if dropped else "")
        )
    lines.append(
        f"{counts['problems']} problems ({counts['problems_self_contained']} use builtins only; "
        f"{counts['problems_with_doctest_tests']} tested by docstring examples, "
        f"{counts['problems_with_traced_tests']} by traced calls) in {manifest['elapsed_s']:.0f} s"
    )
    lines.append(f"train: {files['train']} ({counts['train']})")
    if files["valid"]:
        lines.append(f"valid: {files['valid']} ({counts['valid']})")
    if files.get("untested"):
        lines.append(f"untested: {files['untested']} ({counts['untested']})")
    if files.get("untested_valid"):
        lines.append(f"untested valid: {files['untested_valid']} ({counts['untested_valid']})")
    return lines


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """update(stage, done, total): a progress bar per stage on a terminal, plain lines every
    few seconds otherwise; None when disabled."""
    if not enabled:
        yield None
        return
    from passk.cli.output import PlainProgress, progress_bar

    if not sys.stderr.isatty():
        lines: dict[str, PlainProgress] = {}
        yield lambda stage, done, total: lines.setdefault(stage, PlainProgress(stage))(done, total)
        return
    with ExitStack() as stack:
        bars: dict[str, Callable[[int, int], None]] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                stack.close()
                bars.clear()
                bars[stage] = stack.enter_context(progress_bar(stage))
            bars[stage](done, total or done)

        yield update
