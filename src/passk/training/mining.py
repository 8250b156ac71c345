"""Mining HumanEval-shaped problems from real code: the parts that run nothing.

Codex-S (Chen et al. 2021, section 4.1) was fine-tuned on standalone, correctly implemented
functions: problems whose prompt is a signature and a docstring, whose solution is the body,
and whose tests the solution passes. The paper took them from contest sites and from
continuous integration, where it traced the inputs and outputs of functions while projects'
tests ran. This module finds such functions in a corpus or in folders of code, filters them
(each drop counted by reason), writes their prompts and solutions, builds their tests from
docstring examples (the `doctests:` benchmark's machinery) or from recorded calls (the
program in `tracer.py`), deduplicates them and removes HumanEval (the corpus's rules).
`passk.mining` runs what must run in the sandbox.

A function is kept as a candidate when it is a top-level `def` (not async, not a generator)
with a docstring that says something (at least MIN_DOCSTRING_WORDS distinct words of two or
more letters in its prose, not counting doctest examples, the function's and parameters' own
names, and placeholder words such as "todo" or "deprecated"), a body of MIN_BODY_LINES to
MAX_BODY_LINES lines (not blank, not comments), and that uses only builtins and names bound by
the module's top-level absolute imports of modules installed here. A function that uses any
other name of its module (functions, classes, constants, dunders such as `__file__`, names
from `global` statements, conditional or relative imports, star imports) is dropped rather
than made standalone by copying those names in: its body is then not a solution to a prompt of
its own. The prompt is the imports the function uses (and `from __future__ import annotations`
where the module has it and the function is annotated), a blank line, then the decorators,
signature and docstring as written; the solution is the body after the docstring.
"""

from __future__ import annotations

import ast
import base64
import builtins
import functools
import hashlib
import importlib.util
import io
import json
import os
import re
import symtable
import sys
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from passk.benchmarks import doctests
from passk.errors import InputError
from passk.records.corpus import SPLITS, is_corpus, iter_records, read_manifest
from passk.records.sources import find_python_files, read_source
from passk.training import corpus, decontaminate, dedup

MIN_BODY_LINES, MAX_BODY_LINES = 2, 40
MIN_DOCSTRING_WORDS = 3
PLACEHOLDER_WORDS = frozenset(
    {"todo", "fixme", "xxx", "tbd", "docstring", "undocumented", "deprecated", "placeholder"}
    | {"stub", "dummy", "internal", "use", "only", "private", "see"}
)
MAX_TEST_CALLS = 10  # asserts per traced problem (HumanEval has 7.7 tests a problem)
MAX_PROJECT_BYTES = 32 << 20  # source text of a folder shipped (zipped) with each tracing job
EXAMPLES = 5  # examples per drop reason in the manifest

# Why a top-level function is not a candidate, in the order the checks run.
FIND_REASONS = (
    "async_function",
    "no_docstring",
    "weak_docstring",
    "body_too_short",
    "code_on_docstring_line",
    "body_too_long",
    "generator",
    "uses_module_names",
    "relative_import",
    "unavailable_import",
)
# Why a candidate with no doctest gets no test from tracing.
TRACE_REASONS = ("not_traced", "not_called", "no_plain_calls", "nondeterministic", "trivial")

BUILTIN_NAMES = frozenset(
    {n for n in dir(builtins) if not n.startswith("__")} | {"__import__", "__debug__"}
)
_WORD = re.compile(r"[A-Za-z]{2,}")
_TRACER = Path(__file__).with_name("tracer.py")
_MARK = "\x1epassk-trace\t"


# --- Inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    """One Python file to mine: its path under `root`, where it came from, and its text.

    kind is a corpus source's ("directory", "stdlib", "site-packages"). Code of the last two,
    and of a folder on this interpreter's import path, is installed where it was read: tracing
    imports it from there instead of shipping the folder's code with each job."""

    path: str
    text: str
    root: str
    kind: str = "directory"
    package: str = ""
    license: str = ""

    @property
    def module(self) -> str | None:
        return module_name(self.path)

    @property
    def installed(self) -> bool:
        return self.kind in ("stdlib", "site-packages") or on_import_path(self.root)


