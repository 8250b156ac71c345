"""The `doctests:PATH` benchmark: problems mined from docstring examples, judged in the sandbox."""

from __future__ import annotations

import contextlib
import doctest
import io
import json
from pathlib import Path
from typing import Any

import pytest

from passk import canonical
from passk.benchmarks import doctests as mined
from passk.benchmarks.humaneval import STOP_SEQUENCES
from passk.benchmarks.problem import Benchmark, problems_digest
from passk.cli import main
from passk.errors import BenchmarkError
from passk.evaluation import evaluate
from passk.execution.options import ExecutionOptions
from passk.records.corpus import iter_records
from passk.training.corpus import build_corpus

ONE_WORKER = ExecutionOptions(workers=1)


def load_doctests(path: str) -> Benchmark:
    """The doctests benchmark of PATH as commands use it: its canonical check done."""
    return canonical.verify(mined.load_doctests(path), ExecutionOptions())


def get_benchmark(name: str) -> Benchmark:
    return canonical.load_benchmark(name)


SOURCE = '''\
"""Geometry helpers.

>>> add(2, 3) * 2
10
>>> area(2)  # a module example that fails, so area keeps only its own
0
"""

import math
from fractions import (
    Fraction,
)

LIMIT = 3


def add(a, b):
    """Add two numbers.

    >>> add(1, 2)
    3
    """
    # the sum
    return a + b


@functools_free
def decorated(x):
    """>>> decorated(1)
    1
    """
    return x


def area(r):
    """Area of a circle of radius r.

    >>> round(area(1), 4)
    3.1416
    >>> area(0)
    0.0
    """
    return math.pi * r * r


def half(x):
    """
    >>> half(3)
    Fraction(3, 2)
    """
    return Fraction(x, 2)


def wrong(x):
    """
    >>> wrong(1)
    2
    """
    return x


def needs_global(x):
    """
    >>> needs_global(1)
    4
    """
    return x + LIMIT


def no_call():
    """
    >>> 1 + 1
    2
    """
    return 0


def skipped(x):
    """
    >>> skipped(1)  # doctest: +SKIP
    1
    """
    return x


async def later(x):
    """
    >>> later(1)
    1
    """
    return x


def outer():
    def inner(x):
        """
        >>> inner(1)
        1
        """
        return x

    return inner


class Box:
    def size(self):
        """
        >>> Box().size()
        1
        """
        return 1
'''

ADD_TEST = """\
def check(candidate):
    import doctest

    examples = (
        '>>> add(1, 2)\\n'
        '3\\n'
        '>>> add(2, 3) * 2\\n'
        '10\\n'
    )
    globs = dict(globals())
    test = doctest.DocTestParser().get_doctest(examples, globs, 'add', 'geometry.py', 0)

    class Runner(doctest.DebugRunner):
        def report_start(self, out, test, example):
            test.globs['add'] = candidate  # an example may have imported the original
            super().report_start(out, test, example)

    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = Runner(verbose=False, optionflags=flags)
    try:
        runner.run(test, clear_globs=False)
    except doctest.DocTestFailure as e:
        raise AssertionError(
            f"example {e.example.source.strip()!r}: expected {e.example.want!r}, got {e.got!r}"
        ) from None
    except doctest.UnexpectedException as e:
        error = e.exc_info[1]
        raise AssertionError(
            f"example {e.example.source.strip()!r} raised {type(error).__name__}: {error}"
        ) from None
"""

IMPORTS = "import math\nfrom fractions import (\n    Fraction,\n)\n\n"


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PASSK_DEBUG", raising=False)
    return tmp_path / "cache"


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def geometry(tmp_path: Path) -> Path:
    return write(tmp_path / "src", "geometry.py", SOURCE)


