# ruff: noqa
# Attack: flood stdout and stderr with 512 MB, straight to the descriptors (posix.write)
#   and through print.
# Must hold: the output is capped (max_output_kb), the sample ends by the CPU or wall limit,
#   the worker keeps draining and answers the next sample.
import posix

block = b"A" * (1 << 20)
for i in range(512):
    posix.write(1 + i % 2, block)
    print("B" * 1000)
raise AssertionError("attack finished")
