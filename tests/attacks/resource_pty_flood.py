# ruff: noqa
# Attack: open pseudo-terminals until refused (at most 1,000) and hold them: the host's
#   kernel.pty.max is shared by every devpts instance that is not private.
# Must hold: the sample gets no more than its worker's own devpts allows, the host's count of
#   ptys does not grow past that, and the pool answers.
import posix

held = []
try:
    while len(held) < 1000:
        held.append(posix.open("/dev/ptmx", posix.O_RDWR | posix.O_NOCTTY))
except OSError as e:
    print(f"refused after {len(held)}: {e}")
raise AssertionError(f"attack finished: held {len(held)} ptys")
