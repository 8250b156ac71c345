"""`passk evaluate SAMPLES`: judge a samples file and print pass@k."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from passk.cli.options import k_list, non_negative_int, positive_float, positive_int
from passk.cli.output import print_summary, progress_bar


def register(commands: Any) -> None:
    p = commands.add_parser(
        "evaluate",
        help="run a samples file's completions against the benchmark's tests; print pass@k",
        description="Run each completion in SAMPLES (human-eval JSONL: task_id + completion, or "
        "a whole-program 'solution') against its problem's tests, and report pass@k.",
    )
    p.add_argument("samples", help="samples JSONL file (task_id, completion or solution, ...)")
    p.add_argument("--benchmark", default="humaneval", help="benchmark name (default: humaneval)")
    p.add_argument(
        "--k",
        type=k_list,
        default=[1, 10, 100],
        metavar="K,K,...",
        help="k values for pass@k (default: 1,10,100)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes (default: one per CPU core)",
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=3.0,
        help="CPU seconds per sample (default: 3, as the official harness)",
    )
    p.add_argument(
        "--wall-timeout",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="wall-clock seconds per sample (default: 2 x timeout + 2)",
    )
    p.add_argument(
        "--memory",
        type=non_negative_int,
        default=4096,
        metavar="MB",
        help="address-space limit per sample in MB, 0 for none (default: 4096)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="results JSONL (default: SAMPLES_results.jsonl beside the samples)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run: keep finished verdicts, run the rest",
    )
    p.add_argument(
        "--sandbox",
        choices=["auto", "native", "bwrap", "gvisor", "none"],
        default="auto",
        help="isolation for samples: native namespaces + uid + seccomp (auto: when available), "
        "bubblewrap, gVisor, or none (rlimits only; unsafe for untrusted code)",
    )
    p.add_argument(
        "--mode",
        choices=["assert", "io"],
        default="assert",
        help="assert: the paper's check program in one process (default); io: the test runs in "
        "a trusted judge and the completion only answers calls with plain data (cheat-proof)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.evaluation import evaluate
    from passk.execution import Limits

    limits = Limits(timeout=args.timeout, wall_timeout=args.wall_timeout, max_memory_mb=args.memory)
    if args.sandbox == "none":
        print(
            "passk: warning: --sandbox none: samples run with resource limits only and can read "
            "and change your files and reach the network; use it only for code you trust",
            file=sys.stderr,
        )
    with _progress(not args.no_progress) as on_progress:
        evaluation = evaluate(
            args.samples,
            benchmark=args.benchmark,
            k=args.k,
            workers=args.workers,
            limits=limits,
            out=args.out,
            resume=args.resume,
            on_progress=on_progress,
            on_start=lambda line: print(line, file=sys.stderr),
            sandbox=args.sandbox,
            mode=args.mode,
        )
    print_summary(evaluation.summary, evaluation.results_path, evaluation.summary_path)
    return 0


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    with progress_bar("evaluating") as update:
        yield update
