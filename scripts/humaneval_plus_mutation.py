"""Mutation for HumanEval+: new inputs from a problem's own, and small bugs in programs.

Inputs (Liu et al. 2023, EvalPlus, section 2.2: type-aware input mutation): a new input is a
seed input (one the problem's `check` calls its candidate with) with one or two arguments
mutated according to their type - ints and floats moved by small steps or replaced by a value
seen elsewhere, strings edited by character, by space-separated token or by the numbers in
them, lists, tuples and dicts grown, shrunk, reordered or changed element by element - and
each type's boundary values put in place of an argument. Values "seen elsewhere" (EvalPlus's
ingredients) are kept per place in the arguments (argument 0's list items, argument 1's dict
keys, ...), so a mutation keeps the shape the problem takes. Nothing here runs problem code.

Programs: one-site mutants of a canonical solution (a comparison, an arithmetic operator, an
integer constant, `and`/`or`, a `not`, a call to abs/sorted/set/... dropped), the plausible
bugs by which a program passes a few tests and fails others; used to measure how many wrong
programs the new tests catch.
"""

from __future__ import annotations

import ast
import copy
import math
import random
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

Args = tuple[Any, ...]
Place = tuple[Any, ...]  # (argument index, "item" | "key" | "value" | tuple index, ...)

MAX_INPUT_CHARS = 1000
EXTRA_CHARS = "aAzZ09 _-.,!?()[]"  # the alphabet's ends, digits, separators, brackets
INT_BOUNDARIES = (0, 1, -1, 2, 3, 4, 5, 10, 100, 1000, 10**6, -(10**6))
FLOAT_BOUNDARIES = (0.0, 1.0, -1.0, 0.5, -0.5, 0.1, 1e-9, 1e6)


def key(value: Any) -> str:
    """A key that tells apart what == confuses (1, 1.0 and True; lists and tuples)."""
    return repr(_tagged(value))


def _tagged(value: Any) -> Any:
    kind = type(value)
    if kind in (list, tuple):
        return (kind.__name__, [_tagged(v) for v in value])
    if kind is dict:
        return ("dict", [(_tagged(k), _tagged(v)) for k, v in value.items()])
    if kind in (set, frozenset):
        return (kind.__name__, sorted(key(v) for v in value))
    return (kind.__name__, repr(value))


def finite(value: Any) -> bool:
    """No inf or nan anywhere in the value (they have no literal in Python source)."""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind in (list, tuple, set, frozenset):
        return all(finite(v) for v in value)
    if kind is dict:
        return all(finite(k) and finite(v) for k, v in value.items())
    return True


# ---------------------------------------------------------------- ingredients


class Ingredients:
    """The values seen at each place of a problem's arguments, the characters of its strings
    and the space-separated tokens in them, and the numbers its docstring names (thresholds
    such as a GPA table's 2.7 or 'greater than 10' are where programs go wrong)."""

    def __init__(self, seeds: Iterable[Args], text: str = "") -> None:
        self.places: dict[Place, list[Any]] = {}
        self.chars: list[str] = []
        self.tokens: list[str] = []
        self.numbers = numbers_in(text)
        self._seen: set[tuple[Place, str]] = set()
        for args in seeds:
            self.add(args)
        self.chars = self.chars or list("abc")

    def add(self, args: Args) -> None:
        for i, value in enumerate(args):
            self._walk(value, (i,))

    def _walk(self, value: Any, place: Place) -> None:
        marker = (place, key(value))
        if marker not in self._seen and len(self.places.get(place, ())) < 200:
            self._seen.add(marker)
            self.places.setdefault(place, []).append(value)
        kind = type(value)
        if kind is str:  # in order of appearance: sets would order by the hash seed
            self.chars.extend(c for c in dict.fromkeys(value) if c not in self.chars)
            self.tokens.extend(
                t for t in dict.fromkeys(value.split(" ")[:20]) if t and t not in self.tokens
            )
        elif kind is list:
            for item in value:
                self._walk(item, (*place, "item"))
        elif kind is tuple:
            for j, item in enumerate(value):
                self._walk(item, (*place, j))
        elif kind is dict:
            for k, v in value.items():
                self._walk(k, (*place, "key"))
                self._walk(v, (*place, "value"))

    def pick(self, place: Place, rng: random.Random) -> Any:
        """A copy of a value seen at `place`, or MISSING where none was."""
        values = self.places.get(place)
        return copy.deepcopy(rng.choice(values)) if values else MISSING


