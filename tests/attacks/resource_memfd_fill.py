# ruff: noqa
# Attack: hold memory that no address-space limit counts: write it into memfd files (and keep
#   them open), 8 MB a file (under RLIMIT_FSIZE), up to 1 GB, reporting how much was held
#   before anything stopped it. RLIMIT_AS counts mappings, not file pages, so only a memory
#   cgroup bounds this.
# Must hold: the sample does not pass (with a cgroup its process is killed for memory:
#   "failed: MemoryError"); passk's own processes survive and the pool answers. (A separate
#   test runs it under a 256 MB limit and reads the cgroup's peak from the host.)
import posix

block = b"\x05" * (1 << 20)
held, files = 0, []
try:
    while held < 1024:
        fd = posix.memfd_create("fill")
        files.append(fd)
        for _ in range(8):
            posix.write(fd, block)
            held += 1
except OSError as e:
    print(f"stopped at {held} MB: {e}")
raise AssertionError(f"attack finished: held {held} MB in memfd files")
