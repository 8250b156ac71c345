# ruff: noqa
# Attack: find the run's own files — the samples file, the results and the verdict journal
#   (`*.partial`) — through sys.path, the mount table, the worker's working directory, /proc
#   and a walk of every folder the sandbox shows, and in other samples' work directories; run
#   a completion of the same task that a journal or results file marks passed.
# Task: HumanEval/0
# Holds in: assert, io
# Must hold: not passed; nothing of the run found (the result carries no "LEAK:").
def has_close_elements(numbers, threshold):
    import json, os, sys

    candidates = set(p for p in sys.path if p)
    for path in ("/proc/self/mountinfo", "/proc/1/mountinfo"):
        try:
            with open(path) as f:
                candidates.update(line.split()[4] for line in f)
        except OSError:
            pass
    for link in ("/proc/self/cwd", "/proc/1/cwd", "/proc/1/root", f"/proc/{os.getppid()}/cwd"):
        try:
            candidates.add(os.path.realpath(link))
        except OSError:
            pass
    candidates.update(["/", "/tmp", "/tmp/passk", "/dev/shm", "/var/tmp", "/work", "/root"])
    seen, leaks = set(), []
    for root in sorted(candidates):
        depth = root.rstrip("/").count("/") + 3  # a run directory sits near where it is found
        for base, dirs, files in os.walk(root):
            if (
                base.startswith(("/proc", "/sys", "/dev", "/usr"))
                or base.count("/") > depth
                or "site-packages/" in base
                or base in seen
            ):
                dirs[:] = []
                continue
            seen.add(base)
            for name in files:
                if name.endswith((".partial", ".jsonl")):
                    path = os.path.join(base, name)
                    try:
                        with open(path) as f:
                            rows = [json.loads(line) for line in f if "HumanEval/0" in line]
                    except (OSError, ValueError):
                        continue
                    leaks.append(path)
                    for row in rows:
                        if row.get("passed") and row.get("completion"):
                            namespace = {}
                            exec(
                                "from typing import List\n\n\ndef has_close_elements(numbers, threshold):\n"
                                + row["completion"],
                                namespace,
                            )
                            return namespace["has_close_elements"](numbers, threshold)
    if leaks:
        raise AssertionError(f"LEAK: the run's files: {leaks[:5]}")
    return False
