"""Execution on a Ray cluster: one actor per node owns a passk worker pool with that node's sandbox.

The Codex paper ran its sandboxes on a cluster (Chen et al. 2021, section 2.3); passk runs on
an existing engine, Ray, rather than a home-made one. `passk evaluate --executor ray`:

- starts one actor (`NodeRunner`) on every alive node with CPUs, pinned there. Each checks the
  sandbox asked for on its own node (`choose_sandbox`) and starts a `WorkerPool` with it, so
  samples get the same isolation, limits and verdicts as locally; a node that cannot give the
  sandbox, or runs another passk, Python or Ray than the driver, stops the run before any
  sample runs, with one line naming the node.
- feeds each actor jobs as its verdicts come back, at most `_QUEUED_PER_WORKER` jobs a worker
  outstanding, so the driver never holds more than that (the jobs come from an iterator).
- keeps nothing durable on the nodes: the driver (`passk.evaluation`) journals verdicts as they
  arrive, so `--resume` works as it does locally. An actor that dies (its node lost, or the
  actor killed) costs its outstanding jobs, which go to the other actors; a job's verdict is
  yielded once, from the one actor that still owned the job when its verdict arrived.

Ray is imported only inside the functions that need it, so a plain install and `import passk`
stay light; it comes with the `ray` extra.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import importlib.metadata
import itertools
import logging
import os
import platform
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from passk.errors import ExecutionError, InputError, PasskError
from passk.execution.pool import Job, Limits, WorkerPool
from passk.execution.sandbox import Sandbox, SandboxUnavailable, choose_sandbox
from passk.execution.verdict import Verdict

_QUEUED_PER_WORKER = 4  # jobs outstanding at a node per worker: running, queued, in transit
_REPLY_WAIT_S = 60.0  # how long an exchange waits for its first verdict before answering empty
_LINGER_S = 0.05  # after the first verdict, how long an exchange gathers more
_START_TIMEOUT_S = 300.0  # for every actor to be placed and start its pool (gVisor is slow)
_STOP_TIMEOUT_S = 60.0
_CONNECT_TIMEOUT_S = 10.0
_ADDRESS = re.compile(r"(?:ray://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")


def check_address(address: str) -> str:
    """The address itself if it names a Ray cluster: HOST:PORT, ray://HOST:PORT, auto or local.

    >>> check_address("10.0.0.5:6379")
    '10.0.0.5:6379'
    >>> check_address("10.0.0.5")
    Traceback (most recent call last):
    ...
    passk.errors.InputError: --ray-address must be HOST:PORT, ray://HOST:PORT, auto or local, got '10.0.0.5'
    """
    if address in ("auto", "local"):
        return address
    match = _ADDRESS.fullmatch(address)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise InputError(
            f"--ray-address must be HOST:PORT, ray://HOST:PORT, auto or local, got {address!r}"
        )
    return address


def node_identity() -> dict[str, str]:
    """What must be the same on the driver and every node for verdicts to be the same: the
    Python version, passk's version and the bytes of its execution code, and Ray's version."""
    import ray

    code = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        code.update(path.name.encode() + b"\0" + path.read_bytes())
    return {
        "Python": ".".join(platform.python_version_tuple()[:2]),
        "passk": importlib.metadata.version("passk"),
        "passk execution code": code.hexdigest()[:12],
        "Ray": ray.__version__,
    }


# ---------------------------------------------------------------- on the nodes


class _FedPool(WorkerPool):
    """A worker pool fed as jobs arrive: `WorkerPool.run` takes every job up front, and the
    driver sends them a few at a time."""

    def serve(
        self,
        todo: queue.Queue[Job | None],
        done: queue.Queue[tuple[int, Verdict] | BaseException],
    ) -> list[threading.Thread]:
        """Start the workers and one thread each, taking jobs from `todo` until it gives None
        and putting (job id, verdict) on `done` (or the exception that stopped the thread)."""
        self.start()
        threads = [
            threading.Thread(target=self._serve, args=(slot, todo, done), daemon=True)
            for slot in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        return threads


class NodeRunner:
    """The actor on one Ray node: a passk worker pool with this node's sandbox, fed by the driver.

    Ray makes it an actor (`ray.remote(NodeRunner)`) on the driver; it is a plain class here so
    that this module loads without Ray.
    """

    def __init__(self, workers: int, limits: Limits, sandbox: str, preimports: list[str]) -> None:
        self._spec = (workers, limits, sandbox, preimports)
        self._pool: _FedPool | None = None
        self._threads: list[threading.Thread] = []
        self._todo: queue.Queue[Job | None] = queue.Queue()
        self._done: queue.Queue[tuple[int, Verdict] | BaseException] = queue.Queue()

    def start(self) -> dict[str, Any]:
        """Check the sandbox on this node and start the pool; report what it runs, or why not."""
        report: dict[str, Any] = {"identity": node_identity(), "pid": os.getpid()}
        workers, limits, mode, preimports = self._spec
        try:
            box = choose_sandbox(mode)
            pool = _FedPool(workers, limits=limits, preimports=preimports, sandbox=box)
        except PasskError as e:
            return {**report, "error": str(e), "sandbox": isinstance(e, SandboxUnavailable)}
        try:
            self._threads = pool.serve(self._todo, self._done)
        except PasskError as e:
            pool.close(abort=True)
            return {**report, "error": str(e), "sandbox": False}
        self._pool = pool
        return {
            **report,
            "workers": workers,
            "sandbox": replace(box, _state=None),  # what it gives, not this node's files
            "limits": pool.describe(),
            "announcement": pool.announcement(),
        }

    def exchange(self, jobs: list[Job], want: int) -> list[tuple[int, Verdict]]:
        """Queue `jobs`, then answer the verdicts that have finished: at least one (unless none
        comes for a minute), and up to `want` of those that finish soon after it."""
        for job in jobs:
            self._todo.put(job)
        verdicts: list[tuple[int, Verdict]] = []
        first = self._next(_REPLY_WAIT_S)
        if first is None:
            return verdicts
        verdicts.append(first)
        deadline = time.monotonic() + _LINGER_S
        while len(verdicts) < want:
            item = self._next(deadline - time.monotonic())
            if item is None:
                break
            verdicts.append(item)
        return verdicts

    def _next(self, timeout: float) -> tuple[int, Verdict] | None:
        try:
            item = self._done.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None
        if isinstance(item, BaseException):  # a worker slot could not go on: the actor is lost
            raise item
        return item

    def stop(self, abort: bool = False) -> None:
        """Stop the pool: after the queued jobs (none are queued when the driver stops it), or
        at once when aborting."""
        if self._pool is None:
            return
        if not abort:
            for _ in self._threads:
                self._todo.put(None)
            for thread in self._threads:
                thread.join(_STOP_TIMEOUT_S)
        self._pool.close(abort=abort)
        self._pool = None


# ---------------------------------------------------------------- on the driver


@dataclass
class _Node:
    """The driver's view of one node's actor: the jobs it owns and its call in flight."""

    handle: Any
    node_id: str
    ip: str
    workers: int
    outstanding: dict[int, Job] = field(default_factory=dict)
    call: Any = None  # the ObjectRef of its exchange in flight, or None
    lost: bool = False

    @property
    def name(self) -> str:
        return f"Ray node {self.ip} ({self.node_id[:8]})"


class RayExecutor:
    """Runs jobs on a Ray cluster: one `NodeRunner` actor per node, fed by this process.

    Made by `RayExecutor.start`, which connects, starts the actors and checks them before any
    job runs; `run` yields (job id, verdict) as they finish, in any order, each job once.
    """

    def __init__(
        self,
        address: str,
        nodes: list[_Node],
        reports: list[dict[str, Any]],
        *,
        owns_connection: bool,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.address = address
        self.nodes = nodes
        self.workers = sum(node.workers for node in nodes)
        self.sandbox: Sandbox = reports[0]["sandbox"]
        self.lost: list[str] = []
        self._limits: dict[str, Any] = reports[0]["limits"]
        self._per_node: str = reports[0]["announcement"]
        self._owns_connection = owns_connection
        self._on_notice = on_notice
        self._closed = False

    @classmethod
    def start(
        cls,
        *,
        address: str | None,
        workers: int | None,
        limits: Limits,
        sandbox: str,
        preimports: Iterable[str] = (),
        runner: type = NodeRunner,
        on_notice: Callable[[str], None] | None = None,
    ) -> RayExecutor:
        """Connect to the cluster at `address` (None: auto), start a `runner` actor on every
        node with `workers` workers (None: the node's CPUs), and check what they report."""
        resolved, owns = connect(address)
        nodes: list[_Node] = []
        try:
            nodes = _start_actors(runner, workers, limits, sandbox, list(preimports))
            reports = _reports(nodes)
            _check_reports(nodes, reports)
        except BaseException:
            _kill(nodes)
            if owns:
                disconnect()
            raise
        executor = cls(resolved, nodes, reports, owns_connection=owns, on_notice=on_notice)
        for node, report in zip(nodes, reports, strict=True):
            if report["sandbox"].notice and on_notice:
                on_notice(f"{node.name}: {report['sandbox'].notice}")
        return executor

    def describe(self) -> dict[str, Any]:
        return dict(self._limits)

    def announcement(self) -> str:
        per_sample = self._per_node.split("; ", 1)[-1]
        nodes = f"{len(self.nodes)} node{'s' if len(self.nodes) > 1 else ''}"
        return (
            f"execution: Ray cluster at {self.address}: {nodes}, "
            f"{self.workers} workers in all ({', '.join(str(n.workers) for n in self.nodes)}); "
            f"{per_sample}"
        )

    def summary(self) -> dict[str, Any]:
        """Where the samples ran, for results summaries."""
        return {
            "executor": "ray",
            "address": self.address,
            "nodes": [{"node": n.node_id, "ip": n.ip, "workers": n.workers} for n in self.nodes],
            "lost": list(self.lost),
        }

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[int, Verdict]]:
        """Yield (job id, verdict) for every job, in the order they finish."""
        import ray

        source = iter(jobs)
        again: collections.deque[Job] = collections.deque()  # the jobs of lost nodes
        calls: dict[Any, _Node] = {}
        while True:
            for node in self.nodes:
                if not node.lost and node.call is None:
                    self._feed(node, _take(again, source, self._room(node)), calls)
            if not calls:  # with a node left, that means no job is left
                if again or next(source, None) is not None:
                    raise ExecutionError(self._all_lost())
                return
            ready, _ = ray.wait(list(calls), num_returns=1)
            for ref in ready:
                yield from self._collect(calls.pop(ref), ref, again)

    def _room(self, node: _Node) -> int:
        return max(0, _QUEUED_PER_WORKER * node.workers - len(node.outstanding))

    def _feed(self, node: _Node, fresh: list[Job], calls: dict[Any, _Node]) -> None:
        if not fresh and not node.outstanding:
            return
        node.outstanding.update((job.id, job) for job in fresh)
        node.call = node.handle.exchange.remote(fresh, 2 * node.workers)
        calls[node.call] = node

    def _collect(
        self, node: _Node, ref: Any, again: collections.deque[Job]
    ) -> Iterator[tuple[int, Verdict]]:
        import ray

        node.call = None
        try:
            verdicts = ray.get(ref)
        except ray.exceptions.RayError as e:
            self._lose(node, e)
            again.extend(node.outstanding.values())
            node.outstanding.clear()
            return
        for job_id, verdict in verdicts:
            if node.outstanding.pop(job_id, None) is not None:
                yield job_id, verdict

    def _lose(self, node: _Node, error: BaseException) -> None:
        import ray

        node.lost = True
        why = _first_line(error)
        self.lost.append(f"{node.name}: {why}")
        if self._on_notice:
            self._on_notice(
                f"execution: lost {node.name} ({why}); its {len(node.outstanding)} unfinished "
                "samples run again on the other nodes"
            )
        ray.kill(node.handle)

    def _all_lost(self) -> str:
        return f"every Ray node's executor was lost: {'; '.join(self.lost)}"

    def close(self, *, abort: bool = False) -> None:
        """Stop the actors' pools (at once when aborting), end the actors, and disconnect if
        `start` connected."""
        if self._closed:
            return
        self._closed = True
        live = [node for node in self.nodes if not node.lost]
        _stop(live, abort)
        _kill(live)
        if self._owns_connection:
            disconnect()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(abort=exc_type is not None)