MISSING = object()


# ---------------------------------------------------------------- mutation by type


def mutate_args(args: Args, rng: random.Random, ingredients: Ingredients) -> Args:
    """`args` with one argument (sometimes two) mutated by its type."""
    new = list(copy.deepcopy(args))
    for _ in range(2 if len(new) > 1 and rng.random() < 0.25 else 1):
        i = rng.randrange(len(new))
        new[i] = mutate(new[i], (i,), rng, ingredients)
    return tuple(new)


def mutate(value: Any, place: Place, rng: random.Random, ing: Ingredients) -> Any:
    mutator = MUTATORS.get(type(value))
    return mutator(value, place, rng, ing) if mutator else value


def numbers_in(text: str) -> list[float]:
    """The numbers written in `text` (ints and decimals), in order, without repeats."""
    found = (
        float(m) if "." in m else int(m) for m in re.findall(r"(?:(?<![\w.])-)?\d+(?:\.\d+)?", text)
    )
    return list(dict.fromkeys(x for x in found if abs(x) <= 10**6))[:50]


def mutate_bool(value: bool, place: Place, rng: random.Random, ing: Ingredients) -> bool:
    return not value


def mutate_int(value: int, place: Place, rng: random.Random, ing: Ingredients) -> int:
    options: list[Callable[[], int]] = [
        lambda: value + 1,
        lambda: value - 1,
        lambda: -value,
        lambda: value * 2,
        lambda: value // 2,
        lambda: value + rng.randint(-10, 10),
        lambda: rng.randint(-abs(value) - 10, abs(value) * 2 + 10),
        lambda: value * 10 + rng.randint(0, 9),
        lambda: rng.choice(INT_BOUNDARIES),
        lambda: _picked(ing, place, rng, int, value),
        lambda: _named_number(ing, rng, int, value),
    ]
    return rng.choice(options)()


def mutate_float(value: float, place: Place, rng: random.Random, ing: Ingredients) -> float:
    options: list[Callable[[], float]] = [
        lambda: value + 1.0,
        lambda: value - 1.0,
        lambda: -value,
        lambda: value * 2.0,
        lambda: value / 2.0,
        lambda: value + rng.uniform(-1.0, 1.0),
        lambda: round(value + rng.uniform(-5.0, 5.0), rng.choice((0, 1, 2))),
        lambda: float(round(value)),
        lambda: rng.choice(FLOAT_BOUNDARIES),
        lambda: _picked(ing, place, rng, float, value),
        lambda: _named_number(ing, rng, float, value),
    ]
    return float(rng.choice(options)())


def _picked(ing: Ingredients, place: Place, rng: random.Random, kind: type, default: Any) -> Any:
    """A value of type `kind` seen at `place`, or `default`."""
    value = ing.pick(place, rng)
    return value if type(value) is kind else default


def _named_number(ing: Ingredients, rng: random.Random, kind: type, default: Any) -> Any:
    """A number the docstring names, or one next to it; `default` where it names none."""
    usable = [x for x in ing.numbers if kind is float or type(x) is int]
    if not usable:
        return default
    return kind(rng.choice(usable)) + rng.choice((0, 0, 1, -1))