@functools.cache
def on_import_path(root: str) -> bool:
    """Whether a folder is an entry of this interpreter's sys.path (the working directory,
    '', does not count: the sandbox runs elsewhere)."""
    return os.path.realpath(root) in {os.path.realpath(p) for p in sys.path if p}


def module_name(path: str) -> str | None:
    """The dotted name a file imports as from its root (a leading `src/` dropped), or None.

    >>> module_name("src/pkg/__init__.py"), module_name("pkg/mod.py"), module_name("a-b/c.py")
    ('pkg', 'pkg.mod', None)
    """
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts[:1] == ["src"] and len(parts) > 1:
        parts = parts[1:]
    if parts[-1:] == ["__init__"]:
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def check_inputs(paths: Sequence[str | os.PathLike[str]]) -> None:
    """Fail before any work on a path that does not exist or holds no code."""
    if not paths:
        raise InputError("no sources: name corpora, folders or .py files")
    for path in paths:
        p = Path(path)
        if not p.exists():
            raise InputError(f"{path}: no such file or directory")
        if p.is_file() and p.suffix != ".py":
            raise InputError(f"{path}: expected a corpus, a folder or a .py file")
        if p.is_dir() and not is_corpus(p) and not find_python_files(p):
            raise InputError(f"{path}: no .py files in this folder (and not a corpus)")


def iter_inputs(path: str | os.PathLike[str], split: str | None) -> Iterator[SourceFile]:
    """The files of one input: a corpus (its splits, or one), a folder, or a .py file. A folder
    inside a package is read from the package's import root, so that its modules keep their
    dotted names (site-packages/numpy/lib gives numpy/lib/*.py under site-packages)."""
    p = Path(path)
    if is_corpus(p):
        yield from _corpus_files(p, split)
        return
    folder = (p if p.is_dir() else p.parent).resolve()
    root = import_root(folder)
    names = find_python_files(folder) if p.is_dir() else [p.name]
    for name in names:
        text, _ = read_source(folder / name)
        if text is not None:
            yield SourceFile((folder / name).relative_to(root).as_posix(), text, str(root))


def import_root(folder: Path) -> Path:
    """The folder a package's modules import from: above every folder with an __init__.py.

    >>> import_root(Path("/nowhere/at/all"))
    PosixPath('/nowhere/at/all')
    """
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return folder


def _corpus_files(path: Path, split: str | None) -> Iterator[SourceFile]:
    kinds = {s["root"]: s["kind"] for s in read_manifest(path).get("sources", [])}
    for name in (split,) if split else SPLITS:
        for record in iter_records(path, name):
            yield SourceFile(
                record["path"],
                record["text"],
                record["source"],
                kinds.get(record["source"], "directory"),
                record.get("package", ""),
                record.get("license", ""),
            )


# --- Finding functions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a function was found, for its problem's record."""

    root: str
    path: str
    line: int
    installed: bool
    package: str
    license: str


@dataclass(frozen=True)
class Function:
    """A candidate: a standalone documented function, as the parts of a problem."""

    name: str
    module: str | None
    origin: Origin
    lines: tuple[int, ...]  # where its code object may start: the first decorator, the def
    imports: str  # the import statements it uses, as the prompt's first lines
    header: str  # decorators, signature and docstring
    body: str
    modules: frozenset[str]  # the top-level modules of the names it imports
    doctest: tuple[str, str | None] | None  # (test, fallback test) from its examples

    @property
    def prompt(self) -> str:
        return (self.imports + "\n" if self.imports else "") + self.header

    @property
    def text(self) -> str:
        """The function without its imports: what duplicates are judged on."""
        return self.header + self.body

    @property
    def where(self) -> str:
        return f"{self.origin.path}:{self.origin.line} {self.name}"