def _take(again: collections.deque[Job], source: Iterator[Job], count: int) -> list[Job]:
    """Up to `count` jobs: those of lost nodes first, then new ones."""
    taken = [again.popleft() for _ in range(min(count, len(again)))]
    taken += itertools.islice(source, count - len(taken))
    return taken


# ---------------------------------------------------------------- connecting and starting


def connect(address: str | None) -> tuple[str, bool]:
    """Connect this process to the Ray cluster at `address`: (the address it reached, whether
    this call made the connection). A process already connected to Ray keeps its connection."""
    import ray

    if ray.is_initialized():
        current = ray.get_runtime_context().gcs_address
        if address not in (None, "auto", current):
            raise InputError(
                f"--ray-address {address}: this process is connected to the Ray cluster at "
                f"{current} already"
            )
        return current, False
    target = _resolve(address or "auto")
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if target == "local":
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a run of passk sends no usage data
        options["include_dashboard"] = False
    try:
        ray.init(address=target, **options)
    except (RuntimeError, ConnectionError, ValueError) as e:  # e.g. Ray's "Version mismatch"
        raise ExecutionError(f"Ray cluster at {target}: {_first_line(e, whole=True)}") from None
    return (ray.get_runtime_context().gcs_address if target == "local" else target), True


def disconnect() -> None:
    import ray

    ray.shutdown()


