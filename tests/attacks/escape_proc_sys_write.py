# ruff: noqa
# Attack: reconfigure the kernel and the machine through /proc and /sys: sysrq-trigger,
#   core_pattern (a pipe to a program runs as root on the host), hostname, panic settings,
#   drop_caches, a cgroup's limits, /proc/self/oom_score_adj lowered, /proc/1/oom_score_adj.
# Must hold: nothing written (no "LEAK:" line); the host's core_pattern and hostname are
#   unchanged; it fails.
# Needs: probe (written as root, these would change the host)
import posix

writes = {
    "/proc/sysrq-trigger": "h",
    "/proc/sys/kernel/core_pattern": "|/bin/touch /tmp/__MARK__",
    "/proc/sys/kernel/hostname": "__MARK__",
    "/proc/sys/vm/drop_caches": "3",
    "/proc/self/oom_score_adj": "-1000",
    "/proc/1/oom_score_adj": "1000",
    "/sys/fs/cgroup/pids/pids.max": "1",
    "/sys/kernel/mm/transparent_hugepage/enabled": "always",
}
for path, value in writes.items():
    try:
        with open(path, "w") as f:
            f.write(value)
        print(f"LEAK: wrote {path}")
    except OSError as e:
        print(path, e.strerror)
raise AssertionError("attack finished")
