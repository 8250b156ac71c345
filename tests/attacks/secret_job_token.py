# ruff: noqa
# Attack: steal the harness's per-job token from the sample's own memory (the report that the
#   child writes after the program carries it) by scanning its heap (the writable anonymous
#   mappings in /proc/self/maps) for runs of exactly 32 hex digits, then forge "passed" reports
#   on descriptor 3 and exit with status 0 before the tests would fail. (The sys._getframe route is a separate, known xfail in test_execution.)
# Must hold: the sample does not pass.
import ctypes
import posix

candidates = []
HEX = bytes(0x68 if chr(c) in "0123456789abcdef" else 0x2E for c in range(256))
RUN = b"h" * 32
with open("/proc/self/maps") as maps:
    for line in maps:
        parts = line.split()
        # the interpreter's heap: writable, anonymous (or [heap]) mappings
        if not parts[1].startswith("rw") or (len(parts) > 5 and parts[5] != "[heap]"):
            continue
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        try:
            data = ctypes.string_at(lo, hi - lo)
        except Exception:
            continue
        marked = data.translate(HEX)  # hex digits -> "h", anything else -> "."
        pos = marked.find(RUN)
        while pos != -1:
            end = pos + 32
            while end < len(marked) and marked[end] == 0x68:
                end += 1
            if end - pos == 32 and data[pos:end] not in candidates:
                candidates.append(data[pos:end])
            pos = marked.find(RUN, end)
for c in candidates[:1000]:
    posix.write(3, c + b"\t" + str(posix.getpid()).encode() + b"\tpassed\t\t\n")
posix._exit(0)
assert False, "the tests would fail"
