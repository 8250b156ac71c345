"""Argument types shared by the subcommands: each bad value gets a message naming its flag."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from passk.execution.options import ExecutionOptions
    from passk.generation import GenerationOptions


def k_list(text: str) -> list[int]:
    """'1,10,100' -> [1, 10, 100]."""
    from passk.metrics.ks import parse_ks

    try:
        return parse_ks(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _convert(text: str, kind: type[int] | type[float], what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    value: int = _convert(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value: int = _convert(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    value: float = _convert(text, float, "a number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def timeout_value(text: str) -> float | str:
    """--timeout: CPU seconds, or "auto" (per-problem limits from the canonical solutions)."""
    return "auto" if text.strip().lower() == "auto" else positive_float(text)


def non_negative_float(text: str) -> float:
    value: float = _convert(text, float, "a number")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text!r}")
    return value


def task_list(text: str) -> list[str]:
    """'HumanEval/0,HumanEval/3' -> the ids; '@FILE' reads one id a line from FILE."""
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as f:
                ids = [line.strip() for line in f if line.strip()]
        except OSError as e:
            raise argparse.ArgumentTypeError(f"cannot read {text[1:]}: {e.strerror}") from None
    else:
        ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("expected at least one task id")
    return ids


BENCHMARK_HELP = (
    "humaneval, humaneval-plus, humaneval-jsonl:PATH, mbpp:PATH[:SPLIT], "
    "apps:PATH[:DIFFICULTY][:1shot], doctests:PATH, "
    "chained[:LENGTHS...], crypto, humaneval-misaligned:VARIANT (default: humaneval; see README)"
)


def add_benchmark_option(p: argparse.ArgumentParser, *, default: str | None = "humaneval") -> None:
    p.add_argument("--benchmark", default=default, help=BENCHMARK_HELP)


def add_generation_options(p: argparse.ArgumentParser, *, n: int, temperature: bool = True) -> None:
    """The options of sampling a model (the paper's settings by default), read back whole by
    `generation_options`. `temperature=False` leaves --temperature to the command (sweep)."""
    p.add_argument(
        "--tasks",
        type=task_list,
        default=None,
        metavar="IDS",
        help="only these task ids (comma-separated, or @FILE with one a line)",
    )
    p.add_argument("--n", type=positive_int, default=n, help=f"samples per problem (default: {n})")
    if temperature:
        p.add_argument(
            "--temperature",
            type=non_negative_float,
            default=0.8,
            help="sampling temperature, 0 for greedy (default: 0.8)",
        )
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus top-p (default: 0.95)")
    p.add_argument(
        "--max-tokens",
        type=positive_int,
        default=300,
        help="new tokens per sample at most (default: 300)",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    p.add_argument("--top-k", type=int, default=0, help="top-k cut, 0 for none (default: 0)")
    p.add_argument(
        "--model-name",
        default=None,
        help="for openai:URL, the model to ask for where the server hosts several",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=32,
        help="rows decoded together by the local sampler (default: 32)",
    )
    p.add_argument(
        "--token-healing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="local models: when a prompt ends in a bare newline (or other whitespace token "
        "that the vocabulary merges with what follows), back it up and make the first token "
        "begin with it (default: on)",
    )
    p.add_argument(
        "--stop",
        action="append",
        default=None,
        metavar="TEXT",
        help="a stop sequence (repeat for more; default: the benchmark's for completion "
        "models, none for chat models)",
    )
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=16,
        help="openai:/openai-chat: requests in flight over all endpoints (default: 16)",
    )
    chat = p.add_argument_group("chat models (openai-chat:URL)")
    chat.add_argument("--system", default=None, metavar="TEXT", help="a system message")
    chat.add_argument(
        "--prompt-template",
        default=None,
        metavar="FILE",
        help="the user message: a Python format string over {prompt}, {entry_point}, "
        "{task_id}, {signature}, {docstring} (default: the benchmark's instruction)",
    )
    chat.add_argument(
        "--response-prefix",
        default=None,
        metavar="TEXT",
        help="the start of the answer, for servers that take an assistant prefill",
    )
    chat.add_argument(
        "--extract",
        choices=["auto", "none"],
        default="auto",
        help="auto: find the program in each answer (see README); none: run answers as "
        "they are, as completions (default: auto)",
    )
    chat.add_argument(
        "--samples-per-request",
        type=positive_int,
        default=1,
        metavar="M",
        help="ask for M samples of a prompt per request (n=M; default: 1, one seed each)",
    )


def generation_options(args: argparse.Namespace) -> GenerationOptions:
    from passk.generation import GenerationOptions, SamplingParams

    params = SamplingParams(
        temperature=getattr(args, "temperature", 0.8),
        top_p=args.top_p,
        top_k=args.top_k,
        max_tokens=args.max_tokens,
        stop=tuple(args.stop or ()),
    )
    return GenerationOptions(
        params=params,
        n=args.n,
        seed=args.seed,
        tasks=tuple(args.tasks) if args.tasks else None,
        model_name=args.model_name,
        batch_size=args.batch_size,
        token_healing=args.token_healing,
        concurrency=args.concurrency,
        system=args.system,
        prompt_template=args.prompt_template,
        response_prefix=args.response_prefix,
        extract=args.extract,
        samples_per_request=args.samples_per_request,
    )


def add_k_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--k",
        type=k_list,
        default=[1, 10, 100],
        metavar="K,K,...",
        help="k values for pass@k (default: 1,10,100)",
    )


def add_run_control(p: argparse.ArgumentParser, *, resume: str) -> None:
    """--resume (what it continues is `resume`) and --no-progress."""
    p.add_argument("--resume", action="store_true", help=resume)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_execution_options(
    p: argparse.ArgumentParser, *, cluster: bool = True, mode: bool = True, auto: bool = False
) -> None:
    """The options of running samples: workers, limits (with `auto`, for commands that judge
    samples against a benchmark, `--timeout auto`), sandbox, (unless `mode` is False, for
    commands that judge no samples) verdict mode, and (unless `cluster` is False) the executor,
    read back whole by `execution_options`."""
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes (default: one per CPU core"
        + ("; with --executor ray, per node)" if cluster else ")"),
    )
    p.add_argument(
        "--timeout",
        type=timeout_value if auto else positive_float,
        default=3.0,
        help="CPU seconds per sample (default: 3, as the official harness)"
        + (
            "; auto: each problem's own limit, max(1 s, 10 x its canonical solution's CPU "
            "time), measured once in the sandbox and cached"
            if auto
            else ""
        ),
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
        "--sandbox",
        choices=["auto", "native", "bwrap", "gvisor", "none"],
        default="auto",
        help="isolation for samples: native namespaces + uid + seccomp (auto: when "
        "available), bubblewrap, gVisor, or none (rlimits only; unsafe)",
    )
    if mode:
        p.add_argument(
            "--mode",
            choices=["assert", "io"],
            default="assert",
            help="assert: the paper's check program in one process (default); io: the "
            "test runs in a trusted judge and the completion only answers calls",
        )
    if cluster:
        _add_executor_options(p)


def _add_executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default=None,
        help="where samples run: local, this machine's workers (default), or ray, a worker "
        "pool on every node of a Ray cluster (pip install 'passk[ray]')",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="the Ray cluster to run samples on (implies --executor ray): HOST:PORT of its "
        "head, ray://HOST:PORT, auto (RAY_ADDRESS, else the cluster started on this machine; "
        "the default) or local (a Ray instance on this machine for this run)",
    )


def execution_options(args: argparse.Namespace) -> ExecutionOptions:
    """The execution options the flags ask for; warns on stderr about --sandbox none."""
    import sys

    from passk.execution import Limits
    from passk.execution.options import ExecutionOptions

    if args.sandbox == "none":
        print(
            "passk: warning: --sandbox none: samples run with resource limits only and can "
            "read and change your files and reach the network; use it only for code you trust",
            file=sys.stderr,
        )
    auto = args.timeout == "auto"
    timeout = Limits().timeout if auto else args.timeout
    limits = Limits(timeout=timeout, wall_timeout=args.wall_timeout, max_memory_mb=args.memory)
    address = getattr(args, "ray_address", None)
    executor = getattr(args, "executor", None) or ("ray" if address else "local")
    return ExecutionOptions(
        limits,
        workers=args.workers,
        sandbox=args.sandbox,
        mode=getattr(args, "mode", "assert"),
        executor=executor,
        ray_address=address,
        timeout_auto=auto,
    )
