"""Chained components (Chen et al. 2021, section 6, Figure 11): `chained[:LENGTHS[:N[:SEED]]]`.

The paper builds synthetic problems from 13 simple string transformations, each with a one-line
description and a one-line implementation; a problem of chain length k lists k descriptions in
its docstring and its reference body applies the k lines in order. Pass rates fall roughly 2-3x
per added component. `BLOCKS` holds the 13, in the paper's order and wording.

Problems are generated, not read: for each chain length k in LENGTHS (default 1-13) there are N
problems (default 20), each chaining k distinct blocks in an order drawn from a generator seeded
by (SEED, k, index) (default SEED 0), so the same spec gives the same problems everywhere. Task
ids are `chained/<k>/<index>`; every problem's entry point is `string_manipulation`.

Each test calls the candidate on 12 generated strings (words of mixed case, single and double
spaces, punctuation) and compares with the expected values. Those are computed here, in this
process, by applying each block's Python function: that is passk's own trusted reference code,
not model output, and it is the same code as the one-line implementation in the canonical
solution (tests/test_studies.py runs every canonical solution against its tests in the sandbox,
which checks the two agree).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from passk.benchmarks.digest import problems_sha256
from passk.benchmarks.humaneval import STOP_SEQUENCES
from passk.benchmarks.problem import Benchmark, Problem
from passk.errors import BenchmarkError

NAME = "chained"
PREFIX = "chained:"
VERSION = "1"
ENTRY_POINT = "string_manipulation"
TESTS_PER_PROBLEM = 12


@dataclass(frozen=True)
class Block:
    """One building block: the paper's name for it, the docstring line, the code line."""

    name: str
    description: str
    line: str  # one statement that rewrites s
    apply: Callable[[str], str]  # the same transformation, run here for the expected values


def _remove_every_third(s: str) -> str:
    return "".join(char for i, char in enumerate(s) if i % 3 != 0)


