# ruff: noqa
# Attack: read the host kernel's secrets and logs: /dev/kmsg, syslog(2), /proc/kallsyms
#   addresses, /proc/kcore, /sys/kernel/debug, /proc/sys/kernel/random/boot_id... and print them.
# Must hold: none readable (no "LEAK:" line); it fails.
import ctypes

for path, size in (
    ("/dev/kmsg", 4096),
    ("/proc/kcore", 64),
    ("/dev/mem", 64),
    ("/dev/port", 1),
    ("/sys/kernel/debug/tracing/trace", 256),
    ("/proc/kmsg", 64),
):
    try:
        with open(path, "rb") as f:
            print(f"LEAK: {path}", f.read(size)[:200])
    except OSError as e:
        print(path, e.strerror)
try:
    with open("/proc/kallsyms") as f:
        addrs = [line.split()[0] for line, _ in zip(f, range(50))]
    if any(a.strip("0") for a in addrs):
        print("LEAK: kallsyms addresses")
except OSError as e:
    print("kallsyms", e.strerror)
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(4096)
rc = libc.klogctl(3, buf, 4096)
print("syslog", rc, ctypes.get_errno())
if rc > 0:
    print("LEAK: syslog", buf.raw[:200])
raise AssertionError("attack finished")
