"""Tests for interrupted `passk evaluate` runs: the journal, --resume, and signals.

Each run is a real `passk evaluate` subprocess (see LAUNCH). Its samples are HumanEval's
canonical solutions; some also sleep, so that a run lasts long enough to be stopped part way.
Every third sample instead fails with a random nonce drawn when it runs: its result string
tells one run from another, so a sample that a resumed run ran again shows a new nonce. (Samples
cannot leave marks on the host: the sandbox gives them a read-only root and a private /tmp.)
Only the processes these tests start are signalled, by PID.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from passk.benchmarks import Benchmark

SAMPLES = "samples.jsonl"
RESULTS = "samples.jsonl_results.jsonl"
JOURNAL = RESULTS + ".partial"
SUMMARY = "samples.jsonl_results.summary.json"
NONCE = re.compile(r"failed: AssertionError: nonce [0-9a-f]{16}")
Key = tuple[str, int]


@dataclass
class Samples:
    keys: list[Key]  # (task_id, completion_id) per line, in input order
    nonce: set[int]  # the lines whose result is a fresh nonce each time they run


def write_samples(
    dir: Path, humaneval: Benchmark, n: int, *, sleep_every: int, sleep_s: float
) -> Samples:
    problems = list(humaneval.problems.values())
    samples = Samples([], set())
    lines = []
    for i in range(n):
        p = problems[i % len(problems)]
        extra = ""
        if i % sleep_every == 0:
            extra += f"\nimport time as _t\n_t.sleep({sleep_s})\n"
        if i % 3 == 1:
            extra += "\nimport os as _os\nraise AssertionError('nonce ' + _os.urandom(8).hex())\n"
            samples.nonce.add(i)
        samples.keys.append((p.task_id, i // len(problems)))  # completion_id: per task, in order
        lines.append(json.dumps({"task_id": p.task_id, "completion": p.canonical_solution + extra}))
    (dir / SAMPLES).write_text("\n".join(lines) + "\n")
    return samples


# `python -m passk` with one change: the pool's tmp root (default /dev/shm) is dir/pool-tmp, so
# that what a run leaves there can be checked, and a killed run litters nothing shared.
LAUNCH = """
import sys
import passk.execution.pool
root = sys.argv.pop(1)
passk.execution.pool.default_tmp_root = lambda: root
from passk.cli import main
sys.exit(main(sys.argv[1:]))
"""


def passk(dir: Path, *args: str) -> subprocess.Popen[str]:
    """Start `passk evaluate samples.jsonl --workers 2 --no-progress ARGS` in dir."""
    env = {k: v for k, v in os.environ.items() if k != "PASSK_DEBUG"}
    (dir / "pool-tmp").mkdir(exist_ok=True)
    command = ["evaluate", SAMPLES, "--workers", "2", "--no-progress", *args]
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(dir / "pool-tmp"), *command],
        cwd=dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background (`nohup make check &`) inherits SIGINT ignored, and
        # so would passk, which then runs to the end: the tests' Ctrl-C must be a Ctrl-C.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, out, err


def journal_rows(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a journal (a kill may leave the last one torn)."""
    rows = []
    for line in path.read_bytes().split(b"\n"):
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def work_dirs(dir: Path) -> list[Path]:
    """What runs left in their pools' tmp roots: pool roots, and sample work dirs in them."""
    return sorted(p.relative_to(dir) for p in (dir / "pool-tmp").glob("**/*"))


@dataclass
class Stopped:
    """A run stopped part way: how it ended, and the verdicts its journal holds."""

    dir: Path
    samples: Samples
    returncode: int
    stderr: str
    processes: list[int]  # the run's descendants (workers, samples) just before the signal
    done: dict[Key, dict[str, Any]]


