"""The docstring-examples filter: does a sample pass the `>>>` examples of its own prompt?

A ranking the paper did not have (its Figure 7 ranks by log-probabilities and back-translation):
the examples a HumanEval prompt shows in its docstring are a free, weak test that a user could
run without the hidden tests. Each sample runs against them in passk's sandbox, as `passk
evaluate` runs tests (`passk.scoring` runs them): the program is the sample's code followed by a
check that runs every example and raises AssertionError at the first mismatch.

Examples are read with `doctest.DocTestParser`; a docstring the parser rejects as a whole (an
example's output running onto an unindented line, as in HumanEval/51) is read one example at a
time, keeping those that parse. An example passes when what it prints, then the repr of its
value unless None, equals the expected output up to whitespace (doctest's rule), or when it
prints nothing and its value equals the expected output read as a Python literal (so
`[1, 2]` matches `[1,2]`, and floats within 1e-9 relative match). An example that shows no
output passes on a value of True too (HumanEval/108 writes its examples as `f(x) == y`).
An example whose expected output is a traceback passes when it raises.
"""

from __future__ import annotations

import doctest
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from passk.benchmarks import Problem
from passk.benchmarks.docstrings import find_docstring

FIELD = "passes_examples"
"""The results-row field that `record_example_verdicts` fills in (None: the problem has none)."""

_EXAMPLE_START = re.compile(r"^\s*>>>", re.MULTILINE)

CHECKER = """

def _passk_example(_source, _want, _raises):
    import contextlib as _contextlib, io as _io
    _out = _io.StringIO()
    try:
        with _contextlib.redirect_stdout(_out):
            try:
                _code = compile(_source, "<example>", "eval")
            except SyntaxError:
                exec(compile(_source, "<example>", "exec"), globals())
                _value = None
            else:
                _value = eval(_code, globals())
    except Exception:
        if _raises:
            return
        raise
    if _raises:
        raise AssertionError("example did not raise: " + _source.strip())
    _printed = _out.getvalue()
    _shown = _printed + (repr(_value) + "\\n" if _value is not None else "")
    if _shown.split() == _want.split():
        return
    if not _printed and (_value is True and not _want.strip() or _passk_same(_value, _want)):
        return
    raise AssertionError("example failed: " + _source.strip() + " gave " + _shown.strip())


def _passk_same(_value, _want):
    import ast as _ast, math as _math
    try:
        _expected = _ast.literal_eval(_want.strip())
        if isinstance(_value, bool) != isinstance(_expected, bool):
            return False
        if isinstance(_value, float) or isinstance(_expected, float):
            return _math.isclose(_value, _expected, rel_tol=1e-9)
        return bool(_value == _expected)
    except Exception:
        return False

"""


def docstring_examples(problem: Problem) -> list[doctest.Example]:
    """The `>>>` examples in the docstring of the problem's function (none without one)."""
    found = find_docstring(problem.prompt, problem.entry_point)
    if found is None:
        return []
    parser = doctest.DocTestParser()
    try:
        return parser.get_examples(found.text)
    except ValueError:
        examples: list[doctest.Example] = []
        starts = [m.start() for m in _EXAMPLE_START.finditer(found.text)]
        for a, b in zip(starts, [*starts[1:], len(found.text)], strict=True):
            try:
                examples += parser.get_examples(found.text[a:b])
            except ValueError:
                continue
        return examples


def examples_program(code: str, examples: Iterable[doctest.Example]) -> str:
    """The sample's code, then a check that runs each example in order.

    >>> ex = doctest.DocTestParser().get_examples(">>> f(2)\\n4\\n")
    >>> print(examples_program("def f(x):\\n    return 2 * x\\n", ex).splitlines()[-1])
    _passk_example('f(2)\\n', '4\\n', False)
    """
    calls = "".join(
        f"_passk_example({e.source!r}, {e.want!r}, {e.exc_msg is not None})\n" for e in examples
    )
    return code + "\n" + CHECKER + calls


def example_programs(
    rows: Sequence[Mapping[str, Any]], problems: Mapping[str, Problem]
) -> dict[int, str]:
    """Row index -> the program that runs that sample against its prompt's examples, for the
    rows whose problem has examples (the others get no program and no verdict)."""
    examples = {t: docstring_examples(p) for t, p in problems.items()}
    programs = {}
    for i, row in enumerate(rows):
        found = examples.get(row["task_id"])
        if found:
            programs[i] = examples_program(_code(problems[row["task_id"]], row), found)
    return programs


def record_example_verdicts(
    rows: Sequence[dict[str, Any]], programs: Mapping[int, str], passed: Mapping[str, bool]
) -> dict[str, int]:
    """Set each row's `passes_examples` from the verdicts of the distinct programs (None where
    its problem has no examples); returns the counts `passk rank` reports."""
    for i, row in enumerate(rows):
        row[FIELD] = passed[programs[i]] if i in programs else None
    tasks = {row["task_id"] for row in rows}
    with_examples = {rows[i]["task_id"] for i in programs}
    return {
        "problems": len(tasks),
        "problems_with_examples": len(with_examples),
        "samples_run": len(programs),
        "samples_passing": sum(rows[i][FIELD] for i in programs),
    }


def _code(problem: Problem, row: Mapping[str, Any]) -> str:
    if isinstance(row.get("completion"), str):
        return problem.solution(row["completion"])
    return problem.solution(str(row.get("solution", "")), is_solution=True)
