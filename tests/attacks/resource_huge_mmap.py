# ruff: noqa
# Attack: huge mappings: 1 TB anonymous (plain, and MAP_NORESERVE through libc), a file
#   mapping past RLIMIT_FSIZE, and mlock of what was mapped.
# Must hold: RLIMIT_AS refuses them; nothing is pinned; the sample fails; the pool answers.
import ctypes
import mmap

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
]
for size in (1 << 40, 64 << 30, 8 << 30):
    try:
        m = mmap.mmap(-1, size)
        print(f"LEAK: mapped {size >> 30} GB")
        m.close()
    except (OSError, ValueError, OverflowError) as e:
        print("mmap", size >> 30, "GB:", e)
    addr = libc.mmap(
        None,
        size,
        mmap.PROT_READ | mmap.PROT_WRITE,
        mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000,
        -1,
        0,
    )
    print(
        "MAP_NORESERVE",
        size >> 30,
        "GB:",
        "refused" if addr in (None, 2**64 - 1) else "LEAK: mapped",
    )
with open("mapped", "wb+") as f:
    try:
        f.truncate(1 << 30)
        m = mmap.mmap(f.fileno(), 1 << 30)
        m[-1] = 1
        print("LEAK: 1 GB file mapping written")
    except (OSError, ValueError) as e:
        print("file mapping:", e)
print("mlockall:", libc.mlockall(3), ctypes.get_errno())
raise AssertionError("attack finished")
