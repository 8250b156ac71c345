"""Instruction prompts: the chat messages a chat model is sent for one problem.

A completion model continues the problem's prompt (Chen et al. 2021, section 2.3); a chat
model needs to be asked. For HumanEval passk asks as EvalPlus does for chat models
(`evalplus/provider/openai.py`, with `evalplus/codegen.py`'s instruction), word for word, so
that scores compare with EvalPlus's: its instruction, then the prompt, stripped, in a ```python
block. The user may add a system message (`--system TEXT`), replace the user message with a
template (`--prompt-template FILE`: a Python format string over the fields below) and give a
response prefix that the answer continues (an assistant-prefill, for servers that allow one).

A benchmark adds its own instruction to `INSTRUCTIONS` (keyed by its name before any `:`), as
a template over the same fields; `chat_messages` keeps its shape.
"""

from __future__ import annotations

import ast
import string
from dataclasses import dataclass
from pathlib import Path

from passk.benchmarks import Problem
from passk.errors import InputError
from passk.generation.types import Message

# The fields a template may use, and what each holds.
FIELDS = {
    "prompt": "the problem's prompt, without leading and trailing blank space",
    "entry_point": "the name of the function to write",
    "task_id": "the problem's id, e.g. HumanEval/0",
    "signature": "the entry point's `def` line, e.g. def add(x: int, y: int):",
    "docstring": "the entry point's docstring, dedented (empty if it has none)",
}

_EVALPLUS = (
    "Please provide a self-contained Python script that solves the following problem in a "
    "markdown code block:\n```python\n{prompt}\n```"
)
# Every benchmark whose prompt is a Python function's head with its docstring gets EvalPlus's
# instruction (EvalPlus asks for MBPP+ the same way, its prompt being the task's description and
# first test in a docstring, as `mbpp:` builds it). APPS's prompts are prose for a whole
# program: a chat model is asked for them with --prompt-template.
INSTRUCTIONS = {
    name: _EVALPLUS
    for name in (
        "humaneval",
        "humaneval-plus",
        "humaneval-jsonl",
        "humaneval-misaligned",
        "doctests",
        "mbpp",
        "chained",
        "crypto",
    )
}


@dataclass(frozen=True)
class ChatPrompt:
    """How problems are put to a chat model. `template` replaces the benchmark's instruction;
    `where` names its origin in errors (the template file)."""

    template: str | None = None
    system: str | None = None
    response_prefix: str | None = None
    where: str = "--prompt-template"

    def __post_init__(self) -> None:
        if self.template is not None:
            check_template(self.template, self.where)
        if self.system is not None and not self.system.strip():
            raise InputError("--system must not be empty")
        if self.response_prefix is not None and not self.response_prefix:
            raise InputError("--response-prefix must not be empty")


def read_template(
    path: str | Path, *, system: str | None = None, response_prefix: str | None = None
) -> ChatPrompt:
    """A ChatPrompt with the template in file `path`, checked before anything is sent."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"--prompt-template {path}: cannot read it ({e})") from e
    return ChatPrompt(text, system, response_prefix, where=str(path))


def check_template(template: str, where: str = "--prompt-template") -> None:
    """Raise one InputError, naming `where`, for a malformed template or an unknown field.

    >>> check_template("Complete {entry_point}:\\n{prompt}")
    >>> check_template("{prompt} {language}")
    Traceback (most recent call last):
    ...
    passk.errors.InputError: --prompt-template: unknown field {language}; the fields are {prompt}, {entry_point}, {task_id}, {signature}, {docstring}
    """
    known = ", ".join(f"{{{name}}}" for name in FIELDS)
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as e:
        raise InputError(
            f"{where}: not a valid format string ({e}); write {{{{ and }}}} for literal braces"
        ) from e
    for name in names:
        if name not in FIELDS:
            raise InputError(f"{where}: unknown field {{{name}}}; the fields are {known}")
    if not names:
        raise InputError(f"{where}: the template uses none of the fields {known}")
    try:
        template.format(**dict.fromkeys(FIELDS, ""))
    except (ValueError, TypeError) as e:  # a bad format spec, such as {prompt:d}
        raise InputError(f"{where}: {e}") from e


def instruction(benchmark: str) -> str:
    """The default user-message template for a benchmark (`doctests:PATH` -> doctests)."""
    kind = benchmark.split(":", 1)[0].lower()
    if kind not in INSTRUCTIONS:
        raise InputError(
            f"no chat instruction for benchmark {benchmark!r}; give one with --prompt-template FILE"
        )
    return INSTRUCTIONS[kind]


def chat_messages(
    problem: Problem, benchmark: str, prompt: ChatPrompt | None = None
) -> tuple[Message, ...]:
    """The messages for one problem: an optional system message, the instruction, and an
    optional response prefix as a final assistant message.

    >>> p = Problem("t/0", "def inc(x):\\n    '''Add one.'''\\n", "inc", "", "")
    >>> for m in chat_messages(p, "humaneval", ChatPrompt(system="Be brief.")):
    ...     print(f"[{m.role}]\\n{m.content}")
    [system]
    Be brief.
    [user]
    Please provide a self-contained Python script that solves the following problem in a markdown code block:
    ```python
    def inc(x):
        '''Add one.'''
    ```
    """
    prompt = prompt or ChatPrompt()
    template = prompt.template if prompt.template is not None else instruction(benchmark)
    messages = [Message("user", template.format(**template_fields(problem)))]
    if prompt.system is not None:
        messages.insert(0, Message("system", prompt.system))
    if prompt.response_prefix is not None:
        messages.append(Message("assistant", prompt.response_prefix))
    return tuple(messages)


def template_fields(problem: Problem) -> dict[str, str]:
    """The values of FIELDS for one problem."""
    signature, docstring = _signature_and_docstring(problem)
    return {
        "prompt": problem.prompt.strip(),
        "entry_point": problem.entry_point,
        "task_id": problem.task_id,
        "signature": signature,
        "docstring": docstring,
    }


def _signature_and_docstring(problem: Problem) -> tuple[str, str]:
    try:
        tree = ast.parse(problem.prompt)
    except SyntaxError:
        return "", ""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
            node.name == problem.entry_point
        ):
            lines = problem.prompt.split("\n")
            first = node.body[0].lineno - 1 if node.body else node.lineno
            header = "\n".join(lines[node.lineno - 1 : max(first, node.lineno)]).strip()
            return header, ast.get_docstring(node) or ""
    return "", ""