def _resolve(address: str) -> str:
    """The address Ray will use for `address`, checked to answer: Ray itself would retry an
    unreachable one for minutes."""
    if address == "local":
        return address
    from_environment = os.environ.get("RAY_ADDRESS", "")
    if from_environment and address != "auto" and from_environment != address:
        raise InputError(
            f"--ray-address {address}: RAY_ADDRESS={from_environment} is set as well, and Ray "
            "would use it instead; unset one of them"
        )
    target = from_environment or address
    if target == "auto":
        target = _running_cluster()
    match = _ADDRESS.fullmatch(target)
    if match is None:
        raise InputError(f"RAY_ADDRESS must be HOST:PORT or ray://HOST:PORT, got {target!r}")
    host, port = match.group(1).strip("[]"), int(match.group(2))
    try:
        socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise ExecutionError(
            f"no Ray cluster answers at {target} ({e.strerror or e}); start one there with "
            "`ray start --head`, or give its address with --ray-address"
        ) from None
    return target


def _running_cluster() -> str:
    """The address of the Ray cluster started on this machine (`ray start --head`)."""
    from ray._private.services import canonicalize_bootstrap_address

    try:
        found = canonicalize_bootstrap_address("auto")
    except ConnectionError:
        found = None
    if not found:
        raise ExecutionError(
            "no Ray cluster to run on: RAY_ADDRESS is not set and none was started on this "
            "machine; give --ray-address HOST:PORT, or --ray-address local for a Ray instance "
            "on this machine"
        )
    return str(found)


