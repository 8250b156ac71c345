"""The tracing program: run a driver in the sandbox and record calls to the functions mined.

Chen et al. (2021, section 4.1) found 40,000 problems in continuous integration: they ran
projects' tests, traced every function's inputs and outputs with `sys.setprofile`, and kept
the functions whose inputs and outputs could be captured and restored. This file is that
tracer. passk never imports it: `passk.training.mining.tracing_program` prepends its settings
(a line binding `__passk_trace__` to a JSON string) and the result runs in the sandbox as one
job, so it uses the standard library only (and no `from __future__` import, which would have
to come first).

Settings: `targets`, a list of [place, module, name, lines] (place is an absolute path, or
"@relative/path" inside the shipped project; lines the first lines its code object may start
at); `driver`, {"kind": "tests" | "examples", "place": ..., "module": dotted name or null};
`project`, a base64 zip of the project's .py files to unpack and import from, or "".

A driver of kind "tests" is a test file: its unittest cases, then its pytest-style `test*`
functions and `Test*` classes that take no arguments. One of kind "examples" is a module whose
docstring examples run with doctest. Each call to a target whose arguments, result and
arguments after the call are plain data (exact built-in types, as the io mode's codec allows:
None, bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset; no NaN) is
written to the original stdout as one line: a marker, then JSON with the key of the target and
the values as Python literals (sets sorted, so that runs compare as text). Arguments are
written at the call, before the body runs, so a function that mutates them is caught; a call
that raises, or whose values are not plain or too large, is reported once per reason instead.
Only calls made while the tests or examples run are recorded, not those made while the driver
is imported. The driver's own output goes to /dev/null.
"""

import base64
import dis
import doctest
import inspect
import io
import json
import math
import os
import sys
import threading
import types
import unittest
import zipfile
from typing import Any

MARK = "\x1epassk-trace\t"
MAX_CHARS = 2000  # per call: the arguments and the result together, as literal text
MAX_CALLS = 30  # distinct calls recorded per target
MAX_DEPTH = 100
_RETURNS = {dis.opmap[name] for name in ("RETURN_VALUE", "RETURN_CONST") if name in dis.opmap}
_VARARGS, _VARKEYWORDS = inspect.CO_VARARGS, inspect.CO_VARKEYWORDS
_CONTAINERS = (list, tuple, dict, set, frozenset)


class NotPlain(Exception):
    """A value that is not plain data, or too large to write as a test."""


def literal(value: Any, room: list[int], depth: int = 0) -> str:
    """The Python literal of a plain value, charging its size to room[0].

    >>> literal({"a": (1, -2.5), "s": {3, 1}}, [100])
    "{'a': (1, -2.5), 's': {1, 3}}"
    """
    if depth > MAX_DEPTH:
        raise NotPlain("nested too deeply")
    kind = type(value)
    if kind in _CONTAINERS:
        text = _container(value, kind, room, depth + 1)
        room[0] -= 2
    else:
        text = _scalar(value, kind, room)
        room[0] -= len(text)
    if room[0] < 0:
        raise NotPlain("too large")
    return text


def _scalar(value: Any, kind: type, room: list[int]) -> str:
    if kind in (str, bytes) and len(value) > room[0]:
        raise NotPlain("too large")
    if value is None or kind in (bool, int, str, bytes):
        return repr(value)  # an int past 4300 digits raises ValueError: not plain either
    if kind is float:
        if math.isnan(value):
            raise NotPlain("NaN")
        return repr(value) if math.isfinite(value) else ("-" if value < 0 else "") + "float('inf')"
    if kind is complex:
        if not (math.isfinite(value.real) and math.isfinite(value.imag)):
            raise NotPlain("complex infinity")
        return repr(value)
    raise NotPlain(f"{kind.__module__}.{kind.__qualname__}")


def _container(value: Any, kind: type, room: list[int], depth: int) -> str:
    if kind is dict:
        items = [f"{literal(k, room, depth)}: {literal(v, room, depth)}" for k, v in value.items()]
        return "{" + ", ".join(items) + "}"
    parts = [literal(v, room, depth) for v in value]
    if kind is list:
        return "[" + ", ".join(parts) + "]"
    if kind is tuple:
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    parts.sort()  # iteration order of a set depends on the process's hash seed
    if not parts:
        return "set()" if kind is set else "frozenset()"
    body = "{" + ", ".join(parts) + "}"
    return body if kind is set else f"frozenset({body})"


