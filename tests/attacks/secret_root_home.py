# ruff: noqa
# Attack: read users' homes: list /root and /home recursively (a few levels), print names and
#   the start of every readable file (ssh keys, tokens, histories, cloud credentials).
# Must hold: the masks hide the host's homes: none of the host's /root entries (other than the
#   interpreter's path, which is exposed read-only) and no canary file planted by the test
#   under /home appears in the output.
import posix


def walk(path, depth):
    try:
        names = posix.listdir(path)
    except OSError as e:
        print("listdir", path, e.strerror)
        return
    for name in names:
        full = f"{path}/{name}"
        print("found", full)
        if depth < 3 and name not in ("versions",):
            walk(full, depth + 1)
        try:
            with open(full, "rb") as f:
                print("read", full, f.read(200))
        except OSError:
            pass


walk("/root", 0)
walk("/home", 0)
raise AssertionError("attack finished")
