"""Execution on a real Ray cluster (`passk.execution.ray_executor`), started inside the tests.

The cluster is Ray's own test cluster (`ray.cluster_utils.Cluster`): a head and a second node,
each a raylet of its own with one CPU, all processes of this test, on 127.0.0.1, under a private
temporary directory. Its samples are HumanEval's canonical solutions and mutants that fail,
cheat or hang; verdicts are compared with this machine's worker pool, actors and nodes are
killed mid-run, a driver is killed and resumed, and bad clusters are refused before any sample
runs. Skipped where Ray is not installed (pip install 'passk[ray]').
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from passk.benchmarks import Benchmark
from passk.cli import main
from passk.errors import ExecutionError
from passk.evaluation import evaluate
from passk.execution import Job, Limits
from passk.execution.options import ExecutionOptions
from passk.execution.ray_executor import RayExecutor
from passk.execution.sandbox import SandboxUnavailable

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="Ray is not installed (pip install 'passk[ray]')",
)

SRC = Path(__file__).resolve().parents[1] / "src"
LIMITS = Limits(timeout=2.0)  # a CPU-bound hang costs 2 s, a sleeping one 6 s (the wall limit)
MARK = "PASSK_TEST_RAY_CLUSTER"  # in the environment of every process the cluster starts

# Mutants of a HumanEval solution, each with the verdict kind it must get everywhere.
MUTANTS = [
    "    return None\n",
    "    raise ValueError('mutant')\n",
    "    return (\n",
    "    import sys\n    sys.exit(0)\n",
    "    return 1 / 0\n",
    "    import os\n    os._exit(0)\n",
]
HANGS = ["    while True:\n        pass\n"] * 3 + ["    import time\n    time.sleep(60)\n"] * 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A head and one more node, one CPU each; everything Ray started is gone afterwards."""
    marker = uuid.uuid4().hex
    root = ray_root(tmp_path_factory)
    with pytest.MonkeyPatch.context() as env:
        env.delenv("RAY_ADDRESS", raising=False)
        env.setenv(MARK, marker)
        env.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # every Ray address is 127.0.0.1
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        env.setenv("RAY_TMPDIR", str(root))  # Ray's files go to root/ray
        env.setenv("RAY_health_check_period_ms", "500")  # a lost node is noticed in seconds
        env.setenv("RAY_health_check_failure_threshold", "4")
        from ray.cluster_utils import Cluster

        temp_dir = str(root / "ray")
        ray_cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 1, "include_dashboard": False, "temp_dir": temp_dir},
        )
        try:
            ray_cluster.add_node(num_cpus=1, temp_dir=temp_dir)
            yield ray_cluster
        finally:
            ray_cluster.shutdown()
            leftovers = stop_leftovers(marker)
            shutil.rmtree(root, ignore_errors=True)
    assert leftovers == [], f"Ray processes outlived the cluster: {leftovers}"


def ray_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private directory for Ray's sockets and logs: under the tests' own temporary folder
    where the socket paths Ray makes there fit the kernel's 107 bytes, else a short one."""
    root = tmp_path_factory.mktemp("ray")
    if len(str(root)) > 40:
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="pk-ray-"))
    (root / "ray").mkdir()
    return root


