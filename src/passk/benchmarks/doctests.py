"""Doctests mined from code: `doctests:PATH` turns documented functions into problems.

HumanEval's prompts are a signature and a docstring with examples (Chen et al. 2021, section
2.2); real code holds many such functions. Every top-level function in PATH whose docstring has
`>>>` examples becomes a Problem shaped like HumanEval's:

- prompt: the module's top-level import statements, a blank line, then the function's
  decorators, signature and docstring exactly as in the source;
- canonical_solution: the source lines after the docstring (the body, indentation kept);
- test: `check(candidate)`, which runs the docstring's examples with `doctest` (ELLIPSIS and
  NORMALIZE_WHITESPACE) in the program's globals, with the function's name bound to the
  candidate before every example, and raises AssertionError naming the first failing example.
  Examples that import the function itself (`>>> from pkg.mod import name`, which in the
  sandbox would fetch the installed original) keep only their other names, or go. Examples in
  the module docstring that call the function are appended as hidden tests; a problem that
  fails with them is tried once more without them.

PATH is a .py file, a directory searched recursively for .py files (sorted), or a corpus built
by `passk corpus build`, of which only the held-out `valid` split is read (the model never
trained on it); task ids are `doctests/<path>:<function>`, the path relative to PATH or the
corpus record's `path`. Skipped: methods, nested and async functions, files that do not parse
or are not UTF-8, functions with code on the docstring's closing line, and functions whose
examples (those not marked +SKIP) never use the function's name other than to import it or as
an attribute (`module.name(...)` runs the original), since such a test cannot fail.

Loading only reads the code. The benchmark carries a `CanonicalCheck`: before problems are
sampled or judged, `passk.canonical` runs every canonical solution in the user's sandbox and
limits and drops those that fail their own examples (trying each once more without the module's
examples), caching verdicts under $XDG_CACHE_HOME/passk/doctests/.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from passk.benchmarks.humaneval import PREIMPORTS, STOP_SEQUENCES
from passk.benchmarks.problem import Benchmark, CanonicalCheck, Problem, problems_digest
from passk.errors import BenchmarkError
from passk.records.corpus import is_corpus, iter_records
from passk.records.sources import find_python_files, read_source

if TYPE_CHECKING:
    import doctest  # imported where used: it pulls in pdb, costly at `import passk`

PREFIX = "doctests:"
VERSION = "1"

CHECK_TEMPLATE = """\
def check(candidate):
    import doctest

    examples = (
{examples}
    )
    globs = dict(globals())
    test = doctest.DocTestParser().get_doctest(examples, globs, {name!r}, {path!r}, 0)

    class Runner(doctest.DebugRunner):
        def report_start(self, out, test, example):
            test.globs[{name!r}] = candidate  # an example may have imported the original
            super().report_start(out, test, example)

    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = Runner(verbose=False, optionflags=flags)
    try:
        runner.run(test, clear_globs=False)
    except doctest.DocTestFailure as e:
        raise AssertionError(
            f"example {{e.example.source.strip()!r}}: expected {{e.example.want!r}}, got {{e.got!r}}"
        ) from None
    except doctest.UnexpectedException as e:
        error = e.exc_info[1]
        raise AssertionError(
            f"example {{e.example.source.strip()!r}} raised {{type(error).__name__}}: {{error}}"
        ) from None
"""


def load_doctests(path: str) -> Benchmark:
    """The benchmark of PATH's doctested functions, to be kept where their own code passes
    their examples (`passk.canonical`)."""
    if not path:
        raise BenchmarkError("doctests: needs a path, e.g. doctests:src/")
    root = Path(path)
    if not root.exists():
        raise BenchmarkError(f"doctests: {path}: no such file or directory")
    candidates = mine(root)
    where = f"{path} (valid split)" if is_corpus(root) else path
    if not candidates:
        raise BenchmarkError(f"doctests: no top-level function with >>> examples in {where}")
    problems = [c.problem for c in candidates]
    fallbacks = {c.problem.task_id: c.fallback for c in candidates if c.fallback is not None}
    return Benchmark(
        name=PREFIX + path,
        version=VERSION,
        sha256=problems_digest(problems),
        problems={p.task_id: p for p in problems},
        stop_sequences=STOP_SEQUENCES,
        preimports=(*PREIMPORTS, "doctest"),
        check=CanonicalCheck(
            f"functions with examples in {where}", "examples", "doctests", fallbacks
        ),
        plain_data=False,  # examples compare reprs: a Fraction or a dataclass is an answer
    )


@dataclass(frozen=True)
class Candidate:
    """A mined problem; `fallback` is the same without the module's examples."""

    problem: Problem
    fallback: Problem | None = None


