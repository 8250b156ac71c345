# ruff: noqa
# Attack: write bytes that are not UTF-8 (lone continuation bytes, overlong forms, lone
#   surrogates through print), NULs and terminal escape sequences, to both stdout and stderr,
#   and an exception message full of them.
# Must hold: the verdict comes back (a clean string output and message); it fails.
import posix

posix.write(1, b"\xff\xfe\x80\xc0\xaf\xed\xa0\x80 \x00\x1b[2J\x1b]0;pwned\x07\n")
posix.write(2, b"\xf8\x88\x80\x80\x80\x00" * 100)
print("\ud800 lone surrogate \udfff")
raise AssertionError("attack finished \ud800\x00\x1b[31m\t\n" + "\udcff" * 10)
