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

Problems whose canonical solution fails its own test are dropped: every one runs in the
default sandbox (`choose_sandbox("auto")`, default limits) when PATH is first loaded. Passed
and failed verdicts are cached in $XDG_CACHE_HOME/passk/doctests/<sha256>.json (default
~/.cache/passk), keyed by the SHA-256 of the candidate problems, so a second load of unchanged
code runs nothing; timeouts and harness errors are not cached and run again.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from passk.benchmarks.humaneval import PREIMPORTS, STOP_SEQUENCES
from passk.benchmarks.problem import Benchmark, Problem
from passk.errors import BenchmarkError, OutputError

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


@dataclass(frozen=True)
class Candidate:
    """A mined problem before the sandbox judged it; `fallback` lacks the module's examples."""

    problem: Problem
    fallback: Problem | None = None


def load_doctests(path: str) -> Benchmark:
    """The benchmark of PATH's doctested functions whose own code passes their examples."""
    if not path:
        raise BenchmarkError("doctests: needs a path, e.g. doctests:src/")
    root = Path(path)
    if not root.exists():
        raise BenchmarkError(f"doctests: {path}: no such file or directory")
    candidates = mine(root)
    where = f"{path} (valid split)" if is_corpus(root) else path
    if not candidates:
        raise BenchmarkError(f"doctests: no top-level function with >>> examples in {where}")
    problems = keep_passing(candidates, where)
    return Benchmark(
        name=PREFIX + path,
        version=VERSION,
        sha256=_digest(problems),
        problems={p.task_id: p for p in problems},
        stop_sequences=STOP_SEQUENCES,
        preimports=(*PREIMPORTS, "doctest"),
        plain_data=False,  # examples compare reprs: a Fraction or a dataclass is an answer
    )


# --- Sources --------------------------------------------------------------------------------


def is_corpus(root: Path) -> bool:
    from passk.training.corpus import MANIFEST

    return root.is_dir() and (root / MANIFEST).is_file()


def read_sources(root: Path) -> Iterator[tuple[str, str]]:
    """(name, text) of each Python source under root, in a deterministic order."""
    from passk.training import corpus
    from passk.training.filters import read_source

    if is_corpus(root):
        for record in corpus.iter_records(root, "valid"):
            yield record["path"], record["text"]
        return
    if root.is_dir():
        names = corpus.discover(corpus.Source(root, "directory"))
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
            task_id = _unique(candidate.problem.task_id, seen)
            fallback = candidate.fallback and replace(candidate.fallback, task_id=task_id)
            candidates.append(Candidate(replace(candidate.problem, task_id=task_id), fallback))
    return candidates


def _unique(task_id: str, seen: set[str]) -> str:
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
    module_examples = _examples(ast.get_docstring(module, clean=False) or "")
    found = []
    for node in module.body:
        if isinstance(node, ast.FunctionDef):
            candidate = _candidate(name, node, lines, imports, module_examples)
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
    docstring = ast.get_docstring(node, clean=False)
    if docstring is None or ">>>" not in docstring or len(node.body) < 2:
        return None
    doc_end = node.body[0].end_lineno
    assert doc_end is not None and node.end_lineno is not None
    if node.body[1].lineno <= doc_end:  # code on the docstring's closing line
        return None
    examples = _unbound(_examples(docstring), node.name)
    if not any(_calls(e, node.name) for e in examples):
        return None
    start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    prompt = (imports + "\n" if imports else "") + _segment(lines, start, doc_end)
    body = _segment(lines, doc_end + 1, node.end_lineno)
    task_id = f"doctests/{path}:{node.name}"
    extra = [e for e in _unbound(module_examples, node.name) if _calls(e, node.name)]
    problem = Problem(
        task_id, prompt, node.name, body, check_source(examples + extra, node.name, path)
    )
    fallback = Problem(task_id, prompt, node.name, body, check_source(examples, node.name, path))
    return Candidate(problem, fallback if extra else None)


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
                names = [a for a in statement.names if _binds(statement, a) != name]
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


def _binds(statement: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
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


# --- Keeping what passes --------------------------------------------------------------------


def keep_passing(candidates: list[Candidate], where: str) -> list[Problem]:
    """The candidates whose canonical solution passes its test in the sandbox (cached)."""
    cache = cache_path(candidates)
    verdicts = _read_cache(cache)
    first = [c.problem for c in candidates]
    verdicts.update(judge([p for p in first if _key(p) not in verdicts]))
    retry = [c.fallback for c in candidates if c.fallback and not _passed(verdicts, c.problem)]
    verdicts.update(judge([p for p in retry if _key(p) not in verdicts]))
    _write_cache(cache, verdicts)
    kept = []
    for c in candidates:
        if _passed(verdicts, c.problem):
            kept.append(c.problem)
        elif c.fallback is not None and _passed(verdicts, c.fallback):
            kept.append(c.fallback)
    if not kept:
        example = first[0]
        result = verdicts.get(_key(example), {}).get("result", "not judged")
        raise BenchmarkError(
            f"doctests: none of the {len(candidates)} functions with examples in {where} passes "
            f"its own examples in the sandbox (e.g. {example.task_id}: {result})"
        )
    return kept


def judge(problems: list[Problem]) -> dict[str, dict[str, Any]]:
    """Run each problem's canonical solution against its test: problem key -> verdict."""
    if not problems:
        return {}
    from passk.execution import Job, Limits, WorkerPool, choose_sandbox

    jobs = [Job(i, p.program(p.canonical_solution)) for i, p in enumerate(problems)]
    workers = min(len(jobs), os.cpu_count() or 1)
    pool = WorkerPool(
        workers, limits=Limits(), preimports=(*PREIMPORTS, "doctest"), sandbox=choose_sandbox()
    )
    verdicts = {}
    with pool:
        for index, verdict in pool.run(jobs):
            verdicts[_key(problems[index])] = {
                "task_id": problems[index].task_id,
                "outcome": verdict.outcome.value,
                "passed": verdict.passed,
                "result": verdict.result,
            }
    return verdicts


def _passed(verdicts: dict[str, dict[str, Any]], problem: Problem) -> bool:
    return bool(verdicts.get(_key(problem), {}).get("passed"))


def _key(problem: Problem) -> str:
    return _digest([problem])


def _digest(problems: list[Problem]) -> str:
    data = json.dumps([vars(p) for p in problems], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# --- The verdict cache ----------------------------------------------------------------------


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "passk" / "doctests"


def cache_path(candidates: list[Candidate]) -> Path:
    problems = [p for c in candidates for p in (c.problem, c.fallback) if p is not None]
    return cache_dir() / f"{_digest(problems)}.json"


def _read_cache(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    verdicts = data.get("verdicts")
    return dict(verdicts) if isinstance(verdicts, dict) else {}


def _write_cache(path: Path, verdicts: dict[str, dict[str, Any]]) -> None:
    """Keep passed and failed verdicts; a timeout or a harness error may not recur."""
    from passk.records.jsonl import write_text_atomic

    final = {k: v for k, v in verdicts.items() if v.get("outcome") in ("passed", "failed")}
    data = {"version": VERSION, "verdicts": final}
    with contextlib.suppress(OutputError):  # a cache that cannot be written costs only time
        write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
