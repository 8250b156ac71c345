"""`passk report`: the sections over real run directories, bad input named in the report, the
Markdown twin, and the page as headless Chromium renders it.

The main run directory is evaluated for real (canonical, wrong, raising, hostile and endless
completions of three HumanEval problems); the others are written by hand in the formats that
`passk run`, `passk evaluate` and `passk sweep` write.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import passk.analysis.plots
from passk import evaluate
from passk.analysis.report import count_parameters, parameter_count, write_report
from passk.benchmarks import get_benchmark
from passk.cli import main
from passk.execution import Limits
from passk.execution.options import ExecutionOptions

TASKS = ("HumanEval/0", "HumanEval/1", "HumanEval/2")
HOSTILE = "    raise ValueError('<script>alert(1)</script> | `tick`')\n"
pytest.importorskip("matplotlib", reason="the report's figures need matplotlib (passk[analysis])")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def completions(task_id: str) -> list[str]:
    """A canonical solution, a hostile error message, a wrong answer, and a loop on problem 2."""
    canonical = get_benchmark("humaneval").problem(task_id).canonical_solution
    last = "    while True:\n        pass\n" if task_id == "HumanEval/2" else canonical
    return [canonical, HOSTILE, "    return None\n", last]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    good = root / "good"
    samples = [
        {"task_id": t, "completion_id": i, "completion": c, "mean_logp": -i / 4, "sum_logp": -i}
        for t in TASKS
        for i, c in enumerate(completions(t))
    ]
    write_jsonl(good / "samples.jsonl", samples)
    config = {"model": "models/small", "benchmark": "humaneval", "n": 4, "k": [1, 2, 4]}
    config |= {"params": {"temperature": 0.8, "top_p": 0.95}, "parameters": 1_000_000}
    (good / "config.json").write_text(json.dumps(config))
    limits = Limits(timeout=1)
    evaluate(
        good / "samples.jsonl",
        k=[1, 2, 4],
        execution=ExecutionOptions(limits, workers=1),
        out=good / "results.jsonl",
    )
    return {
        "good": good,
        "second": _second_run(root / "second", good),
        "unevaluated": _unevaluated_run(root / "unevaluated"),
        "other": _other_benchmark_run(root / "other"),
        "sweep": _sweep(root / "sweep"),
    }


def _second_run(directory: Path, good: Path) -> Path:
    """The good run's verdicts with every canonical solution failing, no log-probabilities,
    and no summary: the report computes pass@k itself."""
    rows = [json.loads(line) for line in (good / "results.jsonl").read_text().splitlines()]
    for row in rows:
        del row["mean_logp"], row["sum_logp"]
        if row["completion_id"] == 0:
            row.update(passed=False, result="failed: AssertionError: ")
    write_jsonl(directory / "results.jsonl", rows)
    config = {"model": "models/large", "benchmark": "humaneval", "n": 4, "k": [1, 2, 4]}
    (directory / "config.json").write_text(json.dumps(config | {"parameters": 50_000_000}))
    return directory


def _unevaluated_run(directory: Path) -> Path:
    write_jsonl(directory / "samples.jsonl", [{"task_id": "HumanEval/0", "completion": "  pass"}])
    return directory


def _other_benchmark_run(directory: Path) -> Path:
    rows = [
        {"task_id": "Mbpp/1", "completion_id": 0, "completion": "x", "result": "passed"}
        | {"passed": True, "duration_s": 0.1, "cpu_s": 0.1}
    ]
    write_jsonl(directory / "results.jsonl", rows)
    summary = {
        "benchmark": "mbpp",
        "pass_at_k": {"pass@1": 1.0},
        "confidence_intervals": {"pass@1": [1.0, 1.0]},
        "not_computable": {},
        "confidence": 0.95,
        "problems": 1,
        "benchmark_problems": 500,
        "samples": 1,
        "samples_per_problem": {"min": 1, "max": 1},
        "outcomes": {"passed": 1},
        "errors": {},
    }
    (directory / "results.summary.json").write_text(json.dumps(summary))
    return directory


def _sweep(directory: Path) -> Path:
    curves = {
        "0.2": [[k, 0.3 + 0.02 * k] for k in range(1, 11)],
        "0.8": [[k, 0.2 + 0.05 * k] for k in range(1, 11)],
    }
    best = [[k, 0.2 if k < 4 else 0.8] for k in range(1, 11)]
    sweep = {"model": "models/small", "n": 10, "curves": curves, "best_temperature": best}
    directory.mkdir()
    (directory / "sweep.json").write_text(json.dumps(sweep))
    return directory


@pytest.fixture(scope="module")
def report(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("report") / "report.html"
    return write_report([runs["good"], runs["second"], runs["sweep"]], out)


def section(page: str, title: str) -> str:
    """The HTML of the section whose heading is `title`, up to the next heading of its level."""
    match = re.search(rf"<(h[23])>{re.escape(title)}</h[23]>(.*?)(?=<\1>|</main>)", page, re.S)
    assert match, f"no section {title!r}"
    return match.group(2)


def table_rows(fragment: str) -> list[list[str]]:
    """The text of every body cell of the first table in the fragment, row by row."""
    body = fragment.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in body.split("</tr>")[:-1]]


def test_run_sections(report: Any, runs: dict[str, Path]) -> None:
    page = report.html_path.read_text()
    run = section(page, f"Run: {runs['good']}")
    assert ["n", "4"] in table_rows(run)
    assert ["params.temperature", "0.8"] in table_rows(run)
    # 2 of 4 pass on problems 0 and 1, 1 of 4 on problem 2: pass@1 = (1/2 + 1/2 + 1/4) / 3,
    # pass@2 = (5/6 + 5/6 + 1/2) / 3 (1 - C(n-c, 2) / C(4, 2)).
    rows = table_rows(section(page, "pass@k"))
    assert [r[:2] for r in rows] == [["pass@1", "41.67"], ["pass@2", "72.22"], ["pass@4", "100.00"]]
    outcomes = table_rows(section(page, "Outcomes"))
    assert outcomes[:3] == [
        ["passed", "5", "41.7"],
        ["failed", "6", "50.0"],
        ["timed out", "1", "8.3"],
    ]
    assert ["ValueError", "3"] in table_rows(section(page, "Outcomes").split("exception type")[1])
    problems = table_rows(section(page, "Per-problem pass rates"))
    assert problems[2] == ["HumanEval/2", "4", "1", "25.0", "ValueError"]
    assert "<table class='sortable'>" in section(page, "Per-problem pass rates")


def test_samples_are_escaped_and_one_of_each_kind_is_shown(report: Any) -> None:
    page = report.html_path.read_text()
    assert page.count("<script") == 1  # the report's own sorting script
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    samples = section(page, "Samples")
    assert samples.count("<details>") == 3
    hostile = "failed: ValueError: &lt;script&gt;alert(1)&lt;/script&gt; | `tick`"
    assert samples.count(f"failing sample (completion 1): <code>{hostile}</code>") == 3
    assert samples.count("passing sample (completion 0)") == 3


def test_figures_and_comparison(report: Any, runs: dict[str, Path]) -> None:
    page = report.html_path.read_text()
    images = re.findall(r"<img src='data:image/png;base64,([^']+)' alt='([^']+)'>", page)
    alts = [alt for _, alt in images]
    for expected in (
        "pass@k against k for each temperature",
        "the best temperature for each k",
        "pass@k against model size, humaneval",
        "pass@k against k, good",
        "pass rate of one sample chosen out of k, good",
        "BLEU of correct and incorrect samples, good",
        "BLEU of correct and incorrect samples, second",
    ):
        assert expected in alts
    for data, _ in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    comparison = table_rows(section(page, "Comparison: humaneval"))
    assert [row[:3] for row in comparison] == [
        [str(runs["good"]), "small", "1M"],
        [str(runs["second"]), "large", "50M"],
    ]
    assert comparison[1][5].startswith("16.67 (")  # the report computed it: no summary file
    assert "ROC AUC of BLEU" in page


def test_markdown_twin(report: Any) -> None:
    text = report.markdown_path.read_text()
    assert report.markdown_path == report.html_path.with_suffix(".md")
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(linked) == sorted(p.name for p in report.figure_paths)
    for path in report.figure_paths:
        assert path.read_bytes().startswith(b"\x89PNG")
    assert "| pass@1 | 41.67 |" in text
    # Sample text stays in code spans and fenced blocks, where Markdown shows HTML as text.
    assert "`` failed: ValueError: <script>alert(1)</script> | `tick` ``" in text
    assert "<script>" not in outside_code(text)


def outside_code(markdown: str) -> str:
    """The Markdown without its fenced code blocks and code spans."""
    text = re.sub(r"^(`{3,})python\n.*?\n\1$", "", markdown, flags=re.S | re.M)
    return re.sub(r"(`+) .*? \1", "", text)


def test_bad_input_is_named_and_the_rest_is_reported(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bad.html"
    argv = ["report", str(runs["good"]), str(runs["unevaluated"]), str(runs["other"])]
    argv += [str(runs["second"]), "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    missing = (
        f"{runs['unevaluated']}: no results.jsonl (its samples were never evaluated: "
        f"`passk evaluate {runs['unevaluated']}/samples.jsonl --out "
        f"{runs['unevaluated']}/results.jsonl`); pass@k, outcomes, figures and samples of this "
        "run are left out"
    )
    mixed = (
        f"runs of different benchmarks are not compared in one table (humaneval: "
        f"{runs['good']}, {runs['second']}; mbpp: {runs['other']}); each benchmark's runs are "
        "compared among themselves"
    )
    no_logp = (
        f"{runs['second']}: ranking by mean_logp left out: mean_logp missing for 12 of 12 samples"
    )
    assert f"warning: {missing}\n" in err
    assert f"warning: {mixed}\n" in err
    assert f"warning: {no_logp}" in err
    page = out.read_text()
    for notice in (missing, mixed, no_logp):
        assert html_of(notice) in page
    assert ["pass@1", "41.67"] in [r[:2] for r in table_rows(section(page, "pass@k"))]
    assert "Comparison: humaneval" in page and "Comparison: mbpp" not in page  # one run only


def html_of(notice: str) -> str:
    """A notice as the report writes it: escaped, `code` spans as <code>."""
    import html

    parts = re.split(r"`([^`]+)`", notice)
    return "".join(
        f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts)
    )


def test_nothing_to_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"passk: error: nothing to report: {tmp_path / 'nope'}: no such directory; a run "
        "directory of `passk run` was expected\n"
    )
    assert not out.exists() and not out.with_suffix(".md").exists()


def test_long_samples_are_truncated(runs: dict[str, Path], tmp_path: Path) -> None:
    rows = [
        json.loads(line) for line in (runs["second"] / "results.jsonl").read_text().splitlines()
    ]
    rows[0]["completion"] = "    x = 1\n" * 1000  # the first failing sample of HumanEval/0
    write_jsonl(tmp_path / "long" / "results.jsonl", rows)
    report = write_report([tmp_path / "long"], tmp_path / "long.html")
    page = report.html_path.read_text()
    assert "truncated: 2,000 of 10,000 characters shown" in page
    assert len(page) < 200_000


def test_without_matplotlib_the_figures_are_named_and_the_rest_written(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    report = write_report([runs["good"]], tmp_path / "report.html")
    page = report.html_path.read_text()
    assert "<img" not in page and report.figure_paths == []
    assert (
        "Figure left out (pass rate of one sample chosen out of k, good): figures need "
        "matplotlib: pip install &#x27;passk[analysis]&#x27;." in page
    )
    assert ["pass@1", "41.67"] in [r[:2] for r in table_rows(section(page, "pass@k"))]


def test_count_parameters(tmp_path: Path) -> None:
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]},
    }
    raw = json.dumps(header).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(48))
    other = {"b": {"dtype": "F32", "shape": [5], "data_offsets": [0, 20]}}
    raw = json.dumps(other).encode()
    (tmp_path / "model-2.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(20))
    assert count_parameters(tmp_path) == 17
    assert parameter_count({"model": str(tmp_path)}) == 17
    assert parameter_count({"model": str(tmp_path), "parameters": 5}) == 5
    assert count_parameters(tmp_path / "missing") is None
    (tmp_path / "model-2.safetensors").write_bytes(b"\xff" * 16)
    assert count_parameters(tmp_path) is None


def test_doctests() -> None:
    import doctest

    assert doctest.testmod(passk.analysis.plots).failed == 0


# ---------------------------------------------------------------------------------------------
# In a real browser: headless Chromium driven over the DevTools protocol (--remote-debugging-pipe)


def open_page(browser: DevTools, path: Path) -> str:
    """A new page with the Runtime, Log and Page domains on, once `path` has loaded: its
    session id."""
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session: str = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Runtime", "Log", "Page"):
        browser.send(f"{domain}.enable", session)
    browser.send("Page.navigate", session, url=path.as_uri())
    browser.wait_for("Page.loadEventFired")
    return session


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def high_fd(fd: int) -> int:
    """fd moved to a number of 10 or more."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class DevTools:
    """Chrome DevTools protocol over the pipe Chromium opens on fds 3 (in) and 4 (out)."""

    def __init__(self, chromium: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Chromium reads fd 3 and writes fd 4; bash moves the pipes there (from fds >= 10, which
        # the moves cannot overwrite) and execs it.
        to_browser_r, from_browser_w = high_fd(to_browser_r), high_fd(from_browser_w)
        moves = f"3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-"
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        args += ["--remote-debugging-pipe", f"--user-data-dir={profile}", "--window-size=1200,900"]
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" {moves}', chromium, *args, "about:blank"],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                assert "error" not in reply, reply
                return dict(reply["result"])
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read())

    def _read(self, timeout: float = 30) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], timeout)
            assert ready, f"Chromium sent nothing for {timeout} s"
            chunk = os.read(self._from_browser, 1 << 16)
            assert chunk, "Chromium closed the DevTools pipe"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.write(
                self._to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0"
            )
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def console_errors(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions and browser log errors (CSP refusals, failed loads)."""
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            errors.append(json.dumps(params["args"]))
        elif method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params["exceptionDetails"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(params["entry"]["text"])
    return errors


IMAGES_DECODED = """Promise.all(Array.from(document.images).map(img => img.decode().then(
  () => [img.alt, img.naturalWidth, img.naturalHeight], () => [img.alt, 0, 0])))"""
SORT_BY_PASS_RATE = """(() => {
  const tables = document.querySelectorAll("table.sortable");
  const table = tables[tables.length - 1];
  const rates = () => Array.from(table.tBodies[0].rows).map(row => row.cells[3].textContent);
  const before = rates();
  table.querySelectorAll("th")[3].click();
  const ascending = rates();
  table.querySelectorAll("th")[3].click();
  return [before, ascending, rates()];
})()"""


def test_report_in_headless_chromium(report: Any, tmp_path: Path) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    browser = DevTools(chromium, tmp_path / "profile")
    try:
        session = open_page(browser, report.html_path)
        images = browser.send(
            "Runtime.evaluate",
            session,
            expression=IMAGES_DECODED,
            awaitPromise=True,
            returnByValue=True,
        )["result"]["value"]
        sorted_rates = browser.send(
            "Runtime.evaluate", session, expression=SORT_BY_PASS_RATE, returnByValue=True
        )["result"]["value"]
        shot = browser.send(
            "Page.captureScreenshot", session, format="png", captureBeyondViewport=False
        )
        (tmp_path / "report.png").write_bytes(base64.b64decode(shot["data"]))
        if where := os.environ.get("PASSK_REPORT_SCREENSHOT"):
            shutil.copy(tmp_path / "report.png", where)
    finally:
        browser.close()
    assert len(images) == len(report.figure_paths) >= 5
    assert [alt for alt, width, height in images if not (width > 0 and height > 0)] == []
    # The last sortable table: the second run's problems, 1, 1 and 0 of 4 samples passing.
    assert sorted_rates == [
        ["25.0", "25.0", "0.0"],
        ["0.0", "25.0", "25.0"],
        ["25.0", "25.0", "0.0"],
    ]
    assert console_errors(browser.events) == []
