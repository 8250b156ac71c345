# ruff: noqa
# Attack: read what identifies the host and put it in the result: /etc/machine-id,
#   /etc/environment, /etc/hostname, the mount table (/proc/self/mountinfo, /proc/1/mountinfo),
#   the worker's environment (/proc/1/environ) and command line, and the cgroup paths.
# Must hold: none of the host's identifying content (the machine id, /etc/environment, mount
#   points the sandbox does not show) appears in the output or the result.
import posix

found = []
for path in (
    "/etc/machine-id",
    "/var/lib/dbus/machine-id",
    "/etc/environment",
    "/etc/hostname",
    "/proc/self/mountinfo",
    "/proc/1/mountinfo",
    "/proc/1/environ",
    "/proc/1/cmdline",
    "/proc/self/cgroup",
):
    try:
        with open(path, "rb") as f:
            text = f.read(20000).decode("utf-8", "replace").replace("\0", " ")
        found.append(f"{path}: {text}")
        print(f"{path}: {text}")
    except OSError as e:
        print(path, e.strerror)
raise AssertionError(" | ".join(found))