class Recorder:
    """The profile function and what it has seen."""

    def __init__(self, targets: list[list[Any]], project: str | None, out: int) -> None:
        self.places: dict[tuple[str, str, int], int] = {}
        for key, (place, module, name, lines) in enumerate(targets):
            path = os.path.join(project or "", place[1:]) if place.startswith("@") else place
            for line in lines:
                self.places[(os.path.realpath(path), name, line)] = key
                self.places[(f"<frozen {module}>", name, line)] = key
        self.out = out
        self.codes: dict[types.CodeType, int | None] = {}
        self.real: dict[str, str] = {}
        self.open: dict[int, tuple[int, list[Any], dict[str, Any], str, str]] = {}
        self.seen: dict[int, set[str]] = {}
        self.skipped: set[tuple[int, str]] = set()

    def emit(self, record: dict[str, Any]) -> None:
        data = (MARK + json.dumps(record) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.out, data) :]
        except OSError:  # the driver closed our descriptor: nothing more can be said
            pass

    def key(self, code: types.CodeType) -> int | None:
        try:
            return self.codes[code]
        except KeyError:
            pass
        name = code.co_filename
        if name not in self.real:
            self.real[name] = name if name.startswith("<") else os.path.realpath(name)
        key = self.places.get((self.real[name], code.co_name, code.co_firstlineno))
        self.codes[code] = key
        return key

    def profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        # An exception escaping a profile function would surface in the traced program.
        if event == "call":
            key = self.key(frame.f_code)
            if key is not None and len(self.seen.get(key, ())) < MAX_CALLS:
                try:
                    self.enter(key, frame)
                except Exception as e:
                    self.skip(key, _why(e))
        elif event == "return" and self.open:
            entry = self.open.pop(id(frame), None)
            if entry is not None:
                try:
                    self.leave(entry, frame, arg)
                except Exception as e:
                    self.skip(entry[0], _why(e))

    def enter(self, key: int, frame: types.FrameType) -> None:
        args, kwargs = arguments(frame)
        room = [MAX_CHARS]
        self.open[id(frame)] = (key, args, kwargs, literal(args, room), literal(kwargs, room))

    def leave(self, entry: tuple[Any, ...], frame: types.FrameType, result: Any) -> None:
        key, args, kwargs, args_text, kwargs_text = entry
        if result is None and frame.f_code.co_code[frame.f_lasti] not in _RETURNS:
            self.skip(key, "raised")
            return
        room = [MAX_CHARS - len(args_text) - len(kwargs_text)]
        result_text = literal(result, room)
        after = [literal(args, [MAX_CHARS]), literal(kwargs, [MAX_CHARS])]
        record: dict[str, Any] = {"c": key, "a": args_text, "k": kwargs_text, "r": result_text}
        if after != [args_text, kwargs_text]:
            record["p"] = after
        line = json.dumps(record, sort_keys=True)
        seen = self.seen.setdefault(key, set())
        if line not in seen and len(seen) < MAX_CALLS:
            seen.add(line)
            self.emit(record)

    def skip(self, key: int, reason: str) -> None:
        if (key, reason) not in self.skipped:
            self.skipped.add((key, reason))
            self.emit({"s": key, "why": reason})


def _why(error: Exception) -> str:
    return "too large" if isinstance(error, NotPlain) and str(error) == "too large" else "not plain"


