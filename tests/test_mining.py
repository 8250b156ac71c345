"""`passk mine`: problems mined from code, with tests from doctests or traced calls, checked in
the sandbox (Chen et al. 2021, section 4.1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from passk.benchmarks import Benchmark
from passk.cli import main
from passk.errors import InputError
from passk.mining import MANIFEST, Mined, MineOptions, mine
from passk.training import mining as rules
from passk.training import tracer
from passk.training.corpus import build_corpus

# One module with a function for every reason to drop one, and a few to keep.
SHAPES = (
    '''\
"""Functions of every shape."""
from __future__ import annotations

import os
import re
import not_a_module_anywhere
from collections import Counter, OrderedDict
from .util import helper

LIMIT = 3


def words(text: str) -> list[str]:
    """Split text into lower-case words, dropping punctuation."""
    found = re.findall(r"[a-z]+", text.lower())
    return found


def letters(text):
    """Count how often each letter occurs in the text."""
    counts = Counter(c for c in text if c.isalpha())
    return dict(counts)


def factorial(n):
    """Multiply all positive integers up to n together."""
    if n <= 1:
        return 1
    return n * factorial(n - 1)


async def fetch(url):
    """Fetch a resource from somewhere far away."""
    await url
    return url


def bare(x):
    y = x + 1
    return y


def weak(x):
    """TODO: document x."""
    y = x + 1
    return y


def one_line(x):
    """Return the value plus one more."""
    return x + 1


def same_line(x):
    """Return the value plus one more."""; y = x + 1
    return y


def long_body(x):
    """Add up the value many times over."""
'''
    + "    x += 1\n" * 41
    + '''    return x


def numbers(n):
    """Yield the numbers below n one after another."""
    i = 0
    while i < n:
        yield i


def clipped(values):
    """Clip every value at the module's limit."""
    out = [min(v, LIMIT) for v in values]
    return out


def counter():
    """Count calls with a module-level variable."""
    global LIMIT
    LIMIT += 1
    return LIMIT


def here():
    """Say which file this function was defined in."""
    name = __file__
    return name


def helped(x):
    """Run the relative helper on the value given."""
    y = helper(x)
    return y


def missing(x):
    """Run a module that is not installed anywhere."""
    y = not_a_module_anywhere.run(x)
    return y
'''
)

EXPECTED_FOUND = {
    "words": None,
    "letters": None,
    "factorial": None,
    "fetch": "async_function",
    "bare": "no_docstring",
    "weak": "weak_docstring",
    "one_line": "body_too_short",
    "same_line": "code_on_docstring_line",
    "long_body": "body_too_long",
    "numbers": "generator",
    "clipped": "uses_module_names",
    "counter": "uses_module_names",
    "here": "uses_module_names",
    "helped": "relative_import",
    "missing": "unavailable_import",
}

# A project with its own tests, for tracing.
TEXTS = '''\
"""Text helpers."""
import random
import types


def slug(title, sep="-"):
    """Join the lower-case words of a title with dashes."""
    words = title.lower().split()
    return sep.join(words)


def noisy(text):
    """Pick one of the words of the text at random."""
    words = text.split()
    return random.choice(words) + str(random.random())


def boxed(value):
    """Wrap a value inside a fresh namespace object."""
    box = types.SimpleNamespace(value=value)
    return box


def sort_in_place(items):
    """Sort the items where they are and give back nothing."""
    items.sort()
    return None


def shout(text):
    """Print the text in upper case to the screen."""
    loud = text.upper()
    print(loud)


def unused(x):
    """Nobody ever calls this little function at all."""
    y = x * 2
    return y


def add(a, b):
    """Add two numbers and give back their total.

    >>> add(2, 3)
    5
    """
    total = a + b
    return total


def wrong(a):
    """Double a number and give back the result.

    >>> wrong(2)
    5
    """
    result = a * 2
    return result