def stop_leftovers(marker: str, within: float = 15.0) -> list[str]:
    """Wait for the processes whose environment carries `marker` to end; kill, by PID, those
    that do not, and name them."""
    deadline = time.monotonic() + within
    while (alive := marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid, _ in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return [name for _, name in alive]


def marked_processes(marker: str) -> list[tuple[int, str]]:
    found = []
    needle = f"{MARK}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append((int(entry.name), (entry / "comm").read_text().strip()))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def samples(humaneval: Benchmark, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """289 samples: every canonical solution, 120 mutants that fail or cheat, 5 that hang."""
    problems = list(humaneval.problems.values())
    rows = [{"task_id": p.task_id, "completion": p.canonical_solution} for p in problems]
    rows += [
        {"task_id": p.task_id, "completion": MUTANTS[i % len(MUTANTS)]}
        for i, p in enumerate(problems[:120])
    ]
    rows += [{"task_id": p.task_id, "completion": h} for p, h in zip(problems, HANGS, strict=False)]
    path = tmp_path_factory.mktemp("samples") / "samples.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def on_ray(cluster: Any, **changes: Any) -> ExecutionOptions:
    return ExecutionOptions(LIMITS, executor="ray", ray_address=cluster.address, **changes)


def verdicts(results: Path) -> dict[tuple[str, int], tuple[str, bool]]:
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    return {(r["task_id"], r["completion_id"]): (r["result"], r["passed"]) for r in rows}


# ---------------------------------------------------------------- the same verdicts


def test_verdicts_on_the_cluster_are_the_local_pools(
    cluster: Any, samples: Path, tmp_path: Path
) -> None:
    said: list[str] = []
    local = evaluate(
        samples, k=[1], execution=ExecutionOptions(LIMITS, workers=2), out=tmp_path / "local.jsonl"
    )
    remote = evaluate(
        samples, k=[1], execution=on_ray(cluster), out=tmp_path / "ray.jsonl", on_start=said.append
    )
    expected = verdicts(local.results_path)
    assert verdicts(remote.results_path) == expected
    outcomes = remote.summary["outcomes"]
    assert outcomes == local.summary["outcomes"]
    assert outcomes["timed out"] == len(HANGS) and outcomes["passed"] == 164
    assert remote.summary["pass_at_k"] == local.summary["pass_at_k"]
    assert remote.summary["settings"] == local.summary["settings"]  # so --resume takes either
    assert [n["workers"] for n in remote.summary["cluster"]["nodes"]] == [1, 1]
    assert remote.summary["cluster"]["lost"] == []
    assert said[-1].startswith(f"execution: Ray cluster at {cluster.address}: 2 nodes, 2 workers")
    assert said[-1].endswith(f"sandbox: {local.summary['sandbox']}")


# ---------------------------------------------------------------- losing actors and nodes


def slow_jobs(humaneval: Benchmark, n: int) -> list[Job]:
    """Canonical solutions that take 50 ms each, so that a run lasts a few seconds."""
    problems = list(humaneval.problems.values())
    return [
        Job(
            i,
            problems[i % 164].program(problems[i % 164].canonical_solution + "\n")
            + "\nimport time\ntime.sleep(0.05)\n",
        )
        for i in range(n)
    ]


def run_and_lose(executor: RayExecutor, jobs: list[Job], lose: Any) -> list[tuple[int, Any]]:
    """Run `jobs`, calling `lose()` once 20 verdicts are in; every (id, verdict) yielded."""
    got: list[tuple[int, Any]] = []
    with executor:
        for item in executor.run(iter(jobs)):
            got.append(item)
            if len(got) == 20:
                lose()
    return got


def test_a_killed_actor_costs_only_its_unfinished_samples(
    cluster: Any, humaneval: Benchmark
) -> None:
    import ray

    jobs = slow_jobs(humaneval, 160)
    said: list[str] = []
    executor = RayExecutor.start(
        address=cluster.address, workers=1, limits=LIMITS, sandbox="auto", on_notice=said.append
    )
    victim = executor.nodes[1]
    owned: list[int] = []

    def kill() -> None:
        owned.extend(victim.outstanding)
        ray.kill(victim.handle)

    got = run_and_lose(executor, jobs, kill)
    ids = [job_id for job_id, _ in got]
    assert sorted(ids) == list(range(len(jobs)))  # every sample once: none lost, none twice
    assert all(verdict.passed for _, verdict in got)
    assert owned, "the killed actor owned no samples: the test shows nothing"
    assert len(executor.lost) == 1 and victim.name in executor.lost[0]
    assert any(f"lost {victim.name}" in line for line in said)


def test_a_lost_node_costs_only_its_unfinished_samples(cluster: Any, humaneval: Benchmark) -> None:
    node = cluster.add_node(num_cpus=1, temp_dir=cluster.head_node.get_temp_dir_path())
    try:
        executor = RayExecutor.start(
            address=cluster.address, workers=1, limits=LIMITS, sandbox="auto"
        )
        assert len(executor.nodes) == 3
        got = run_and_lose(
            executor, slow_jobs(humaneval, 160), lambda: cluster.remove_node(node, False)
        )
    finally:
        if node in cluster.worker_nodes:
            cluster.remove_node(node)
    assert sorted(job_id for job_id, _ in got) == list(range(160))
    assert all(verdict.passed for _, verdict in got)
    assert [line.split(":")[0] for line in executor.lost] == [
        f"Ray node {n.ip} ({n.node_id[:8]})" for n in executor.nodes if n.node_id == node.node_id
    ]


# ---------------------------------------------------------------- a killed driver, resumed


def test_a_killed_driver_resumes_without_running_a_finished_sample_again(
    cluster: Any, humaneval: Benchmark, tmp_path: Path
) -> None:
    from test_resume import JOURNAL, check_complete, journal_rows, write_samples

    samples = write_samples(tmp_path, humaneval, 120, sleep_every=1, sleep_s=0.1)
    command = [sys.executable, "-m", "passk", "evaluate", "samples.jsonl", "--no-progress"]
    command += ["--ray-address", cluster.address, "--timeout", "2"]
    driver = subprocess.Popen(command, cwd=tmp_path, stdin=subprocess.DEVNULL, text=True)
    journal = tmp_path / JOURNAL
    try:
        deadline = time.monotonic() + 120
        while not (journal.exists() and journal.read_bytes().count(b"\n") >= 31):
            assert driver.poll() is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "no verdicts in the journal"
            time.sleep(0.01)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    done = {(r["task_id"], r["completion_id"]): r for r in journal_rows(journal)[1:]}
    assert 30 <= len(done) < 120
    options = on_ray(cluster)
    evaluate(tmp_path / "samples.jsonl", k=[1], execution=options, resume=True)
    rows = check_complete(tmp_path, samples)
    kept = {(r["task_id"], r["completion_id"]): r for r in rows}
    assert all(kept[key] == row for key, row in done.items())  # nonces too: none ran again


# ---------------------------------------------------------------- bad input


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_address_is_one_line_before_anything_runs(
    samples: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    port = free_port()
    out = tmp_path / "results.jsonl"
    started = time.monotonic()
    code = main(["evaluate", str(samples), "--ray-address", f"127.0.0.1:{port}", "--out", str(out)])
    assert code == 1 and time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert err == (
        f"passk: error: no Ray cluster answers at 127.0.0.1:{port} (Connection refused); start "
        "one there with `ray start --head`, or give its address with --ray-address\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--ray-address", "headnode"],
            "--ray-address must be HOST:PORT, ray://HOST:PORT, auto or local, got 'headnode'",
        ),
        (
            ["--executor", "local", "--ray-address", "127.0.0.1:6379"],
            "--ray-address is for --executor ray",
        ),
    ],
)
def test_bad_executor_flags(
    flags: list[str], message: str, samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(samples), *flags]) == 2
    assert capsys.readouterr().err == f"passk: error: {message}\n"


@contextlib.contextmanager
def extra_node(cluster: Any, **environment: str) -> Iterator[Any]:
    """One more node whose processes run with `environment` changed."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in environment.items():
            env.setenv(name, value)
        node = cluster.add_node(num_cpus=1, temp_dir=cluster.head_node.get_temp_dir_path())
    try:
        yield node
    finally:
        cluster.remove_node(node)


def test_a_node_without_the_sandbox_stops_the_run_before_any_sample(
    cluster: Any, samples: Path, tmp_path: Path
) -> None:
    if shutil.which("runsc") is None:
        pytest.skip("runsc is not installed: no node here has gVisor")
    out = tmp_path / "results.jsonl"
    with (
        extra_node(cluster, PATH="/usr/local/sbin") as node,  # where there is no runsc
        pytest.raises(SandboxUnavailable) as caught,
    ):
        evaluate(samples, execution=on_ray(cluster, sandbox="gvisor"), out=out)
    message = str(caught.value)
    assert message.startswith(f"Ray node {node.node_ip_address} ({node.node_id[:8]}): ")
    assert message.endswith(
        "--sandbox gvisor is not available here: runsc is not installed (apt-get install runsc)"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_node_with_other_execution_code_stops_the_run_before_any_sample(
    cluster: Any, samples: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other-src"
    shutil.copytree(SRC / "passk", other / "passk")
    with (other / "passk" / "execution" / "worker.py").open("a") as f:
        f.write("\n# a change on one node only\n")
    out = tmp_path / "results.jsonl"
    with (
        extra_node(cluster, PYTHONPATH=str(other)) as node,
        pytest.raises(ExecutionError) as caught,
    ):
        evaluate(samples, execution=on_ray(cluster), out=out)
    message = str(caught.value)
    assert message.startswith(
        f"Ray node {node.node_ip_address} ({node.node_id[:8]}) runs other software than this "
        "driver (passk execution code "
    )
    assert message.endswith(": install the same versions on every node")
    assert not out.exists()


# ---------------------------------------------------------------- sampling: Ray Serve endpoints


def passk_server(model: str) -> Any:
    """The ASGI app of `passk serve` over a local model; Ray Serve builds it in each replica."""
    from passk.generation.local import LocalBackend
    from passk.generation.server import create_app

    return create_app(LocalBackend(model, device="cpu", batch_size=8))


def test_a_ray_serve_deployment_is_an_openai_endpoint_to_passk(
    cluster: Any, tmp_path: Path
) -> None:
    """Two Ray Serve applications of a tiny model, on 127.0.0.1: passk's HTTP backend samples
    each as it samples any OpenAI-compatible server, and gets the local model's samples."""
    serve = pytest.importorskip("ray.serve", reason="Ray Serve is not installed (ray[serve])")
    tiny_model = pytest.importorskip("tiny_model", reason="tests/tiny_model.py is not there")
    local_module = pytest.importorskip("passk.generation.local")
    import ray
    from ray import cloudpickle

    from passk.generation.openai_backend import OpenAIBackend
    from passk.generation.types import SampleRequest, SamplingParams, sample_seed

    model = str(tiny_model.make_tiny_model(tmp_path / "tiny-llama"))
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=16, stop=("\n",))
    prompts = ["def add(a, b):\n", "import math\n"]
    requests = [
        SampleRequest(f"T/{p}", i, prompt, sample_seed(5, f"T/{p}", i))
        for p, prompt in enumerate(prompts)
        for i in range(2)
    ]
    backend = local_module.LocalBackend(model, device="cpu", batch_size=8)
    try:
        direct = {r: (c.text, c.finish_reason) for r, c in backend.generate(requests, params)}
    finally:
        backend.close()
    port = free_port()
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the builder, into replicas
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})

        def build() -> Any:  # a function: Serve calls it in each replica for the app
            return passk_server(model)

        app = serve.deployment(ray_actor_options={"num_cpus": 0})(serve.ingress(build)())
        for name in ("a", "b"):
            serve.run(app.bind(), name=name, route_prefix=f"/{name}")
        for name in ("a", "b"):
            remote = OpenAIBackend(
                f"http://127.0.0.1:{port}/{name}/v1", timeout_s=60, max_retries=0
            )
            try:
                got = {r: (c.text, c.finish_reason) for r, c in remote.generate(requests, params)}
            finally:
                remote.close()
            assert got == direct
    finally:
        serve.shutdown()
        ray.shutdown()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
