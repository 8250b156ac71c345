"""Control groups on the host: one per worker slot, holding every process of the sample it runs.

RLIMIT_AS and RLIMIT_CPU bound one process; a sample that forks, or fills memfds and tmpfs
(memory no rlimit counts), escapes them. The pool makes a cgroup for itself and one per slot
beneath it, each with a memory limit (swap included), a process limit and a CPU quota of one
core; every process of a sample joins its slot's group, so the kernel bounds the sample as a
whole, its CPU time is the group's, and the OOM killer, when the limit is reached, chooses
among the sample's processes only. This is what nsjail and isolate do (cgroup v2 where the
machine has it, v1 where it does not); gVisor's runsc gets the same limits for its own cgroup.

cgroup v1: the `memory`, `pids`, `cpu` and `cpuacct` hierarchies, each group made beneath this
process's own cgroup in that hierarchy. cgroup v2: beneath the root of the unified hierarchy
(the only cgroup besides leaves that may hold processes and give controllers to children).
Samples never run here; the pool opens the files a worker needs and hands it the descriptors.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from passk.execution.isolation import field_value

CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
V2_CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
GROUP_PREFIX = "passk-pool-"


class CgroupsUnavailable(Exception):
    """This machine (or this user) cannot give passk cgroups; the message says why."""


@dataclass(frozen=True)
class GroupLimits:
    """What one slot's group may use: bytes of memory (0: no limit), tasks, CPUs."""

    memory_bytes: int
    tasks: int
    cpus: float = 1.0


@dataclass(frozen=True)
class Hierarchies:
    """Where the cgroup controllers are: version 1 (a directory per controller, this process's
    own group in it) or 2 (one directory: the unified hierarchy's root)."""

    version: int
    dirs: dict[str, str]  # v1: controller -> this process's group; v2: {"unified": root}
    every_v1: tuple[str, ...] = ()  # v1: this process's group in every v1 hierarchy

    def describe(self) -> str:
        return f"cgroup v{self.version} per slot (memory, pids, cpu)"


def detect() -> Hierarchies:
    """The cgroups this process can use; CgroupsUnavailable (with the reason) if none."""
    if os.geteuid() != 0:
        raise CgroupsUnavailable("cgroups need root")
    mounts = _cgroup_mounts()
    own = _own_groups()
    v1 = {c: m for m, controllers in mounts["cgroup"] for c in controllers if c in CONTROLLERS}
    if set(v1) == set(CONTROLLERS):
        dirs = {c: _join(v1[c], own.get(c, "/")) for c in CONTROLLERS}
        every = tuple(sorted({_join(m, _own_in(own, cs)) for m, cs in mounts["cgroup"]}))
        found = Hierarchies(1, dirs, every)
    elif mounts["cgroup2"]:
        root = mounts["cgroup2"][0][0]
        found = Hierarchies(2, {"unified": root})
        _check_v2(root)
    else:
        raise CgroupsUnavailable("no cgroup hierarchy with the memory, pids and cpu controllers")
    _probe(found)
    return found


def _cgroup_mounts() -> dict[str, list[tuple[str, frozenset[str]]]]:
    """Mount points of cgroup (v1) and cgroup2 filesystems whose root is the hierarchy's own
    root, with the controllers of each."""
    found: dict[str, list[tuple[str, frozenset[str]]]] = {"cgroup": [], "cgroup2": []}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            dash = fields.index("-")
            fstype, options = fields[dash + 1], fields[dash + 3].split(",")
            if fstype in found and fields[3] == "/":
                names = frozenset(o.removeprefix("name=") for o in options)
                found[fstype].append((_unescape(fields[4]), names))
    return found


def _unescape(path: str) -> str:
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")


def _own_groups() -> dict[str, str]:
    """controller -> this process's cgroup path in that v1 hierarchy (from /proc/self/cgroup)."""
    groups: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(","):
                if name:
                    groups[name.removeprefix("name=")] = path
    return groups


