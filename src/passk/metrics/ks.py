"""The list of k values pass@k is reported at: read from text once, checked once.

`passk evaluate --k 1,10,100`, `passk run --k ...` and `passk rank --k ...` all read their k list
with `parse_ks`; the library functions that take a list check it with `check_ks`.
"""

from __future__ import annotations

from collections.abc import Sequence

from passk.errors import InputError


def parse_ks(text: str) -> list[int]:
    """'1,10,100' -> [1, 10, 100]; ValueError saying what is wrong otherwise.

    >>> parse_ks("1, 10,100")
    [1, 10, 100]
    """
    try:
        ks = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from None
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"expected positive integers, got {text!r}")
    return ks


def check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    """The ks as a tuple, once every one is a positive integer (InputError naming --k)."""
    ks = tuple(ks)
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise InputError(
            f"--k must be positive integers, got {','.join(map(str, ks)) or 'nothing'}"
        )
    return ks
