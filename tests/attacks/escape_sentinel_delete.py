# ruff: noqa
# Attack: delete the host's sentinel files and directories (placed by the test in a
#   world-writable directory outside the work directory): unlink, rename, rmdir, replace,
#   by path and relative to an open directory descriptor, through posix (the guard only
#   clears the os functions).
# Must hold: every sentinel is still there, unchanged, and its directory holds nothing new.
import posix

open("decoy", "w").write("__MARK__")
for d in "__SENTINEL_DIRS__".split(":"):
    try:
        names = posix.listdir(d)
    except OSError as e:
        print("listdir", d, e)
        continue
    for name in names:
        path = f"{d}/{name}"
        for what, call in (
            ("unlink", lambda: posix.unlink(path)),
            ("rename", lambda: posix.rename(path, path + ".__MARK__")),
            ("replace", lambda: posix.replace("decoy", path)),
            ("rmdir", lambda: posix.rmdir(path)),
            ("unlinkat", lambda: posix.unlink(name, dir_fd=posix.open(d, posix.O_RDONLY))),
        ):
            try:
                call()
                print(f"LEAK: {what} {path}")
            except OSError as e:
                print(what, path, e.strerror)
    try:
        posix.rmdir(d)
        print(f"LEAK: rmdir {d}")
    except OSError as e:
        print("rmdir", d, e.strerror)
raise AssertionError("attack finished")