def _own_in(own: dict[str, str], names: frozenset[str]) -> str:
    """This process's group in the v1 hierarchy whose mount options are `names`."""
    return next((own[n] for n in sorted(names) if n in own), "/")


def _join(mount: str, path: str) -> str:
    return os.path.join(mount, path.lstrip("/")).rstrip("/") or "/"


def _check_v2(root: str) -> None:
    available = _read(f"{root}/cgroup.controllers").split()
    missing = [c for c in V2_CONTROLLERS if c not in available]
    if missing:
        raise CgroupsUnavailable(f"cgroup v2 lacks the {', '.join(missing)} controller(s)")
    enabled = _read(f"{root}/cgroup.subtree_control").split()
    todo = [c for c in V2_CONTROLLERS if c not in enabled]
    if todo:
        try:
            _write(f"{root}/cgroup.subtree_control", " ".join(f"+{c}" for c in todo))
        except OSError as e:
            raise CgroupsUnavailable(f"cannot enable cgroup v2 controllers: {e}") from None


def _probe(found: Hierarchies) -> None:
    """Make and remove a group, so that a refusal shows now rather than when samples run."""
    name = f"{GROUP_PREFIX}probe-{os.getpid()}-{secrets.token_hex(4)}"
    made: list[str] = []
    try:
        for parent in dict.fromkeys(found.dirs.values()):
            os.mkdir(os.path.join(parent, name))
            made.append(os.path.join(parent, name))
    except OSError as e:
        raise CgroupsUnavailable(f"making a cgroup was refused ({e.strerror})") from None
    finally:
        for path in made:
            with contextlib.suppress(OSError):
                os.rmdir(path)


# ---------------------------------------------------------------- groups


