"""The docstring of a problem's function, found with `ast` (Chen et al. 2021, section 2.2), and
the text that asks a model for it given the code (the Codex-D form, section 5).

A HumanEval prompt is a function signature and its docstring; the rankings of `passk rank` read
that docstring (back-translation scores it given the code, the examples filter runs its `>>>`
examples), and `passk finetune --task docstring` trains a model to write it. The function is
the one named by the problem's entry point. Its docstring is the first string statement of its
body, which is not always the first statement (HumanEval/115 imports `math` before it).

The question is one template, shared by the training of a docstring model and the ranking that
scores with it, so that the model is asked exactly what it was trained on:

    <the code, without the docstring, stripped at its end>
    <two blank lines>
    # The docstring of <entry_point>, written for the code above:
    \"\"\"                                            <- the prompt ends here
    <the docstring, dedented>
    \"\"\"                                            <- the continuation ends here
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass

from passk.benchmarks.problem import Problem
from passk.errors import BenchmarkError

HEADER = '\n\n\n# The docstring of {entry_point}, written for the code above:\n"""\n'
FOOTER = '\n"""'
TEMPLATE = "<code>" + HEADER.replace("{entry_point}", "<entry_point>") + "<docstring>" + FOOTER


@dataclass(frozen=True)
class Docstring:
    """A docstring's text (dedented, as `inspect.cleandoc` makes it) and where it is: 1-based
    lines and UTF-8 byte columns, as `ast` counts them."""

    text: str
    start: tuple[int, int]
    end: tuple[int, int]


def find_docstring(source: str, entry_point: str) -> Docstring | None:
    """The docstring of the function `entry_point` in `source`; None if there is none, or if
    `source` is not valid Python.

    >>> find_docstring('def f(x):\\n    \"\"\"Twice x.\"\"\"\\n    return 2 * x\\n', "f").text
    'Twice x.'
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            for statement in node.body:
                if _is_string(statement):
                    value = statement.value.value  # type: ignore[attr-defined]
                    end = (statement.end_lineno or 0, statement.end_col_offset or 0)
                    return Docstring(
                        inspect.cleandoc(value), (statement.lineno, statement.col_offset), end
                    )
            return None
    return None


def _is_string(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def prompt_docstring(problem: Problem) -> Docstring:
    """The docstring of the problem's function in its prompt; a BenchmarkError if it has none."""
    found = find_docstring(problem.prompt, problem.entry_point)
    if found is None:
        raise BenchmarkError(
            f"{problem.task_id}: the prompt has no docstring in function {problem.entry_point!r}"
        )
    return found


def without_docstring(source: str, docstring: Docstring) -> str:
    """`source` with the docstring statement cut out, and its lines too where nothing else
    is on them.

    >>> code = 'def f(x):\\n    \"\"\"Twice x.\"\"\"\\n    return 2 * x\\n'
    >>> print(without_docstring(code, find_docstring(code, "f")), end="")
    def f(x):
        return 2 * x
    """
    lines = source.encode("utf-8").splitlines(keepends=True)
    (first, col), (last, end_col) = docstring.start, docstring.end
    before, after = lines[first - 1][:col], lines[last - 1][end_col:]
    joined = before + after
    kept = [joined] if joined.strip() else []
    return b"".join(lines[: first - 1] + kept + lines[last:]).decode("utf-8")


def code_without_docstring(problem: Problem, completion: str) -> str:
    """The prompt's code without its docstring, followed by a completion.

    >>> p = Problem("t/0", 'def f():\\n    \"\"\"One.\"\"\"\\n', "f", "", "")
    >>> code_without_docstring(p, "    return 1\\n")
    'def f():\\n    return 1\\n'
    """
    return without_docstring(problem.prompt, prompt_docstring(problem)) + completion


def docstring_question(problem: Problem, code: str) -> tuple[str, str]:
    """(prompt, continuation): the code and the question that asks for the docstring of the
    problem's function, and that docstring with its closing quotes."""
    prompt = code.rstrip() + HEADER.format(entry_point=problem.entry_point)
    return prompt, prompt_docstring(problem).text + FOOTER