# --- Sources --------------------------------------------------------------------------------


def read_sources(root: Path) -> Iterator[tuple[str, str]]:
    """(name, text) of each Python source under root, in a deterministic order."""
    if is_corpus(root):
        for record in iter_records(root, "valid"):
            yield record["path"], record["text"]
        return
    if root.is_dir():
        names = find_python_files(root)
        files = [(Path(name).as_posix(), root / name) for name in names]
    elif root.suffix == ".py":
        files = [(root.name, root)]
    else:
        raise BenchmarkError(
            f"doctests: {root}: expected a .py file, a directory of them, or a passk corpus"
        )
    for name, file in files:
        text, _ = read_source(file)
        if text is not None:
            yield name, text


def mine(root: Path) -> list[Candidate]:
    """Every doctested top-level function under root, each with a unique task id."""
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for name, text in read_sources(root):
        for candidate in extract(name, text):
            task_id = unique_task_id(candidate.problem.task_id, seen)
            fallback = candidate.fallback and replace(candidate.fallback, task_id=task_id)
            candidates.append(Candidate(replace(candidate.problem, task_id=task_id), fallback))
    return candidates


def unique_task_id(task_id: str, seen: set[str]) -> str:
    """task_id, or task_id-2, -3, ... if already in seen (which then holds it)."""
    unique, n = task_id, 1
    while unique in seen:
        n += 1
        unique = f"{task_id}-{n}"
    seen.add(unique)
    return unique


# --- Mining one file ------------------------------------------------------------------------


def extract(name: str, text: str) -> list[Candidate]:
    """The problems of one source file (name is its path, for task ids).

    >>> source = 'def double(x):\\n    \"\"\"\\n    >>> double(2)\\n    4\\n    \"\"\"\\n    return 2 * x\\n'
    >>> [c.problem.task_id for c in extract("m.py", source)]
    ['doctests/m.py:double']
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning for invalid escapes: not ours to show
            warnings.simplefilter("ignore")
            module = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    lines = text.split("\n")
    imports = "".join(
        _segment(lines, node.lineno, node.end_lineno)
        for node in module.body
        if isinstance(node, ast.Import | ast.ImportFrom)
    )
    examples = module_examples(module)
    found = []
    for node in module.body:
        if isinstance(node, ast.FunctionDef):
            candidate = _candidate(name, node, lines, imports, examples)
            if candidate is not None:
                found.append(candidate)
    return found


def _candidate(
    path: str,
    node: ast.FunctionDef,
    lines: list[str],
    imports: str,
    module_examples: list[doctest.Example],
) -> Candidate | None:
    parts = function_parts(node, lines)
    tests = example_tests(node, path, module_examples)
    if parts is None or tests is None:
        return None
    header, body = parts
    prompt = (imports + "\n" if imports else "") + header
    task_id = f"doctests/{path}:{node.name}"
    test, fallback = tests
    problem = Problem(task_id, prompt, node.name, body, test)
    if fallback is None:
        return Candidate(problem)
    return Candidate(problem, Problem(task_id, prompt, node.name, body, fallback))


def function_parts(
    node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]
) -> tuple[str, str] | None:
    """(decorators, signature and docstring; the body after the docstring) of a function
    with a docstring and at least one statement after it, as source lines of `lines`; None
    when there is no docstring, nothing after it, or code on the docstring's closing line."""
    if ast.get_docstring(node, clean=False) is None or len(node.body) < 2:
        return None
    doc_end = node.body[0].end_lineno
    assert doc_end is not None and node.end_lineno is not None
    if node.body[1].lineno <= doc_end:
        return None
    start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    return _segment(lines, start, doc_end), _segment(lines, doc_end + 1, node.end_lineno)


def module_examples(module: ast.Module) -> list[doctest.Example]:
    """The examples of a module's docstring (not marked +SKIP)."""
    return _examples(ast.get_docstring(module, clean=False) or "")


