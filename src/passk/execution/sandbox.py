"""Sandbox modes: which isolation layers protect the machine, and how workers are started in them.

- `native` (the default where passk runs as root): each worker enters new mount, network, PID,
  IPC and UTS namespaces, with a read-only root, users' homes masked and a tmpfs for work; its
  samples run under one unprivileged uid per worker slot, behind a seccomp filter.
- `bwrap`: bubblewrap builds those namespaces and mounts around each worker; uid and seccomp
  layers as in native.
- `gvisor`: each worker runs in one long-lived gVisor sandbox (`runsc run`, a user-space kernel,
  as the Codex paper used), started once per worker, never once per sample; uid, seccomp and
  rlimits inside it as well.
- `none`: resource limits and a session per sample only. Only on explicit request, with a warning.

Every mode keeps the per-sample resource limits and the wall-clock deadline. A mode that the
machine cannot provide is an error naming what is missing, never a silent fallback; only the
default (`auto`) may fall back, and then it says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from passk.errors import ExecutionError, InputError

MODES = ("auto", "native", "bwrap", "gvisor", "none")
SLOT_UID_BASE = 61000  # slot i runs its samples as uid/gid 61000 + i
WORK_TMPFS_MB = 512


class SandboxUnavailable(ExecutionError):
    """The machine cannot provide the sandbox mode that was asked for."""

    exit_code = 3


@dataclass
class Sandbox:
    """A chosen mode, the layers it gives, and how to start a worker inside it."""

    mode: str
    namespaces: bool = False  # the worker enters namespaces itself (native)
    drop_uid: bool = False
    seccomp: bool = False
    notice: str | None = None  # said to the user when `auto` could not give everything
    _state: Path | None = field(default=None, repr=False)

    @property
    def layers(self) -> list[str]:
        layers = {
            "native": ["namespaces (mount, net, pid, ipc, uts)", "read-only root"],
            "bwrap": ["bwrap namespaces (mount, net, pid, ipc, uts)", "read-only root"],
            "gvisor": ["gvisor (runsc, no network)", "read-only root"],
            "none": [],
        }[self.mode]
        if self.drop_uid:
            layers.append("uid per worker")
        if self.seccomp:
            layers.append("seccomp")
        return [*layers, "rlimits"]

    def describe(self) -> str:
        return " + ".join(self.layers)

    def worker_config(self, slot: int) -> dict[str, Any]:
        from passk.execution.isolation import exposed_paths

        uid = SLOT_UID_BASE + slot if self.drop_uid else None
        return {
            "namespaces": self.namespaces,
            "uid": uid,
            "seccomp": self.seccomp,
            "tmp_size_mb": WORK_TMPFS_MB,
            "expose": exposed_paths() if self.namespaces else [],
            "isolated_tmp": self.mode != "none",
        }

    def command(self, argv: list[str], env: dict[str, str]) -> list[str]:
        """The command line that starts a worker (`argv`) inside this sandbox."""
        if self.mode == "bwrap":
            return _bwrap_command(argv)
        if self.mode == "gvisor":
            return self._runsc_command(argv, env)
        return argv

    def _runsc_command(self, argv: list[str], env: dict[str, str]) -> list[str]:
        if self._state is None:
            self._state = Path(tempfile.mkdtemp(prefix="passk-runsc-"))
        name = f"passk-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        bundle = self._state / name
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(_oci_spec(argv, env)))
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


def _bwrap_command(argv: list[str]) -> list[str]:
    from passk.execution.isolation import MASKED

    # No user namespace: the worker stays real root inside, so that it can give each slot its
    # own uid (in a user namespace only root would be mapped).
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
        "--ro-bind",
        "/",
        "/",
        "--size",
        str(WORK_TMPFS_MB << 20),
        "--tmpfs",
        "/tmp",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--hostname",
        "passk-sandbox",
    ]
    for home in MASKED:
        if os.path.isdir(home):
            command += ["--perms", "0755", "--tmpfs", home]
    for path in _exposed_under_masks():
        # bwrap would create the folders leading to a bind mount as 0700, closed to the uid
        # that samples run as; make them traversable first.
        for folder in _folders_between(path):
            command += ["--perms", "0755", "--dir", folder]
        command += ["--ro-bind", path, path]
    return [*command, "--", *argv]


def _exposed_under_masks() -> list[str]:
    """The exposed paths that a mask or the work tmpfs would hide, without those inside
    another of them."""
    from passk.execution.isolation import HIDDEN, exposed_paths

    kept: list[str] = []
    for path in sorted(set(exposed_paths())):
        if not any(path.startswith(top + "/") for top in HIDDEN) or not os.path.isdir(path):
            continue
        if not any(path == k or path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


def _folders_between(path: str) -> list[str]:
    """'/root/a/b/c' -> ['/root/a', '/root/a/b'] (the mask's own folder excluded)."""
    parts = Path(path).parts
    return [str(Path(*parts[: i + 1])) for i in range(2, len(parts) - 1)]


def _oci_spec(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    from passk.execution.isolation import MASKED

    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/tmp",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=0711", f"size={WORK_TMPFS_MB}m"],
        },
    ]
    for home in MASKED:
        if os.path.isdir(home):
            mounts.append(
                {
                    "destination": home,
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": ["mode=0755", "size=1m"],
                }
            )
    for path in _exposed_under_masks():
        mounts.append(
            {"destination": path, "type": "bind", "source": path, "options": ["rbind", "ro"]}
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
        },
        "root": {"path": "/", "readonly": True},
        "hostname": "passk-sandbox",
        "mounts": mounts,
        "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]},
    }


def _root_capabilities() -> dict[str, list[str]]:
    # What the worker needs inside gVisor: give its samples their own uid, kill what they leave.
    caps = [
        "CAP_SETUID",
        "CAP_SETGID",
        "CAP_KILL",
        "CAP_CHOWN",
        "CAP_FOWNER",
        "CAP_DAC_OVERRIDE",
        "CAP_SYS_RESOURCE",
    ]
    return {name: caps for name in ("bounding", "effective", "permitted")}


def choose_sandbox(mode: str = "auto") -> Sandbox:
    """The sandbox for `mode`, checked against this machine (SandboxUnavailable if it can't)."""
    if mode not in MODES:
        raise InputError(f"--sandbox must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "none":
        return Sandbox("none")
    if mode == "auto":
        return _auto()
    problems = _missing(mode)
    if problems:
        raise SandboxUnavailable(f"--sandbox {mode} is not available here: {'; '.join(problems)}")
    return Sandbox(mode, namespaces=mode == "native", drop_uid=True, seccomp=True)


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
