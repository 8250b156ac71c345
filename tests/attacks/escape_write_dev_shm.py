# ruff: noqa
# Attack: write to /dev/shm, the host's shared-memory tmpfs (often world-writable and shared
#   by every process): a plain file, a POSIX shm_open object, a big file to eat the host's RAM
#   (16 MB, the file size limit).
# Must hold: nothing with the run's mark appears in the host's /dev/shm.
# Needs: probe (written as root without a read-only root, these would change the host)
import ctypes
import posix

try:
    with open("/dev/shm/__MARK__-file", "wb") as f:
        f.write(b"\x06" * ((16 << 20) - 1))
    print("LEAK: wrote /dev/shm/__MARK__-file")
except OSError as e:
    print("open:", e.strerror)
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.shm_open(b"/__MARK__-posix", posix.O_RDWR | posix.O_CREAT, 0o666)
print("shm_open:", "LEAK: created" if fd >= 0 else posix.strerror(ctypes.get_errno()))
raise AssertionError("attack finished")