@dataclass(frozen=True)
class Found:
    """One top-level function: the candidate it makes, or why it makes none."""

    name: str
    line: int
    function: Function | None = None
    reason: str | None = None


@dataclass
class ModuleScope:
    """What a module binds at its top level: names from plain import statements, and the rest."""

    imports: dict[str, list[ast.Import | ast.ImportFrom]] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)
    future_annotations: bool = False

    @classmethod
    def of(cls, module: ast.Module) -> ModuleScope:
        scope = cls()
        for statement in module.body:
            if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                names = {a.name for a in statement.names}
                scope.future_annotations |= "annotations" in names
            elif isinstance(statement, ast.Import | ast.ImportFrom):
                for alias in statement.names:
                    if alias.name != "*":
                        name = doctests.binds(statement, alias)
                        scope.imports.setdefault(name, []).append(statement)
            else:
                scope.bound |= bound_names(statement)
        return scope


def bound_names(statement: ast.stmt) -> set[str]:
    """The names a module-level statement binds (not looking inside functions and classes).

    >>> sorted(bound_names(ast.parse("try:\\n    import a.b\\nexcept E as e:\\n    x = 1").body[0]))
    ['a', 'e', 'x']
    """
    names: set[str] = set()
    stack: list[ast.AST] = [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {doctests.binds(node, a) for a in node.names if a.name != "*"}
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        if not isinstance(node, ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return names


def find_functions(file: SourceFile, module: ast.Module) -> list[Found]:
    """Every top-level function of a parsed file, each a candidate or dropped with a reason."""
    text = _newlines(file.text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = symtable.symtable(text, file.path, "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    tables = {
        (t.get_name(), t.get_lineno()): t
        for t in table.get_children()
        if t.get_type() == "function"
    }
    context = _FileContext(file, text.split("\n"), ModuleScope.of(module), module)
    found = []
    for node in module.body:
        if isinstance(node, ast.AsyncFunctionDef):
            found.append(Found(node.name, node.lineno, reason="async_function"))
        elif isinstance(node, ast.FunctionDef):
            found.append(context.examine(node, tables.get((node.name, node.lineno))))
    return found


@dataclass
class _FileContext:
    file: SourceFile
    lines: list[str]
    scope: ModuleScope
    module: ast.Module

    @functools.cached_property
    def module_examples(self) -> list[Any]:
        return doctests.module_examples(self.module)

    def examine(self, node: ast.FunctionDef, table: symtable.SymbolTable | None) -> Found:
        reason = _shape_reason(node, self.lines)
        if reason is not None:
            return Found(node.name, node.lineno, reason=reason)
        if table is None:  # every top-level def has a table; without one, names are unknown
            return Found(node.name, node.lineno, reason="uses_module_names")
        names, reason = _names_reason(node, table, self.scope)
        if reason is not None:
            return Found(node.name, node.lineno, reason=reason)
        return Found(node.name, node.lineno, function=self.function(node, names))

    def function(self, node: ast.FunctionDef, names: set[str]) -> Function:
        parts = doctests.function_parts(node, self.lines)
        assert parts is not None, "the shape was checked"
        imports = _import_lines(names, self.scope)
        if self.scope.future_annotations and _annotated(node):
            imports = "from __future__ import annotations\n" + imports
        first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        modules = frozenset(
            source_module(s, n).split(".")[0] for n in names for s in self.scope.imports[n]
        )
        return Function(
            name=node.name,
            module=self.file.module,
            origin=Origin(
                self.file.root,
                self.file.path,
                node.lineno,
                self.file.installed,
                self.file.package,
                self.file.license,
            ),
            lines=tuple(sorted({first, node.lineno})),
            imports=imports,
            header=parts[0],
            body=parts[1],
            modules=modules,
            doctest=doctests.example_tests(node, self.file.path, self.module_examples),
        )


def _shape_reason(node: ast.FunctionDef, lines: list[str]) -> str | None:
    docstring = ast.get_docstring(node)
    if docstring is None:
        return "no_docstring"
    if not says_something(docstring, node):
        return "weak_docstring"
    if len(node.body) < 2:
        return "body_too_short"
    parts = doctests.function_parts(node, lines)
    if parts is None:
        return "code_on_docstring_line"
    count = body_lines(parts[1])
    if count < MIN_BODY_LINES:
        return "body_too_short"
    if count > MAX_BODY_LINES:
        return "body_too_long"
    if is_generator(node):
        return "generator"
    return None


def says_something(docstring: str, node: ast.FunctionDef) -> bool:
    """Whether a docstring's prose has MIN_DOCSTRING_WORDS words beyond names and placeholders.

    >>> f = ast.parse("def add_one(x): pass").body[0]
    >>> says_something("Add one to x.", f), says_something("Return the number plus one.", f)
    (False, True)
    """
    import doctest

    try:
        pieces = doctest.DocTestParser().parse(docstring)
        prose = "".join(p for p in pieces if isinstance(p, str))
    except ValueError:
        prose = docstring
    own = {part.lower() for part in node.name.split("_")}
    for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
        own.update(part.lower() for part in arg.arg.split("_"))
    words = {w.lower() for w in _WORD.findall(prose)} - own - PLACEHOLDER_WORDS
    return len(words) >= MIN_DOCSTRING_WORDS


def body_lines(body: str) -> int:
    """Lines of a body that are neither blank nor only a comment."""
    return sum(
        1 for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )


def is_generator(node: ast.FunctionDef) -> bool:
    stack: list[ast.AST] = list(node.body)
    while stack:
        child = stack.pop()
        if isinstance(child, ast.Yield | ast.YieldFrom):
            return True
        if not isinstance(
            child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
        ):
            stack.extend(ast.iter_child_nodes(child))
    return False


def _annotated(node: ast.FunctionDef) -> bool:
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return node.returns is not None or any(a is not None and a.annotation for a in every)


def free_names(
    node: ast.FunctionDef, table: symtable.SymbolTable, lazy_annotations: bool
) -> tuple[set[str], bool]:
    """The module-level names a function reads (in its body and nested scopes, decorators,
    defaults and, unless postponed, annotations), and whether it declares any `global`."""
    names: set[str] = set()
    declares = _global_names(table, names)
    evaluated: list[ast.AST] = [*node.decorator_list, *node.args.defaults]
    evaluated += [d for d in node.args.kw_defaults if d is not None]
    if not lazy_annotations:
        args = node.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        evaluated += [a.annotation for a in every if a is not None and a.annotation]
        evaluated += [node.returns] if node.returns is not None else []
    for expression in evaluated:
        names |= {n.id for n in ast.walk(expression) if isinstance(n, ast.Name)}
    names.discard(node.name)  # recursion: the prompt defines it
    return names, declares


def _global_names(table: symtable.SymbolTable, names: set[str]) -> bool:
    declares = False
    for symbol in table.get_symbols():
        if symbol.is_global():
            names.add(symbol.get_name())
            declares |= symbol.is_declared_global()
    for child in table.get_children():
        declares |= _global_names(child, names)
    return declares


def _names_reason(
    node: ast.FunctionDef, table: symtable.SymbolTable, scope: ModuleScope
) -> tuple[set[str], str | None]:
    """The imported names a function uses, or why its names make it not standalone."""
    names, declares = free_names(node, table, scope.future_annotations)
    imported = {n for n in names if n in scope.imports and n not in scope.bound}
    others = names - imported - BUILTIN_NAMES
    if declares or others or any(n in scope.bound for n in names):
        return imported, "uses_module_names"
    sources = [(s, n) for n in imported for s in scope.imports[n]]
    if any(isinstance(s, ast.ImportFrom) and s.level for s, _ in sources):
        return imported, "relative_import"
    if not all(importable(source_module(s, n).split(".")[0]) for s, n in sources):
        return imported, "unavailable_import"
    return imported, None


def source_module(statement: ast.Import | ast.ImportFrom, name: str) -> str:
    """The module an absolute import statement takes `name` from.

    >>> source_module(ast.parse("import os.path as p, sys").body[0], "p")
    'os.path'
    """
    if isinstance(statement, ast.ImportFrom):
        return statement.module or ""
    return next(a.name for a in statement.names if doctests.binds(statement, a) == name)


@functools.cache
def importable(top: str) -> bool:
    """Whether a top-level module is in the standard library or installed here (found, not
    imported)."""
    if top in sys.stdlib_module_names:
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _import_lines(names: set[str], scope: ModuleScope) -> str:
    """The module's import statements cut down to the aliases that bind `names`, in order."""
    statements = sorted({id(s): s for n in names for s in scope.imports[n]}.values(), key=_position)
    lines = []
    for statement in statements:
        kept = [a for a in statement.names if doctests.binds(statement, a) in names]
        if isinstance(statement, ast.Import):
            lines.append(ast.unparse(ast.Import(names=kept)))
        else:
            lines.append(ast.unparse(ast.ImportFrom(module=statement.module, names=kept, level=0)))
    return "".join(line + "\n" for line in lines)


def _position(statement: ast.stmt) -> tuple[int, int]:
    return statement.lineno, statement.col_offset


# --- Scanning a file: functions, and drivers for tracing --------------------------------------


@dataclass(frozen=True)
class Driver:
    """A program whose run calls candidates: a test file, or a module's docstring examples."""

    kind: str  # "tests" or "examples"
    root: str
    path: str
    module: str | None
    imports: frozenset[str]  # the modules it imports (tests), or its own (examples)
    installed: bool

    @property
    def where(self) -> str:
        return f"{self.path} ({self.kind})"


@dataclass(frozen=True)
class FileScan:
    found: list[Found]
    drivers: list[Driver]
    parsed: bool


def scan(file: SourceFile) -> FileScan:
    """A file's top-level functions (candidates or drops) and the drivers it offers; nothing
    when it does not parse."""
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning for invalid escapes: not ours
            warnings.simplefilter("ignore")
            module = ast.parse(_newlines(file.text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return FileScan([], [], parsed=False)
    return FileScan(find_functions(file, module), find_drivers(file, module), parsed=True)


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def is_test_file(path: str) -> bool:
    """Test files by the names pytest and unittest look for.

    >>> [is_test_file(p) for p in ("tests/test_io.py", "pkg/io_test.py", "pkg/testing.py")]
    [True, True, False]
    """
    name = PurePosixPath(path).name
    return (name.startswith("test_") or name.endswith("_test.py")) and name.endswith(".py")


def find_drivers(file: SourceFile, module: ast.Module) -> list[Driver]:
    drivers = []
    name = file.module
    if is_test_file(file.path):
        package = name.rpartition(".")[0] if name else ""
        imports = imported_modules(module, package)
        drivers.append(Driver("tests", file.root, file.path, name, imports, file.installed))
    if name is not None and ">>>" in file.text:
        drivers.append(
            Driver("examples", file.root, file.path, name, frozenset({name}), file.installed)
        )
    return drivers


def imported_modules(module: ast.Module, package: str) -> frozenset[str]:
    """Every module a file imports, anywhere in it (relative imports resolved in `package`).

    >>> sorted(imported_modules(ast.parse("import a.b\\nfrom . import c\\nfrom d import e"), "p"))
    ['a.b', 'd', 'd.e', 'p', 'p.c']
    """
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
                base = ".".join([*parts, *([node.module] if node.module else [])])
            if base:
                names.add(base)
                names.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
    return frozenset(names)


def related(candidate: str, imported: str) -> bool:
    """Whether importing `imported` may run code of module `candidate` (one is inside the other)."""
    return (
        candidate == imported
        or candidate.startswith(imported + ".")
        or imported.startswith(candidate + ".")
    )


def installed_matches(file: SourceFile) -> bool:
    """Whether the installed file (what tracing will import) is still the text that was mined."""
    try:
        data = (Path(file.root) / file.path).read_bytes()
    except OSError:
        return False
    return hashlib.sha256(data).digest() == hashlib.sha256(file.text.encode("utf-8")).digest()


# --- Tracing jobs -----------------------------------------------------------------------------


def place(root: str, path: str, installed: bool) -> str:
    """Where the sandbox finds a file: its installed path, or its path in the shipped project."""
    return str(Path(root) / path) if installed else "@" + path


def target_entry(function: Function) -> list[Any]:
    origin = function.origin
    where = place(origin.root, origin.path, origin.installed)
    return [where, function.module or "", function.name, list(function.lines)]


def project_archive(files: dict[str, str]) -> str:
    """A folder's Python files as the base64 of a zip (the same bytes for the same files)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path])
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def tracing_program(driver: Driver, targets: list[list[Any]], project: str) -> str:
    """The program that runs `driver` in the sandbox and records calls to `targets`."""
    settings = {
        "targets": targets,
        "driver": {
            "kind": driver.kind,
            "place": place(driver.root, driver.path, driver.installed),
            "module": driver.module,
        },
        "project": project,
    }
    return f"__passk_trace__ = {json.dumps(settings)!r}\n" + _TRACER.read_text(encoding="utf-8")


# --- Reading what a tracing job recorded ------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One recorded call, as literal texts: arguments, keyword arguments, result, and the
    arguments after the call when the function changed them."""

    args: str
    kwargs: str
    result: str
    after: tuple[str, str] | None = None

    @property
    def trivial(self) -> bool:
        return self.result == "None" and self.after is None


@dataclass
class Trace:
    """What one tracing job recorded: calls and skip notices by target key, and how it ended."""

    calls: dict[int, list[Call]] = field(default_factory=dict)
    skipped: dict[int, set[str]] = field(default_factory=dict)
    status: str | None = None  # None when the job never said it ended (timed out, killed)


def read_trace(output: str, targets: int) -> Trace:
    """The records in a tracing job's output; malformed or unknown records are ignored."""
    trace = Trace()
    for line in output.split("\n"):
        if not line.startswith(_MARK):
            continue
        try:
            record = json.loads(line[len(_MARK) :])
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if "end" in record:
            trace.status = str(record["end"])
        elif _is_key(record.get("s"), targets):
            trace.skipped.setdefault(record["s"], set()).add(str(record.get("why")))
        elif _is_key(record.get("c"), targets):
            call = _call(record)
            if call is not None:
                trace.calls.setdefault(record["c"], []).append(call)
    return trace


def _is_key(value: Any, targets: int) -> bool:
    return type(value) is int and 0 <= value < targets


def _call(record: dict[str, Any]) -> Call | None:
    texts: list[Any] = [record.get("a"), record.get("k"), record.get("r")]
    after = record.get("p")
    if after is not None:
        if not (isinstance(after, list) and len(after) == 2):
            return None
        texts += after
    if not all(isinstance(t, str) and is_plain_literal(t) for t in texts):
        return None
    args, kwargs, result = texts[:3]
    if not (_literal_of(args, ast.List) and _keywords_dict(kwargs)):
        return None
    return Call(args, kwargs, result, (texts[3], texts[4]) if after else None)


_CONSTANTS = (str, bytes, int, float, complex, bool, type(None))
_CALLABLE_NAMES = frozenset({"set", "frozenset", "float"})


def is_plain_literal(text: str) -> bool:
    """Whether text is a Python literal of plain data, as the tracer writes it.

    >>> is_plain_literal("[1, -2.5, {'a': (b'x',)}, set(), -float('inf'), (1+2j)]")
    True
    >>> is_plain_literal("__import__('os').system('x')")
    False
    """
    if len(text) > 4 * 2000:
        return False
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in _CALLABLE_NAMES):
                return False
            if node.keywords or len(node.args) > 1:
                return False
        elif isinstance(node, ast.Name):
            if node.id not in _CALLABLE_NAMES:
                return False
        elif isinstance(node, ast.Constant):
            if type(node.value) not in _CONSTANTS:
                return False
        elif not isinstance(node, _LITERAL_NODES):
            return False
    return True


_LITERAL_NODES = (
    ast.Expression,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Dict,
    ast.UnaryOp,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Load,
)


def _literal_of(text: str, kind: type[ast.expr]) -> ast.expr | None:
    body = ast.parse(text, mode="eval").body
    return body if isinstance(body, kind) else None


def _keywords_dict(text: str) -> bool:
    body = _literal_of(text, ast.Dict)
    return isinstance(body, ast.Dict) and all(
        isinstance(k, ast.Constant) and type(k.value) is str for k in body.keys
    )


# --- Tests from recorded calls ----------------------------------------------------------------


@dataclass
class Observed:
    """The calls one run of the tracing jobs saw for one candidate: results by arguments."""

    results: dict[tuple[str, str], set[tuple[str, tuple[str, str] | None]]] = field(
        default_factory=dict
    )
    order: list[Call] = field(default_factory=list)  # the first call of each argument list
    skipped: set[str] = field(default_factory=set)

    def add(self, call: Call) -> None:
        key = (call.args, call.kwargs)
        if key not in self.results:
            self.order.append(call)
        self.results.setdefault(key, set()).add((call.result, call.after))


def traced_test(first: Observed | None, second: Observed | None) -> tuple[str | None, str | None]:
    """(test, None) from the calls both runs saw with the same results, or (None, reason)."""
    if first is None or (not first.order and not first.skipped):
        return None, "not_called"
    if not first.order:
        return None, "no_plain_calls"
    again = second or Observed()
    for key, results in first.results.items():
        if len(results | again.results.get(key, set())) > 1:
            return None, "nondeterministic"
    verified = [c for c in first.order if (c.args, c.kwargs) in again.results]
    if not verified:
        return None, "nondeterministic"
    if all(c.trivial for c in verified):
        return None, "trivial"
    return render_test(choose_calls(verified)), None


def choose_calls(calls: Sequence[Call], most: int = MAX_TEST_CALLS) -> list[Call]:
    """Up to `most` calls for a test, short ones with results not yet covered first, kept in
    the order they were recorded.

    >>> calls = [Call("[0]", "{}", "1"), Call("[10]", "{}", "1"), Call("[2]", "{}", "3")]
    >>> [c.args for c in choose_calls(calls, 2)]
    ['[0]', '[2]']
    """
    by_length = sorted(range(len(calls)), key=lambda i: len(calls[i].args + calls[i].kwargs))
    chosen: list[int] = []
    results: set[tuple[str, tuple[str, str] | None]] = set()
    for i in by_length:
        if (calls[i].result, calls[i].after) not in results and len(chosen) < most:
            chosen.append(i)
            results.add((calls[i].result, calls[i].after))
    chosen += [i for i in by_length if i not in chosen][: most - len(chosen)]
    return [calls[i] for i in sorted(chosen)]


def render_test(calls: Sequence[Call]) -> str:
    """HumanEval's test shape, `check(candidate)` with one assert per recorded call.

    >>> print(render_test([Call("[[3, 1]]", "{}", "None", ("[[1, 3]]", "{}")), Call("[2]", "{'k': 1}", "3")]))
    def check(candidate):
        args, kwargs = [[3, 1]], {}
        assert candidate(*args, **kwargs) is None
        assert [args, kwargs] == [[[1, 3]], {}]
        assert candidate(2, k=1) == 3
    <BLANKLINE>
    """
    lines = ["def check(candidate):"]
    for call in calls:
        expected = "is None" if call.result == "None" else f"== {call.result}"
        if call.after is None:
            lines.append(f"    assert {call_text(call)} {expected}")
        else:
            lines.append(f"    args, kwargs = {call.args}, {call.kwargs}")
            lines.append(f"    assert candidate(*args, **kwargs) {expected}")
            lines.append(f"    assert [args, kwargs] == [{call.after[0]}, {call.after[1]}]")
    return "\n".join(lines) + "\n"


def call_text(call: Call) -> str:
    """`candidate(...)` with the call's arguments written out."""
    args = _literal_of(call.args, ast.List)
    kwargs = _literal_of(call.kwargs, ast.Dict)
    assert isinstance(args, ast.List) and isinstance(kwargs, ast.Dict)
    parts = [ast.get_source_segment(call.args, e) or ast.unparse(e) for e in args.elts]
    keys = [str(k.value) for k in kwargs.keys if isinstance(k, ast.Constant)]
    if all(k.isidentifier() and not _is_keyword(k) for k in keys):
        for key, value in zip(keys, kwargs.values, strict=True):
            parts.append(
                f"{key}={ast.get_source_segment(call.kwargs, value) or ast.unparse(value)}"
            )
    elif keys:
        parts.append(f"**{call.kwargs}")
    return f"candidate({', '.join(parts)})"


def _is_keyword(name: str) -> bool:
    import keyword

    return keyword.iskeyword(name)


# --- Duplicates and HumanEval -----------------------------------------------------------------


def deduplicate(functions: Iterable[tuple[str, Function]]) -> Iterator[tuple[Function, str | None]]:
    """Each (task id, function)'s function with None, or why it duplicates an earlier one (the
    corpus's rules: normalised text, then MinHash at Jaccard 0.85), judged on the function
    without imports. Task ids are the keys: two inputs may hold one path (two versions of a
    package, two Pythons' standard libraries), and a function's place is then not unique."""
    deduplicator = dedup.Deduplicator()
    for task_id, function in functions:
        text = function.text
        duplicate = deduplicator.check(
            task_id, dedup.normalized_hash(text), dedup.minhash_signature(text)
        )
        yield function, None if duplicate is None else duplicate[0]


def contamination(function: Function, index: decontaminate.ContaminationIndex) -> str | None:
    """Why a function overlaps HumanEval (13-gram, or 8-gram with an entry point's name)."""
    return index.reason(function.prompt + function.body)


# --- Counting ---------------------------------------------------------------------------------


@dataclass
class Step:
    """One stage of mining: how many items it saw, kept, and dropped by reason."""

    name: str
    reasons: Sequence[str] = ()
    seen: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def keep(self) -> None:
        self.seen += 1
        self.kept += 1

    def drop(self, reason: str, where: str) -> None:
        self.seen += 1
        self.dropped[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < EXAMPLES:
            shown.append(where)

    def summary(self) -> dict[str, Any]:
        dropped = {r: self.dropped[r] for r in self.reasons} | dict(self.dropped)
        return {
            "seen": self.seen,
            "kept": self.kept,
            "dropped": dropped,
            "examples": self.examples,
        }


def in_valid_split(problem_text: str, seed: int, valid_fraction: float) -> bool:
    """Whether a problem goes to the validation split: the corpus's seeded hash rule."""
    digest = hashlib.sha256(problem_text.encode("utf-8")).hexdigest()
    return corpus.in_valid_split(digest, seed, valid_fraction)


def origin_record(function: Function, tests: str) -> dict[str, Any]:
    """The provenance written beside each problem."""
    origin = function.origin
    return {
        "source": origin.root,
        "path": origin.path,
        "line": origin.line,
        "package": origin.package,
        "license": origin.license,
        "tests": tests,
    }


def thresholds() -> dict[str, Any]:
    """The rules' numbers, for the manifest."""
    return {
        "min_body_lines": MIN_BODY_LINES,
        "max_body_lines": MAX_BODY_LINES,
        "min_docstring_words": MIN_DOCSTRING_WORDS,
        "placeholder_words": sorted(PLACEHOLDER_WORDS),
        "max_test_calls": MAX_TEST_CALLS,
        "max_project_bytes": MAX_PROJECT_BYTES,
        "jaccard_threshold": dedup.JACCARD_THRESHOLD,
        "contamination_ngram": decontaminate.NGRAM,
        "entry_point_ngram": decontaminate.ENTRY_POINT_NGRAM,
    }
