# ruff: noqa
# Attack: read two host files the test planted: one readable only by root in a directory the
#   sandbox shows (/var/tmp/...), one world-readable under a masked home (/home/...); also
#   through /proc/self/root, /proc/1/root and relative to an O_PATH descriptor.
# Must hold: neither file's secret content appears in the output.
import posix

for path in ("__ROOT_SECRET__", "__HOME_SECRET__"):
    for variant in (
        path,
        f"/proc/self/root{path}",
        f"/proc/1/root{path}",
        f"/proc/{posix.getppid()}/root{path}",
    ):
        try:
            with open(variant) as f:
                print(f"LEAK: {variant}:", f.read())
        except OSError as e:
            print(variant, e.strerror)
    try:
        d, name = path.rsplit("/", 1)
        fd = posix.open(d, posix.O_PATH)
        print("stat", posix.stat(name, dir_fd=fd))
        with open(posix.open(name, posix.O_RDONLY, dir_fd=fd)) as f:
            print("LEAK: via dir_fd:", f.read())
    except OSError as e:
        print("dir_fd", path, e.strerror)
raise AssertionError("attack finished")
