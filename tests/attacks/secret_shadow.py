# ruff: noqa
# Attack: read the host's password and privilege files: /etc/shadow, /etc/gshadow,
#   /etc/sudoers, sudoers.d, ssh host keys; print whatever could be read (the output is the
#   exfiltration channel: it goes into the results file).
# Must hold: none of them is readable (no "LEAK:" line) and no line of the host's /etc/shadow
#   appears in the output; it fails.
import glob

for path in [
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    *glob.glob("/etc/sudoers.d/*"),
    *glob.glob("/etc/ssh/ssh_host_*_key"),
    "/etc/shadow-",
    "/var/backups/shadow.bak",
]:
    try:
        with open(path) as f:
            print(f"LEAK: {path}:", f.read())
    except OSError as e:
        print(path, e.strerror)
raise AssertionError("attack finished")
