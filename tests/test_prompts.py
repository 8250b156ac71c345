"""Instruction prompts for chat models: EvalPlus's form for HumanEval, word for word; --system,
--prompt-template FILE with its documented fields, a response prefix; and a bad template is one
clear error naming the file before anything is sent."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from passk.benchmarks import Benchmark
from passk.errors import InputError
from passk.generation import prompts
from passk.generation.prompts import ChatPrompt, chat_messages, read_template, template_fields
from passk.generation.types import Message


def test_module_doctests_pass() -> None:
    assert doctest.testmod(prompts).failed == 0


def test_humaneval_is_asked_as_evalplus_asks(humaneval: Benchmark) -> None:
    problem = humaneval.problems["HumanEval/0"]
    # evalplus/provider/openai.py: instruction_prefix + f"\n```python\n{prompt.strip()}\n```"
    evalplus = (
        "Please provide a self-contained Python script that solves the following problem in a "
        "markdown code block:" + f"\n```python\n{problem.prompt.strip()}\n```"
    )
    assert chat_messages(problem, "humaneval") == (Message("user", evalplus),)


def test_system_message_and_response_prefix(humaneval: Benchmark) -> None:
    problem = humaneval.problems["HumanEval/53"]
    options = ChatPrompt(system="You write Python.", response_prefix="```python\n")
    messages = chat_messages(problem, "humaneval", options)
    assert [m.role for m in messages] == ["system", "user", "assistant"]
    assert messages[0].content == "You write Python." and messages[2].content == "```python\n"


def test_a_template_file_sees_every_field(tmp_path: Path, humaneval: Benchmark) -> None:
    path = tmp_path / "ask.txt"
    path.write_text("{task_id}: write {entry_point}.\n{signature}\n---\n{docstring}\n---\n{prompt}")
    problem = humaneval.problems["HumanEval/53"]
    [system, message] = chat_messages(problem, "humaneval", read_template(path, system="S"))
    assert system == Message("system", "S")
    assert message.content == (
        "HumanEval/53: write add.\ndef add(x: int, y: int):\n---\n"
        "Add two numbers x and y\n>>> add(2, 3)\n5\n>>> add(5, 7)\n12\n---\n"
        + problem.prompt.strip()
    )


def test_every_humaneval_problem_has_a_signature(humaneval: Benchmark) -> None:
    fields = [template_fields(p) for p in humaneval.problems.values()]
    assert all(f["signature"].startswith("def ") for f in fields)
    # HumanEval/115 imports math before its docstring, which is then no docstring.
    assert [
        p.task_id
        for p, f in zip(humaneval.problems.values(), fields, strict=True)
        if not f["docstring"]
    ] == ["HumanEval/115"]


def test_literal_braces_and_values_with_braces(humaneval: Benchmark) -> None:
    problem = humaneval.problems["HumanEval/0"]
    [message] = chat_messages(problem, "humaneval", ChatPrompt(template="{{json}} {entry_point}"))
    assert message.content == "{json} has_close_elements"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "Write {function}.",
            "ask.txt: unknown field {function}; the fields are {prompt}, {entry_point}, "
            "{task_id}, {signature}, {docstring}",
        ),
        ("{prompt.upper}", "ask.txt: unknown field {prompt.upper}; the fields are"),
        ("{0}", "ask.txt: unknown field {0}; the fields are"),
        ("Write {prompt", "ask.txt: not a valid format string (expected '}' before end of string)"),
        ("a } b {prompt}", "ask.txt: not a valid format string (Single '}' encountered"),
        ("Solve it.", "ask.txt: the template uses none of the fields {prompt}"),
        ("{prompt:d}", "ask.txt: Unknown format code 'd' for object of type 'str'"),
    ],
)
def test_a_bad_template_is_one_clear_error(tmp_path: Path, template: str, message: str) -> None:
    path = tmp_path / "ask.txt"
    path.write_text(template)
    with pytest.raises(InputError) as raised:
        read_template(path)
    assert str(raised.value).replace(str(tmp_path) + "/", "").startswith(message)


def test_unreadable_template_and_empty_options(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^--prompt-template .*missing.txt: cannot read it"):
        read_template(tmp_path / "missing.txt")
    with pytest.raises(InputError, match=r"^--system must not be empty$"):
        ChatPrompt(system="  ")
    with pytest.raises(InputError, match=r"^--response-prefix must not be empty$"):
        ChatPrompt(response_prefix="")


def test_every_benchmark_of_function_heads_has_an_instruction(humaneval: Benchmark) -> None:
    from passk.benchmarks.registry import available_benchmarks

    problem = humaneval.problems["HumanEval/0"]
    names = [name for name in available_benchmarks() if not name.startswith("apps:")]
    assert {"humaneval-plus", "mbpp:PATH[:SPLIT]", "chained", "crypto"} <= set(names)
    for name in names:
        assert chat_messages(problem, name) == chat_messages(problem, "humaneval"), name


def test_benchmarks_without_an_instruction_ask_for_a_template(humaneval: Benchmark) -> None:
    problem = humaneval.problems["HumanEval/0"]
    assert chat_messages(problem, "doctests:some/path") == chat_messages(problem, "humaneval")
    with pytest.raises(
        InputError, match=r"no chat instruction for benchmark 'apps'; give one with"
    ):
        chat_messages(problem, "apps")
    custom = ChatPrompt(template="{prompt}")
    assert chat_messages(problem, "apps", custom)[0].content == problem.prompt.strip()