def test_keeps_top_level_functions_whose_code_passes_their_examples(geometry: Path) -> None:
    bench = load_doctests(str(geometry))
    # decorated: NameError on its decorator; wrong: fails; needs_global: LIMIT is not in the
    # prompt; no_call, skipped: no example that calls them; later, inner, Box.size: not top-level
    # synchronous functions.
    assert list(bench.problems) == [
        "doctests/geometry.py:add",
        "doctests/geometry.py:area",
        "doctests/geometry.py:half",
    ]


def test_prompt_canonical_solution_and_test_are_exact(geometry: Path) -> None:
    add = load_doctests(str(geometry)).problem("doctests/geometry.py:add")
    assert add.prompt == (
        IMPORTS + 'def add(a, b):\n    """Add two numbers.\n\n    >>> add(1, 2)\n    3\n    """\n'
    )
    assert add.canonical_solution == "    # the sum\n    return a + b\n"
    assert add.entry_point == "add"
    assert add.test == ADD_TEST


def test_a_failing_module_example_is_dropped_not_the_function(geometry: Path) -> None:
    area = load_doctests(str(geometry)).problem("doctests/geometry.py:area")
    assert area.prompt.startswith(IMPORTS + "def area(r):\n")
    assert area.canonical_solution == "    return math.pi * r * r\n"
    assert "'>>> round(area(1), 4)\\n'" in area.test
    assert "area(2)" not in area.test


def test_benchmark_metadata(geometry: Path) -> None:
    bench = get_benchmark(f"doctests:{geometry}")
    assert bench.name == f"doctests:{geometry}"
    assert bench.version == "1"
    assert bench.stop_sequences == STOP_SEQUENCES
    assert "doctest" in bench.preimports
    assert bench.sha256 == problems_digest(list(bench.problems.values()))
    assert bench.describe()["problems"] == 3
    assert get_benchmark(f"DocTests:{geometry}").sha256 == bench.sha256


def test_verdicts_are_cached(
    geometry: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    judged: list[list[str]] = []
    real_judge = canonical.judge

    def spy(problems: list[Any], **options: Any) -> dict[str, dict[str, Any]]:
        judged.append([p.task_id for p in problems])
        return real_judge(problems, **options)

    monkeypatch.setattr(canonical, "judge", spy)
    first = load_doctests(str(geometry))
    assert len(judged[0]) == 6  # every mined candidate
    assert judged[1] == ["doctests/geometry.py:area"]  # again without the module's examples
    files = list((cache_home / "passk" / "doctests").glob("*.json"))
    assert len(files) == 1
    verdicts = json.loads(files[0].read_text())["verdicts"]
    assert sum(v["passed"] for v in verdicts.values()) == 3
    judged.clear()
    second = load_doctests(str(geometry))
    assert judged == [[], []]
    assert second.problems == first.problems


def test_failing_example_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.py",
        "def wrong(x):\n    '''\n    >>> wrong(1)\n    2\n    '''\n    return x\n",
    )
    with pytest.raises(BenchmarkError) as info:
        load_doctests(str(path))
    assert str(info.value) == (
        f"doctests: none of the 1 functions with examples in {path} passes its own examples "
        "in the sandbox (e.g. doctests/bad.py:wrong: failed: AssertionError: example "
        "'wrong(1)': expected '2\\n', got '1\\n')"
    )


def test_a_directory_is_searched_recursively_in_order(tmp_path: Path) -> None:
    one = "def one():\n    '''\n    >>> one()\n    1\n    '''\n    return 1\n"
    write(tmp_path / "d", "b.py", one)
    write(tmp_path / "d", "a/z.py", one + "\n\n" + one.replace("1", "2"))
    write(tmp_path / "d", "notes.txt", one)
    write(tmp_path / "d", "broken.py", "def (:\n")
    bench = load_doctests(str(tmp_path / "d"))
    assert list(bench.problems) == [
        "doctests/a/z.py:one",
        "doctests/a/z.py:one-2",
        "doctests/b.py:one",
    ]
    assert bench.problem("doctests/a/z.py:one-2").canonical_solution == "    return 2\n"


