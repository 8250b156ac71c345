"""`passk report` over runs of the paper's limitation studies: the chained-components curve, the
misalignment variants side by side (and the gap against model size), the insecure-crypto
shares; each figure decodes in headless Chromium and the page logs no error.

The runs are results files written here (verdicts chosen so that every figure has something to
show), with a `config.json` naming the study's benchmark, as `passk run` writes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from passk.analysis.report import write_report
from passk.benchmarks import get_benchmark
from test_report import IMAGES_DECODED, DevTools, console_errors, find_chromium, open_page


def write_run(
    directory: Path, benchmark: str, model: str, rows: list[dict[str, Any]], **config: Any
) -> Path:
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(
        json.dumps({"model": model, "benchmark": benchmark, "k": [1], **config})
    )
    lines = []
    for i, row in enumerate(rows):
        passed = row.pop("passed")
        result = "passed" if passed else row.pop("result", "failed: AssertionError")
        lines.append(
            json.dumps({"completion_id": i, "completion": "    pass\n", **row,
                        "result": result, "passed": passed, "duration_s": 0.01, "cpu_s": 0.01})
        )  # fmt: skip
    (directory / "results.jsonl").write_text("\n".join(lines) + "\n")
    return directory


@pytest.fixture(scope="module")
def study_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("studies")
    runs = []
    chained = get_benchmark("chained:1-4:3")
    for model, rate in (("small", 0.5), ("large", 0.9)):
        rows = []
        for task in chained.problems:
            length = int(task.split("/")[1])
            passes = round(4 * rate**length)
            rows += [{"task_id": task, "passed": i < passes} for i in range(4)]
        runs.append(write_run(root / f"chained-{model}", "chained:1-4:3", model, rows))
    for model, parameters, rates in (
        ("small", 1_000_000, {"correct": 0.5, "buggy": 0.4, "buggy+instruction": 0.45}),
        ("large", 100_000_000, {"correct": 0.8, "buggy": 0.5, "buggy+instruction": 0.6}),
    ):
        for variant, rate in rates.items():
            bench = get_benchmark(f"humaneval-misaligned:{variant}")
            rows = [
                {"task_id": t, "passed": i < round(10 * rate)}
                for t in bench.problems
                for i in range(10)
            ]
            name = f"misaligned-{model}-{variant.replace('+', '-')}"
            runs.append(
                write_run(root / name, f"humaneval-misaligned:{variant}", model, rows,
                          parameters=parameters)
            )  # fmt: skip
    crypto = get_benchmark("crypto")
    rows = []
    for task in crypto.problems:
        rows += [
            {"task_id": task, "passed": True},
            {"task_id": task, "passed": False,
             "result": "failed: InsecureCryptoError: RSA key of 1024 bits"},
            {"task_id": task, "passed": False, "result": "failed: NameError: name 'x' is not defined",
             "completion": "    key = generate(1024)\n"},
        ]  # fmt: skip
    runs.append(write_run(root / "crypto", "crypto", "small", rows))
    return runs


def test_the_report_shows_each_study(study_runs: list[Path], tmp_path: Path) -> None:
    report = write_report(study_runs, tmp_path / "studies.html")
    page = report.html_path.read_text()
    for title in (
        "Study: chained components",
        "Study: misalignment",
        "Study: insecure crypto (small)",
    ):
        assert title in page, title
    slugs = {p.name for p in report.figure_paths}
    for slug in ("study-chained", "study-misalignment", "study-misalignment-gap", "study-crypto0"):
        assert f"studies-{slug}.png" in slugs, sorted(slugs)
    markdown = report.markdown_path.read_text()
    assert "## Study: chained components" in markdown
    assert "drop per component" in markdown


def test_study_figures_render_in_headless_chromium(study_runs: list[Path], tmp_path: Path) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    report = write_report(study_runs, tmp_path / "studies.html")
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
    finally:
        browser.close()
    study_images = [
        alt for alt, _, _ in images if "chain" in alt or "context" in alt or "run" in alt
    ]
    assert len(images) == len(report.figure_paths) and len(study_images) >= 4
    assert [alt for alt, width, height in images if not (width > 0 and height > 0)] == []
    assert console_errors(browser.events) == []
