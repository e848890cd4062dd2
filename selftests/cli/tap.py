# SPDX-License-Identifier: MIT
"""What the CLI tests share: one TAP line per check (a failure shows its detail, the last 40
lines: where ferry says what failed), the images of a directory to compare before and after
an operation, a child reaped within a time, and whether a process is gone for good (not even a
zombie).

    from tap import check, results, reap, tree_hash, gone, refuse_hostile, finish
    from tap import until, state, reaped, counter_ok
"""
import os
import re
import signal
import shutil
import subprocess
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


def until(cond, seconds=10):
    """cond() turns true within seconds."""
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def state(pid):
    """The state letter of /proc/PID/stat ("R", "S", "T", "t", "Z"...), "-" when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0]
    except FileNotFoundError:
        return "-"


def reaped(*ps, seconds=10):
    """Every one of ps is gone, our zombies among them reaped (we are their subreaper)."""
    def done():
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        return all(not os.path.exists("/proc/%d" % p) for p in ps)
    return until(done, seconds)


def counter_ok(pid, log):
    """SIGUSR1: the demo's counter re-checks its 64 MiB buffer and logs the verdict (15 s)."""
    def verdicts():
        return re.findall(r"^checksum (ok|MISMATCH)", open(log).read(), re.M)
    n = len(verdicts())
    os.kill(pid, signal.SIGUSR1)
    until(lambda: len(verdicts()) > n, 15)
    v = verdicts()
    return len(v) > n and v[-1] == "ok"


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


def refuse_hostile(ferry, img, work, cases, pid, fmt):
    """Each (what, mutate, fname) of cases on a copy of img: the restore must fail naming
    fname, leave nothing of task pid running and the images as they were. fmt names the
    check from what and fname."""
    for what, mutate, fname in cases:
        bad = os.path.join(work, "bad-" + what.replace(" ", "-"))
        shutil.copytree(img, bad)
        mutate(bad)
        snap = tree_hash(bad)
        res = subprocess.run([ferry, "restore", "-D", bad, "-d"], capture_output=True,
                             text=True)
        check(fmt % (what, fname),
              res.returncode == 1 and fname in res.stderr and gone(pid), res.stderr)
        check("... and leaves those images unchanged", tree_hash(bad) == snap)


def finish():
    """The summary line and the exit status of the test."""
    failed = results.count(False)
    print("%d passed, %d failed, 0 skipped" % (len(results) - failed, failed))
    sys.exit(1 if failed else 0)
