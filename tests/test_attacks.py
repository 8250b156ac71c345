"""The attack suite: hostile programs (tests/attacks/*.py) run in every sandbox mode.

Each file under tests/attacks/ attacks the machine, the harness, other samples or the verdict;
its name gives its group (resource_, escape_, secret_, network_, other_, cheat_) and its
header says what it tries and what must hold afterwards. A program attack is a whole sample
program; it runs as one sample on a pool per sandbox mode (native, bwrap, gvisor; a mode this
machine cannot give is skipped; `none` is never attacked), and the test then checks facts on
the host rather than taking the sandbox's word:

- the verdict is "failed" or "timed out": never "passed", and never "error" (the worker must
  survive its samples);
- the output (it goes into the results file, so it is the way out for stolen data) holds no
  line with "LEAK:" (what an attack prints when it got somewhere) and no host secret: an
  environment variable set before the pool started, a root-only file, a file under /home,
  /etc/shadow's lines, the names of /root's entries, the machine id, this process's cgroup
  paths, mount points the minimal root does not show;
- sentinel files planted outside the work directory, in world-writable directories (the
  minimal root shows none of them; the attacks try their host paths anyway), are unchanged; no
  file named after this run's mark appears in the host's usual directories; passk's installed
  source hashes the same; the host's core_pattern and hostname are unchanged;
- the TCP and UDP listeners on the host's 127.0.0.1, an abstract and a path unix socket saw
  nothing;
- victim processes started by the test (a root one and one per slot uid) still run; no process
  of the pool's uids remains; the workers are the same processes as before the attack, and the
  pool still passes a trivial program.

A cheat is a completion for a HumanEval task (the file is the prompt's signature, then the
completion): every cheat is judged by `passk.evaluate` in each sandbox mode and each verdict
mode, in a run directory that also holds a passing run of the same tasks; none may pass where
its "# Holds in:" line says it holds, none may find anything ("LEAK:"), and the run directory's
files must stay as they were. The whole-sample tests run memory, CPU and kernel-object attacks
under small limits and read the slot's cgroup on the host, with a correct sample running in a
neighbouring pool throughout.

Safety. Attacks that would hurt the machine if the sandbox were missing (fork bombs, kill(-1),
writes to /usr or /proc/sys, ...) carry a "# Needs: probe" header line and run only after a
harmless probe sample proved, in that mode, that samples run as a non-root uid, in a PID
namespace that hides the host's processes, and cannot write outside their work directory.
The pools here run samples as uids of their own (a block of 8 from 62000 up, drawn per run)
instead of passk's 61000 + slot: where RLIMIT_NPROC counts processes (no cgroup), it counts a
uid's across the whole machine (see test_pools_do_not_share_process_limits), and the leftover
check below treats every process of these uids as this run's. The test kills no process but
the victims it started and, after a failed check, processes of its own uids.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import passk
from passk.benchmarks import Benchmark
from passk.execution import Job, Limits, Outcome, Verdict, WorkerPool
from passk.execution import sandbox as sandbox_module
from passk.execution.options import ExecutionOptions
from passk.execution.sandbox import (
    GVISOR_MEMORY_MB,
    MAX_PTYS,
    WORK_TMPFS_INODES,
    WORK_TMPFS_MB,
    SandboxUnavailable,
    choose_sandbox,
    interpreter_paths,
)

HOMES = ("/root", "/home")
ATTACK_DIR = Path(__file__).with_name("attacks")
ATTACKS = sorted(p.stem for p in ATTACK_DIR.glob("*.py"))
GROUPS = ("resource", "escape", "secret", "network", "other", "cheat")
CHEATS = [a for a in ATTACKS if a.startswith("cheat_")]  # completions for a HumanEval task
PROGRAMS = [a for a in ATTACKS if a not in CHEATS]  # whole programs
HAS_CGROUPS = choose_sandbox("none").cgroups is not None
MODES = ("native", "bwrap", "gvisor")
LIMITS = Limits(timeout=1.0, wall_timeout=1.2)
SLOW_LIMITS = Limits(timeout=3.0, wall_timeout=4.0)
WORKERS = 2
BATCH_WORKERS = 4  # the batch test's own pool: more workers, so its sleepers overlap
UID_BASE = 62000 + 8 * secrets.randbelow(400)  # (below 65534, nobody's)
UIDS = tuple(range(UID_BASE, UID_BASE + max(WORKERS, BATCH_WORKERS)))
GRACE_S = 2.0  # how long processes of the pool's uids may take to disappear after a verdict
PASSK_SRC = Path(passk.__file__).resolve().parent
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
# What the pool must still pass after an attack; it also looks, from inside, for processes an
# earlier sample left in the sandbox (the host cannot see into gVisor but through runsc).
FOLLOW_UP = """
import posix
import fractions, statistics  # modules the worker has not imported: the sandbox shows the stdlib
assert statistics.mean([fractions.Fraction(1, 2), 1]) == fractions.Fraction(3, 4)
assert sum(range(10)) == 45
others = []
for pid in posix.listdir("/proc"):
    if pid.isdigit() and int(pid) != posix.getpid():
        try:
            with open(f"/proc/{pid}/status") as f:
                uid = [line.split()[1] for line in f if line.startswith("Uid:")]
        except OSError:
            continue
        if uid and uid[0] != "0":
            others.append(pid)
assert not others, f"processes of an earlier sample still run: {others}"
"""

ALL = MODES
KNOWN_HOLES: dict[str, tuple[tuple[str, ...], str]] = {
    "escape_ptrace_parent": (
        ("gvisor",),
        "hole (information): under gVisor a sample reads the root worker's /proc/1/environ, "
        "/proc/1/maps (its address-space layout) and lists /proc/1/fd with their targets; "
        "Linux refuses these without ptrace access (opening the worker's pipes is refused)",
    ),
    "other_nice_priority": (
        ("gvisor",),
        "hole (no host effect): gVisor lets an unprivileged sample set a negative nice value "
        "and renice the root worker; its priorities are not applied to host threads",
    ),
    "secret_job_token": (
        ALL,
        "limitation of assert mode: the job's token is in the sample's own memory (the child writes the report "
        "after the program, in the same process): scanning its heap (found through "
        "/proc/self/maps) for runs of 32 hex digits finds it, and a forged 'passed' report on fd 3 plus exit status 0 passes a failing "
        "program (in every mode; the sys._getframe route is a separate xfail in test_execution)",
    ),
}
# Known holes whose traffic reaches a host listener, so that the batch test can tell it from new.


def known_hole(attack: str, mode: str) -> str | None:
    modes, reason = KNOWN_HOLES.get(attack, ((), ""))
    return reason if mode in modes else None


def header(attack: str) -> str:
    text = (ATTACK_DIR / f"{attack}.py").read_text()
    return "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))


def needs_probe(attack: str) -> bool:
    return "\n# Needs: probe" in header(attack)


def cheat_limitation(attack: str) -> str:
    """Why a cheat passes in a mode it does not hold in (its "# Limitation:" line)."""
    lines = [line for line in header(attack).splitlines() if line.startswith("# Limitation: ")]
    assert lines, f"{attack} holds in some mode only, and says not why"
    return lines[0].removeprefix("# Limitation: ")


def cheat_task(attack: str) -> tuple[str, tuple[str, ...]]:
    """A cheat's task id and the verdict modes in which it must fail ("# Task:", "# Holds in:")."""
    fields = dict(
        line[2:].split(": ", 1) for line in header(attack).splitlines() if ": " in line[2:]
    )
    modes = tuple(m.strip() for m in fields.get("Holds in", "").split(","))
    return fields.get("Task", "").strip(), modes


