"""From a chat model's answer to the program that is judged, deterministically.

Instruction-tuned and reasoning models answer in markdown, with prose, drafts and examples
around their code; the Codex paper's harness (Chen et al. 2021, section 2.3) expects a bare
completion of the prompt. Harnesses that bridge the two badly zero correct answers (peers.md:
cut at the first fence, a sanitizer that empties code, <think> drafts executed). The rules,
in order:

1. Reasoning. `<think>...</think>` (and `<thinking>`) blocks are dropped, and so is everything
   before a closing tag that has no opening one (templates that open the block in the prompt);
   the server's separate reasoning field is never searched. Reasoning that never closed means
   there is no answer: `ReasoningOnly` (`Truncated` when the answer ran out of tokens).
2. Fenced blocks (``` or ~~~, any indentation). Candidates are the blocks tagged python (`py`,
   `python3`, `Python3`, ...), else the untagged blocks that parse as Python; an unclosed final
   block is one only when the answer ended by length, or at a stop sequence the user asked
   for (`--stop '```'` cuts every answer at its closing fence). Among several candidates, the last one
   that defines the entry point, else the last one.
3. No fence at all: the whole answer, if it parses as Python (as a module, or as a function
   body) and is more than bare names; else, around the last `def` of the entry point, the run
   of lines that read as code (blank, indented, or at column 0 starting like a statement:
   `def`, `import`, `x =`, `f(`, `@`, ...), cut back at its end until it parses (code amid
   prose without fences).
4. Shape. Code that defines the entry point at top level is run as a whole program, a
   `solution`: the prompt's imports and helper functions it lacks are put before it, and so are
   the definitions it uses from the answer's other candidate blocks; `if __name__ ==
   "__main__":` blocks and top-level example statements are taken out (calls to the entry
   point, `print`, `input`, `exit`, `unittest.main`, `doctest.testmod`, asserts, bare names),
   since a demo that prints is harmless but one that reads stdin, exits or asserts a wrong
   expectation would fail a correct function. Any other code is a function body: a
   `completion`, its leading tabs made four spaces and re-indented under the prompt.
5. Nothing found: a failure, `NoCode`, `Truncated` (the answer ended by length) or
   `ReasoningOnly` (only reasoning, no visible answer); never an empty completion that would
   pass for a wrong answer.

`extraction` names how the code was found, one of

    fence:python       the only candidate, a ```python block
    fence:untagged     the only candidate, a block without a language tag
    fence:entry-point  several candidates: the last that defines the entry point
    fence:last         several candidates, none defines the entry point: the last
    fence:unclosed     an unclosed final block of an answer that ran out of tokens or was
                       cut at one of the user's stop sequences
    whole-answer       no fence: the whole answer
    prose              no fence: code amid prose
    none:<failure>     nothing to run: NoCode, Truncated, ReasoningOnly (and, from the
                       endpoint, Refused, NoAnswer)
    raw                `--extract none`: the answer as it is, as a completion

followed by what was changed: `+imports`, `+helpers` (from the prompt), `+blocks` (from other
blocks), `-main`, `-examples` (taken out), `+reindent` (a body's indentation). Example:
`fence:python+imports-main` is a whole function from the one python block, run with the
prompt's imports added and its `if __name__ == "__main__":` block taken out.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from passk.benchmarks import Problem
from passk.errors import InputError
from passk.generation.types import AnswerFailure, Completion

Kind = Literal["completion", "solution"]
EXTRACT_MODES = ("auto", "none")
# Where code was found: the first part of every `extraction` but "none:<failure>".
SOURCES = (
    "fence:python",
    "fence:untagged",
    "fence:entry-point",
    "fence:last",
    "fence:unclosed",
    "whole-answer",
    "prose",
    "raw",
)

_THINK_TAGS = ("think", "thinking")
_CLOSED_THINK = re.compile(r"<(think|thinking)>.*?</\1>", re.DOTALL)
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
_PYTHON_TAG = re.compile(r"^(python|py)(\d+(\.\d+)*)?$")
# A line at column 0 that continues code rather than prose.
_CODE_LINE = re.compile(
    r"^(def |async def |class |import |from \S+ import |@|if |elif |else:|for |while |try:|"
    r"except|finally:|with |return|[A-Za-z_][\w.]*\s*(=|\(|\[|:\s*\w)|[)\]}#])"
)
# Calls that make a top-level statement an example, not part of the solution.
_EXAMPLE_CALLS = frozenset({"print", "input", "exit", "quit", "main", "testmod"})
_INDENT = "    "


@dataclass(frozen=True)
class Extracted:
    """What runs for one answer: `text` is a completion of the prompt or a whole `solution`;
    `extraction` says how it was found (see the module docstring). With a `failure` there is
    nothing to run and `text` is empty; without one, `text` is never blank."""

    text: str
    kind: Kind
    extraction: str
    failure: AnswerFailure | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("completion", "solution"):
            raise ValueError(f"kind must be completion or solution, got {self.kind!r}")
        if (self.failure is None) != bool(self.text.strip()):
            raise ValueError("an extraction has code to run or a failure, never both or neither")

    @property
    def is_solution(self) -> bool:
        return self.kind == "solution"


@dataclass(frozen=True)
class _Block:
    code: str
    language: str  # "python", "" (no tag) or the tag as written, lowercased
    closed: bool


def extract(
    problem: Problem,
    answer: str,
    *,
    reasoning: str | None = None,
    finish_reason: str = "stop",
    mode: str = "auto",
    user_stops: bool = False,
) -> Extracted:
    """The program one answer to `problem` runs as, by the rules of the module docstring.

    `user_stops`: the answer was asked for with the user's own stop sequences, so one that
    ended by "stop" may have been cut at one of them (an endpoint does not say which).

    >>> p = Problem("t/0", "def inc(x):\\n", "inc", "", "")
    >>> e = extract(p, "Sure!\\n```python\\ndef inc(x):\\n    return x + 1\\n```\\nDone.")
    >>> (e.kind, e.extraction, e.text)
    ('solution', 'fence:python', 'def inc(x):\\n    return x + 1\\n')
    >>> e = extract(p, "return x + 1")
    >>> (e.kind, e.extraction, e.text)
    ('completion', 'whole-answer+reindent', '    return x + 1\\n')
    >>> extract(p, "I cannot help with that.").extraction
    'none:NoCode'
    """
    if mode not in EXTRACT_MODES:
        raise InputError(f"--extract must be one of {', '.join(EXTRACT_MODES)}, got {mode!r}")
    if mode == "none":
        return _as_is(answer)
    text = answer.replace("\r\n", "\n").replace("\r", "\n")
    visible, closed = drop_reasoning(text)
    thought = closed is not None or bool(reasoning and reasoning.strip())
    if closed is False:
        return _failed(AnswerFailure.REASONING_ONLY, finish_reason)
    cut = finish_reason == "length" or (finish_reason == "stop" and user_stops)
    found = _find_code(visible, problem, cut)
    if found is None:
        only_reasoning = thought and not visible.strip()
        return _failed(AnswerFailure.REASONING_ONLY if only_reasoning else None, finish_reason)
    code, source, others = found
    return _shape(problem, code, source, others)


def extract_completion(
    problem: Problem, completion: Completion, mode: str = "auto", user_stops: bool = False
) -> Extracted:
    """`extract` for a chat backend's completion; an endpoint's own failure carries through."""
    if completion.failure is not None:
        return Extracted("", "completion", f"none:{completion.failure.value}", completion.failure)
    return extract(
        problem,
        completion.text,
        reasoning=completion.reasoning,
        finish_reason=completion.finish_reason,
        mode=mode,
        user_stops=user_stops,
    )


def extraction_source(extraction: str) -> str:
    """Where an `extraction` found the code (a SOURCES entry), or its failure, for counting
    samples by outcome.

    >>> extraction_source("fence:entry-point+imports-main"), extraction_source("none:Truncated")
    ('fence:entry-point', 'none:Truncated')
    """
    if extraction.startswith("none:"):
        return extraction
    for source in sorted(SOURCES, key=len, reverse=True):
        if extraction.startswith(source):
            return source
    raise ValueError(f"not an extraction: {extraction!r}")


def drop_reasoning(text: str) -> tuple[str, bool | None]:
    """The answer without its reasoning, and whether reasoning was there and closed (None: no
    reasoning tags; False: a block that never closed, so the answer is all reasoning).

    >>> drop_reasoning("<think>try x</think>\\nanswer")
    ('\\nanswer', True)
    >>> drop_reasoning("so the loop...</think>answer")
    ('answer', True)
    >>> drop_reasoning("<think>still thinking")
    ('', False)
    """
    closed: bool | None = None
    first_close = min((i for t in _THINK_TAGS if (i := text.find(f"</{t}>")) >= 0), default=-1)
    first_open = min((i for t in _THINK_TAGS if (i := text.find(f"<{t}>")) >= 0), default=-1)
    if first_close >= 0 and (first_open < 0 or first_close < first_open):
        # The template opened the block in the prompt: everything up to the tag is reasoning.
        text = text[text.index(">", first_close) + 1 :]
        closed = True
    text, count = _CLOSED_THINK.subn("", text)
    closed = True if count else closed
    opened = min((i for t in _THINK_TAGS if (i := text.find(f"<{t}>")) >= 0), default=-1)
    if opened >= 0:
        return text[:opened], False
    return text, closed


def _as_is(answer: str) -> Extracted:
    if not answer.strip():
        return Extracted("", "completion", "none:NoCode", AnswerFailure.NO_CODE)
    return Extracted(answer, "completion", "raw")


def _failed(failure: AnswerFailure | None, finish_reason: str) -> Extracted:
    """Nothing to run. An answer that ran out of tokens is Truncated, whatever else it is."""
    if finish_reason == "length":
        failure = AnswerFailure.TRUNCATED
    failure = failure or AnswerFailure.NO_CODE
    return Extracted("", "completion", f"none:{failure.value}", failure)


# ---- finding the code ----------------------------------------------------------------------


def _find_code(text: str, problem: Problem, cut: bool) -> tuple[str, str, list[str]] | None:
    """The code, where it was found, and the other candidate blocks (for definitions); `cut`:
    the answer was cut short (by length or a user's stop), so an unclosed final block counts."""
    blocks = fenced_blocks(text)
    if blocks is not None:
        return _choose_block(blocks, problem, cut)
    whole = _trim_blank_lines(text)
    if _is_code(whole):
        return whole, "whole-answer", []
    code = _code_in_prose(text, problem.entry_point)
    return (code, "prose", []) if code is not None else None


def fenced_blocks(text: str) -> list[_Block] | None:
    """The fenced blocks of a markdown answer, in order; None when it has no fence at all.
    A final block that never closed is included, with `closed` False.

    >>> [(b.code, b.language, b.closed) for b in fenced_blocks("a\\n```py\\nx = 1\\n```\\n~~~\\ny")]
    [('x = 1', 'python', True), ('y', '', False)]
    """
    blocks: list[_Block] = []
    seen = False
    fence = indent = language = ""
    lines: list[str] | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if lines is None:
            if match:
                seen = True
                fence, indent = match["fence"], match["indent"]
                language, lines = _language(match["info"]), []
            continue
        if match and not match["info"] and match["fence"].startswith(fence):
            blocks.append(_Block("\n".join(lines), language, True))
            lines = None
            continue
        lines.append(line.removeprefix(indent))
    if lines is not None:
        blocks.append(_Block("\n".join(lines), language, False))
    return blocks if seen else None


def _language(info: str) -> str:
    """The language a fence's info string names: "python" for its aliases, else its tag."""
    words = info.strip().strip("{}").lstrip(".").split()
    tag = words[0].lower() if words else ""
    return "python" if _PYTHON_TAG.match(tag) else tag


def _choose_block(
    blocks: list[_Block], problem: Problem, cut: bool
) -> tuple[str, str, list[str]] | None:
    usable = [b for b in blocks if (b.closed or cut) and b.code.strip()]
    candidates = [b for b in usable if b.language == "python"]
    if not candidates:
        candidates = [b for b in usable if b.language == "" and _is_code(b.code)]
    if not candidates:
        return None
    defining = [b for b in candidates if _defines(b.code, problem.entry_point)]
    chosen = (defining or candidates)[-1]
    if not chosen.closed:
        source = "fence:unclosed"
    elif len(candidates) == 1:
        source = "fence:python" if chosen.language == "python" else "fence:untagged"
    else:
        source = "fence:entry-point" if defining else "fence:last"
    others = [b.code for b in candidates if b is not chosen]
    return _trim_blank_lines(chosen.code), source, others


def _code_in_prose(text: str, entry_point: str) -> str | None:
    """The code around the last `def` of the entry point in an answer without fences: the run
    of lines that read as code (blank, indented, or starting like a statement) around it, cut
    back at the end until it parses; None if there is none."""
    lines = text.split("\n")
    pattern = re.compile(rf"^(async\s+)?def\s+{re.escape(entry_point)}\s*\(")
    defs = [i for i, line in enumerate(lines) if pattern.match(line)]
    while defs:
        start, end = defs[-1], defs[-1] + 1
        while start > 0 and _reads_as_code(lines[start - 1]):
            start -= 1
        while end < len(lines) and _reads_as_code(lines[end]):
            end += 1
        first = min(i for i in defs if i >= start)  # the run's first def of the entry point
        for stop in range(end, first, -1):
            code = _trim_blank_lines("\n".join(lines[start:stop]))
            if _parse(code) is not None:
                return code
        defs = [i for i in defs if i < start]
    return None


def _reads_as_code(line: str) -> bool:
    return not line.strip() or line[0] in " \t" or _CODE_LINE.match(line) is not None


def _trim_blank_lines(text: str) -> str:
    """The text without its leading and trailing blank lines (indentation kept)."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(line.rstrip() for line in lines)


# ---- parsing -------------------------------------------------------------------------------


def _parse(code: str) -> ast.Module | None:
    """The module `code` is, dedented; None if it does not parse."""
    try:
        return ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError):  # ValueError: a null byte
        return None


def _body_statements(code: str) -> list[ast.stmt] | None:
    """The statements of `code` parsed as a module, else as a function's body; None if neither."""
    tree = _parse(code)
    if tree is not None:
        return tree.body
    wrapped = "def _passk_body():\n" + textwrap.indent(_reindent(code, ""), _INDENT)
    tree = _parse(wrapped)
    if tree is None or not isinstance(tree.body[0], ast.FunctionDef):
        return None
    return tree.body[0].body


def _is_code(code: str) -> bool:
    """Whether `code` parses and is more than bare names and constants ("Sure", "42")."""
    statements = _body_statements(code)
    return bool(statements) and not all(_is_bare(s) for s in statements or ())


def _is_bare(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(
        statement.value, ast.Name | ast.Constant | ast.Attribute
    )


def _defines(code: str, entry_point: str) -> bool:
    """Whether `code` defines the entry point at top level (by a regex where it does not parse)."""
    tree = _parse(code)
    if tree is None:
        pattern = rf"^(async\s+)?def\s+{re.escape(entry_point)}\s*\("
        return re.search(pattern, textwrap.dedent(code), re.MULTILINE) is not None
    return any(_defined_name(s) == entry_point for s in tree.body)


def _defined_name(statement: ast.stmt) -> str | None:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement.name
    return None


# ---- shaping: a whole program or a body ----------------------------------------------------


def _shape(problem: Problem, code: str, source: str, others: Sequence[str]) -> Extracted:
    if _defines(code, problem.entry_point):
        return _solution(problem, textwrap.dedent(code), source, others)
    body = _reindent(code, _body_indent(problem))
    changed = body.split("\n") != code.split("\n")
    return Extracted(body + "\n", "completion", source + ("+reindent" if changed else ""))


def _reindent(code: str, indent: str) -> str:
    """`code` with each leading tab made four spaces, dedented, then indented by `indent`."""
    lines = [_untab(line) for line in code.split("\n")]
    dedented = textwrap.dedent("\n".join(lines))
    return "\n".join(indent + line if line.strip() else "" for line in dedented.split("\n"))


def _untab(line: str) -> str:
    stripped = line.lstrip(" \t")
    return line[: len(line) - len(stripped)].replace("\t", _INDENT) + stripped


def _body_indent(problem: Problem) -> str:
    """The indentation of the entry point's body in the prompt (four spaces where unclear)."""
    lines = problem.prompt.split("\n")
    pattern = re.compile(rf"^(async\s+)?def\s+{re.escape(problem.entry_point)}\s*\(")
    starts = [i for i, line in enumerate(lines) if pattern.match(line)]
    for line in lines[starts[-1] + 1 :] if starts else ():
        if line.strip() and line[0] in " \t":
            return line[: len(line) - len(line.lstrip(" \t"))]
    return _INDENT


def _solution(problem: Problem, code: str, source: str, others: Sequence[str]) -> Extracted:
    tree = _parse(code)
    if tree is None:  # a syntax error: nothing to add, the program fails as written
        return Extracted(code + "\n", "solution", source)
    lines = code.split("\n")
    main, examples = _extras(tree, problem.entry_point)
    kept = [s for s in tree.body if s not in main + examples]
    have = _bound_names(kept)
    imports, helpers = _from_prompt(problem, have)
    more_imports, definitions = _from_blocks(kept, have | _names_of(imports + helpers), others)
    future = [s for s in kept if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
    cut = max((s.end_lineno or 0 for s in future), default=0)
    drop = _lines_of(main + examples, lines)
    sections = [
        "\n".join(lines[:cut]),
        "\n".join(imports + more_imports),
        "\n\n\n".join(helpers + definitions),
        "\n".join(line for i, line in enumerate(lines) if i >= cut and i not in drop),
    ]
    text = "\n\n\n".join(_trim_blank_lines(s) for s in sections if s.strip()) + "\n"
    notes = [
        ("+imports", imports),
        ("+helpers", helpers),
        ("+blocks", more_imports + definitions),
        ("-main", main),
        ("-examples", examples),
    ]
    return Extracted(text, "solution", source + "".join(n for n, what in notes if what))


def _lines_of(statements: Sequence[ast.stmt], lines: list[str]) -> set[int]:
    """The 0-based lines of statements, with the comment lines just above each."""
    drop: set[int] = set()
    for statement in statements:
        first = _first_line(statement)
        while first > 0 and lines[first - 1].strip().startswith("#"):
            first -= 1
        drop.update(range(first, statement.end_lineno or first))
    return drop


def _extras(tree: ast.Module, entry_point: str) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """Top-level `if __name__ == "__main__":` blocks, and example statements (a docstring
    opening the module is neither)."""
    body = tree.body[1:] if tree.body and _is_docstring(tree.body[0]) else tree.body
    main = [s for s in body if _is_main_guard(s)]
    examples = [s for s in body if s not in main and _is_example(s, entry_point)]
    return main, examples


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def _is_main_guard(statement: ast.stmt) -> bool:
    if not isinstance(statement, ast.If) or not isinstance(statement.test, ast.Compare):
        return False
    parts = [statement.test.left, *statement.test.comparators]
    names = {p.id for p in parts if isinstance(p, ast.Name)}
    values = {p.value for p in parts if isinstance(p, ast.Constant)}
    return names == {"__name__"} and values == {"__main__"}


def _is_example(statement: ast.stmt, entry_point: str) -> bool:
    if isinstance(statement, ast.Import | ast.ImportFrom) or _defined_name(statement):
        return False
    if isinstance(statement, ast.Assert) or _is_bare(statement):
        return True
    calls = {entry_point, *_EXAMPLE_CALLS}
    return any(_called_name(node) in calls for node in ast.walk(statement))


def _called_name(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else None


def _first_line(statement: ast.stmt) -> int:
    """The 0-based first line of a statement, its decorators included."""
    decorators = getattr(statement, "decorator_list", [])
    return min([statement.lineno, *(d.lineno for d in decorators)]) - 1


def _source(lines: list[str], statement: ast.stmt) -> str:
    return "\n".join(lines[_first_line(statement) : statement.end_lineno])


def _bound_names(statements: Iterable[ast.stmt]) -> set[str]:
    """The names statements bind at module level (not inside functions or classes)."""
    names: set[str] = set()
    todo: list[ast.AST] = list(statements)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if not isinstance(node, ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    return names


def _names_of(sources: Sequence[str]) -> set[str]:
    trees = [_parse(s) for s in sources]
    return set().union(*(_bound_names(t.body) for t in trees if t is not None))


def _from_prompt(problem: Problem, have: set[str]) -> tuple[list[str], list[str]]:
    """The prompt's imports and helper definitions that the code lacks, in the prompt's order."""
    tree = _parse(problem.prompt)
    if tree is None:
        return [], []
    lines = textwrap.dedent(problem.prompt).split("\n")
    imports, helpers = [], []
    for statement in tree.body:
        bound = _bound_names([statement])
        if isinstance(statement, ast.Import | ast.ImportFrom):
            if not bound <= have:
                imports.append(_source(lines, statement))
        elif isinstance(statement, ast.Expr) or problem.entry_point in bound:
            continue
        elif bound and not bound & have:
            helpers.append(_source(lines, statement))
    return imports, helpers


def _from_blocks(
    kept: list[ast.stmt], have: set[str], others: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Imports and definitions from the answer's other blocks that the code uses but lacks (and
    what those use in turn), in the blocks' order; a later block's definition of a name wins."""
    offers: dict[str, tuple[tuple[int, int], str, ast.stmt]] = {}
    for index, block in enumerate(others):
        tree = _parse(block)
        lines = textwrap.dedent(block).split("\n")
        for statement in tree.body if tree is not None else ():
            if isinstance(statement, ast.Import | ast.ImportFrom) or _defined_name(statement):
                for name in _bound_names([statement]):
                    place = (index, statement.lineno)
                    offers[name] = (place, _source(lines, statement), statement)
    taken: dict[tuple[int, int], tuple[str, ast.stmt]] = {}
    wanted = _used_names(kept) - have
    while wanted:
        name = wanted.pop()
        if name in offers:
            place, source, statement = offers[name]
            taken[place] = (source, statement)
            have = have | _bound_names([statement])
            wanted |= _used_names([statement]) - have
    chosen = [taken[place] for place in sorted(taken)]
    imports = [src for src, s in chosen if isinstance(s, ast.Import | ast.ImportFrom)]
    return imports, [src for src, s in chosen if not isinstance(s, ast.Import | ast.ImportFrom)]


def _used_names(statements: Iterable[ast.stmt]) -> set[str]:
    return {
        node.id
        for statement in statements
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
