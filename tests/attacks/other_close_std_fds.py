# ruff: noqa
# Attack: close the output descriptors 1 and 2 (and put a file in their place), then write and
#   fail; also close the report descriptor 3 and reopen something else on it.
# Must hold: the verdict comes back, not passed; the pool answers the next sample.
import posix

posix.close(1)
posix.close(2)
fd = posix.open("replacement", posix.O_WRONLY | posix.O_CREAT)  # takes descriptor 1
print("into the file")
posix.close(3)
posix.open("/dev/null", posix.O_WRONLY)  # takes descriptor 2
posix.open("/dev/null", posix.O_WRONLY)  # takes descriptor 3
raise AssertionError("attack finished")