'''

TEST_TEXTS = """\
import unittest

from textlib.texts import boxed, noisy, shout, slug, sort_in_place


class TestSlug(unittest.TestCase):
    def test_slug(self):
        self.assertEqual(slug("Hello Big World"), "hello-big-world")
        self.assertEqual(slug("A b", sep="_"), "a_b")

    def test_noisy(self):
        for _ in range(3):
            noisy("a b c d e f")


def test_plain_function():
    boxed(1)
    sort_in_place([3, 1, 2])
    shout("hi")
"""

HUMANEVAL_0 = "HumanEval/0"


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rows(path: Path) -> dict[str, dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {row["task_id"]: row for row in map(json.loads, lines)}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write(root, "textlib/__init__.py", "")
    write(root, "textlib/texts.py", TEXTS)
    write(root, "tests/test_texts.py", TEST_TEXTS)
    return root


@pytest.fixture(scope="module")
def mined(tmp_path_factory: pytest.TempPathFactory) -> Mined:
    """One full run over the project and the shapes module (sandboxed, traced twice)."""
    root = tmp_path_factory.mktemp("mined") / "project"
    write(root, "textlib/__init__.py", "")
    write(root, "textlib/texts.py", TEXTS)
    write(root, "tests/test_texts.py", TEST_TEXTS)
    write(root, "shapes.py", SHAPES)
    out = root.parent / "out" / "problems.jsonl"
    return mine([root], out, options=MineOptions(valid_fraction=0.0))


# --- Finding functions ------------------------------------------------------------------------


def test_each_function_is_kept_or_dropped_for_its_reason() -> None:
    file = rules.SourceFile("pkg/shapes.py", SHAPES, "/nowhere")
    scan = rules.scan(file)
    assert {f.name: f.reason for f in scan.found} == EXPECTED_FOUND
    assert scan.parsed and scan.drivers == []


def test_prompt_has_the_imports_used_signature_and_docstring() -> None:
    found = {f.name: f.function for f in rules.scan(rules.SourceFile("s.py", SHAPES, "/x")).found}
    words, letters, factorial = found["words"], found["letters"], found["factorial"]
    assert words is not None and letters is not None and factorial is not None
    # Annotations are postponed in this module: the prompt keeps that, and only `re`.
    assert words.prompt == (
        "from __future__ import annotations\nimport re\n\n"
        "def words(text: str) -> list[str]:\n"
        '    """Split text into lower-case words, dropping punctuation."""\n'
    )
    assert words.body == '    found = re.findall(r"[a-z]+", text.lower())\n    return found\n'
    # `from collections import Counter, OrderedDict` is cut down to the name used.
    assert letters.imports == "from collections import Counter\n"
    assert letters.modules == {"collections"}
    # A recursive function calls itself by a name the prompt defines.
    assert factorial.imports == "" and factorial.modules == frozenset()


def test_a_docstring_must_say_something() -> None:
    node = rules.ast.parse("def parse_int(text, base=10): pass").body[0]
    assert isinstance(node, rules.ast.FunctionDef)
    assert not rules.says_something("Parse int text base.", node)  # only its own names
    assert not rules.says_something("Deprecated, use int instead.", node)
    assert not rules.says_something(">>> parse_int('12')\n12", node)  # an example is no prose
    assert rules.says_something("Read a whole number written in any radix.", node)


def test_a_file_that_does_not_parse_gives_nothing() -> None:
    scan = rules.scan(rules.SourceFile("bad.py", "def f(:\n", "/x"))
    assert scan == rules.FileScan([], [], parsed=False)


def test_drivers_are_test_files_and_modules_with_examples() -> None:
    test = rules.SourceFile("tests/test_texts.py", TEST_TEXTS, "/p")
    module = rules.SourceFile("textlib/texts.py", TEXTS, "/p")
    (driver,) = rules.scan(test).drivers
    assert (driver.kind, driver.module) == ("tests", "tests.test_texts")
    assert "textlib.texts" in driver.imports and not driver.installed
    (examples,) = rules.scan(module).drivers
    assert (examples.kind, examples.imports) == ("examples", frozenset({"textlib.texts"}))


# --- Reading traces and writing tests ---------------------------------------------------------


def test_literals_are_plain_data_only() -> None:
    assert rules.is_plain_literal("[1, -2.5, {'a': (b'x',)}, set(), frozenset({1}), None]")
    assert rules.is_plain_literal("[float('inf'), -float('inf'), (1+2j), -1j]")
    for text in ("os.system('x')", "[x]", "print(1)", "lambda: 1", "f'{x}'", "[1, 2", "..."):
        assert not rules.is_plain_literal(text), text


def test_the_tracer_writes_literals_that_read_back() -> None:
    values = [{(1, "a"): [1.5, None]}, {3, 1, 2}, frozenset(), -0.0, 10**30, b"\x00", 2j]
    text = tracer.literal(values, [10_000])
    assert rules.is_plain_literal(text)
    assert eval(text) == values  # the text is a literal built by the test itself
    for value in (float("nan"), object(), [1, object()], "x" * 3000):
        with pytest.raises(tracer.NotPlain):
            tracer.literal(value, [2000])


def test_trace_output_is_read_strictly() -> None:
    mark = "\x1epassk-trace\t"
    output = "\n".join(
        [
            "the driver printed this",
            mark + json.dumps({"c": 0, "a": "[1]", "k": "{}", "r": "2"}),
            mark + json.dumps({"c": 0, "a": "[__import__('os')]", "k": "{}", "r": "2"}),
            mark + json.dumps({"c": 5, "a": "[1]", "k": "{}", "r": "2"}),  # no such target
            mark + json.dumps({"c": 1, "a": "(1,)", "k": "{}", "r": "2"}),  # args not a list
            mark + "{not json",
            mark + json.dumps({"s": 1, "why": "not plain"}),
            mark
            + json.dumps(
                {"c": 1, "a": "[[2, 1]]", "k": "{}", "r": "None", "p": ["[[1, 2]]", "{}"]}
            ),
        ]
    )
    trace = rules.read_trace(output, 2)
    assert trace.calls == {
        0: [rules.Call("[1]", "{}", "2")],
        1: [rules.Call("[[2, 1]]", "{}", "None", ("[[1, 2]]", "{}"))],
    }
    assert trace.skipped == {1: {"not plain"}} and trace.status is None


def observed(*calls: rules.Call) -> rules.Observed:
    seen = rules.Observed()
    for call in calls:
        seen.add(call)
    return seen


def test_only_calls_both_runs_agree_on_become_asserts() -> None:
    one, two = rules.Call("[1]", "{}", "2"), rules.Call("[2]", "{}", "4")
    test, reason = rules.traced_test(observed(one, two), observed(two))
    assert reason is None and test == "def check(candidate):\n    assert candidate(2) == 4\n"
    other = rules.Call("[2]", "{}", "5")
    assert rules.traced_test(observed(two), observed(other)) == (None, "nondeterministic")
    assert rules.traced_test(observed(two, other), observed()) == (None, "nondeterministic")
    assert rules.traced_test(observed(one), observed(two)) == (None, "nondeterministic")
    none = rules.Call("[1]", "{}", "None")
    assert rules.traced_test(observed(none), observed(none)) == (None, "trivial")
    assert rules.traced_test(None, None) == (None, "not_called")
    skipped = rules.Observed(skipped={"not plain"})
    assert rules.traced_test(skipped, None) == (None, "no_plain_calls")


def test_keyword_arguments_are_written_as_keywords_where_they_can_be() -> None:
    assert rules.call_text(rules.Call("[1]", "{'sep': '-'}", "0")) == "candidate(1, sep='-')"
    assert rules.call_text(rules.Call("[]", "{'not ok': 1}", "0")) == "candidate(**{'not ok': 1})"
    assert rules.call_text(rules.Call("[]", "{'class': 1}", "0")) == "candidate(**{'class': 1})"


# --- The whole run ----------------------------------------------------------------------------


def test_tracing_writes_asserts_from_the_calls_the_tests_made(mined: Mined) -> None:
    problems = rows(mined.train_path)
    slug = problems["mined/textlib/texts.py:slug"]
    # The default separator is left out of the first call (it is the default object itself).
    assert slug["test"] == (
        "def check(candidate):\n"
        "    assert candidate('Hello Big World') == 'hello-big-world'\n"
        "    assert candidate('A b', '_') == 'a_b'\n"
    )
    assert slug["prompt"] == (
        'def slug(title, sep="-"):\n    """Join the lower-case words of a title with dashes."""\n'
    )
    assert slug["canonical_solution"] == (
        "    words = title.lower().split()\n    return sep.join(words)\n"
    )
    assert slug["entry_point"] == "slug"
    assert slug["origin"]["tests"] == "trace" and slug["origin"]["path"] == "textlib/texts.py"
    # The arguments are written before the call, and checked again after it.
    assert problems["mined/textlib/texts.py:sort_in_place"]["test"] == (
        "def check(candidate):\n"
        "    args, kwargs = [[3, 1, 2]], {}\n"
        "    assert candidate(*args, **kwargs) is None\n"
        "    assert [args, kwargs] == [[[1, 2, 3]], {}]\n"
    )


def test_functions_without_usable_calls_are_dropped_with_their_reason(mined: Mined) -> None:
    tests = mined.manifest["steps"]["tests"]
    examples = {reason: set(where) for reason, where in tests["examples"].items()}
    assert examples["nondeterministic"] == {"mined/textlib/texts.py:noisy"}
    assert examples["no_plain_calls"] == {"mined/textlib/texts.py:boxed"}
    assert examples["trivial"] == {"mined/textlib/texts.py:shout"}
    assert examples["not_called"] == {"mined/textlib/texts.py:unused"}
    # No test file or module example imports shapes.py.
    assert {"mined/shapes.py:words", "mined/shapes.py:letters"} <= examples["not_traced"]


def test_canonical_solutions_are_checked_in_the_sandbox(mined: Mined) -> None:
    problems = rows(mined.train_path)
    assert problems["mined/textlib/texts.py:add"]["origin"]["tests"] == "doctest"
    assert "mined/textlib/texts.py:wrong" not in problems
    canonical = mined.manifest["steps"]["canonical"]
    (failure,) = canonical["examples"]["fails_own_tests"]
    assert failure.startswith("mined/textlib/texts.py:wrong: failed: AssertionError: example")
    assert canonical["dropped"] == {"fails_own_tests": 1, "flaky": 0}
    assert canonical["kept"] == len(problems) == 3


def test_the_manifest_counts_every_step(mined: Mined) -> None:
    manifest = json.loads(mined.manifest_path.read_text(encoding="utf-8"))
    assert manifest == mined.manifest
    assert mined.manifest_path == mined.train_path.with_name(MANIFEST)
    counts = manifest["counts"]
    assert counts["files"] == 4 and counts["functions"] == 24
    find = manifest["steps"]["find"]
    assert find["seen"] == 24 and find["kept"] == counts["candidates"] == 11
    shapes_drops = [r for r in EXPECTED_FOUND.values() if r]
    assert find["dropped"]["uses_module_names"] == shapes_drops.count("uses_module_names")
    assert find["dropped"]["no_docstring"] == 2  # bare in shapes.py, the test function
    assert sum(find["dropped"].values()) == len(shapes_drops) + 1
    steps = manifest["steps"]
    for before, after in zip(list(steps.values()), list(steps.values())[1:], strict=False):
        assert after["seen"] == before["kept"]
        assert before["seen"] == before["kept"] + sum(before["dropped"].values())
    assert counts["problems"] == counts["train"] == 3 and counts["valid"] == 0
    assert manifest["tracing"]["first_run"]["jobs"] == 2  # the test file, the examples
    assert mined.valid_path is None


def test_humaneval_copies_and_duplicates_are_dropped(tmp_path: Path, humaneval: Benchmark) -> None:
    problem = humaneval.problems[HUMANEVAL_0]
    write(tmp_path / "code", "copied.py", problem.prompt + problem.canonical_solution)
    write(tmp_path / "code", "a.py", TEXTS)
    write(tmp_path / "code", "b.py", TEXTS)
    out = tmp_path / "problems.jsonl"
    options = MineOptions(trace=False, valid_fraction=0.0)
    mined = mine([tmp_path / "code"], out, options=options)
    steps = mined.manifest["steps"]
    assert steps["decontaminate"]["dropped"] == {"contaminated": 1}
    (reason,) = steps["decontaminate"]["examples"]["contaminated"]
    assert reason.startswith("mined/copied.py:has_close_elements: 13-gram overlap with HumanEval/0")
    # b.py repeats a.py: all eight of its candidates go, the first file's stay.
    assert steps["dedup"]["dropped"] == {"exact_duplicate": 8, "near_duplicate": 0}
    assert steps["dedup"]["examples"]["exact_duplicate"][0] == "mined/b.py:slug"
    # Without tracing, only add (whose example passes) has a test.
    assert list(rows(out)) == ["mined/a.py:add"]
    assert steps["tests"]["dropped"]["not_traced"] == 6


DOCTESTED = '''\
def double(x):
    """Multiply the number by two and return it.

    >>> double(4)
    8
    """
    y = x * 2
    return y


