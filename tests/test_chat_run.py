"""The whole chat path through the commands: `passk run openai-chat:URL` puts each problem as
EvalPlus's instruction, extracts a program from every answer, judges it in the sandbox, and
counts samples by extraction outcome; an answer without code fails as `NoCode`, never as an
empty completion; a killed `passk generate` resumes to exactly the samples an uninterrupted run
draws; two `passk serve` endpoints of a tiny chat model, one stopped mid-run, give every sample
exactly one result.

The scripted server here stands for an instruction-tuned model: it answers each HumanEval
problem (found by its prompt in the user message) in one of three ways chosen by the sample's
seed — a whole function in a python fence, the body alone after some prose, or a refusal in
words. A real model cannot be loaded here; `passk serve` with a tiny random model checks the
same path against a real server.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from passk.benchmarks import get_benchmark
from passk.cli import main

TASKS = ["HumanEval/0", "HumanEval/2", "HumanEval/4"]


def answer_for(user: str, seed: int) -> str:
    """The scripted model's answer to a user message holding a HumanEval prompt."""
    humaneval = get_benchmark("humaneval")
    problem = next(p for p in humaneval.problems.values() if p.prompt.strip() in user)
    kind = seed % 3
    if kind == 0:
        code = problem.prompt + problem.canonical_solution
        return f"Sure! Here is the function:\n```python\n{code}```\nIt runs in linear time."
    if kind == 1:
        return f"The body is:\n\n```\n{problem.canonical_solution}```\n"
    return "I'm sorry, but I can't help with that."


