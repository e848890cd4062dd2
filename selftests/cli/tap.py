# SPDX-License-Identifier: MIT
"""What the CLI tests share: one TAP line per check (a failure shows its detail, the last 40
lines: where ferry says what failed), the images of a directory to compare before and after
an operation, a child reaped within a time, and whether a process is gone for good (not even a
zombie).

    from tap import check, results, reap, tree_hash, gone
"""
import os
import sys
import time

results = []


def check(name, cond, detail=""):
    cond = bool(cond)
    results.append(cond)
    print(("ok" if cond else "not ok") + " %d %s" % (len(results), name))
    if not cond and detail:
        for line in str(detail).splitlines()[-40:]:
            print("#   " + line)
    sys.stdout.flush()
    return cond


def reap(pid, seconds=10):
    """Our child pid exited and is reaped within seconds (or was not ours and is gone)."""
    end = time.time() + seconds
    while time.time() < end:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            return not os.path.exists("/proc/%d" % pid)
        time.sleep(0.05)
    return False


def tree_hash(d):
    """(name, hash of its bytes) of every file in d, sorted."""
    out = []
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out.append((name, hash(f.read())))
    return out


def gone(pid):
    """pid is no process at all within 5 s; a zombie still holding it is not gone."""
    for _ in range(50):
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ")[1][0] == "Z":
                    return False
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False
