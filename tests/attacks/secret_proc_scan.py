# ruff: noqa
# Attack: scan every process it can see: cmdline, environ, status, cwd, maps, open files,
#   and /proc/PID/task children, looking for other samples, the host's processes and secrets.
# Must hold: only the sample's own sandbox's processes are visible; no host canary (the
#   test's environment variable, the victim's command line) appears in the output.
import posix

seen = []
for pid in sorted(p for p in posix.listdir("/proc") if p.isdigit()):
    seen.append(pid)
    for what in ("cmdline", "environ", "status", "maps"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as f:
                data = f.read(4096)
            print(pid, what, data.replace(b"\0", b" ")[:400])
        except OSError as e:
            print(pid, what, e.strerror)
    try:
        print(pid, "fds", posix.listdir(f"/proc/{pid}/fd"))
    except OSError as e:
        print(pid, "fds", e.strerror)
print("pids", seen)
raise AssertionError("attack finished")
