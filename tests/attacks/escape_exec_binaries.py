# ruff: noqa
# Attack: run programs around the guard (subprocess.Popen and os.system are None):
#   _posixsubprocess.fork_exec, os.posix_spawn and posix.execv, starting /bin/sh to write
#   files with the run's mark on the host, and `python -c` without the guard.
# Must hold: the programs run only inside the sandbox: no file with the mark appears on the
#   host; the sample fails.
# Needs: probe (written as root without a read-only root, these would change the host)
import os
import posix

script = (
    "for d in /tmp /var/tmp /dev/shm /work/main /etc /usr; do "
    "echo x > $d/__MARK__-sh && echo LEAK: sh wrote $d; done; id"
)
r, w = posix.pipe()
actions = [(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_DUP2, w, 2)]
try:
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", script], {}, file_actions=actions)
    posix.waitpid(pid, 0)
except OSError as e:
    print("posix_spawn", e)
try:
    import sys

    pid = os.posix_spawn(
        sys.executable,
        [
            sys.executable,
            "-c",
            "import os; os.system('echo hi > /var/tmp/__MARK__-py'); print(os.getuid())",
        ],
        {},
        file_actions=actions,
    )
    posix.waitpid(pid, 0)
except OSError as e:
    print("posix_spawn python", e)
posix.close(w)
print(posix.read(r, 65536).decode(errors="replace"))
import _posixsubprocess

try:
    pid = _posixsubprocess.fork_exec(
        [b"/bin/sh", b"-c", script.encode()],
        [b"/bin/sh"],
        False,
        (),
        None,
        None,
        -1,
        -1,
        -1,
        -1,
        -1,
        -1,
        *(posix.pipe()),
        False,
        False,
        -1,
        None,
        None,
        None,
        -1,
        None,
        False,
    )
    posix.waitpid(pid, 0)
except (OSError, TypeError) as e:
    print("fork_exec", e)
pid = posix.fork()
if pid == 0:
    try:
        posix.execv("/bin/sh", ["sh", "-c", script])
    finally:
        posix._exit(127)
posix.waitpid(pid, 0)
raise AssertionError("attack finished")
