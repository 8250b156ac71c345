# ruff: noqa
# Attack: change the file system view: mount a tmpfs over the work directory and over /etc,
#   remount / read-write, bind-mount, chroot, pivot_root, open_tree/move_mount, umount the
#   masks over /root and /home.
# Must hold: all refused (no "LEAK:" line); host files unchanged; it fails.
# Needs: probe (run as root outside a mount namespace, these would change the host)
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT, MS_BIND = 32, 4096
for what, call in (
    ("mount tmpfs .", lambda: libc.mount(b"none", b".", b"tmpfs", 0, None)),
    ("mount tmpfs /etc", lambda: libc.mount(b"none", b"/etc", b"tmpfs", 0, None)),
    ("remount / rw", lambda: libc.mount(None, b"/", None, MS_REMOUNT, None)),
    ("bind /etc", lambda: libc.mount(b"/etc", b".", None, MS_BIND, None)),
    ("umount /root", lambda: libc.umount2(b"/root", 2)),
    ("umount /home", lambda: libc.umount2(b"/home", 2)),
    ("umount /tmp", lambda: libc.umount2(b"/tmp", 2)),
    ("chroot", lambda: libc.chroot(b".")),
    ("pivot_root", lambda: libc.syscall(155, b".", b".")),
    ("open_tree", lambda: libc.syscall(428, -100, b"/etc", 1) < 0 and -1),
    ("fsopen", lambda: libc.syscall(430, b"tmpfs", 0) < 0 and -1),
):
    rc = call()
    print(what, rc, ctypes.get_errno())
    if rc == 0:
        print(f"LEAK: {what}")
raise AssertionError("attack finished")
