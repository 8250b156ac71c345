# ruff: noqa
# Attack: tamper with passk's own installed code, which the host runs: append to the worker
#   and the pool, truncate the package's __init__, drop a .pth file (run by every Python start)
#   and a sitecustomize.py into site-packages, overwrite the editable install's .pth.
# Must hold: every file of src/passk and the install hashes as before; no file with the run's
#   mark appears; it fails.
# Needs: probe (written as root without a read-only root, these would change the host)
import glob
import posix
import sys

import passk

root = passk.__path__[0]
targets = [
    f"{root}/__init__.py",
    f"{root}/execution/worker.py",
    f"{root}/execution/pool.py",
    f"{root}/execution/sandbox.py",
    "__PASSK_SRC__/passk/errors.py",
]
for path in targets:
    for what, call in (
        ("append", lambda: open(path, "a").write("\n# __MARK__\n")),
        ("truncate", lambda: posix.truncate(path, 0)),
        ("chmod", lambda: posix.chmod(path, 0o666)),
        ("rename", lambda: posix.rename(path, path + ".__MARK__")),
    ):
        try:
            call()
            print(f"LEAK: {what} {path}")
        except OSError as e:
            print(what, path, e.strerror)
site = [p for p in sys.path if p.endswith("site-packages")]
for d in site:
    for name, text in (
        ("__MARK__.pth", "import os; os.system('touch /tmp/__MARK__')\n"),
        ("sitecustomize.py", "# __MARK__\n"),
    ):
        try:
            with open(f"{d}/{name}", "x") as f:
                f.write(text)
            print(f"LEAK: wrote {d}/{name}")
        except OSError as e:
            print(d, name, e.strerror)
    for pth in glob.glob(f"{d}/__editable__*passk*.pth"):
        try:
            open(pth, "a").write("\n# __MARK__\n")
            print(f"LEAK: appended to {pth}")
        except OSError as e:
            print(pth, e.strerror)
for pyc in glob.glob(f"{root}/**/__pycache__", recursive=True):
    try:
        open(f"{pyc}/__MARK__.pyc", "wb").write(b"x")
        print(f"LEAK: wrote in {pyc}")
    except OSError as e:
        print(pyc, e.strerror)
raise AssertionError("attack finished")