def example_tests(
    node: ast.FunctionDef | ast.AsyncFunctionDef, path: str, module_examples: list[doctest.Example]
) -> tuple[str, str | None] | None:
    """The test that runs a function's docstring examples, with the module's examples that
    call it appended, and the test without those (None when there are none to append); None
    when no example of its own calls the function."""
    docstring = ast.get_docstring(node, clean=False)
    if docstring is None or ">>>" not in docstring:
        return None
    examples = _unbound(_examples(docstring), node.name)
    if not any(_calls(e, node.name) for e in examples):
        return None
    extra = [e for e in _unbound(module_examples, node.name) if _calls(e, node.name)]
    own = check_source(examples, node.name, path)
    if not extra:
        return own, None
    return check_source(examples + extra, node.name, path), own


def _segment(lines: list[str], first: int, last: int | None) -> str:
    """Source lines first..last (1-based, inclusive), each ending with a newline."""
    assert last is not None
    return "".join(line + "\n" for line in lines[first - 1 : last])


def _examples(docstring: str) -> list[doctest.Example]:
    """The docstring's examples, without those marked +SKIP; none if it is not valid doctest."""
    import doctest

    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError:
        return []
    return [e for e in examples if not e.options.get(doctest.SKIP)]


def _parse(source: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _calls(example: doctest.Example, name: str) -> bool:
    """Whether the example uses `name` itself: not only as an attribute (`module.name(...)`
    reaches the installed original, not the candidate) nor only in an import.

    >>> import doctest
    >>> [_calls(doctest.Example(s, ""), "f") for s in ("f(1)", "m.f(1)", "from m import f as g")]
    [True, False, False]
    """
    tree = _parse(example.source)
    if tree is None:
        return re.search(rf"(?<![\w.]){re.escape(name)}\b", example.source) is not None
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(tree))


def _unbound(examples: list[doctest.Example], name: str) -> list[doctest.Example]:
    """The examples with the imports that would bind `name` taken out.

    A doctest often imports the function it documents (`>>> from pkg.mod import name`); where
    the package is installed that would replace the candidate with the original, so the import
    keeps its other names, and an example left with nothing is dropped. (The check also binds
    the candidate again before every example, for `import *` and imports inside blocks.)

    >>> import doctest
    >>> sources = ["from m import f, g as h", "from m import f; f(1)", "import f", "f(2)"]
    >>> [e.source for e in _unbound([doctest.Example(s, "") for s in sources], "f")]
    ['from m import g as h\\n', 'f(1)\\n', 'f(2)\\n']
    """
    import doctest

    kept = []
    for example in examples:
        tree = _parse(example.source)
        if tree is None:
            kept.append(example)
            continue
        body: list[ast.stmt] = []
        changed = False
        for statement in tree.body:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                names = [a for a in statement.names if binds(statement, a) != name]
                if len(names) < len(statement.names):
                    changed = True
                    if not names:
                        continue
                    statement.names = names
            body.append(statement)
        if not changed:
            kept.append(example)
        elif body:  # several statements only share an example on one line: simple ones
            source = "; ".join(ast.unparse(s) for s in body) + "\n"
            kept.append(
                doctest.Example(
                    source,
                    example.want,
                    example.exc_msg,
                    example.lineno,
                    example.indent,
                    example.options,
                )
            )
    return kept


def binds(statement: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
    """The name an import binds for one of its aliases (`import a.b` binds `a`)."""
    if alias.asname:
        return alias.asname
    return alias.name if isinstance(statement, ast.ImportFrom) else alias.name.split(".")[0]


def render(examples: Iterable[doctest.Example]) -> str:
    """Examples written back as doctest text (the parser has already removed indentation).

    >>> import doctest
    >>> render(doctest.DocTestParser().get_examples(">>> if 1:\\n...     f(1)\\n2\\n"))
    '>>> if 1:\\n...     f(1)\\n2\\n'
    """
    out = []
    for example in examples:
        first, *rest = example.source.rstrip("\n").split("\n")
        out.append(f">>> {first}\n")
        out += [f"... {line}".rstrip() + "\n" for line in rest]
        out.append(example.want)
    return "".join(out)


def check_source(examples: list[doctest.Example], name: str, path: str) -> str:
    """The test: `check(candidate)` runs the examples with `name` bound to the candidate."""
    lines = render(examples).splitlines(keepends=True)
    quoted = "\n".join(f"        {line!r}" for line in lines)
    return CHECK_TEMPLATE.format(examples=quoted, name=name, path=path)