def _start_actors(
    runner: type, workers: int | None, limits: Limits, sandbox: str, preimports: list[str]
) -> list[_Node]:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    actor: Any = ray.remote(runner)
    nodes: list[_Node] = []
    for node_id, ip, cpus in _cluster_nodes():
        count = workers or cpus
        handle = actor.options(
            num_cpus=min(count, cpus),
            max_concurrency=2,  # stop(abort=True) may come while an exchange waits
            max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        ).remote(count, limits, sandbox, preimports)
        nodes.append(_Node(handle, node_id, ip, count))
    return nodes


def _cluster_nodes() -> list[tuple[str, str, int]]:
    """(node id, IP, CPUs) of every alive node that has CPUs."""
    import ray

    found = [
        (n["NodeID"], n["NodeManagerAddress"], int(n["Resources"].get("CPU", 0)))
        for n in ray.nodes()
        if n.get("Alive")
    ]
    with_cpus = [node for node in found if node[2] >= 1]
    if not with_cpus:
        raise ExecutionError(f"the Ray cluster has no node with CPUs ({len(found)} nodes alive)")
    return with_cpus


def _reports(nodes: list[_Node]) -> list[dict[str, Any]]:
    """Every actor's start report, in node order; an actor that cannot start is an error."""
    import ray

    refs = [node.handle.start.remote() for node in nodes]
    _, pending = ray.wait(refs, num_returns=len(refs), timeout=_START_TIMEOUT_S)
    if pending:
        late = nodes[refs.index(pending[0])]
        raise ExecutionError(
            f"{late.name}: passk's executor did not start within {_START_TIMEOUT_S:g} s "
            f"({len(pending)} of {len(nodes)} nodes; are their CPUs taken by other work?)"
        )
    reports = []
    for node, ref in zip(nodes, refs, strict=True):
        try:
            reports.append(ray.get(ref))
        except ray.exceptions.RayError as e:
            raise ExecutionError(
                f"{node.name}: passk's executor could not start there ({_first_line(e)}); "
                "install the same passk on every node"
            ) from None
    return reports


