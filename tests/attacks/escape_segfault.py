# ruff: noqa
# Attack: crash with a segmentation fault (read address 0 through ctypes), then a write to a
#   wild address, in case the first is caught.
# Must hold: the sample fails as killed by a signal; the worker is not replaced; no core
#   file appears; the pool answers the next sample.
import ctypes

ctypes.string_at(0)
ctypes.memmove(8, b"x", 1)
raise AssertionError("attack finished: no crash")