def arguments(frame: types.FrameType) -> tuple[list[Any], dict[str, Any]]:
    """The call's arguments as (positional, keyword), read from the frame before its body
    runs. A parameter left at its default object is left out (the default need not be plain
    data); parameters after it are then passed by keyword."""
    code, values = frame.f_code, frame.f_locals
    names = code.co_varnames
    positional = names[: code.co_argcount]
    keyword_only = names[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    rest = code.co_argcount + code.co_kwonlyargcount
    star = names[rest] if code.co_flags & _VARARGS else None
    double_star = names[rest + bool(star)] if code.co_flags & _VARKEYWORDS else None
    defaults = _defaults(frame)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    by_keyword = False
    for index, name in enumerate(positional):
        value = values[name]
        omit = name in defaults and value is defaults[name] and not (star and values[star])
        if omit and index >= code.co_posonlyargcount:
            by_keyword = True
        elif by_keyword:
            kwargs[name] = value
        else:
            args.append(value)
    if star:
        args.extend(values[star])
    for name in keyword_only:
        if not (name in defaults and values[name] is defaults[name]):
            kwargs[name] = values[name]
    if double_star:
        kwargs.update(values[double_star])
    return args, kwargs


def _defaults(frame: types.FrameType) -> dict[str, Any]:
    """Parameter name -> default object, from the module-level function whose code runs."""
    code = frame.f_code
    function = frame.f_globals.get(code.co_name)
    for _ in range(8):  # through decorators that set __wrapped__
        if function is None or getattr(function, "__code__", None) is code:
            break
        function = getattr(function, "__wrapped__", None)
    if function is None:
        return {}
    positional = code.co_varnames[: code.co_argcount]
    defaults = function.__defaults__ or ()
    found = dict(zip(positional[len(positional) - len(defaults) :], defaults, strict=True))
    return found | dict(function.__kwdefaults__ or {})


# ----------------------------------------------------------------------------- drivers


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def load(driver: dict[str, Any], path: str) -> types.ModuleType:
    """Import the driver by its module name, or else run its file as a module of its own."""
    import importlib
    import importlib.util

    if driver.get("module"):
        try:
            return importlib.import_module(driver["module"])
        except ImportError:
            pass
    spec = importlib.util.spec_from_file_location("passk_trace_driver", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_tests(module: types.ModuleType) -> None:
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    unittest.TextTestRunner(stream=_Discard(), verbosity=0).run(suite)
    for name, value in sorted(vars(module).items()):
        if (
            not name.lower().startswith("test")
            or getattr(value, "__module__", "") != module.__name__
        ):
            continue
        if inspect.isfunction(value) and _no_arguments(value):
            _quietly(value)
        elif inspect.isclass(value) and not issubclass(value, unittest.TestCase):
            _run_test_class(value)


def _run_test_class(cls: type) -> None:
    if not _no_arguments(cls):
        return
    for name in sorted(dir(cls)):
        method = getattr(cls, name, None)
        if name.startswith("test") and inspect.isfunction(method) and _no_arguments(method, 1):
            instance = _quietly(cls)
            if instance is not None:
                _quietly(getattr(instance, "setup_method", lambda _: None), method)
                _quietly(getattr(instance, name))


def _no_arguments(function: Any, bound: int = 0) -> bool:
    try:
        parameters = list(inspect.signature(function).parameters.values())[bound:]
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters
    )


def _quietly(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception:
        return None


def run_examples(module: types.ModuleType) -> None:
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(verbose=False, optionflags=flags)
    for test in doctest.DocTestFinder().find(module):
        runner.run(test, out=lambda _: None)


# ----------------------------------------------------------------------------- main


def unpack(project: str) -> str | None:
    if not project:
        return None
    root = os.path.realpath("project")
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(project))) as archive:
        archive.extractall(root)
    source = os.path.join(root, "src")
    sys.path[:0] = [root, source] if os.path.isdir(source) else [root]
    return root


def profiled(recorder: Recorder, run: Any, module: types.ModuleType) -> str:
    """Run the driver's tests under the profiler: "completed", or the exception that ended it."""
    sys.setprofile(recorder.profile)
    threading.setprofile(recorder.profile)
    try:
        run(module)
    except BaseException as e:
        return type(e).__name__
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    return "completed"


def main(settings: dict[str, Any]) -> None:
    project = unpack(settings["project"])
    driver = settings["driver"]
    place = driver["place"]
    path = os.path.join(project or "", place[1:]) if place.startswith("@") else place
    sys.path.append(os.path.dirname(path))
    recorder = Recorder(settings["targets"], project, os.dup(1))
    quiet = os.open(os.devnull, os.O_RDWR)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    sys.stdout = sys.stderr = _Discard()
    try:
        # Imports run unprofiled: they make no test's calls, and profiling the import of a large
        # package costs more than running its tests.
        module = load(driver, path)
        status = profiled(
            recorder, run_tests if driver["kind"] == "tests" else run_examples, module
        )
    except BaseException as e:  # the driver's own failure; what it recorded still counts
        status = type(e).__name__
    recorder.emit({"end": status})


if "__passk_trace__" in globals():
    main(json.loads(globals()["__passk_trace__"]))
