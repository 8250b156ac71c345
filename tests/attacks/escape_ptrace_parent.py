# ruff: noqa
# Attack: debug the worker: ptrace(PTRACE_ATTACH / PTRACE_SEIZE) on the parent and PID 1,
#   PTRACE_TRACEME, process_vm_readv of the parent, open /proc/PPID/mem, read its
#   /proc/PPID/environ and fd table.
# Must hold: all refused (no "LEAK:" line); the worker is not stopped or replaced; it fails.
import ctypes
import posix

libc = ctypes.CDLL(None, use_errno=True)
ppid = posix.getppid()
for pid in (ppid, 1):
    for name, req in (("ATTACH", 16), ("SEIZE", 0x4206)):
        rc = libc.ptrace(req, pid, None, None)
        print("ptrace", name, pid, rc, ctypes.get_errno())
        if rc == 0:
            print(f"LEAK: ptrace {name} {pid}")
            libc.ptrace(17, pid, None, None)  # PTRACE_DETACH


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


buf = ctypes.create_string_buffer(64)
local = Iovec(ctypes.cast(buf, ctypes.c_void_p), 64)
remote = Iovec(0x400000, 64)
rc = libc.process_vm_readv(ppid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
print("process_vm_readv", rc, ctypes.get_errno())
if rc > 0:
    print("LEAK: process_vm_readv")
for path in (
    f"/proc/{ppid}/mem",
    f"/proc/{ppid}/environ",
    f"/proc/{ppid}/fd",
    f"/proc/{ppid}/maps",
):
    try:
        if path.endswith("fd"):
            print(f"LEAK: {path}", posix.listdir(path))
        else:
            with open(path, "rb") as f:
                print(f"LEAK: {path}", f.read(200))
    except OSError as e:
        print(path, e.strerror)
rc = libc.ptrace(0, 0, None, None)  # PTRACE_TRACEME
print("TRACEME", rc, ctypes.get_errno())
raise AssertionError("attack finished")