def negate(x):
    """Flip the sign of the number given here.

    >>> negate(4)
    -4
    """
    y = -x
    return y


def square(x):
    """Multiply the number by itself and return it.

    >>> square(3)
    9
    """
    y = x * x
    return y
'''


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """Six modules of three doctested functions each, all named apart."""
    for i in range(6):
        renamed = DOCTESTED.replace("(x", f"{i}(x").replace("(4", f"{i}(4").replace("(3", f"{i}(3")
        write(tmp_path / "code", f"m{i}.py", renamed)
    return tmp_path / "code"


def test_a_corpus_is_mined_from_both_splits_or_one(tmp_path: Path, code: Path) -> None:
    build_corpus([code], tmp_path / "corpus", valid_fraction=0.5, workers=1)
    options = MineOptions(trace=False, valid_fraction=0.0)
    both = mine([tmp_path / "corpus"], tmp_path / "both.jsonl", options=options)
    folder = mine([code], tmp_path / "folder.jsonl", options=options)
    assert sorted(rows(both.train_path)) == sorted(rows(folder.train_path))
    assert len(rows(both.train_path)) == 18
    valid = mine(
        [tmp_path / "corpus"],
        tmp_path / "v.jsonl",
        options=MineOptions(split="valid", trace=False, valid_fraction=0.0),
    )
    assert 0 < len(rows(valid.train_path)) < 18 and valid.manifest["split"] == "valid"


def test_valid_fraction_holds_out_problems_by_content(tmp_path: Path, code: Path) -> None:
    options = MineOptions(trace=False, valid_fraction=0.3)
    first = mine([code], tmp_path / "a" / "p.jsonl", options=options)
    assert first.valid_path == tmp_path / "a" / "p.valid.jsonl"
    train, valid = rows(first.train_path), rows(first.valid_path)
    assert len(train) + len(valid) == 18 and valid and train
    assert first.manifest["counts"]["valid"] == len(valid)
    again = mine([code], tmp_path / "b" / "p.jsonl", options=options)
    assert again.valid_path is not None and rows(again.valid_path) == valid


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "{p}/missing: no such file or directory"),
        (
            lambda p: write(p, "notes.txt", "x"),
            "{p}/notes.txt: expected a corpus, a folder or a .py file",
        ),
        (
            lambda p: (p / "empty").mkdir() or p / "empty",
            "{p}/empty: no .py files in this folder (and not a corpus)",
        ),
        (lambda p: write(p, "nothing.py", "x = 1\n"), "no top-level functions in {p}/nothing.py"),
    ],
)
def test_bad_inputs_are_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    path = make(tmp_path)
    assert main(["mine", str(path), "--out", str(tmp_path / "p.jsonl")]) == 2
    assert capsys.readouterr().err == f"passk: error: {message.format(p=tmp_path)}\n"
    assert not (tmp_path / "p.jsonl").exists()


def test_an_empty_corpus_split_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "code", "m.py", DOCTESTED)
    build_corpus([tmp_path / "code"], tmp_path / "corpus", valid_fraction=0.0, workers=1)
    argv = [
        "mine",
        str(tmp_path / "corpus"),
        "--split",
        "valid",
        "--out",
        str(tmp_path / "p.jsonl"),
    ]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"passk: error: {tmp_path}/corpus: no Python files in the valid split\n"
    )


def test_nothing_left_is_an_error_that_says_why(tmp_path: Path) -> None:
    write(tmp_path / "code", "m.py", SHAPES)
    with pytest.raises(InputError) as info:
        mine([tmp_path / "code"], tmp_path / "p.jsonl", options=MineOptions(trace=False))
    assert str(info.value) == (
        "no problem is left: 15 functions seen; dropped at find: uses_module_names 3, "
        "async_function 1, no_docstring 1, weak_docstring 1, body_too_short 1, "
        "code_on_docstring_line 1, body_too_long 1, generator 1, relative_import 1, "
        "unavailable_import 1; tests: not_traced 3"
    )
    assert not (tmp_path / "p.jsonl").exists()


def test_cli_prints_each_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "code", "m.py", DOCTESTED)
    write(tmp_path / "code", "shapes.py", SHAPES)
    out = tmp_path / "p.jsonl"
    assert main(["mine", str(tmp_path / "code"), "--out", str(out), "--no-trace"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:7] == [
        "2 files, 18 top-level functions, 6 standalone with a docstring (4 use builtins only, "
        "2 also the standard library)",
        "  find: kept 6 of 18; dropped async_function 1, no_docstring 1, weak_docstring 1, "
        "body_too_short 1, code_on_docstring_line 1, body_too_long 1, generator 1, "
        "uses_module_names 3, relative_import 1, unavailable_import 1",
        "  dedup: kept 6 of 6",
        "  decontaminate: kept 6 of 6",
        "  tests: kept 3 of 6; dropped not_traced 3",
        "  canonical: kept 3 of 3",
        "3 problems (3 use builtins only; 3 tested by docstring examples, 0 by traced calls) "
        f"in {lines[6].split()[-2]} s",
    ]
    assert lines[7:] == [f"train: {out} (3)", f"valid: {tmp_path / 'p.valid.jsonl'} (0)"]


def test_bad_options_name_their_flag() -> None:
    with pytest.raises(InputError, match="--valid-fraction must be in"):
        MineOptions(valid_fraction=1.0)
    with pytest.raises(InputError, match="--split must be one of train, valid"):
        MineOptions(split="test")
    with pytest.raises(InputError, match="--trace-timeout must be positive"):
        MineOptions(trace_timeout=0)


def test_the_tracer_imports_only_the_standard_library() -> None:
    """It runs in the sandbox as a program of its own, where passk is not its to import."""
    tree = rules.ast.parse(Path(tracer.__file__).read_text(encoding="utf-8"))
    names = {
        alias.name.split(".")[0]
        for node in rules.ast.walk(tree)
        if isinstance(node, rules.ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in rules.ast.walk(tree)
        if isinstance(node, rules.ast.ImportFrom)
    }
    assert names <= set(rules.sys.stdlib_module_names), names - set(rules.sys.stdlib_module_names)


def test_a_folder_inside_a_package_keeps_its_dotted_names(project: Path) -> None:
    files = list(rules.iter_inputs(project / "textlib", None))
    assert [(f.root, f.path, f.module) for f in files] == [
        (str(project), "textlib/__init__.py", "textlib"),
        (str(project), "textlib/texts.py", "textlib.texts"),
    ]
    (single,) = rules.iter_inputs(project / "textlib" / "texts.py", None)
    assert (single.root, single.path) == (str(project), "textlib/texts.py")


@pytest.mark.parametrize("module", [rules, tracer], ids=lambda m: m.__name__)
def test_module_doctests(module: Any) -> None:
    import doctest

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_the_problems_are_a_benchmark_whose_solutions_pass(mined: Mined, tmp_path: Path) -> None:
    from passk.evaluation import evaluate
    from passk.execution.options import ExecutionOptions

    benchmark = f"humaneval-jsonl:{mined.train_path}"
    problems = rows(mined.train_path)
    samples = tmp_path / "samples.jsonl"
    lines = [{"task_id": t, "completion": p["canonical_solution"]} for t, p in problems.items()]
    samples.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    passed = {}
    for mode in ("assert", "io"):
        out = tmp_path / f"{mode}.results.jsonl"
        execution = ExecutionOptions(workers=2, mode=mode)
        evaluate(samples, benchmark=benchmark, k=[1], execution=execution, out=out)
        results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        passed[mode] = {r["task_id"] for r in results if r["passed"]}
    assert passed["assert"] == set(problems)
    # In io mode the solution runs in another process: the arguments it sorted in place are not
    # the judge's, so a test of what a call did to its arguments fails there.
    assert set(problems) - passed["io"] == {"mined/textlib/texts.py:sort_in_place"}


def test_untested_functions_are_written_apart_as_training_data(tmp_path: Path) -> None:
    from passk.benchmarks.problem_file import read_problems
    from passk.evaluation import evaluate
    from passk.mining import UNTESTED_TEST

    write(tmp_path / "code", "m.py", DOCTESTED)
    write(tmp_path / "code", "shapes.py", SHAPES)
    options = MineOptions(trace=False, valid_fraction=0.0)
    out, untested = tmp_path / "p.jsonl", tmp_path / "untested.jsonl"
    mined = mine([tmp_path / "code"], out, options=options, untested=untested)
    assert mined.untested_path == untested and mined.untested_valid_path is None
    # The three candidates that got no test, and none of the tested problems.
    found = rows(untested)
    assert set(found) == {f"mined/shapes.py:{n}" for n in ("words", "letters", "factorial")}
    assert not set(found) & set(rows(out))
    words = found["mined/shapes.py:words"]
    assert words["prompt"].startswith(
        "from __future__ import annotations\nimport re\n\ndef words(text: str) -> list[str]:\n"
    )
    assert words["canonical_solution"] == (
        '    found = re.findall(r"[a-z]+", text.lower())\n    return found\n'
    )
    assert words["test"] == UNTESTED_TEST and words["origin"]["tests"] == "none"
    counts = json.loads(mined.manifest_path.read_text(encoding="utf-8"))["counts"]
    assert (counts["untested"], counts["untested_valid"], counts["problems"]) == (3, 0, 3)
    # A file fine-tuning reads; measured by mistake, even the original bodies score nothing.
    assert len(read_problems(untested)) == 3
    samples = tmp_path / "samples.jsonl"
    lines = [{"task_id": t, "completion": r["canonical_solution"]} for t, r in found.items()]
    samples.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    results = tmp_path / "results.jsonl"
    evaluate(samples, benchmark=f"humaneval-jsonl:{untested}", k=[1], out=results)
    assert not any(json.loads(line)["passed"] for line in results.read_text().splitlines())


def test_untested_split_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "code", "m.py", DOCTESTED)
    write(tmp_path / "code", "shapes.py", SHAPES)
    out, untested = tmp_path / "p.jsonl", tmp_path / "u.jsonl"
    argv = ["mine", str(tmp_path / "code"), "--out", str(out), "--no-trace"]
    assert main([*argv, "--untested", str(untested), "--valid-fraction", "0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    train, valid = rows(untested), rows(tmp_path / "u.valid.jsonl")
    assert len(train) + len(valid) == 3
    assert lines[-2:] == [
        f"untested: {untested} ({len(train)})",
        f"untested valid: {tmp_path / 'u.valid.jsonl'} ({len(valid)})",
    ]
    assert main([*argv, "--untested", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"passk: error: --untested {out}: the problems file's own name; name another file\n"
    )


def test_one_path_in_two_inputs_is_two_functions(tmp_path: Path) -> None:
    # Two versions of one module (two Pythons' standard libraries, say): the same path, and
    # the same name on the same line, with other code.
    first = 'def f(text):\n    """Split the text into its words."""\n    w = text.split()\n    return w\n'
    second = (
        'def f(n):\n    """Add up the squares of the numbers below n."""\n'
        "    total = sum(i * i for i in range(n))\n    return total\n"
    )
    write(tmp_path / "v1", "mod.py", first)
    write(tmp_path / "v2", "mod.py", second)
    write(tmp_path / "v3", "m.py", DOCTESTED)
    options = MineOptions(trace=False, valid_fraction=0.0)
    out, untested = tmp_path / "p.jsonl", tmp_path / "u.jsonl"
    sources = [tmp_path / "v1", tmp_path / "v2", tmp_path / "v3"]
    mine(sources, out, options=options, untested=untested)
    bodies = {r["canonical_solution"] for r in rows(untested).values()}
    assert bodies == {first.split('"""\n')[-1], second.split('"""\n')[-1]}
