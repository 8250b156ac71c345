# ruff: noqa
# Attack: leave state behind for the next sample: files in /tmp, /tmp/passk (the work
#   directories' parent), /dev/shm, /var/tmp and the home directory; SysV shared memory
#   (16 MB, touched), a SysV message queue and semaphore set, a POSIX message queue; all
#   named or keyed after the run's mark, all world-readable.
# Must hold: nothing appears on the host; the next sample finds nothing (a separate test runs
#   the next sample on the same worker and checks each channel).
import ctypes
import posix
import zlib

KEY = zlib.crc32(b"__MARK__") & 0x7FFFFFFF
for d in ("/tmp", "/tmp/passk", "/dev/shm", "/var/tmp", "/root", "/home", ".."):
    try:
        with open(f"{d}/__MARK__-left", "w") as f:
            f.write("left behind")
        posix.chmod(f"{d}/__MARK__-left", 0o666)
        print(f"LEAK: file in {d}")
    except OSError as e:
        print(d, e.strerror)
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shm = libc.shmget(KEY, 16 << 20, 0o1666)
if shm >= 0:
    addr = libc.shmat(shm, None, 0)
    if addr not in (None, 2**64 - 1):
        ctypes.memset(addr, 0x41, 16 << 20)
        libc.shmdt(ctypes.c_void_p(addr))


class Msg(ctypes.Structure):
    _fields_ = [("type", ctypes.c_long), ("text", ctypes.c_char * 16)]


msq = libc.msgget(KEY, 0o1666)
if msq >= 0:
    libc.msgsnd(msq, ctypes.byref(Msg(1, b"left behind")), 16, 0)
sem = libc.semget(KEY, 1, 0o1666)
mq = libc.mq_open(b"/__MARK__", posix.O_CREAT | posix.O_RDWR, 0o666, None)
print("shm", shm, "msg", msq, "sem", sem, "mq", mq)
raise AssertionError("attack finished")
