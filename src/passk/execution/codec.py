"""Plain data across a process boundary: the values Python tests compare, and nothing else.

In io mode the sandboxed solution answers calls from a trusted judge process. Arguments and
return values cross as tagged JSON that keeps the distinctions tests make (tuple vs list, set,
dict with any plain keys, int vs float vs bool, inf and nan, bytes, None). Only exact built-in
types are accepted: an `int` subclass whose `__eq__` is always true, or any object a completion
defined, cannot cross — the judge only ever compares values it built itself. Never pickle.
`check_plain` applies the same rule in place (assert mode checks what the candidate returns).

>>> decode(encode({(1, 2): [1.5, float("inf")], "s": {b"x"}}))
{(1, 2): [1.5, inf], 's': {b'x'}}

Every pipe between passk's processes (pool and worker, worker and sample server, judge and
solution) carries frames: a 4-byte big-endian length, then the body (`frame`, `write_frame`,
`read_frame`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import select
import struct
import time
from typing import Any

MAX_DEPTH = 100
MAX_FRAME_BYTES = 16 << 20
_SCALARS = (type(None), bool)
_ATOMS = frozenset({type(None), bool, int, float, complex, str, bytes})
_COLLECTIONS = frozenset({list, tuple, set, frozenset})
_HEADER = struct.Struct(">I")
_SURROGATES = re.compile("[\ud800-\udfff]")
_NON_FINITE = {"inf", "-inf", "nan"}


class CodecError(ValueError):
    """A value that is not plain data, or an encoding that is malformed or too large."""


def encode(value: Any, *, max_bytes: int = 16 << 20) -> bytes:
    """Plain data -> bytes; CodecError for anything else or past max_bytes (refused as soon as
    its strings and bytes alone are past it, before anything is built)."""
    tree = _tag(value, 0, [max_bytes])
    data = json.dumps(tree, separators=(",", ":"), allow_nan=False).encode()
    if len(data) > max_bytes:
        raise CodecError(f"value too large to pass ({len(data)} bytes > {max_bytes})")
    return data


def decode(data: bytes, *, max_bytes: int = 16 << 20) -> Any:
    """Bytes from `encode` -> the value, built from built-in types only."""
    if len(data) > max_bytes:
        raise CodecError(f"value too large to accept ({len(data)} bytes > {max_bytes})")
    try:
        tree = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise CodecError(f"malformed value: {e}") from None
    return _untag(tree, 0)


def check_plain(value: Any) -> None:
    """CodecError unless `value` is plain data: what `encode` accepts, size aside.

    >>> check_plain([1, (2.5, "x"), {b"k": None}])
    >>> check_plain([True, 1 < 2, range(3)])
    Traceback (most recent call last):
    ...
    passk.execution.codec.CodecError: not plain data: builtins.range
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CodecError("value nested too deeply")
        kind = type(item)
        if kind in _ATOMS:
            continue
        if kind in _COLLECTIONS:  # exact built-in types: iterating runs no code of the sample's
            stack.extend((v, depth + 1) for v in item)
        elif kind is dict:
            stack.extend((v, depth + 1) for pair in item.items() for v in pair)
        else:
            raise CodecError(f"not plain data: {kind.__module__}.{kind.__qualname__}")


def _tag(value: Any, depth: int, room: list[int]) -> Any:
    """The JSON tree for `value`; `room` holds what is left of the byte budget, less at least
    what each string and bytes will take once encoded."""
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    kind = type(value)
    if kind is str or kind is bytes:
        room[0] -= len(value) if kind is str else 4 * len(value) // 3
        if room[0] < 0:
            raise CodecError("value too large to pass (its text alone is past the bound)")
    if kind is str:
        # JSON would join an escaped surrogate pair into one character on the way back.
        return value if not _SURROGATES.search(value) else {"u": [ord(c) for c in value]}
    if kind in _SCALARS:
        return value
    if kind is int:
        # hex: no digit limit (str() refuses ints past 4300 digits)
        return value if abs(value) < 1 << 53 else {"i": hex(value)}
    if kind is float:
        return value if math.isfinite(value) else {"f": repr(value)}
    if kind is list:
        return {"l": [_tag(v, depth + 1, room) for v in value]}
    if kind is tuple:
        return {"t": [_tag(v, depth + 1, room) for v in value]}
    if kind is dict:
        return {
            "d": [[_tag(k, depth + 1, room), _tag(v, depth + 1, room)] for k, v in value.items()]
        }
    if kind is set or kind is frozenset:
        return {"s" if kind is set else "fs": [_tag(v, depth + 1, room) for v in value]}
    if kind is bytes:
        return {"b": base64.b64encode(value).decode()}
    if kind is complex:
        return {"c": [_tag(value.real, depth + 1, room), _tag(value.imag, depth + 1, room)]}
    raise CodecError(f"not plain data: {kind.__module__}.{kind.__qualname__}")


def _untag(tree: Any, depth: int) -> Any:
    try:
        return _untag_checked(tree, depth)
    except CodecError:
        raise
    except (TypeError, ValueError, OverflowError, binascii.Error) as e:
        raise CodecError(f"malformed value: {e}") from None


def _untag_checked(tree: Any, depth: int) -> Any:
    """Exactly the shapes `_tag` writes; anything else is a CodecError."""
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    if tree is None or type(tree) in (str, bool, int, float):
        return tree
    if type(tree) is not dict or len(tree) != 1:
        raise CodecError("malformed value")
    ((tag, body),) = tree.items()
    if tag == "i" and type(body) is str and _HEX.fullmatch(body):
        return int(body, 16)
    if tag == "f" and body in _NON_FINITE:
        return float(body)
    if tag == "b" and type(body) is str:
        return base64.b64decode(body, validate=True)
    if tag == "u" and type(body) is list and all(type(c) is int for c in body):
        return "".join(map(chr, body))
    if type(body) is not list:
        raise CodecError("malformed value")
    if tag == "d":
        if not all(type(pair) is list and len(pair) == 2 for pair in body):
            raise CodecError("malformed value: dict entries must be pairs")
        return {_untag(k, depth + 1): _untag(v, depth + 1) for k, v in body}
    items = [_untag(v, depth + 1) for v in body]
    if tag == "l":
        return items
    if tag == "t":
        return tuple(items)
    if tag == "s":
        return set(items)
    if tag == "fs":
        return frozenset(items)
    if tag == "c" and len(items) == 2 and all(type(x) is float for x in items):
        return complex(*items)
    raise CodecError(f"malformed value: unknown tag {tag!r}")


_HEX = re.compile(r"-?0x[0-9a-f]+")


# ---------------------------------------------------------------- frames


def frame(body: bytes) -> bytes:
    """A frame: the body's length (4 bytes, big-endian), then the body."""
    return _HEADER.pack(len(body)) + body


def write_frame(fd: int, body: bytes) -> None:
    data = frame(body)
    while data:
        data = data[os.write(fd, data) :]


def read_frame(
    fd: int, *, deadline: float | None = None, max_bytes: int = MAX_FRAME_BYTES
) -> bytes | None:
    """The next frame's body; None at end of file. TimeoutError when `deadline` (a
    time.monotonic() value) passes first, CodecError for a frame over `max_bytes`."""
    header = _read_exactly(fd, _HEADER.size, deadline)
    if header is None:
        return None
    size = _HEADER.unpack(header)[0]
    if size > max_bytes:
        raise CodecError(f"frame too large ({size} bytes > {max_bytes})")
    return _read_exactly(fd, size, deadline)


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError("no frame before the deadline")
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)
