# ruff: noqa
# Attack: unbounded Python recursion.
# Must hold: RecursionError makes it fail; the worker answers the next sample.
def f(n):
    return f(n + 1) + 1


f(0)
