# ruff: noqa
# Attack: change the host sentinels' metadata: chmod (0777 and 0), chown to the sample's
#   uid, set and remove extended attributes, through posix and libc.
# Must hold: every sentinel's mode, owner and content are unchanged.
import ctypes
import posix

libc = ctypes.CDLL(None, use_errno=True)
for d in "__SENTINEL_DIRS__".split(":"):
    try:
        names = posix.listdir(d)
    except OSError:
        continue
    for name in [*names, ""]:
        path = f"{d}/{name}" if name else d
        for what, call in (
            ("chmod 777", lambda: posix.chmod(path, 0o777)),
            ("chmod 0", lambda: posix.chmod(path, 0)),
            ("chown", lambda: posix.chown(path, posix.getuid(), posix.getgid())),
            ("lchown", lambda: posix.lchown(path, 0, 0)),
            ("setxattr", lambda: posix.setxattr(path, b"user.__MARK__", b"1")),
        ):
            try:
                call()
                print(f"LEAK: {what} {path}")
            except OSError as e:
                print(what, path, e.strerror)
        if libc.chmod(path.encode(), 0o4777) == 0:
            print(f"LEAK: libc chmod {path}")
raise AssertionError("attack finished")
