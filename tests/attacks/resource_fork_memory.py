# ruff: noqa
# Attack: spread memory over processes. Each of 4 children allocates and touches 100 MB and
#   holds it; RLIMIT_AS limits each process, not the sample. Children always leave with
#   posix._exit, so none can fall through to a report.
# Must hold: the sample does not pass; its children die with it; the pool answers. (A
#   separate test runs this under max_memory_mb=256 to show the total is not capped.)
import posix
import time

CHILDREN, MB = 4, 100
r, w = posix.pipe()
pids = []
for _ in range(CHILDREN):
    pid = posix.fork()
    if pid == 0:
        try:
            block = b"\x03" * (MB << 20)
            posix.write(w, b"1")
            time.sleep(30)
        finally:
            posix._exit(0)
    pids.append(pid)
got = b""
deadline = time.monotonic() + 10
while len(got) < CHILDREN and time.monotonic() < deadline:
    got += posix.read(r, 16)
raise AssertionError(f"attack finished: held {len(got) * MB} MB in {len(got)} processes")
