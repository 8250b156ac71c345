"""Chat-path throughput: samples per second through `openai-chat:` with one endpoint and with two.

Starts two `passk serve MODEL` processes on 127.0.0.1 (default: passk's own model,
models/passk-tiny, which has no chat template, so the plain template is used), each limited to
`--threads` CPU threads (a replica with its own share of the machine, as a second GPU would
be), and in one run draws the same samples from HumanEval's chat prompts (EvalPlus's
instruction, `passk.generation.prompts`) through `OpenAIChatBackend`, alternately with
endpoint A alone and with A and B (`--rounds` times each), at a total of `--concurrency`
requests in flight. It prints samples and answer tokens per second for each, the ratio of two
endpoints to one, how the requests were spread, and whether both ways drew the same samples
(each sample has its own seed, so they should). Nothing is asserted about timings. From the
repository root:

    .venv/bin/python benchmarks/chat.py [--model models/passk-tiny] [--problems 16] [--n 4]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from passk.benchmarks import get_benchmark
from passk.generation.openai_backend import OpenAIChatBackend
from passk.generation.prompts import chat_messages
from passk.generation.types import SampleRequest, SamplingParams, sample_seed

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "passk-tiny"))
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--n", type=int, default=4, help="samples per problem")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight in all")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per server")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    requests = chat_requests(args.problems, args.n)
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=args.max_tokens)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    cpu = platform.processor() or platform.machine()
    print(f"{cpu}, {os.cpu_count()} CPUs (load average {load}); {args.model}")
    print(
        f"{len(requests)} samples ({args.problems} problems x {args.n}), up to {args.max_tokens} "
        f"tokens, T=0.8; {args.concurrency} in flight; {args.threads} thread(s) per server"
    )
    with serving(args.model, args.threads) as a, serving(args.model, args.threads) as b:
        rates: dict[str, list[float]] = {"one endpoint": [], "two endpoints": []}
        texts: dict[str, dict[tuple[str, int], str]] = {}
        for _ in range(args.rounds):
            for name, urls in (("one endpoint", [a]), ("two endpoints", [a, b])):
                rate, tokens, drawn, spread = measure(urls, requests, params, args.concurrency)
                rates[name].append(rate)
                texts[name] = drawn
                print(f"  {name:14} {rate:7.2f} samples/s {tokens:8.1f} tokens/s  {spread}")
    one, two = (statistics.median(rates[k]) for k in ("one endpoint", "two endpoints"))
    print(f"median samples/s: one endpoint {one:.2f}, two endpoints {two:.2f}: x{two / one:.2f}")
    same = texts["one endpoint"] == texts["two endpoints"]
    print(f"the same samples both ways: {same}")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


def chat_requests(problems: int, n: int) -> list[SampleRequest]:
    bench = get_benchmark("humaneval")
    chosen = list(bench.problems.values())[:problems]
    return [
        SampleRequest(
            p.task_id, i, p.prompt, sample_seed(0, p.task_id, i), chat_messages(p, "humaneval")
        )
        for p in chosen
        for i in range(n)
    ]


def measure(
    urls: list[str], requests: list[SampleRequest], params: SamplingParams, concurrency: int
) -> tuple[float, float, dict[tuple[str, int], str], str]:
    """Samples/s, answer tokens/s, the samples, and how the requests were spread."""
    backend = OpenAIChatBackend(urls, concurrency=concurrency, timeout_s=600)
    try:
        start = time.perf_counter()
        drawn = list(backend.generate(requests, params))
        elapsed = time.perf_counter() - start
        spread = " + ".join(str(e["requests"]) for e in backend.endpoints.report())
    finally:
        backend.close()
    keys = [r.key for r, _ in drawn]
    assert sorted(keys) == sorted(r.key for r in requests), "every sample exactly once"
    tokens = sum(c.num_tokens for _, c in drawn)
    texts = {r.key: c.text for r, c in drawn}
    return len(drawn) / elapsed, tokens / elapsed, texts, f"requests: {spread}"


@contextmanager
def serving(model: str, threads: int) -> Iterator[str]:
    """A `passk serve` process on a free port, with `threads` CPU threads; its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    passk = Path(sys.executable).with_name("passk")
    command = [str(passk), "serve", model, "--port", str(port)]
    url = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryFile() as log:  # the server logs every request: not into a pipe
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            wait_ready(url, server, log)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_ready(url: str, server: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            sys.exit(f"passk serve exited with {server.returncode}:\n{log.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit(f"passk serve at {url} did not start within 300 s")


if __name__ == "__main__":
    main()
