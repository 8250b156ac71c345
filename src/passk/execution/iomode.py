"""io mode: the tests run in a trusted judge process; the solution only answers calls.

In the paper's assert mode the completion and the test share one process, so a completion can
read the expected values from its caller's frame, patch `abs` or `unittest`, or jump over the
asserts with `sys.settrace`. In io mode (`--mode io`) the judge runs the problem's own `check`
with a proxy `candidate`; each call's arguments go to the sandboxed solution process as plain
data (`codec`), and plain data comes back, under a size bound and the job's deadline. The
solution never sees the test, and the judge only compares values it built itself. Used by
`worker` only; the solution's process descends from the worker's sample server, which never
held a test, and the judge seeds its own random generator.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from passk.execution import codec

NOT_PLAIN = "the solution returned something that is not plain data"


class SolutionGone(Exception):
    """The solution process ended, or stopped answering, in the middle of a call."""


class CallTimeout(Exception):
    """The solution did not answer before the job's deadline."""


def serve(fn: Callable[..., Any], requests: int, replies: int, max_bytes: int) -> None:
    """In the solution process: answer calls until the judge closes the request pipe."""
    while (frame := codec.read_frame(requests, max_bytes=max_bytes)) is not None:
        try:
            args, kwargs = codec.decode(frame, max_bytes=max_bytes)
            value = fn(*args, **kwargs)
        except BaseException as e:  # the judge decides what an exception means
            reply = ["raise", type(e).__name__, _message(e)]
        else:
            reply = ["ok", value]
        try:
            data = codec.encode(reply, max_bytes=max_bytes)
        except codec.CodecError as e:
            data = codec.encode(["bad", str(e)])
        codec.write_frame(replies, data)


def _message(e: BaseException) -> str:
    try:
        text = str(e)
    except BaseException:  # a hostile __str__ decides nothing
        return "<unprintable>"
    return text[:1000] if type(text) is str else "<unprintable>"


class Candidate:
    """The judge's stand-in for the solution's function: a call becomes a round trip."""

    def __init__(self, requests: int, replies: int, deadline: float, max_bytes: int) -> None:
        self._requests, self._replies = requests, replies
        self._deadline, self._max_bytes = deadline, max_bytes

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            codec.write_frame(
                self._requests, codec.encode([list(args), kwargs], max_bytes=self._max_bytes)
            )
        except BrokenPipeError:
            raise SolutionGone("the solution process has ended") from None
        try:
            frame = codec.read_frame(
                self._replies, deadline=self._deadline, max_bytes=self._max_bytes
            )
        except TimeoutError:
            raise CallTimeout("the solution did not answer in time") from None
        if frame is None:
            raise SolutionGone("the solution process ended during a call")
        reply = codec.decode(frame, max_bytes=self._max_bytes)
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "raise":
            raise _exception(reply[1], reply[2])
        raise TypeError(f"{NOT_PLAIN}: {reply[1]}")


def _exception(name: str, message: str) -> Exception:
    """The solution's exception, as a built-in type where it was one, so that a test that
    expects, say, ValueError still sees one."""
    kind = getattr(builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except Exception:  # some built-in exceptions take other arguments
            pass
    return RuntimeError(f"{name}: {message}")