# ---------------------------------------------------------------- the host's side


class Listeners:
    """Sockets on the host that no sample may reach; every connection or datagram is kept."""

    def __init__(self, unix_path: Path) -> None:
        self._lock = threading.Lock()
        self._events: list[tuple[str, str]] = []
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.abstract_name = f"passk-attacks-{secrets.token_hex(8)}"
        self.abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract.bind("\0" + self.abstract_name)
        self.abstract.listen(16)
        self.unix_path = unix_path
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(str(unix_path))
        unix_path.chmod(0o666)
        self.unix.listen(16)
        self._stop_r, self._stop_w = os.pipe()
        self._selector = selectors.DefaultSelector()
        for sock, label in (
            (self.tcp, "tcp"),
            (self.udp, "udp"),
            (self.abstract, "abstract-unix"),
            (self.unix, "unix-path"),
        ):
            self._selector.register(sock, selectors.EVENT_READ, label)
        self._selector.register(self._stop_r, selectors.EVENT_READ, "stop")
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @property
    def tcp_port(self) -> int:
        return int(self.tcp.getsockname()[1])

    @property
    def udp_port(self) -> int:
        return int(self.udp.getsockname()[1])

    def _loop(self) -> None:
        while True:
            for key, _ in self._selector.select():
                label = key.data
                if label == "stop":
                    return
                try:
                    if label == "udp":
                        data, peer = self.udp.recvfrom(65536)
                        what = f"datagram from {peer}: {data[:60]!r}"
                    else:
                        conn, peer = key.fileobj.accept()  # type: ignore[union-attr]
                        conn.settimeout(0.2)
                        with conn, contextlib.suppress(OSError):
                            peer = f"{peer!r}: {conn.recv(60)!r}"
                        what = f"connection from {peer}"
                except OSError as e:
                    what = f"error {e}"
                with self._lock:
                    self._events.append((label, what))

    def events(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._events)

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        for sock in (self.tcp, self.udp, self.abstract, self.unix):
            sock.close()
        os.close(self._stop_r)
        os.close(self._stop_w)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def connect_attempts(port: int | None) -> Iterator[list[str]]:
    """While the block runs, keep trying to connect to 127.0.0.1:port from the host."""
    hits: list[str] = []
    if port is None:
        yield hits
        return
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                hits.append(f"the host connected to a sample's server on port {port}")
            stop.wait(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield hits
    finally:
        stop.set()
        thread.join(timeout=5)


def process_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def processes_of(uids: tuple[int, ...], exclude: set[int]) -> dict[int, str]:
    """Live host processes (zombies excluded) with any of `uids` as real, effective, saved or
    file-system uid."""
    found: dict[int, str] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in exclude:
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                status = f.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        ids = {int(x) for x in fields.get("Uid", "").split()}
        if ids & set(uids) and fields.get("State", "").split()[:1] != ["Z"]:
            found[int(name)] = cmdline(int(name))
    return found


def tree_state(root: Path) -> dict[str, tuple[Any, ...]]:
    """Everything about a small tree that an attack could change: modes, owners, sizes,
    modification times, contents."""
    state: dict[str, tuple[Any, ...]] = {}
    if not root.exists():
        return state
    for path in [root, *sorted(root.rglob("*"))]:
        try:
            st = path.lstat()
        except OSError:
            continue
        digest = ""
        if path.is_file() and not path.is_symlink():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        state[str(path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, digest)
    return state


def passk_files() -> dict[str, tuple[int, int, str]]:
    """passk's installed code: its source tree (an editable install) and the install's files."""
    paths = [p for p in PASSK_SRC.rglob("*") if "__pycache__" not in p.parts]
    paths += SITE_PACKAGES.glob("__editable__*passk*")
    paths += SITE_PACKAGES.glob("passk-*.dist-info/*")
    files: dict[str, tuple[int, int, str]] = {}
    for path in paths:
        with contextlib.suppress(OSError):
            if path.is_file():
                data = path.read_bytes()
                files[str(path)] = (
                    path.stat().st_mode,
                    len(data),
                    hashlib.sha256(data).hexdigest(),
                )
    return files


@dataclass
class Host:
    """What the test planted on the host, and the facts it checks after every attack."""

    mark: str
    base: Path  # /var/tmp/passk-attacks-*: visible read-only in every mode
    sentinel_dirs: list[Path]
    home_dir: Path
    home_secret: Path
    root_secret: Path
    canary: tuple[str, str]
    listeners: Listeners
    victims: list[subprocess.Popen[bytes]]
    victim_marker: str
    secrets: dict[str, str] = field(default_factory=dict)
    mark_dirs: list[Path] = field(default_factory=list)

    # -- planting

    def plant_sentinels(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)  # world-writable: only the sandbox protects what is inside
        seed = hashlib.sha256(f"{self.mark}{directory}".encode()).hexdigest()
        for name, mode in (("sentinel-root", 0o644), ("sentinel-world", 0o666)):
            (directory / name).write_text(f"{name} {seed}\n")
            (directory / name).chmod(mode)
        slot = directory / "sentinel-slot"
        slot.write_text(f"owned by the slot's uid {seed}\n")
        slot.chmod(0o644)
        os.chown(slot, UID_BASE, UID_BASE)
        sub = directory / "sub"
        sub.mkdir(exist_ok=True)
        sub.chmod(0o777)
        (sub / "sentinel-deep").write_text(f"deep {seed}\n")
        (sub / "sentinel-deep").chmod(0o666)

    def render(self, attack: str, listen_port: int = 0) -> str:
        return self.render_text((ATTACK_DIR / f"{attack}.py").read_text(), listen_port)

    def render_text(self, text: str, listen_port: int = 0) -> str:
        values = {
            "__TCP_PORT__": str(self.listeners.tcp_port),
            "__UDP_PORT__": str(self.listeners.udp_port),
            "__LISTEN_PORT__": str(listen_port or free_tcp_port()),
            "__ABSTRACT_NAME__": self.listeners.abstract_name,
            "__UNIX_PATH__": str(self.listeners.unix_path),
            "__SENTINEL_DIRS__": ":".join(map(str, self.sentinel_dirs)),
            "__MARK__": self.mark,
            "__HOME_SECRET__": str(self.home_secret),
            "__ROOT_SECRET__": str(self.root_secret),
            "__PASSK_SRC__": str(PASSK_SRC.parent),
            "__UIDS__": repr(set(UIDS)),
            "__VICTIM_MARKER__": self.victim_marker,
        }
        for key, value in values.items():
            text = text.replace(key, value)
        return text

    # -- facts

    def snapshot(self) -> dict[str, Any]:
        return {
            "trees": {str(d): tree_state(d) for d in [self.base, *self.sentinel_dirs]},
            "passk": passk_files(),
            "events": len(self.listeners.events()),
            "core_pattern": Path("/proc/sys/kernel/core_pattern").read_text(),
            "hostname": socket.gethostname(),
        }

    def check(self, before: dict[str, Any], verdict: Verdict) -> list[str]:
        """Everything wrong on the host since `before`, cleaning up what an attack left."""
        problems = self.check_output(verdict)
        after = self.snapshot()
        for root, state in before["trees"].items():
            if after["trees"][root] != state:
                changed = sorted(
                    p
                    for p in set(state) | set(after["trees"][root])
                    if state.get(p) != after["trees"][root].get(p)
                )
                problems.append(f"planted files changed under {root}: {changed}")
                if Path(root) in self.sentinel_dirs:
                    shutil.rmtree(root, ignore_errors=True)
                    self.plant_sentinels(Path(root))
        problems += self.check_passk(before["passk"], after["passk"])
        for key in ("core_pattern", "hostname"):
            if after[key] != before[key]:
                problems.append(f"the host's {key} changed: {before[key]!r} -> {after[key]!r}")
        for label, what in self.listeners.events()[before["events"] :]:
            problems.append(f"host listener {label} saw a {what}")
        problems += self.check_marks()
        problems += self.check_victims()
        problems += self.check_leftovers()
        return problems

    def check_output(self, verdict: Verdict) -> list[str]:
        text = f"{verdict.output}\n{verdict.message}"
        problems = [f"the sample reported {line.strip()!r}" for line in leaks(text)]
        for label, value in self.secrets.items():
            if value in text:
                problems.append(f"a host secret reached the output: {label}")
        return [self.redact(p) for p in problems]

    def redact(self, text: str) -> str:
        for label, value in self.secrets.items():
            text = text.replace(value, f"<{label}>")
        return text

    def check_passk(
        self, before: dict[str, tuple[int, int, str]], after: dict[str, tuple[int, int, str]]
    ) -> list[str]:
        # Other people edit src/ while this runs: a changed file counts as tampering when it
        # vanished, changed mode, was emptied, or holds the mark; other changes are warned of.
        problems = []
        for path in sorted(set(before) | set(after)):
            old, new = before.get(path), after.get(path)
            if old == new:
                continue
            marked = True
            with contextlib.suppress(OSError):
                marked = self.mark in path or (
                    new is not None and self.mark.encode() in Path(path).read_bytes()
                )
            if new is None or marked or (old and (new[0] != old[0] or (old[1] and not new[1]))):
                problems.append(f"passk's installed file {path} was tampered with: {old} -> {new}")
            else:
                warnings.warn(
                    f"{path} changed during the attack (not by it: no mark)", stacklevel=2
                )
        return problems

    def check_marks(self) -> list[str]:
        problems = []
        for directory in self.mark_dirs:
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            for name in names:
                if self.mark in name:
                    path = directory / name
                    problems.append(f"the sample created {path} on the host")
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
        return problems

    def check_victims(self) -> list[str]:
        return [
            f"victim {v.pid} ({v.args}) is {'gone' if v.poll() is not None else 'stopped'}"
            for v in self.victims
            if v.poll() is not None or process_state(v.pid) not in ("S", "R", "D")
        ]

    def check_leftovers(self) -> list[str]:
        mine = {v.pid for v in self.victims}
        deadline = time.monotonic() + GRACE_S
        while (left := processes_of(UIDS, mine)) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in left:  # processes of this module's own uids: ours to kill
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        return [
            f"process {pid} ({cmd}) of a slot uid outlived its sample" for pid, cmd in left.items()
        ]


def leaks(text: str) -> list[str]:
    return [line for line in text.splitlines() if "LEAK:" in line]


def start_victim(
    marker: str, uid: int | None, stack: contextlib.ExitStack
) -> subprocess.Popen[bytes]:
    """A process of the host's (as root, or as a slot's uid) that no sample may reach."""
    ids: dict[str, Any] = {"user": uid, "group": uid, "extra_groups": []} if uid else {}
    victim = subprocess.Popen(["sleep", marker], start_new_session=True, cwd="/", **ids)
    stack.callback(victim.wait)
    stack.callback(victim.kill)
    return victim


def temporary_dir(parent: str, mode: int, stack: contextlib.ExitStack) -> Path:
    path = Path(tempfile.mkdtemp(prefix="passk-attacks-", dir=parent))
    path.chmod(mode)
    stack.callback(shutil.rmtree, path, ignore_errors=True)
    return path


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    """Plants what the attacks aim at, on the host (/var/tmp, /dev/shm, /home, tmp_path under
    /tmp: the minimal root shows none of them); starts the victims and listeners; sets the
    environment canary and the module's slot uids (UID_BASE + slot)."""
    with contextlib.ExitStack() as stack:
        base = temporary_dir("/var/tmp", 0o755, stack)
        shm = temporary_dir("/dev/shm", 0o755, stack)
        home_dir = temporary_dir("/home", 0o755, stack)
        home_secret = home_dir / "secret.txt"
        home_secret.write_text(f"home-secret-{secrets.token_hex(16)}")
        home_secret.chmod(0o644)  # world-readable: only the mask over /home hides it
        root_secret = base / "root-secret.txt"
        root_secret.write_text(f"root-secret-{secrets.token_hex(16)}")
        root_secret.chmod(0o600)
        canary = ("PASSK_ATTACK_CANARY", f"canary-{secrets.token_hex(16)}")
        marker = f"3600.{secrets.randbelow(10**9):09d}"
        listeners = Listeners(base / "unix.sock")
        stack.callback(listeners.close)
        h = Host(
            mark=f"passk-attack-{secrets.token_hex(6)}",
            base=base,
            sentinel_dirs=[
                base / "sentinels",
                shm / "sentinels",
                tmp_path_factory.mktemp("attacks"),
            ],
            home_dir=home_dir,
            home_secret=home_secret,
            root_secret=root_secret,
            canary=canary,
            listeners=listeners,
            victims=[start_victim(marker, uid, stack) for uid in (None, *UIDS)],
            victim_marker=marker,
        )
        for directory in h.sentinel_dirs:
            h.plant_sentinels(directory)
        h.secrets = {
            "the environment canary": canary[1],
            "the root-only file": root_secret.read_text(),
            "the file under /home": home_secret.read_text(),
        }
        with contextlib.suppress(OSError), open("/etc/shadow") as f:
            for line in f:
                if len(line.strip()) > 12:
                    h.secrets[f"/etc/shadow's entry for {line.split(':')[0]}"] = line.strip()
        h.secrets.update(host_identity())
        exposed = {
            Path(p).relative_to(home).parts[0]
            for p in interpreter_paths()
            for home in HOMES
            if Path(p).is_relative_to(home) and Path(p) != Path(home)
        }
        for home in HOMES:
            with contextlib.suppress(OSError):
                for i, name in enumerate(sorted(os.listdir(home))):
                    if name not in exposed and home_dir != Path(home, name):
                        h.secrets[f"the name of {home}'s entry #{i}"] = f"{home}/{name}"
        repo = PASSK_SRC.parent.parent
        h.mark_dirs = [
            Path(p)
            for p in {
                "/", "/work", str(repo), str(repo / "src"), str(PASSK_SRC),
                str(PASSK_SRC / "execution"), str(repo / "tests"), "/usr", "/usr/local/bin",
                "/etc", "/var/tmp", "/var/log", "/opt", "/root", "/home", "/run", "/srv", "/tmp",
                "/dev/shm", "/mnt", sys.prefix, sys.base_prefix, str(SITE_PACKAGES),
                *map(str, h.sentinel_dirs), str(base),
            }
        ]  # fmt: skip
        mp = stack.enter_context(pytest.MonkeyPatch.context())
        mp.setenv(*canary)  # before any pool starts
        mp.setattr(sandbox_module, "SLOT_UID_BASE", UID_BASE)
        yield h


def host_identity() -> dict[str, str]:
    """What identifies this host and no sandbox shows: the machine id, /etc/environment's
    settings, this process's own cgroup paths, and mount points outside the minimal root."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError):
        found["/etc/machine-id"] = Path("/etc/machine-id").read_text().strip()
    with contextlib.suppress(OSError):
        for i, line in enumerate(Path("/etc/environment").read_text().splitlines()):
            if len(line.strip()) > 12 and not line.startswith("#"):
                found[f"/etc/environment's line {i}"] = line.strip()
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        path = line.split(":", 2)[2]
        if len(path) > 12:
            found[f"this process's cgroup {line.split(':')[1]}"] = path
    shown = ["/usr", "/proc", "/dev", "/tmp", "/etc", "/sys", *interpreter_paths()]
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if len(point) > 12 and not any(point == p or point.startswith(p + "/") for p in shown):
            found[f"the host's mount point #{len(found)}"] = point
    return {k: v for k, v in found.items() if v}


def sandbox_for(mode: str) -> Any:
    assert mode in MODES  # never `none`: without isolation these attacks hit the machine
    try:
        box = choose_sandbox(mode)
    except SandboxUnavailable as e:
        pytest.skip(f"sandbox mode {mode} is not available here: {e}")
    assert box.mode == mode and box.drop_uid and box.seccomp
    return box


PROBE = """
import posix
assert posix.getuid() in __UIDS__ and posix.geteuid() in __UIDS__, posix.getresuid()
assert 0 not in posix.getresgid() and 0 not in posix.getgroups(), posix.getresgid()
pids = [p for p in posix.listdir("/proc") if p.isdigit()]
assert len(pids) < 16, f"sees {len(pids)} processes"
for pid in pids:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert b"__VICTIM_MARKER__" not in f.read(), "sees the host's processes"
    except OSError:
        pass
for path in ("__SENTINEL_DIRS__".split(":")[0] + "/sentinel-world", "/var/tmp/__MARK__-probe"):
    try:
        open(path, "a").close()
    except OSError:
        continue
    raise AssertionError(f"could write {path}")
"""


@dataclass
class Probe:
    safe: bool
    result: str


class Pools:
    """One pool of two warm workers per mode, started on first use and kept for the module,
    each with the safety probe's answer."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._pools: dict[str, WorkerPool] = {}
        self.probes: dict[str, Probe] = {}

    def __call__(self, mode: str) -> WorkerPool:
        if mode not in self._pools:
            pool = WorkerPool(WORKERS, limits=LIMITS, sandbox=sandbox_for(mode)).start()
            self._pools[mode] = pool
            # Whether samples here run as a slot uid, in a PID namespace that hides the host,
            # unable to write outside their work directory: the ground for the dangerous attacks.
            v = run_one(pool, self.host.render_text(PROBE))
            self.probes[mode] = Probe(v.passed, f"{v.result} {v.output}".strip())
        return self._pools[mode]

    def discard(self, mode: str) -> None:
        """Close a mode's pool (a later test starts a fresh one), so that a worker an attack
        got replaced does not carry over into the next test."""
        pool = self._pools.pop(mode, None)
        if pool is not None:
            pool.close()

    def close(self) -> None:
        for mode in list(self._pools):
            self.discard(mode)


@pytest.fixture(scope="module")
def pools(host: Host) -> Iterator[Pools]:
    p = Pools(host)
    yield p
    p.close()


def run_one(pool: WorkerPool, program: str, job_id: int = 1) -> Verdict:
    results = list(pool.run([Job(job_id, program)]))
    assert [i for i, _ in results] == [job_id]
    return results[0][1]


def worker_pids(pool: WorkerPool) -> list[int]:
    return [w.proc.pid for w in pool._procs]


def runsc(pool: WorkerPool, *args: str) -> subprocess.CompletedProcess[str]:
    state = pool.sandbox._state
    assert state is not None
    return subprocess.run(
        ["runsc", f"--root={state / 'state'}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def sandbox_leftovers(pool: WorkerPool) -> list[str]:
    """Processes of a slot uid inside the workers' gVisor sandboxes, as runsc lists them from
    the host (zombies included); root's are the worker (PID 1) and its sample server. The
    worker has swept before it answered, so what is there now stays; a test that finds some
    closes the pool, which ends them. Empty for the other modes, whose samples are host
    processes (see Host.check_leftovers)."""
    if pool.sandbox.mode != "gvisor":
        return []
    problems = []
    for w in pool._procs:
        rows = [row.split() for row in runsc(pool, "ps", w.command[-1]).stdout.splitlines()[1:]]
        left = [row for row in rows if row[:1] != ["0"]]
        if left:
            problems.append(
                f"{len(left)} processes (pids {', '.join(r[1] for r in left[:10])}...) of uids "
                f"{sorted({r[0] for r in left})} remain in worker {w.proc.pid}'s gVisor sandbox"
            )
    return problems


def skip_unless_safe(pools: Pools, mode: str, attack: str) -> None:
    pools(mode)  # starts the mode's pool, which runs the probe
    probe = pools.probes[mode]
    if needs_probe(attack) and not probe.safe:
        pytest.skip(f"{mode}: the safety probe failed ({probe.result}); not running {attack}")


def cases() -> list[Any]:
    params = []
    for mode in MODES:
        for attack in PROGRAMS:
            reason = known_hole(attack, mode)
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            params.append(pytest.param(mode, attack, marks=marks, id=f"{mode}-{attack}"))
    return params


# ---------------------------------------------------------------- the suite itself


def test_attack_files_are_well_formed(humaneval: Benchmark) -> None:
    assert len(ATTACKS) >= 40
    assert {a.split("_", 1)[0] for a in ATTACKS} == set(GROUPS)
    for attack in ATTACKS:
        text = (ATTACK_DIR / f"{attack}.py").read_text()
        assert attack.split("_", 1)[0] in GROUPS, attack
        assert "# Attack:" in header(attack) and "# Must hold:" in header(attack), attack
        compile(text, attack, "exec")
        if attack in CHEATS:
            task, modes = cheat_task(attack)
            assert modes and set(modes) <= {"assert", "io"}, attack
            compile(humaneval.problems[task].prompt + cheat_body(attack), attack, "exec")


@pytest.mark.parametrize(("mode", "attack"), cases())
def test_attack(pools: Pools, mode: str, attack: str, host: Host) -> None:
    pool = pools(mode)
    skip_unless_safe(pools, mode, attack)
    listen = free_tcp_port() if "__LISTEN_PORT__" in header(attack) else None
    program = host.render(attack, listen_port=listen or 0)
    assert not re.findall(r"__[A-Z][A-Z_]+__", program), "a placeholder was not filled in"
    before = host.snapshot()
    workers = worker_pids(pool)
    with connect_attempts(listen) as connected:
        verdict = run_one(pool, program)
    problems = []
    if verdict.outcome not in (Outcome.FAILED, Outcome.TIMED_OUT):
        problems.append(f"verdict {verdict.result!r}: should have failed or timed out")
    problems += host.check(before, verdict)
    problems += connected
    # What would carry over into the next test: then the next test gets a fresh pool.
    polluted = sandbox_leftovers(pool)
    if worker_pids(pool) != workers:  # (in bwrap, a replacement then dies with its thread)
        polluted.append(f"a worker was replaced: {workers} -> {worker_pids(pool)}")
    after = dict(pool.run([Job(2, FOLLOW_UP), Job(3, FOLLOW_UP)]))
    if not all(v.passed for v in after.values()):
        polluted.append(f"the next samples do not pass: {[v.result for v in after.values()]}")
    if polluted:
        pools.discard(mode)
    problems += polluted
    assert not problems, host.redact(
        "\n".join(problems) + f"\n(verdict: {verdict.result!r}; output: {verdict.output[:600]!r})"
    )


@pytest.mark.parametrize("mode", MODES)
def test_all_attacks_in_one_batch(pools: Pools, host: Host, mode: str) -> None:
    """Every attack at once on a pool of its own: each sample gets exactly one verdict, none
    passes but the known holes, and the host-side facts hold afterwards."""
    pools(mode)  # the safety probe's answer
    safe = pools.probes[mode].safe
    attacks = [a for a in PROGRAMS if safe or not needs_probe(a)]
    jobs = [Job(i, host.render(a)) for i, a in enumerate(attacks)]
    before = host.snapshot()
    got: dict[int, list[Verdict]] = {}
    with WorkerPool(BATCH_WORKERS, limits=LIMITS, sandbox=sandbox_for(mode)) as pool:
        probe = run_one(pool, host.render_text(PROBE))  # this pool's own ground, too
        assert probe.passed == safe, probe.result
        for job_id, verdict in pool.run(jobs):
            got.setdefault(job_id, []).append(verdict)
        assert sorted(got) == [j.id for j in jobs]
        assert all(len(v) == 1 for v in got.values()), {attacks[i]: v for i, v in got.items()}
        verdicts = {attacks[i]: v[0] for i, v in got.items()}
        problems = [
            f"{a}: {v.result!r}"
            for a, v in verdicts.items()
            if v.outcome not in (Outcome.FAILED, Outcome.TIMED_OUT) and not known_hole(a, mode)
        ]
        for a, v in verdicts.items():
            if not known_hole(a, mode):
                problems += [f"{a}: {p}" for p in host.check_output(v)]
        problems += host.check(before, Verdict(Outcome.FAILED))
        problems += sandbox_leftovers(pool)
        after = dict(pool.run(Job(1000 + i, FOLLOW_UP) for i in range(BATCH_WORKERS)))
        if not all(v.passed for v in after.values()):
            problems.append(f"the next samples do not pass: {[v.result for v in after.values()]}")
    assert not problems, host.redact("\n".join(problems))


# ---------------------------------------------------------------- cheats: completions in a real run

CHEAT_LIMITS = Limits(timeout=3.0, wall_timeout=6.0)  # the run-directory cheat walks folders


@dataclass
class CheatRun:
    """One `passk.evaluate` of every cheat in one sandbox mode and verdict mode, in a run
    directory that also holds the results of an earlier run where each cheat's task passed."""

    rows: dict[str, dict[str, Any]]  # cheat -> its results row
    changed: list[str]  # the earlier run's files that changed during this one


class CheatRuns:
    def __init__(self, root: Path, humaneval: Benchmark) -> None:
        self.root = root
        self.humaneval = humaneval
        self._runs: dict[tuple[str, str], CheatRun] = {}

    def __call__(self, mode: str, verdicts: str) -> CheatRun:
        if (mode, verdicts) not in self._runs:
            self._runs[mode, verdicts] = self._run(sandbox_for(mode), verdicts)
        return self._runs[mode, verdicts]

    def _run(self, box: Any, verdicts: str) -> CheatRun:
        run = Path(tempfile.mkdtemp(prefix=f"cheats-{box.mode}-{verdicts}-", dir=self.root))
        tasks = sorted({cheat_task(c)[0] for c in CHEATS})
        honest = run / "honest.jsonl"
        write_rows(
            honest, [self.row(t, self.humaneval.problems[t].canonical_solution) for t in tasks]
        )
        execution = ExecutionOptions(workers=2, sandbox=box.mode, mode=verdicts)
        passk.evaluate(honest, k=[1], execution=execution, out=run / "honest_results.jsonl")
        before = {p.name: p.read_bytes() for p in run.iterdir()}
        samples = run / "samples.jsonl"
        rows = [{**self.row(cheat_task(c)[0], cheat_body(c)), "attack": c} for c in CHEATS]
        write_rows(samples, rows)
        execution = ExecutionOptions(CHEAT_LIMITS, workers=2, sandbox=box.mode, mode=verdicts)
        evaluation = passk.evaluate(samples, k=[1], execution=execution, out=run / "results.jsonl")
        results = [json.loads(line) for line in evaluation.results_path.read_text().splitlines()]
        changed = [n for n, data in before.items() if (run / n).read_bytes() != data]
        return CheatRun({r["attack"]: r for r in results}, changed)

    @staticmethod
    def row(task: str, completion: str) -> dict[str, Any]:
        return {"task_id": task, "completion": completion}


def cheat_body(attack: str) -> str:
    """The completion: what follows the signature line (there to keep the file Python)."""
    lines = (ATTACK_DIR / f"{attack}.py").read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("def "))
    return "".join(lines[start + 1 :])


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def cheat_runs(
    host: Host, humaneval: Benchmark, tmp_path_factory: pytest.TempPathFactory
) -> CheatRuns:
    return CheatRuns(tmp_path_factory.mktemp("cheat-runs"), humaneval)


def cheat_cases() -> list[Any]:
    params = []
    for mode in MODES:
        for verdicts in ("assert", "io"):
            for cheat in CHEATS:
                marks = []
                if verdicts not in cheat_task(cheat)[1]:
                    reason = f"limitation of {verdicts} mode: {cheat_limitation(cheat)}"
                    marks.append(pytest.mark.xfail(reason=reason, strict=True))
                params.append(
                    pytest.param(
                        mode, verdicts, cheat, marks=marks, id=f"{mode}-{verdicts}-{cheat}"
                    )
                )
    return params


@pytest.mark.parametrize(("mode", "verdicts", "cheat"), cheat_cases())
def test_cheat(cheat_runs: CheatRuns, mode: str, verdicts: str, cheat: str) -> None:
    """No cheat passes in io mode, and none that assert mode can stop passes there; none finds
    the benchmark's data or the run's files (a "LEAK:" in its result), and the run directory's
    earlier files are as they were."""
    run = cheat_runs(mode, verdicts)
    row = run.rows[cheat]
    assert run.changed == []
    assert "LEAK:" not in row["result"], row["result"]
    assert row["passed"] is False, row["result"]


@pytest.mark.parametrize(
    ("mode", "verdicts"),
    # native: tests/test_cheats.py; gVisor's io mode (25 s here) runs in the cheats' runs
    [("bwrap", "assert"), ("bwrap", "io"), ("gvisor", "assert")],
)
def test_canonical_solutions_pass_in_every_sandbox(
    host: Host, humaneval: Benchmark, tmp_path: Path, mode: str, verdicts: str
) -> None:
    """The minimal root shows tests everything they need: all 164 canonical solutions pass."""
    box = sandbox_for(mode)
    samples = tmp_path / "canonical.jsonl"
    write_rows(
        samples, [CheatRuns.row(t, p.canonical_solution) for t, p in humaneval.problems.items()]
    )
    execution = ExecutionOptions(workers=2, sandbox=box.mode, mode=verdicts)
    evaluation = passk.evaluate(samples, k=[1], execution=execution, out=tmp_path / "results.jsonl")
    rows = [json.loads(line) for line in evaluation.results_path.read_text().splitlines()]
    assert len(rows) == 164
    assert [(r["task_id"], r["result"]) for r in rows if not r["passed"]] == []


# ---------------------------------------------------------------- holes that need two samples


LEFTOVER_CHECK = """
import ctypes, posix, zlib
KEY = zlib.crc32(b"__MARK__") & 0x7FFFFFFF
libc = ctypes.CDLL(None, use_errno=True)
found = []
for d in ("/tmp", "/tmp/passk", "/dev/shm", "/var/tmp", "/root", "/home", ".."):
    try:
        if any("__MARK__" in name for name in posix.listdir(d)):
            found.append("files")
    except OSError:
        pass
if libc.shmget(KEY, 0, 0) >= 0:
    found.append("sysv_shm")
if libc.msgget(KEY, 0) >= 0:
    found.append("sysv_msg")
if libc.semget(KEY, 0, 0) >= 0:
    found.append("sysv_sem")
if libc.mq_open(b"/__MARK__", posix.O_RDONLY) >= 0:
    found.append("posix_mq")
raise AssertionError("found:" + ",".join(sorted(set(found))))
"""
CHANNELS = ("files", "sysv_shm", "sysv_msg", "sysv_sem", "posix_mq")


@pytest.fixture(scope="module")
def left_behind(host: Host) -> dict[str, set[str]]:
    """Per mode: what escape_tmp_leftover left that the next sample on the same (single)
    worker found."""
    found: dict[str, set[str]] = {}
    for mode in MODES:
        with contextlib.suppress(pytest.skip.Exception):
            with WorkerPool(1, limits=LIMITS, sandbox=sandbox_for(mode)) as pool:
                first = run_one(pool, host.render("escape_tmp_leftover"))
                second = run_one(pool, host.render_text(LEFTOVER_CHECK))
            assert first.result == "failed: AssertionError: attack finished", first
            assert second.message.startswith("found:"), second
            found[mode] = set(filter(None, second.message.removeprefix("found:").split(",")))
    host.check_marks()  # removes what escaped to the host, if anything did
    return found


@pytest.mark.parametrize(
    ("mode", "channel"),
    [
        pytest.param(
            m,
            c,
            id=f"{m}-{c}",
            marks=[],
        )
        for m in MODES
        for c in CHANNELS
    ],
)
def test_next_sample_finds_nothing_left_behind(
    left_behind: dict[str, set[str]], mode: str, channel: str
) -> None:
    if mode not in left_behind:
        sandbox_for(mode)  # skips with the reason
    assert channel not in left_behind[mode]


FORKED_CHILD_PASSES = """
import posix
pid = posix.fork()
if pid:
    posix.waitpid(pid, 0)
    assert False, "the tests fail"
"""


@pytest.mark.parametrize("mode", MODES)
def test_forked_child_cannot_report_a_pass_for_its_parent(pools: Pools, mode: str) -> None:
    v = run_one(pools(mode), FORKED_CHILD_PASSES)
    assert v.result == "failed: AssertionError: the tests fail"


# ---------------------------------------------------------------- a whole sample, bounded as one

# A 256 MB group; CPU time enough to fill it (reclaim near the limit costs CPU), and under
# gVisor, to fill its sandbox's 768 MB.
SMALL = Limits(timeout=3.0, wall_timeout=6.0, max_memory_mb=256)
SMALL_GVISOR = Limits(timeout=10.0, wall_timeout=15.0, max_memory_mb=256)


def small(mode: str) -> Limits:
    return SMALL_GVISOR if mode == "gvisor" else SMALL


# A correct sample that needs about 0.3 s of CPU: beside an attack, it must still pass within
# its wall limit (a neighbour that took its core would make it time out).
BENIGN = "assert sum(i * i for i in range(2_500_000)) == 5208330208333750000\n"
BENIGN_LIMITS = Limits(timeout=2.0, wall_timeout=3.0)


def cgroup_dir(pool: WorkerPool, controller: str, slot: int = 0) -> Path:
    """A slot's group in one v1 hierarchy, on the host (a gVisor sandbox's is beneath it)."""
    groups = pool._groups
    assert groups is not None and groups.hierarchies.version == 1, "these checks read cgroup v1"
    return Path(groups.hierarchies.dirs[controller], groups.name, f"slot{slot}")


def needs_cgroups(mode: str) -> Any:
    box = sandbox_for(mode)
    if box.cgroups is None:
        pytest.skip(f"no cgroups here: {box.notice}")
    if box.cgroups.version != 1:
        pytest.skip("the host-side checks here read cgroup v1 files")
    return box


class Neighbour:
    """A pool of its own beside the attacks (another passk run, in effect), running the benign
    sample again and again until stopped; every verdict it got is kept."""

    def __init__(self, box: Any) -> None:
        self.pool = WorkerPool(1, limits=BENIGN_LIMITS, sandbox=box).start()
        self.verdicts: list[Verdict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Neighbour:
        run_one(self.pool, BENIGN)  # warm
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.verdicts.append(run_one(self.pool, BENIGN))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.pool.close()

    def problems(self) -> list[str]:
        bad = [v for v in self.verdicts if not v.passed]
        if not self.verdicts:
            return ["the neighbour ran nothing"]
        return [
            f"the neighbour's correct sample got {v.result!r} (wall {v.wall_s:.2f} s)" for v in bad
        ]


@pytest.mark.parametrize("mode", MODES)
def test_memory_is_bounded_for_the_whole_sample(host: Host, mode: str) -> None:
    """Memory spread over processes, or held in memfd files that no address-space limit
    counts, stays within the group's limit, read on the host from the slot's cgroup (gVisor:
    the sandbox's, whose limit is the sample's plus the sandbox's own); the memfd filler fails
    with MemoryError; passk's worker is not the one killed; a neighbour's sample passes."""
    box = needs_cgroups(mode)
    bound = SMALL.max_memory_mb + (GVISOR_MEMORY_MB if mode == "gvisor" else 0)
    with Neighbour(box) as neighbour, WorkerPool(1, limits=small(mode), sandbox=box) as pool:
        workers = worker_pids(pool)
        peak = cgroup_dir(pool, "memory") / "memory.max_usage_in_bytes"
        verdicts = {}
        for attack in ("resource_fork_memory", "resource_memfd_fill"):
            peak.write_text("0")  # v1: reset the high-water mark
            verdicts[attack] = run_one(pool, host.render(attack))
            used = int(peak.read_text()) >> 20
            assert used <= bound, f"{attack}: the group used {used} MB > {bound} MB"
        after = run_one(pool, FOLLOW_UP)
        replaced = worker_pids(pool) != workers
    assert not any(v.passed for v in verdicts.values()), verdicts
    assert verdicts["resource_memfd_fill"].result.startswith("failed: MemoryError: out of memory")
    assert after.passed, after.result
    assert mode == "gvisor" or not replaced  # (a gVisor sandbox dies whole: a new one starts)
    assert not neighbour.problems(), neighbour.problems()


MEMORY_HOG = """    import posix
    files = []
    for _ in range(100):
        fd = posix.memfd_create("hog")
        posix.write(fd, b"x" * (8 << 20))
        files.append(fd)
    return True
"""


@pytest.mark.parametrize("mode", MODES)
def test_an_oom_in_a_sample_spares_passk_and_every_verdict_is_written(
    host: Host, mode: str, humaneval: Benchmark, tmp_path: Path
) -> None:
    """`passk evaluate` with samples that fill 800 MB of memfd files under a 256 MB limit,
    among correct ones: the run completes (results, summary, no journal left), each hog gets
    "failed: MemoryError", each correct sample passes."""
    box = needs_cgroups(mode)
    tasks = ["HumanEval/0", "HumanEval/2", "HumanEval/4", "HumanEval/7"]
    rows = [{"task_id": t, "completion": humaneval.problems[t].canonical_solution} for t in tasks]
    rows += [{"task_id": "HumanEval/0", "completion": MEMORY_HOG} for _ in range(2)]
    samples = tmp_path / "samples.jsonl"
    write_rows(samples, rows)
    execution = ExecutionOptions(small(mode), workers=2, sandbox=box.mode)
    evaluation = passk.evaluate(samples, k=[1], execution=execution, out=tmp_path / "results.jsonl")
    results = [json.loads(line) for line in evaluation.results_path.read_text().splitlines()]
    assert [r["result"] for r in results[:4]] == ["passed"] * 4
    for row in results[4:]:
        assert row["result"].startswith("failed: MemoryError: out of memory"), row["result"]
    assert evaluation.summary_path.is_file()
    assert not (tmp_path / "results.jsonl.partial").exists()


@pytest.mark.parametrize("mode", MODES)
def test_cpu_of_the_whole_sample_is_counted_and_bounded(host: Host, mode: str) -> None:
    """Children spinning in sessions of their own while the sample sleeps: the sample times
    out on CPU (not at the wall limit), its reported CPU time is its group's (at least the
    budget, and on the host, the slot's cpuacct agrees), no spinner is left, and a neighbour's
    slow but correct sample still passes."""
    box = needs_cgroups(mode)
    limits = Limits(timeout=1.0, wall_timeout=8.0)
    with Neighbour(box) as neighbour, WorkerPool(1, limits=limits, sandbox=box) as pool:
        usage = cgroup_dir(pool, "cpuacct") / "cpuacct.usage"
        before = int(usage.read_text()) / 1e9
        v = run_one(pool, host.render("resource_session_spinners"))
        measured = int(usage.read_text()) / 1e9 - before
        left = sandbox_leftovers(pool)
    assert v.result == "timed out", v
    assert v.cpu_s >= limits.timeout and v.wall_s < limits.wall_limit - 1.0, v
    if mode != "gvisor":  # (in gVisor the worker's own work counts in the sandbox's group too)
        assert v.cpu_s == pytest.approx(measured, rel=0.1), (v.cpu_s, measured)
    assert not left, left
    assert not host.check_leftovers()
    assert not neighbour.problems(), neighbour.problems()


def read_pty_count() -> int:
    return int(Path("/proc/sys/kernel/pty/nr").read_text())


@pytest.mark.parametrize("mode", MODES)
def test_kernel_object_floods_are_bounded(host: Host, mode: str) -> None:
    """Empty files and folders stop at the work tmpfs's inode limit (gVisor: its sentry
    holds them, within the sandbox's memory and the sample's CPU time); pseudo-terminals stop
    at the worker's own devpts, and the host's count of ptys grows by no more than that
    (gVisor's are its own); a neighbour's sample passes throughout."""
    box = needs_cgroups(mode)
    highest = [read_pty_count()]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.01):
            highest.append(read_pty_count())

    watcher = threading.Thread(target=watch, daemon=True)
    with Neighbour(box) as neighbour, WorkerPool(1, limits=SMALL, sandbox=box) as pool:
        watcher.start()
        inodes = run_one(pool, host.render("resource_inode_flood"))
        ptys = run_one(pool, host.render("resource_pty_flood"))
        stop.set()
        watcher.join()
        after = run_one(pool, FOLLOW_UP)
    assert after.passed, after.result
    made = re.search(r"made (\d+) inodes", inodes.message)
    if mode == "gvisor":
        assert inodes.outcome in (Outcome.FAILED, Outcome.TIMED_OUT), inodes.result
    else:
        assert made and int(made.group(1)) < WORK_TMPFS_INODES, inodes.result
    held = re.search(r"held (\d+) ptys", ptys.message)
    assert held, ptys.result
    if mode != "gvisor":
        assert int(held.group(1)) <= MAX_PTYS, ptys.result
    assert max(highest) - highest[0] <= (0 if mode == "gvisor" else MAX_PTYS), highest
    assert not neighbour.problems(), neighbour.problems()


@pytest.mark.parametrize(
    "mode",
    [
        "native",
        "bwrap",
        "gvisor",
    ],
)
def test_work_directory_space_is_capped(host: Host, mode: str) -> None:
    # CPU time enough to write 512 MB (under gVisor too: its sentry does the writing)
    with WorkerPool(1, limits=SLOW_LIMITS, sandbox=sandbox_for(mode)) as pool:
        v = run_one(pool, host.render("resource_disk_fill"))
    wrote = re.search(r"wrote (\d+) MB", v.message)
    assert wrote, v.result
    assert int(wrote.group(1)) <= WORK_TMPFS_MB, v.result


def shared_uid_cases() -> list[Any]:
    """Where RLIMIT_NPROC, not a cgroup, bounds a sample's processes, two pools' same slot
    share one uid's count (gVisor: a kernel per sandbox)."""
    hole = pytest.mark.xfail(
        reason="hole without cgroups: slot i runs as uid 61000 + i in every pool on the machine, "
        "and RLIMIT_NPROC counts a uid's processes machine-wide: a sample that holds its 64 "
        "processes in one pool (one passk run) makes every fork in the same slot of another "
        "pool (another run) fail",
        strict=True,
    )
    return [
        pytest.param(m, marks=[hole] if m != "gvisor" and not HAS_CGROUPS else []) for m in MODES
    ]


@pytest.mark.parametrize("mode", shared_uid_cases())
def test_pools_do_not_share_process_limits(pools: Pools, host: Host, mode: str) -> None:
    skip_unless_safe(pools, mode, "resource_fork_bomb")  # holds 64 processes
    hog = """
import posix, time
n = 0
while True:
    try:
        if posix.fork() == 0:
            time.sleep(5)
            posix._exit(0)
        n += 1
    except OSError:
        break
time.sleep(5)
"""
    one_fork = "import posix\npid = posix.fork()\nif pid == 0:\n    posix._exit(0)\nposix.waitpid(pid, 0)\n"
    with (
        WorkerPool(1, limits=LIMITS, sandbox=sandbox_for(mode)) as first,
        WorkerPool(1, limits=LIMITS, sandbox=sandbox_for(mode)) as second,
    ):
        out: list[Verdict] = []
        thread = threading.Thread(target=lambda: out.append(run_one(first, hog)), daemon=True)
        thread.start()
        deadline = time.monotonic() + 1.0
        victims = {v.pid for v in host.victims}
        # 64 processes of the slot's uid: the victim, the hog and its 62 children
        while time.monotonic() < deadline and len(processes_of((UID_BASE,), victims)) < 63:
            time.sleep(0.02)  # (in gVisor they are not host processes: this waits 1 s)
        v = run_one(second, one_fork)
        thread.join(timeout=30)
    assert v.passed, v.result


def test_replaced_bwrap_worker_survives_the_run_that_started_it(host: Host) -> None:
    with WorkerPool(1, limits=LIMITS, sandbox=sandbox_for("bwrap")) as pool:
        pool._procs[0].proc.kill()  # the worker process this test's pool started
        pool._procs[0].proc.wait()
        assert run_one(pool, "pass").passed  # retried on a replacement, started by a pool thread
        replacement = worker_pids(pool)
        for _ in range(3):
            assert run_one(pool, "pass").passed
        assert worker_pids(pool) == replacement


@pytest.mark.parametrize(
    "mode",
    [
        "native",
        "bwrap",
        "gvisor",
    ],
)
def test_children_left_behind_do_not_block_later_forks(pools: Pools, mode: str) -> None:
    skip_unless_safe(pools, mode, "resource_fork_bomb")  # holds 64 processes
    leave_children = """
import posix, time
while True:
    try:
        if posix.fork() == 0:
            time.sleep(30)
            posix._exit(0)
    except OSError:
        break
raise AssertionError("leaves its children to the sweep")
"""
    one_fork = "import posix\npid = posix.fork()\nif pid == 0:\n    posix._exit(0)\nposix.waitpid(pid, 0)\n"
    # gVisor's own accounting charges each fork a tenth of a second or more, the more so the
    # more processes there are: 63 forks come to about 14 s there (1.9 s of the host's CPU).
    limits = Limits(timeout=30.0, wall_timeout=40.0) if mode == "gvisor" else SLOW_LIMITS
    with WorkerPool(1, limits=limits, sandbox=sandbox_for(mode)) as pool:
        first = run_one(pool, leave_children)
        v = run_one(pool, one_fork)
    assert first.result == "failed: AssertionError: leaves its children to the sweep"
    assert v.passed, v.result