def doc_module(i: int) -> str:
    """A module whose doctested function and identifiers make it unlike every other i."""
    return (
        f'"""Scaling helpers number {i}."""\n\n\n'
        f"def scale_{i}(value_{i}):\n"
        f'    """Multiply value_{i} by {i + 2}.\n\n'
        f"    >>> scale_{i}({i})\n    {i * (i + 2)}\n"
        f'    """\n'
        f"    factor_{i} = {i + 2}\n"
        f"    return value_{i} * factor_{i}\n"
    )


def test_a_corpus_contributes_only_its_valid_split(tmp_path: Path) -> None:
    for i in range(8):
        write(tmp_path / "code", f"pkg/mod_{i}.py", doc_module(i))
    out = tmp_path / "corpus"
    build_corpus([tmp_path / "code"], out, workers=1, valid_fraction=0.5, seed=1)
    valid = sorted(r["path"] for r in iter_records(out, "valid"))
    train = sorted(r["path"] for r in iter_records(out, "train"))
    assert valid and train and len(valid) + len(train) == 8
    bench = load_doctests(str(out))
    expected = [f"doctests/{path}:scale_{path[8:-3]}" for path in valid]
    assert sorted(bench.problems) == expected


def test_an_empty_valid_split_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path / "code", "pkg/mod_1.py", doc_module(1))
    build_corpus([tmp_path / "code"], tmp_path / "corpus", workers=1, valid_fraction=0.0)
    with pytest.raises(BenchmarkError) as info:
        get_benchmark(f"doctests:{tmp_path / 'corpus'}")
    assert str(info.value) == (
        f"doctests: no top-level function with >>> examples in {tmp_path / 'corpus'} (valid split)"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("doctests:", "doctests: needs a path, e.g. doctests:src/"),
        ("doctests:{tmp}/nowhere", "doctests: {tmp}/nowhere: no such file or directory"),
        (
            "doctests:{tmp}/notes.txt",
            "doctests: {tmp}/notes.txt: expected a .py file, a directory of them, or a passk corpus",
        ),
        (
            "doctests:{tmp}/plain.py",
            "doctests: no top-level function with >>> examples in {tmp}/plain.py",
        ),
    ],
)
def test_bad_paths_are_one_clear_error(tmp_path: Path, name: str, message: str) -> None:
    write(tmp_path, "notes.txt", ">>> 1\n1\n")
    write(tmp_path, "plain.py", "def f():\n    return 1\n")
    with pytest.raises(BenchmarkError) as info:
        get_benchmark(name.format(tmp=tmp_path))
    assert str(info.value) == message.format(tmp=tmp_path)


# Functions named like the standard library's, whose examples import the original: the sandbox
# can import it, so without care every completion would pass.
IMPORTING = '''\
import math


def gcd(a, b):
    """Greatest common divisor.

    >>> from math import gcd, lcm as multiple
    >>> gcd(12, 18), multiple(4, 6)
    (6, 12)
    >>> from math import gcd; gcd(2, 4)
    2
    """
    while b:
        a, b = b, a % b
    return a


def lcm(a, b):
    """Least common multiple.

    >>> from math import *
    >>> lcm(4, 6)
    12
    """
    return a * b // math.gcd(a, b)


def isqrt(n):
    """Only ever reached through the module, so untestable.

    >>> from math import isqrt
    >>> import math
    >>> math.isqrt(10)
    3
    """
    return int(n**0.5)
'''


def test_imports_of_the_function_are_taken_out_of_its_examples() -> None:
    candidates = mined.extract("mathlike.py", IMPORTING)
    # isqrt: its examples reach it only as `math.isqrt`, the installed original.
    assert [c.problem.entry_point for c in candidates] == ["gcd", "lcm"]
    gcd = candidates[0].problem
    assert "'>>> from math import lcm as multiple\\n'" in gcd.test
    assert "'>>> gcd(2, 4)\\n'" in gcd.test
    assert "import gcd" not in gcd.test
    assert "'>>> from math import *\\n'" in candidates[1].problem.test  # left to the runner


