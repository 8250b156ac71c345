# ruff: noqa
# Attack: overflow the C stack: lift the recursion limit and recurse in C code that has no
#   recursion check of its own (hash of a tuple nested a million deep).
# Must hold: the sample dies (SIGSEGV) or fails; the worker is not replaced and answers the
#   next sample.
import sys

sys.setrecursionlimit(10**8)
nested = ()
for _ in range(10**6):
    nested = (nested,)
hash(nested)
raise AssertionError("attack finished: hash survived")
