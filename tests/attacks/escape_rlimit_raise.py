# ruff: noqa
# Attack: lift the resource limits back: resource.setrlimit (after undoing the guard's block
#   on `import resource`), prlimit64 on itself and on its parent, then use the room.
# Must hold: the hard limits stay; the sample still ends by the CPU limit ("timed out").
import ctypes
import sys

sys.modules.pop("resource", None)
import resource

for which in (
    "RLIMIT_CPU",
    "RLIMIT_AS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_FSIZE",
    "RLIMIT_CORE",
):
    r = getattr(resource, which)
    try:
        resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print(f"LEAK: lifted {which}")
    except (ValueError, OSError) as e:
        print(which, e)
    try:
        soft, hard = resource.getrlimit(r)
        resource.setrlimit(r, (hard, hard))
    except (ValueError, OSError):
        pass

libc = ctypes.CDLL(None, use_errno=True)


class Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_uint64), ("max", ctypes.c_uint64)]


inf = Rlimit(2**64 - 1, 2**64 - 1)
for pid in (0, __import__("posix").getppid()):
    for r in (0, 9):  # RLIMIT_CPU, RLIMIT_AS
        rc = libc.prlimit(pid, r, ctypes.byref(inf), None)
        print("prlimit", pid, r, "LEAK: lifted" if rc == 0 else ctypes.get_errno())
while True:
    pass