def test_a_completion_is_tested_even_where_the_examples_import_the_original(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "mathlike.py", IMPORTING)
    bench = load_doctests(str(path))
    assert list(bench.problems) == ["doctests/mathlike.py:gcd", "doctests/mathlike.py:lcm"]
    samples = tmp_path / "samples.jsonl"
    rows = [
        {"task_id": "doctests/mathlike.py:gcd", "completion": "    return 1\n"},
        {"task_id": "doctests/mathlike.py:lcm", "completion": "    return 0\n"},
        {
            "task_id": "doctests/mathlike.py:lcm",
            "completion": "    return a * b // math.gcd(a, b)\n",
        },
    ]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    evaluation = evaluate(samples, benchmark=f"doctests:{path}", k=[1], execution=ONE_WORKER)
    results = [json.loads(line) for line in evaluation.results_path.read_text().splitlines()]
    assert [r["passed"] for r in results] == [False, False, True]
    assert results[0]["result"] == (
        "failed: AssertionError: example 'gcd(12, 18), multiple(4, 6)': "
        "expected '(6, 12)\\n', got '(1, 12)\\n'"
    )
    assert results[1]["result"] == (
        "failed: AssertionError: example 'lcm(4, 6)': expected '12\\n', got '0\\n'"
    )


# --------------------------------------------------------------------------- end to end


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_evaluate_judges_completions_in_the_sandbox(geometry: Path, tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    rows = [
        {"task_id": "doctests/geometry.py:half", "completion": "    return Fraction(x) / 2\n"},
        {"task_id": "doctests/geometry.py:half", "completion": "    return x / 2\n"},
        {"task_id": "doctests/geometry.py:add", "completion": "    return a - b\n"},
    ]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    evaluation = evaluate(samples, benchmark=f"doctests:{geometry}", k=[1], execution=ONE_WORKER)
    results = [json.loads(line) for line in evaluation.results_path.read_text().splitlines()]
    assert [r["passed"] for r in results] == [True, False, False]
    assert results[1]["result"] == (
        "failed: AssertionError: example 'half(3)': expected 'Fraction(3, 2)\\n', got '1.5\\n'"
    )
    assert results[2]["result"] == (
        "failed: AssertionError: example 'add(1, 2)': expected '3\\n', got '-1\\n'"
    )
    assert evaluation.summary["benchmark"] == f"doctests:{geometry}"
    assert evaluation.summary["settings"]["benchmark"]["problems"] == 3


def test_cli_lists_problems_and_scores_canonical_solutions(geometry: Path, tmp_path: Path) -> None:
    name = f"doctests:{geometry}"
    code, out, err = run_main(["problems", "--benchmark", name])
    assert code == 0, err
    listed = [json.loads(line) for line in out.splitlines()]
    assert [row["task_id"] for row in listed] == list(get_benchmark(name).problems)
    assert set(listed[0]) == {"task_id", "prompt", "entry_point", "canonical_solution", "test"}
    samples = tmp_path / "canonical.jsonl"
    code, _, err = run_main(["problems", "--benchmark", name, "--canonical", "--out", str(samples)])
    assert code == 0, err
    code, out, err = run_main(
        [
            "evaluate",
            str(samples),
            "--benchmark",
            name,
            "--k",
            "1",
            "--workers",
            "1",
            "--no-progress",
        ]
    )
    assert code == 0, err
    assert out.splitlines()[0] == f"{name}: 3 of 3 problems, 3 samples (1 per problem)"
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == ["pass@1"]]
    assert [row[:2] for row in rows] == [["pass@1", "100.00"]], out


def test_cli_bad_path_is_one_line(tmp_path: Path) -> None:
    code, out, err = run_main(["problems", "--benchmark", f"doctests:{tmp_path}/nowhere"])
    assert code == 2
    assert out == ""
    assert err == f"passk: error: doctests: {tmp_path}/nowhere: no such file or directory\n"


def test_module_doctests() -> None:
    result = doctest.testmod(mined, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