def mutate_str(text: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    # Strings with numbers in them often have a format (dates, fractions, "5 apples"): the
    # digit edits keep it, and get a good share.
    ops = DIGIT_OPS if any(c.isdigit() for c in text) and rng.random() < 0.3 else STRING_OPS
    return rng.choice(ops)(text, place, rng, ing)


def _char(rng: random.Random, ing: Ingredients) -> str:
    return rng.choice(ing.chars) if rng.random() < 0.75 else rng.choice(EXTRA_CHARS)


def _insert_char(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    i = rng.randint(0, len(s))
    return s[:i] + _char(rng, ing) + s[i:]


def _delete_char(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    if not s:
        return s
    i = rng.randrange(len(s))
    return s[:i] + s[i + 1 :]


def _replace_char(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    if not s:
        return _char(rng, ing)
    i = rng.randrange(len(s))
    return s[:i] + _char(rng, ing) + s[i + 1 :]


def _swap_chars(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    if len(s) < 2:
        return s
    i, j = sorted(rng.sample(range(len(s)), 2))
    return s[:i] + s[j] + s[i + 1 : j] + s[i] + s[j + 1 :]


def _repeat_slice(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    if not s:
        return s
    i = rng.randrange(len(s))
    j = rng.randint(i + 1, len(s))
    return s[:j] + s[i:j] + s[j:]


def _drop_slice(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    if not s:
        return s
    i = rng.randrange(len(s))
    j = rng.randint(i + 1, len(s))
    return s[:i] + s[j:]


def _splice_seen(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    other = _picked(ing, place, rng, str, "")
    if not other:
        return s
    a = rng.randint(0, len(other))
    b = rng.randint(a, len(other))
    i = rng.randint(0, len(s))
    return s[:i] + other[a:b] + s[i:]


def _seen_string(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    return _picked(ing, place, rng, str, s)


def _change_case(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    if not s:
        return s
    if rng.random() < 0.3:
        return rng.choice((s.upper(), s.lower(), s.swapcase()))
    i = rng.randrange(len(s))
    return s[:i] + s[i].swapcase() + s[i + 1 :]


def _reverse(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    return s[::-1]


def _number_in_text(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    """Replace one run of digits by a mutated non-negative number of similar size."""
    runs = list(re.finditer(r"\d+", s))
    if not runs:
        return _insert_char(s, place, rng, ing)
    run = rng.choice(runs)
    number = abs(mutate_int(int(run.group()), (), rng, ing))
    text = str(number).zfill(len(run.group())) if rng.random() < 0.5 else str(number)
    return s[: run.start()] + text + s[run.end() :]


def _extreme_char(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    """Put a character at the end of its range (a, z, A, Z, 0, 9) in place of one."""
    if not s:
        return rng.choice(EXTRA_CHARS[:6])
    i = rng.randrange(len(s))
    return s[:i] + rng.choice(EXTRA_CHARS[:6]) + s[i + 1 :]


def _replace_digit(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    """Replace one digit by another: numbers in a fixed format (dates, fractions) keep it."""
    digits = [i for i, c in enumerate(s) if c.isdigit()]
    if not digits:
        return _replace_char(s, place, rng, ing)
    i = rng.choice(digits)
    return s[:i] + rng.choice("0123456789") + s[i + 1 :]


def _token_op(s: str, place: Place, rng: random.Random, ing: Ingredients) -> str:
    """Edit the space-separated tokens: replace, insert, delete, repeat or shuffle one."""
    tokens = s.split(" ") if s else []
    op = rng.randrange(5)
    if op == 0 and tokens and ing.tokens:
        tokens[rng.randrange(len(tokens))] = rng.choice(ing.tokens)
    elif op == 1 and ing.tokens:
        tokens.insert(rng.randint(0, len(tokens)), rng.choice(ing.tokens))
    elif op == 2 and tokens:
        del tokens[rng.randrange(len(tokens))]
    elif op == 3 and tokens:
        i = rng.randrange(len(tokens))
        tokens.insert(i, tokens[i])
    else:
        rng.shuffle(tokens)
    return " ".join(tokens)


DIGIT_OPS = (_number_in_text, _replace_digit)
STRING_OPS = (
    _insert_char,
    _delete_char,
    _replace_char,
    _swap_chars,
    _repeat_slice,
    _drop_slice,
    _splice_seen,
    _seen_string,
    _change_case,
    _reverse,
    _number_in_text,
    _replace_digit,
    _extreme_char,
    _token_op,
    _token_op,
)


def mutate_list(xs: list[Any], place: Place, rng: random.Random, ing: Ingredients) -> list[Any]:
    item_place = (*place, "item")
    xs = list(xs)
    op = rng.randrange(11)
    if op == 0 or not xs:  # insert a copy of an element, or a value seen in such lists
        items = [copy.deepcopy(rng.choice(xs))] if xs else []
        seen = ing.pick(item_place, rng)
        items += [] if seen is MISSING else [seen]
        if items:
            xs.insert(rng.randint(0, len(xs)), rng.choice(items))
    elif op == 1:
        del xs[rng.randrange(len(xs))]
    elif op in (2, 3, 4):
        i = rng.randrange(len(xs))
        xs[i] = mutate(xs[i], item_place, rng, ing)
    elif op == 5 and len(xs) > 1:
        i, j = rng.sample(range(len(xs)), 2)
        xs[i], xs[j] = xs[j], xs[i]
    elif op == 6:
        xs.reverse()
    elif op == 7:
        rng.shuffle(xs)
    elif op == 8:
        xs = _sorted_or_same(xs)
    elif op == 9:
        i = rng.randrange(len(xs))
        xs.insert(i, copy.deepcopy(xs[i]))
    else:
        seen = ing.pick(item_place, rng)
        if seen is not MISSING:
            xs[rng.randrange(len(xs))] = seen
    return xs


def _sorted_or_same(xs: list[Any]) -> list[Any]:
    try:
        return sorted(xs)
    except TypeError:
        return xs


def mutate_tuple(
    xs: tuple[Any, ...], place: Place, rng: random.Random, ing: Ingredients
) -> tuple[Any, ...]:
    if not xs:
        return xs
    j = rng.randrange(len(xs))
    items = list(xs)
    items[j] = mutate(items[j], (*place, j), rng, ing)
    return tuple(items)


def mutate_dict(
    d: dict[Any, Any], place: Place, rng: random.Random, ing: Ingredients
) -> dict[Any, Any]:
    d = dict(d)
    op = rng.randrange(4)
    keys = list(d)
    if op == 0 or not d:  # add an entry
        k = ing.pick((*place, "key"), rng)
        v = ing.pick((*place, "value"), rng)
        if k is not MISSING and v is not MISSING:
            d[mutate(k, (*place, "key"), rng, ing) if k in d else k] = v
    elif op == 1:
        del d[rng.choice(keys)]
    elif op == 2:
        k = rng.choice(keys)
        d[k] = mutate(d[k], (*place, "value"), rng, ing)
    else:
        k = rng.choice(keys)
        value = d.pop(k)
        d[mutate(k, (*place, "key"), rng, ing)] = value
    return d


MUTATORS: dict[type, Callable[[Any, Place, random.Random, Ingredients], Any]] = {
    bool: mutate_bool,
    int: mutate_int,
    float: mutate_float,
    str: mutate_str,
    list: mutate_list,
    tuple: mutate_tuple,
    dict: mutate_dict,
}


# ---------------------------------------------------------------- boundary values


def boundaries(value: Any) -> list[Any]:
    """The boundary values of `value`'s type, in `value`'s shape where it has one."""
    kind = type(value)
    if kind is bool:
        return [True, False]
    if kind is int:
        return list(INT_BOUNDARIES)
    if kind is float:
        return list(FLOAT_BOUNDARIES)
    if kind is str:
        return ["", " ", value[:1], value[::-1], value.upper(), value.lower(), value * 3]
    if kind is list:
        return [[], value[:1], value[:1] * 2, value + value, _sorted_or_same(value), value[::-1]]
    if kind is tuple:
        return [
            (*value[:j], b, *value[j + 1 :])
            for j, item in enumerate(value)
            for b in boundaries(item)[:4]
        ]
    if kind is dict:
        return [{}, dict(list(value.items())[:1])]
    return []


def boundary_inputs(seeds: list[Args], per_seed: int = 4) -> Iterator[Args]:
    """The first seeds with one argument replaced by each of its boundary values."""
    for args in seeds[:per_seed]:
        for i, value in enumerate(args):
            for b in boundaries(value):
                yield (*args[:i], b, *args[i + 1 :])


def named_inputs(seeds: list[Args], numbers: list[float]) -> Iterator[Args]:
    """The first seed with a number argument (or a list of numbers) set to each number the
    docstring names, and its neighbours: the thresholds the problem is about."""
    for args in seeds[:1]:
        for i, value in enumerate(args):
            is_list = type(value) is list and bool(value)
            kind = type(value[0]) if is_list else type(value)
            if kind not in (int, float):
                continue
            for x in numbers:
                for near in (x, x - 1, x + 1):
                    if kind is int and type(near) is float:
                        continue
                    new = [kind(near)] if is_list else kind(near)
                    yield (*args[:i], new, *args[i + 1 :])


# ---------------------------------------------------------------- generating inputs


def generate_inputs(
    seeds: list[Args],
    allowed: Callable[[Args], bool],
    rng: random.Random,
    *,
    text: str = "",
    target: int = 400,
    attempts: int = 8000,
) -> list[tuple[Args, str]]:
    """New inputs, each with how it was made ("boundary" or "mutation"): distinct from the
    seeds and from each other, finite, at most MAX_INPUT_CHARS as a literal, and `allowed`.
    Inputs that are kept join the pool that later mutations start from (as in EvalPlus)."""
    seen = {key(s) for s in seeds}
    found: list[tuple[Args, str]] = []
    ingredients = Ingredients(seeds, text)

    def consider(args: Args, how: str) -> bool:
        k = key(args)
        if k in seen or not finite(args) or len(repr(args)) > MAX_INPUT_CHARS:
            return False
        seen.add(k)
        if not allowed(args):
            return False
        found.append((args, how))
        return True

    for args in boundary_inputs(seeds):
        consider(args, "boundary")
    for args in named_inputs(seeds, ingredients.numbers):
        consider(args, "named")
    pool = list(seeds)
    for _ in range(attempts):
        if len(found) >= target or not pool:
            break
        # half the time from a seed: children of children drift from the problem's shapes
        parent = rng.choice(seeds if seeds and rng.random() < 0.5 else pool)
        child = mutate_args(parent, rng, ingredients)
        if consider(child, "mutation"):
            pool.append(child)
            ingredients.add(child)
    return found


# ---------------------------------------------------------------- program mutants

_COMPARE_SWAPS = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}
_BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.FloorDiv: ast.Div, ast.Div: ast.FloorDiv}
_DROPPABLE_CALLS = {"abs", "sorted", "set", "list", "round", "int", "str", "reversed"}


def program_mutants(prompt: str, canonical: str, entry_point: str) -> list[tuple[str, str]]:
    """(description, whole program) for every one-site mutant of the entry point's body that
    differs from the canonical program; in source order."""
    tree = ast.parse(prompt + canonical)
    original = ast.unparse(tree)
    out: list[tuple[str, str]] = []
    seen = {original}
    for index, what in _sites(tree, entry_point):
        mutant = copy.deepcopy(tree)
        node = list(ast.walk(mutant))[index]
        description = _apply(mutant, node, what)
        text = ast.unparse(ast.fix_missing_locations(mutant))
        if text not in seen:
            seen.add(text)
            out.append((description, text + "\n"))
    return out


def _entry(tree: ast.Module, entry_point: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return node
    raise ValueError(f"no function {entry_point}")


def _sites(tree: ast.Module, entry_point: str) -> Iterator[tuple[int, Any]]:
    """(index of the node in ast.walk order, what to change) for each mutable site."""
    inside = {id(n) for stmt in _entry(tree, entry_point).body for n in ast.walk(stmt)}
    for index, node in enumerate(ast.walk(tree)):
        if id(node) not in inside:
            continue
        if isinstance(node, ast.Compare):
            for j, op in enumerate(node.ops):
                if type(op) in _COMPARE_SWAPS:
                    yield index, ("compare", j)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
            yield index, ("binop",)
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield index, ("constant", 1)
            yield index, ("constant", -1)
        elif isinstance(node, ast.BoolOp):
            yield index, ("boolop",)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield index, ("not",)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _DROPPABLE_CALLS
            and len(node.args) == 1
            and not node.keywords
        ):
            yield index, ("call",)


def _apply(tree: ast.Module, node: Any, what: tuple[Any, ...]) -> str:
    line = getattr(node, "lineno", "?")
    if what[0] == "compare":
        old = node.ops[what[1]]
        node.ops[what[1]] = _COMPARE_SWAPS[type(old)]()
        return f"line {line}: {type(old).__name__} -> {type(node.ops[what[1]]).__name__}"
    if what[0] == "binop":
        old = node.op
        node.op = _BINOP_SWAPS[type(old)]()
        return f"line {line}: {type(old).__name__} -> {type(node.op).__name__}"
    if what[0] == "constant":
        node.value += what[1]
        return f"line {line}: constant {node.value - what[1]} -> {node.value}"
    if what[0] == "boolop":
        old = node.op
        node.op = ast.Or() if isinstance(old, ast.And) else ast.And()
        return f"line {line}: {type(old).__name__} -> {type(node.op).__name__}"
    replacement = node.operand if what[0] == "not" else node.args[0]
    _replace(tree, node, replacement)
    return f"line {line}: " + ("not dropped" if what[0] == "not" else f"{node.func.id}() dropped")


def _replace(tree: ast.Module, old: Any, new: Any) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                value[next(i for i, v in enumerate(value) if v is old)] = new
                return