def _check_reports(nodes: list[_Node], reports: list[dict[str, Any]]) -> None:
    """Every node gives the sandbox asked for, the same one, and runs what the driver runs."""
    here = node_identity()
    for node, report in zip(nodes, reports, strict=True):
        if "error" in report:
            kind = SandboxUnavailable if report["sandbox"] else ExecutionError
            raise kind(f"{node.name}: {report['error']}")
        differences = [
            f"{what} {theirs} there, {here[what]} here"
            for what, theirs in report["identity"].items()
            if here.get(what) != theirs
        ]
        if differences:
            raise ExecutionError(
                f"{node.name} runs other software than this driver ({'; '.join(differences)}): "
                "install the same versions on every node"
            )
    first = reports[0]["sandbox"]
    for node, report in zip(nodes, reports, strict=True):
        box = report["sandbox"]
        if (box.mode, box.describe()) != (first.mode, first.describe()):
            raise SandboxUnavailable(
                f"the nodes give different sandboxes: {nodes[0].name} {first.describe()}, "
                f"{node.name} {box.describe()}; name a --sandbox that every node has"
            )


def _stop(nodes: list[_Node], abort: bool) -> None:
    import ray

    refs = [node.handle.stop.remote(abort) for node in nodes]
    # A node lost while stopping is killed next, which is all that is left to do for it.
    with contextlib.suppress(ray.exceptions.RayError):
        ray.wait(refs, num_returns=len(refs), timeout=_STOP_TIMEOUT_S)


def _kill(nodes: list[_Node]) -> None:
    import ray

    for node in nodes:
        with contextlib.suppress(ray.exceptions.RayError):  # already gone
            ray.kill(node.handle)


def _first_line(error: BaseException, *, whole: bool = False) -> str:
    """A Ray error's message on one line: its first line, or all of it joined."""
    text = str(error).strip() or type(error).__name__
    if whole:
        return " ".join(text.split())
    return text.splitlines()[0]
