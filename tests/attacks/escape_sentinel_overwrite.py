# ruff: noqa
# Attack: change the contents or times of the host's sentinel files: open for writing,
#   appending, truncation, O_TRUNC, utime, a hard link, writes through /proc/self/fd.
# Must hold: every sentinel's content, size, mode, owner and mtime are unchanged.
import posix

for d in "__SENTINEL_DIRS__".split(":"):
    try:
        names = posix.listdir(d)
    except OSError:
        continue
    for name in names:
        path = f"{d}/{name}"
        for what, call in (
            ("open w", lambda: open(path, "w").write("__MARK__")),
            ("open a", lambda: open(path, "a").write("__MARK__")),
            ("O_TRUNC", lambda: posix.open(path, posix.O_WRONLY | posix.O_TRUNC)),
            ("truncate", lambda: posix.truncate(path, 0)),
            ("utime", lambda: posix.utime(path, (0, 0))),
            ("link", lambda: posix.link(path, "hardlink")),
        ):
            try:
                call()
                print(f"LEAK: {what} {path}")
            except OSError as e:
                print(what, path, e.strerror)
        try:
            fd = posix.open(path, posix.O_RDONLY)
            with open(f"/proc/self/fd/{fd}", "w") as f:
                f.write("__MARK__")
            print(f"LEAK: write via /proc/self/fd {path}")
        except OSError as e:
            print("reopen", path, e.strerror)
raise AssertionError("attack finished")
