# ruff: noqa
# Attack: one 5 MB line without a newline on stdout, then an exception with a 5 MB message.
# Must hold: output and message are capped; the verdict comes back; it fails.
import posix

posix.write(1, b"L" * (5 << 20))
raise AssertionError("M" * (5 << 20))