def run_and_stop(
    dir: Path,
    humaneval: Benchmark,
    procs,
    sig: int,
    *,
    n: int,
    sleep_every: int,
    sleep_s: float,
    after: int,
) -> Stopped:
    """Start a run; send `sig` once the journal holds `after` verdicts; wait for the exit."""
    samples = write_samples(dir, humaneval, n, sleep_every=sleep_every, sleep_s=sleep_s)
    proc = passk(dir)
    try:
        journal = dir / JOURNAL
        deadline = time.monotonic() + 60
        while not (journal.exists() and journal.read_bytes().count(b"\n") >= 1 + after):
            assert proc.poll() is None, "the run ended before it was stopped"
            assert time.monotonic() < deadline, "no verdicts in the journal"
            time.sleep(0.005)
        processes = procs.descendants(proc.pid)  # before the signal: then they are reparented
        proc.send_signal(sig)
        returncode, _, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stopped = Stopped(dir, samples, returncode, err, processes, {})
    stopped.done = check_stopped_without_results(stopped)
    return stopped


def check_stopped_without_results(stopped: Stopped) -> dict[Key, dict[str, Any]]:
    """Nothing but the journal was written; returns its verdicts by sample."""
    dir = stopped.dir
    assert not (dir / RESULTS).exists()  # partial output is never passed off as complete
    assert not (dir / SUMMARY).exists()
    assert sorted(p.name for p in dir.iterdir()) == sorted(["pool-tmp", SAMPLES, JOURNAL])
    rows = journal_rows(dir / JOURNAL)
    assert "passk_journal" in rows[0]
    done = {(r["task_id"], r["completion_id"]): r for r in rows[1:]}
    assert len(done) == len(rows) - 1  # no sample twice
    assert set(done) <= set(stopped.samples.keys)
    return done


def check_complete(dir: Path, samples: Samples) -> list[dict[str, Any]]:
    """The results file: one line per sample, in input order, with the expected verdict; the
    summary agrees; the journal is gone. Returns the rows."""
    rows = [json.loads(line) for line in (dir / RESULTS).read_text().splitlines()]
    assert [(r["task_id"], r["completion_id"]) for r in rows] == samples.keys
    for i, row in enumerate(rows):
        if i in samples.nonce:
            assert row["passed"] is False and NONCE.fullmatch(row["result"]), row
        else:
            assert row["passed"] is True and row["result"] == "passed", row
    summary = json.loads((dir / SUMMARY).read_text())
    assert summary["samples"] == len(samples.keys)
    failed = len(samples.nonce)
    assert summary["outcomes"] == {"passed": len(samples.keys) - failed, "failed": failed}
    assert not (dir / JOURNAL).exists()
    return rows


def check_resumed(stopped: Stopped, done: dict[Key, dict[str, Any]]) -> None:
    """A resumed run: complete results that take every verdict in `done` as it is (not run
    again: a nonce sample run again would show a new nonce), and run the rest."""
    rows = check_complete(stopped.dir, stopped.samples)
    rerun = [
        r for r in rows if (key := (r["task_id"], r["completion_id"])) in done and r != done[key]
    ]
    assert rerun == []
    kept_nonces = {r["result"] for key, r in done.items() if NONCE.fullmatch(r["result"])}
    assert kept_nonces, "no nonce sample was journalled: the test shows nothing"
    new_nonces = {r["result"] for r in rows if NONCE.fullmatch(r["result"])} - kept_nonces
    assert len(new_nonces) == len(stopped.samples.nonce) - len(kept_nonces)


def test_sigkill_then_resume(tmp_path: Path, humaneval: Benchmark, procs) -> None:
    stopped = run_and_stop(
        tmp_path, humaneval, procs, signal.SIGKILL, n=300, sleep_every=10, sleep_s=0.15, after=20
    )
    assert stopped.returncode == -signal.SIGKILL
    assert 20 <= len(stopped.done) < 300
    # The workers see end of input once their parent is gone, finish their sample and exit.
    assert len(stopped.processes) >= 2
    assert not procs.still_running(stopped.processes, within=5.0)
    # The pool's tmp root outlives a killed run, but no sample's work dir is left in it.
    [pool_root] = work_dirs(tmp_path)

    returncode, _, err = finish(passk(tmp_path, "--resume"))
    assert returncode == 0, err
    check_resumed(stopped, stopped.done)
    assert work_dirs(tmp_path) == [pool_root]  # the second run cleaned up after itself


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_keeps_the_journal_for_resume(
    tmp_path: Path, humaneval: Benchmark, procs, sig: int
) -> None:
    stopped = run_and_stop(
        tmp_path, humaneval, procs, sig, n=36, sleep_every=1, sleep_s=0.1, after=8
    )
    assert stopped.returncode == 130, stopped.stderr
    assert "Traceback" not in stopped.stderr
    [error] = [line for line in stopped.stderr.splitlines() if line.startswith("passk: error:")]
    assert "interrupted" in error and "--resume" in error and JOURNAL in error
    # Two jobs are queued per worker, so verdicts arrive out of input order; with at most four
    # in flight, eight verdicts all but surely include a nonce sample (every third).
    assert 8 <= len(stopped.done) < 36
    assert len(stopped.processes) >= 2
    assert not procs.still_running(stopped.processes, within=5.0)
    assert work_dirs(tmp_path) == []  # the stopped pool removed its tmp root

    returncode, _, err = finish(passk(tmp_path, "--resume"))
    assert returncode == 0, err
    check_resumed(stopped, stopped.done)
    assert work_dirs(tmp_path) == []