def _second_half_by_words(s: str) -> str:
    return " ".join(s.split()[len(s.split()) // 2 :])


def _upper_every_other(s: str) -> str:
    return "".join(char.upper() if i % 2 == 0 else char for i, char in enumerate(s))


BLOCKS: tuple[Block, ...] = (
    Block(
        "remove every letter e",
        "remove all instances of the letter e from the string",
        's = s.replace("e", "")',
        lambda s: s.replace("e", ""),
    ),
    Block(
        "replace spaces with exclamation points",
        "replace all spaces with exclamation points in the string",
        's = s.replace(" ", "!")',
        lambda s: s.replace(" ", "!"),
    ),
    Block("lowercase", "convert the string s to lowercase", "s = s.lower()", str.lower),
    Block(
        "remove the first and last two characters",
        "remove the first and last two characters of the string",
        "s = s[2:-2]",
        lambda s: s[2:-2],
    ),
    Block(
        "remove all vowels",
        "remove all vowels from the string",
        's = "".join(char for char in s if char not in "aeiouAEIOU")',
        lambda s: "".join(char for char in s if char not in "aeiouAEIOU"),
    ),
    Block(
        "remove every third character (index % 3 == 0)",
        "remove every third character from the string",
        's = "".join(char for i, char in enumerate(s) if i % 3 != 0)',
        _remove_every_third,
    ),
    Block(
        "keep the first half by characters",
        "drop the last half of the string, as computed by characters",
        "s = s[: len(s) // 2]",
        lambda s: s[: len(s) // 2],
    ),
    Block(
        "replace each space with three spaces",
        "replace spaces with triple spaces",
        's = s.replace(" ", "   ")',
        lambda s: s.replace(" ", "   "),
    ),
    Block(
        "reverse the word order",
        "reverse the order of words in the string",
        's = " ".join(s.split()[::-1])',
        lambda s: " ".join(s.split()[::-1]),
    ),
    Block(
        "keep the second half by words",
        "drop the first half of the string, as computed by number of words",
        's = " ".join(s.split()[len(s.split()) // 2 :])',
        _second_half_by_words,
    ),
    Block(
        'add the word "apples" after every word',
        "add the word apples after every word in the string",
        's = " ".join(word + " apples" for word in s.split())',
        lambda s: " ".join(word + " apples" for word in s.split()),
    ),
    Block(
        "uppercase every other character (even indices)",
        "make every other character in the string uppercase",
        's = "".join(char.upper() if i % 2 == 0 else char for i, char in enumerate(s))',
        _upper_every_other,
    ),
    Block(
        "delete all `!`, `?` and `.`",
        "delete all exclamation points, question marks, and periods from the string",
        's = "".join(char for char in s if char not in ".!?")',
        lambda s: "".join(char for char in s if char not in ".!?"),
    ),
)

# Words for the test strings: vowels, the letter e, and lengths enough for every block to act.
WORDS = (
    "apple",
    "banana",
    "cherry",
    "delta",
    "echo",
    "evening",
    "forest",
    "green",
    "hello",
    "ice",
    "jungle",
    "keep",
    "lemon",
    "moon",
    "needle",
    "ocean",
    "python",
    "queue",
    "river",
    "sky",
    "tree",
    "umbrella",
    "violet",
    "world",
    "yes",
    "zebra",
)
PUNCTUATION = ".!?,;:'"


# --- The spec: which chain lengths, how many problems, which seed ---------------------------


@dataclass(frozen=True)
class ChainSpec:
    """What `chained:LENGTHS:N:SEED` asks for; defaults: lengths 1-13, 20 a length, seed 0."""

    lengths: tuple[int, ...] = tuple(range(1, len(BLOCKS) + 1))
    per_length: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.lengths:
            raise BenchmarkError(f"{PREFIX} needs at least one chain length")
        bad = [k for k in self.lengths if not 1 <= k <= len(BLOCKS)]
        if bad:
            raise BenchmarkError(
                f"{PREFIX} chain lengths must be 1 to {len(BLOCKS)} (the paper's blocks), got {bad[0]}"
            )
        if self.per_length < 1:
            raise BenchmarkError(
                f"{PREFIX} needs at least 1 problem a length, got {self.per_length}"
            )

    @property
    def name(self) -> str:
        """The benchmark's name: `chained`, then only the fields that differ from the defaults.

        >>> ChainSpec().name, ChainSpec((1, 2, 3, 5)).name, ChainSpec(per_length=5, seed=2).name
        ('chained', 'chained:1-3,5', 'chained:1-13:5:2')
        """
        fields = [_lengths_text(self.lengths), str(self.per_length), str(self.seed)]
        defaults = [_lengths_text(ChainSpec().lengths), "20", "0"]
        while fields and fields[-1] == defaults[len(fields) - 1]:
            fields.pop()
        return ":".join([NAME, *fields])


def parse_spec(text: str) -> ChainSpec:
    """The spec after `chained:`: LENGTHS[:N[:SEED]], LENGTHS like `1-13`, `3` or `1,2,5-7`.

    >>> parse_spec("1-3,5:10")
    ChainSpec(lengths=(1, 2, 3, 5), per_length=10, seed=0)
    """
    parts = text.split(":")
    if len(parts) > 3 or not parts[0]:
        raise BenchmarkError(
            f"{PREFIX}{text}: expected {PREFIX}LENGTHS[:N[:SEED]], e.g. {PREFIX}1-13:20"
        )
    lengths = _parse_lengths(parts[0], text)
    numbers = [_parse_int(p, text) for p in parts[1:]]
    return ChainSpec(lengths, *numbers)


def _parse_lengths(field: str, text: str) -> tuple[int, ...]:
    lengths: set[int] = set()
    for item in field.split(","):
        low, _, high = item.partition("-")
        first = _parse_int(low, text)
        last = _parse_int(high, text) if high else first
        if last < first:
            raise BenchmarkError(f"{PREFIX}{text}: the range {item} runs backwards")
        lengths.update(range(first, last + 1))
    return tuple(sorted(lengths))


def _parse_int(field: str, text: str) -> int:
    try:
        return int(field)
    except ValueError:
        raise BenchmarkError(f"{PREFIX}{text}: {field!r} is not a whole number") from None


def _lengths_text(lengths: tuple[int, ...]) -> str:
    runs: list[list[int]] = []
    for k in lengths:
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


# --- Generating the problems ----------------------------------------------------------------


def load_chained(argument: str | None = None) -> Benchmark:
    """The chained-components benchmark for `chained` (no argument) or `chained:ARGUMENT`."""
    spec = ChainSpec() if argument is None else parse_spec(argument)
    problems = [
        make_problem(spec, k, index) for k in spec.lengths for index in range(spec.per_length)
    ]
    return Benchmark(
        name=spec.name,
        version=VERSION,
        sha256=problems_sha256(problems),
        problems={p.task_id: p for p in problems},
        stop_sequences=STOP_SEQUENCES,
    )


def make_problem(spec: ChainSpec, k: int, index: int) -> Problem:
    """Problem `chained/<k>/<index>`: k distinct blocks, in an order drawn from the seed."""
    rng = random.Random(f"passk-chained:{spec.seed}:{k}:{index}")
    chain = [BLOCKS[i] for i in rng.sample(range(len(BLOCKS)), k)]
    inputs = [random_text(rng) for _ in range(TESTS_PER_PROBLEM)]
    return Problem(
        task_id=f"{NAME}/{k}/{index}",
        prompt=prompt(chain),
        entry_point=ENTRY_POINT,
        canonical_solution="".join(f"    {b.line}\n" for b in chain) + "    return s\n",
        test=check_source(chain, inputs),
    )


def prompt(chain: list[Block]) -> str:
    steps = "".join(f"    - {b.description}\n" for b in chain)
    return (
        f"def {ENTRY_POINT}(s: str) -> str:\n"
        '    """\n'
        "    This function takes a string as input, then returns the result of performing\n"
        "    the following sequence of manipulations on that string:\n"
        f'{steps}    """\n'
    )


def apply_chain(chain: list[Block], s: str) -> str:
    """The reference result: each block's transformation in order.

    >>> apply_chain([BLOCKS[2], BLOCKS[0]], "Three Eggs")
    'thr ggs'
    """
    for block in chain:
        s = block.apply(s)
    return s


def check_source(chain: list[Block], inputs: list[str]) -> str:
    asserts = "".join(f"    assert candidate({s!r}) == {apply_chain(chain, s)!r}\n" for s in inputs)
    return f"def check(candidate):\n{asserts}"


def random_text(rng: random.Random) -> str:
    """A test input: 1-8 words of mixed case, some with punctuation, joined by 1 or 2 spaces."""
    words = []
    for _ in range(rng.randint(1, 8)):
        word = _random_case(rng, rng.choice(WORDS))
        if rng.random() < 0.3:
            word += rng.choice(PUNCTUATION)
        words.append(word)
    text = words[0]
    for word in words[1:]:
        text += (" " if rng.random() < 0.85 else "  ") + word
    return text


def _random_case(rng: random.Random, word: str) -> str:
    style = rng.randrange(5)
    if style == 0:
        return word.upper()
    if style == 1:
        return word.capitalize()
    if style == 2:
        return "".join(c.upper() if rng.random() < 0.5 else c for c in word)
    return word


def chain_length(task_id: str) -> int:
    """The chain length of a `chained/<k>/<index>` task id.

    >>> chain_length("chained/7/3")
    7
    """
    parts = task_id.split("/")
    if len(parts) != 3 or parts[0] != NAME or not parts[1].isdigit():
        raise BenchmarkError(f"{task_id!r} is not a chained task id (chained/<k>/<index>)")
    return int(parts[1])
