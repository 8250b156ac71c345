# ruff: noqa
# Attack: find other samples' work directories and their files: list /tmp, /tmp/passk,
#   /dev/shm (where the pool's host-side root lives), walk /proc/*/cwd and /proc/*/root,
#   guess names.
# Must hold: it sees no work directory but its own (no "LEAK:" line); it fails.
import posix

mine = posix.getcwd()
print("cwd", mine)
for d in ("/tmp", "/tmp/passk", "/dev/shm", "/var/tmp", "/run/shm", ".."):
    try:
        names = posix.listdir(d)
    except OSError as e:
        print("listdir", d, e.strerror)
        continue
    print(d, names[:20])
    for name in names:
        path = f"{d}/{name}"
        # the work root, its entries, and the pools' roots on the host's /dev/shm (the test's
        # own planted directories are called passk-attacks-*, and are not work directories)
        if d in ("/tmp/passk", "..") or (
            name.startswith("passk-") and not name.startswith("passk-attacks-")
        ):
            try:
                inner = posix.listdir(path)
                if path.rstrip("/") != mine and not mine.startswith(path + "/"):
                    print(f"LEAK: listed {path}: {inner[:10]}")
            except OSError as e:
                print("listdir", path, e.strerror)
for pid in posix.listdir("/proc"):
    if pid.isdigit() and int(pid) != posix.getpid():
        for link in ("cwd", "root"):
            try:
                target = posix.readlink(f"/proc/{pid}/{link}")
                print(
                    f"LEAK: /proc/{pid}/{link} -> {target}",
                    posix.listdir(f"/proc/{pid}/{link}")[:5],
                )
            except OSError as e:
                print(pid, link, e.strerror)
raise AssertionError("attack finished")