def test_resume_with_another_timeout_is_refused(
    tmp_path: Path, humaneval: Benchmark, procs
) -> None:
    stopped = run_and_stop(
        tmp_path, humaneval, procs, signal.SIGINT, n=16, sleep_every=1, sleep_s=0.1, after=2
    )
    assert stopped.returncode == 130
    journal = (tmp_path / JOURNAL).read_bytes()

    returncode, _, err = finish(passk(tmp_path, "--resume", "--timeout", "5"))
    assert returncode == 2
    assert "Traceback" not in err
    [error] = [line for line in err.splitlines() if line.startswith("passk: error:")]
    assert JOURNAL in error and "settings" in error and "--resume" in error
    assert (tmp_path / JOURNAL).read_bytes() == journal  # kept as it was
    assert not (tmp_path / RESULTS).exists()


def test_torn_last_journal_line_is_tolerated(tmp_path: Path, humaneval: Benchmark, procs) -> None:
    stopped = run_and_stop(
        tmp_path, humaneval, procs, signal.SIGINT, n=30, sleep_every=1, sleep_s=0.1, after=9
    )
    assert stopped.returncode == 130
    path = tmp_path / JOURNAL
    data = path.read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    torn = json.loads(last)
    path.write_bytes(data[: len(data) - 1 - len(last) // 2])  # cut the last line mid-way
    done = check_stopped_without_results(stopped)
    assert (torn["task_id"], torn["completion_id"]) not in done
    assert len(done) == len(stopped.done) - 1

    returncode, _, err = finish(passk(tmp_path, "--resume"))
    assert returncode == 0, err
    check_resumed(stopped, done)  # the torn one ran again


@pytest.mark.parametrize("case", ["nothing left to run", "refused"])
def test_resume_leaves_no_pool_tmp_dir(
    tmp_path: Path, humaneval: Benchmark, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    import passk.execution.pool
    from passk.errors import InputError
    from passk.evaluation import evaluate
    from passk.execution.options import ExecutionOptions

    samples = write_samples(tmp_path, humaneval, 3, sleep_every=100, sleep_s=0)
    one = ExecutionOptions(workers=1)
    done = evaluate(tmp_path / SAMPLES, execution=one, k=[1])
    # The journal a run killed after its last verdict leaves: header, then every row.
    settings = json.loads(done.summary_path.read_text())["settings"]
    header = json.dumps({"passk_journal": settings}) + "\n"
    (tmp_path / JOURNAL).write_text(header + done.results_path.read_text())
    done.results_path.unlink()
    pool_tmp = tmp_path / "pool-tmp"
    pool_tmp.mkdir()
    monkeypatch.setattr(passk.execution.pool, "default_tmp_root", lambda: str(pool_tmp))
    if case == "refused":
        with pytest.raises(InputError):
            slower = one.with_limits(timeout=5)
            evaluate(tmp_path / SAMPLES, execution=slower, k=[1], resume=True)
    else:
        evaluate(tmp_path / SAMPLES, execution=one, k=[1], resume=True)
        check_complete(tmp_path, samples)
    assert list(pool_tmp.iterdir()) == []