class Scripted(BaseHTTPRequestHandler):
    delay_s = 0.0

    def do_GET(self) -> None:
        self._send({"object": "list", "data": [{"id": "scripted"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(self.delay_s)
        content = answer_for(body["messages"][-1]["content"], int(body.get("seed") or 0))
        self._answer(content)

    def _answer(self, content: str) -> None:
        """A chat completion with one choice that ended by "stop"."""
        self._send(
            {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 20},
            }
        )

    def _send(self, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def scripted_server(delay_s: float = 0.0) -> Iterator[str]:
    handler = type("Handler", (Scripted,), {"delay_s": delay_s})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_passk_run_through_the_chat_api(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with scripted_server() as url:
        argv = ["run", f"openai-chat:{url}", "--tasks", ",".join(TASKS), "--n", "6"]
        argv += ["--k", "1", "--workers", "2", "--out", str(out), "--no-progress"]
        code, _, err = run_main(argv)
    assert code == 0, err
    samples = lines(out / "samples.jsonl")
    assert len(samples) == 18
    for s in samples:
        assert s["messages"][-1]["content"].startswith(
            "Please provide a self-contained Python script that solves the following problem"
        )
        assert s["raw"] and s["usage"]["prompt_tokens"] == 50
    results = lines(out / "results.jsonl")
    assert len(results) == 18
    for r in results:
        if r["extraction"].startswith("none:"):
            assert r["result"].startswith("failed: NoCode")
            assert r["completion"] == "" and not r["passed"]
        else:
            assert r["passed"], r
            assert ("solution" in r) == r["extraction"].startswith("fence:python")
    summary = json.loads((out / "results.summary.json").read_text())
    counts = summary["extraction"]
    assert sum(counts.values()) == 18 and set(counts) <= {
        "fence:python",
        "fence:untagged",
        "none:NoCode",
    }
    assert counts.get("none:NoCode", 0) == summary["errors"].get("NoCode", 0) > 0
    assert summary["outcomes"]["passed"] == 18 - counts["none:NoCode"]


class Continuing(Scripted):
    """A server that continues a response prefix (the request's final assistant message) with
    the problem's whole function, its closing fence and a remark, and cuts the answer at the
    request's `stop` sequences as OpenAI-compatible servers do."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        messages = body["messages"]
        assert messages[-1]["role"] == "assistant", "a response prefix was expected"
        humaneval = get_benchmark("humaneval")
        user = messages[-2]["content"]
        problem = next(p for p in humaneval.problems.values() if p.prompt.strip() in user)
        content = problem.prompt + problem.canonical_solution + "```\nIt runs in linear time."
        for stop in body.get("stop") or []:
            content = content.split(stop)[0]
        self._answer(content)


@pytest.mark.parametrize("stop", [None, "```"])
def test_a_users_fence_stop_with_a_response_prefix(tmp_path: Path, stop: str | None) -> None:
    # The common recipe for chat models: start the answer with a python fence and stop at the
    # closing one. The answer then ends in an unclosed block that the user's stop closed.
    server = ThreadingHTTPServer(("127.0.0.1", 0), Continuing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    out = tmp_path / "run"
    argv = ["run", f"openai-chat:{url}", "--tasks", ",".join(TASKS), "--n", "2", "--k", "1"]
    argv += ["--response-prefix", "```python\n", "--workers", "2", "--out", str(out)]
    argv += ["--no-progress", *(["--stop", stop] if stop else [])]
    try:
        code, _, err = run_main(argv)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0, err
    results = lines(out / "results.jsonl")
    assert len(results) == 6
    for r in results:
        assert r["raw"].startswith("```python\n")
        if stop:
            assert not r["raw"].rstrip().endswith("time.")
            assert r["extraction"] == "fence:unclosed" and r["passed"], r
        else:
            assert r["extraction"].startswith("fence:python") and r["passed"], r


def test_a_killed_chat_generation_resumes_to_the_same_samples(tmp_path: Path) -> None:
    full, cut = tmp_path / "full.jsonl", tmp_path / "cut.jsonl"
    with scripted_server(delay_s=0.05) as url:
        base = ["generate", f"openai-chat:{url}", "--tasks", ",".join(TASKS), "--n", "8"]
        base += ["--concurrency", "2", "--no-progress"]
        assert run_main([*base, "--out", str(full)])[0] == 0
        command = [sys.executable, "-m", "passk", *base, "--out", str(cut)]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        journal = cut.with_name(cut.name + ".partial")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if journal.exists() and len(journal.read_text().splitlines()) >= 6:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not cut.exists() and 1 < len(journal.read_text().splitlines()) < 25
        code, _, err = run_main([*base, "--out", str(cut), "--resume"])
    assert code == 0, err
    assert lines(cut) == lines(full)
    assert not journal.exists()


def test_a_template_with_an_unknown_field_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    template = tmp_path / "t.txt"
    template.write_text("Write {entry_point} in {language}.\n")
    argv = ["generate", "openai-chat:http://127.0.0.1:9/v1", "--out", str(tmp_path / "s.jsonl")]
    code, out, err = run_main([*argv, "--prompt-template", str(template)])
    assert code == 2 and out == ""
    assert err == (
        f"passk: error: {template}: unknown field {{language}}; the fields are {{prompt}}, "
        "{entry_point}, {task_id}, {signature}, {docstring}\n"
    )


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tiny_model = pytest.importorskip("tiny_model", reason="tests/tiny_model.py is not there")
    path = tmp_path_factory.mktemp("tiny") / "tiny-chat"
    return Path(tiny_model.make_tiny_model(path, chat_template=tiny_model.CHAT_TEMPLATE))


def test_two_passk_serve_endpoints_one_stopped_mid_run(
    tiny_chat_model: Path, tmp_path: Path
) -> None:
    local = pytest.importorskip("passk.generation.local")
    from passk.generation.server import start_in_thread

    first = local.LocalBackend(tiny_chat_model, device="cpu", batch_size=8)
    second = local.LocalBackend(tiny_chat_model, device="cpu", batch_size=8)
    url_a, stop_a = start_in_thread(first)
    url_b, stop_b = start_in_thread(second)
    out = tmp_path / "run"
    argv = ["run", f"openai-chat:{url_a},{url_b}", "--tasks", ",".join(TASKS), "--n", "8"]
    argv += ["--max-tokens", "24", "--concurrency", "2", "--k", "1", "--workers", "2"]
    argv += ["--out", str(out), "--no-progress"]
    stopper = threading.Timer(1.0, stop_b)  # endpoint B goes away while samples are in flight
    try:
        stopper.start()
        code, _, err = run_main(argv)
    finally:
        stopper.join()
        stop_a()
        first.close()
        second.close()
    assert code == 0, err
    results = lines(out / "results.jsonl")
    keys = [(r["task_id"], r["completion_id"]) for r in results]
    assert len(keys) == 24 and len(set(keys)) == 24
    assert all(r["extraction"] and r["result"] for r in results)