@dataclass
class SlotGroup:
    """One slot's cgroup: its directories and the descriptors a worker gets."""

    dirs: dict[str, str]  # controller (v1) or "unified" (v2) -> directory
    version: int
    fds: list[int] = field(default_factory=list)

    def worker_spec(self) -> dict[str, Any]:
        """Descriptors for the worker (isolation.SampleGroup), opened here on the host: a
        sandboxed worker cannot see /sys/fs/cgroup, and needs only these files."""
        self.close_fds()
        if self.version == 1:
            # The sample server joins the CPU hierarchies once: every sample it forks is born
            # there (moving a process into a cpu group costs a millisecond or more); samples
            # join memory and pids themselves, where the server must not be (an OOM kill, the
            # sweep and the task count concern the sample's processes only).
            cpu = [d for c, d in self.dirs.items() if c in ("cpu", "cpuacct")]
            own = [d for c, d in self.dirs.items() if c in ("memory", "pids") and d not in cpu]
            spec = {
                "join": [self._open(d, "cgroup.procs", os.O_WRONLY) for d in dict.fromkeys(own)],
                "join_server": [
                    self._open(d, "cgroup.procs", os.O_WRONLY) for d in dict.fromkeys(cpu)
                ],
                "dir": self._open(self.dirs["pids"], ".", os.O_PATH | os.O_DIRECTORY),
                "cpu": self._open(self.dirs["cpuacct"], "cpuacct.usage", os.O_RDONLY),
                "cpu_scale": 1e-9,
                "oom": self._open(self.dirs["memory"], "memory.oom_control", os.O_RDONLY),
                "tasks": self._open(self.dirs["pids"], "pids.current", os.O_RDONLY),
            }
        else:
            unified = self.dirs["unified"]
            spec = {
                "join": [self._open(unified, "cgroup.procs", os.O_WRONLY)],
                "dir": self._open(unified, ".", os.O_PATH | os.O_DIRECTORY),
                "cpu": self._open(unified, "cpu.stat", os.O_RDONLY),
                "cpu_key": "usage_usec",
                "cpu_scale": 1e-6,
                "oom": self._open(unified, "memory.events", os.O_RDONLY),
                "tasks": self._open(unified, "pids.current", os.O_RDONLY),
            }
            if os.path.exists(f"{unified}/cgroup.kill"):
                spec["kill"] = self._open(unified, "cgroup.kill", os.O_WRONLY)
        return spec

    def _open(self, directory: str, name: str, flags: int) -> int:
        fd = os.open(f"{directory}/{name}", flags | os.O_CLOEXEC)
        self.fds.append(fd)
        return fd

    def pids(self) -> list[int]:
        directory = self.dirs["pids" if self.version == 1 else "unified"]
        return [int(p) for p in _read(f"{directory}/cgroup.procs").split()]

    def oom_kills(self) -> int:
        return _oom_kills(self.version, self.dirs["memory" if self.version == 1 else "unified"])

    def kill_all(self) -> None:
        """SIGKILL whatever is in the group (from the host: a worker died mid-sample)."""
        for _ in range(1000):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.001)

    def close_fds(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()

    def remove(self) -> None:
        """Remove the group's directories (killing what is left in them)."""
        self.close_fds()
        for path in dict.fromkeys(self.dirs.values()):
            _remove_tree(path)


class PoolGroups:
    """The pool's cgroup (`passk-pool-<pid>-<random>`) and its slots' groups beneath it."""

    def __init__(self, hierarchies: Hierarchies, limits: GroupLimits) -> None:
        self.hierarchies = hierarchies
        self.limits = limits
        self.name = f"{GROUP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self._slots: dict[int, SlotGroup] = {}
        remove_stale_groups(hierarchies)
        for parent in self._parents():
            os.mkdir(os.path.join(parent, self.name), 0o755)
        if hierarchies.version == 2:
            _write(f"{self._parents()[0]}/{self.name}/cgroup.subtree_control", _V2_ENABLE)

    def _parents(self) -> list[str]:
        return list(dict.fromkeys(self.hierarchies.dirs.values()))

    def slot(self, index: int) -> SlotGroup:
        """Slot `index`'s group, made with the limits on first use."""
        if index not in self._slots:
            dirs = {
                c: os.path.join(parent, self.name, f"slot{index}")
                for c, parent in self.hierarchies.dirs.items()
            }
            for path in dict.fromkeys(dirs.values()):
                os.mkdir(path, 0o755)
            group = SlotGroup(dirs, self.hierarchies.version)
            _set_limits(group, self.limits)
            self._slots[index] = group
        return self._slots[index]

    def container(self, index: int, limits: GroupLimits) -> tuple[str, SlotGroup]:
        """A cgroup for one gVisor sandbox of slot `index`: (its linux.cgroupsPath, the group).

        The pool makes the memory group (v1; v2: the one group) with the limits itself, so
        that it outlives the sandbox (runsc removes only the groups it made, and makes the
        other controllers' from the spec's resources) and its OOM kills can be read after the
        sandbox died. v1: a relative path, beneath this process's own group, as the pool's is;
        v2: from the root, as the pool's."""
        name = os.path.join(self.name, f"slot{index}", f"gvisor-{secrets.token_hex(4)}")
        key = "memory" if self.hierarchies.version == 1 else "unified"
        parent = os.path.join(self.hierarchies.dirs[key], os.path.dirname(name))
        if not os.path.isdir(parent):
            os.mkdir(parent, 0o755)
            if self.hierarchies.version == 2:
                _write(f"{parent}/cgroup.subtree_control", _V2_ENABLE)
        path = os.path.join(self.hierarchies.dirs[key], name)
        os.mkdir(path, 0o755)
        group = SlotGroup({key: path}, self.hierarchies.version)
        _set_limits(group, limits)
        return (name if self.hierarchies.version == 1 else f"/{name}"), group

    def close(self) -> None:
        """Kill what is left in the slots and remove every group this pool made (runsc makes
        its container's groups in every v1 hierarchy, the pool's name included)."""
        for group in self._slots.values():
            group.close_fds()
            with contextlib.suppress(OSError):
                group.kill_all()
        self._slots.clear()
        roots = self.hierarchies.every_v1 or tuple(self._parents())
        for parent in roots:
            _remove_tree(os.path.join(parent, self.name))


_V2_ENABLE = " ".join(f"+{c}" for c in V2_CONTROLLERS)


def _oom_kills(version: int, memory_dir: str) -> int:
    name = "memory.oom_control" if version == 1 else "memory.events"
    return field_value(_read(f"{memory_dir}/{name}"), "oom_kill")


def _set_limits(group: SlotGroup, limits: GroupLimits) -> None:
    """Write `limits` into the group's files (v1: into those of the hierarchies it has)."""
    quota = f"{round(limits.cpus * CPU_PERIOD_US)}"
    if group.version == 1:
        memory = group.dirs.get("memory")
        if memory and limits.memory_bytes:
            _write(f"{memory}/memory.limit_in_bytes", str(limits.memory_bytes))
            if os.path.exists(f"{memory}/memory.memsw.limit_in_bytes"):  # swap accounting on
                _write(f"{memory}/memory.memsw.limit_in_bytes", str(limits.memory_bytes))
        if "pids" in group.dirs:
            _write(f"{group.dirs['pids']}/pids.max", str(limits.tasks))
        if "cpu" in group.dirs:
            _write(f"{group.dirs['cpu']}/cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(f"{group.dirs['cpu']}/cpu.cfs_quota_us", quota)
        return
    unified = group.dirs["unified"]
    if limits.memory_bytes:
        _write(f"{unified}/memory.max", str(limits.memory_bytes))
        with contextlib.suppress(FileNotFoundError):  # no swap controller: no swap to limit
            _write(f"{unified}/memory.swap.max", "0")
    _write(f"{unified}/pids.max", str(limits.tasks))
    _write(f"{unified}/cpu.max", f"{quota} {CPU_PERIOD_US}")


def runsc_resources(limits: GroupLimits) -> dict[str, Any]:
    """The OCI spec's linux.resources for those limits (runsc writes them to its cgroup)."""
    resources: dict[str, Any] = {
        "pids": {"limit": limits.tasks},
        "cpu": {"quota": round(limits.cpus * CPU_PERIOD_US), "period": CPU_PERIOD_US},
    }
    if limits.memory_bytes:
        resources["memory"] = {"limit": limits.memory_bytes, "swap": limits.memory_bytes}
    return resources


def remove_stale_groups(hierarchies: Hierarchies) -> None:
    """Remove the empty groups of pools whose passk process is gone (killed before its
    clean-up). A group that still holds processes is left alone: they are not this pool's."""
    roots = hierarchies.every_v1 or tuple(dict.fromkeys(hierarchies.dirs.values()))
    for parent in roots:
        with contextlib.suppress(OSError):
            for name in os.listdir(parent):
                owner = name.removeprefix(GROUP_PREFIX).partition("-")[0]
                if name.startswith(GROUP_PREFIX) and owner.isdigit() and not _alive(int(owner)):
                    _remove_empty_tree(os.path.join(parent, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_tree(path: str) -> None:
    """rmdir a cgroup and the groups beneath it, deepest first, killing what still runs there
    (cgroup directories hold no files of their own: rmdir is the only way to remove them)."""
    if not os.path.isdir(path):
        return
    for root in sorted((w[0] for w in os.walk(path)), key=lambda p: -p.count("/")):
        for _ in range(200):
            try:
                os.rmdir(root)
                break
            except OSError:
                _kill_members(root)
                time.sleep(0.005)


def _remove_empty_tree(path: str) -> None:
    for root in sorted((w[0] for w in os.walk(path)), key=lambda p: -p.count("/")):
        with contextlib.suppress(OSError):
            os.rmdir(root)


def _kill_members(directory: str) -> None:
    with contextlib.suppress(OSError):
        for pid in _read(f"{directory}/cgroup.procs").split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
