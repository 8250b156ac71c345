# ruff: noqa
# Attack: thread bomb. Start sleeping threads until the system refuses, then keep trying.
# Must hold: RLIMIT_NPROC (it counts threads) caps it; the sample times out or fails; the
#   worker answers the next sample; no thread or process of the sample's uid survives.
# Needs: probe (uid, PID namespace, read-only root)
import threading
import time

started = 0
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
        started += 1
    except RuntimeError:
        pass  # keep trying, as fast as possible
raise AssertionError(f"attack finished: {started} threads")
