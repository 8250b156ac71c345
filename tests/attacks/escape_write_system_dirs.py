# ruff: noqa
# Attack: create files named after the run's mark in /work, the repository, /usr, /etc,
#   /var/tmp, /opt, /root, /home, /run, /, the interpreter's directories, by open(), mkdir,
#   symlink and mknod (FIFO).
# Must hold: no file or directory with the mark appears anywhere on the host.
# Needs: probe (written as root without a read-only root, these would change the host)
import posix
import sys

dirs = [
    "/work",
    "/work/main",
    "/work/main/src",
    "/usr",
    "/usr/local/bin",
    "/etc",
    "/var/tmp",
    "/opt",
    "/root",
    "/home",
    "/run",
    "/",
    "/var/log",
    "/srv",
    sys.prefix,
    sys.base_prefix,
]
dirs += [p for p in sys.path if p]
for d in dirs:
    for what, call in (
        ("open", lambda: open(f"{d}/__MARK__-file", "w").write("x")),
        ("mkdir", lambda: posix.mkdir(f"{d}/__MARK__-dir")),
        ("symlink", lambda: posix.symlink("/etc/passwd", f"{d}/__MARK__-link")),
        ("mkfifo", lambda: posix.mkfifo(f"{d}/__MARK__-fifo")),
    ):
        try:
            call()
            print(f"LEAK: {what} in {d}")
        except OSError as e:
            print(what, d, e.strerror)
raise AssertionError("attack finished")
