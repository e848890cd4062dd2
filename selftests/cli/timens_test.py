#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Clock continuity (--timens): a task watching CLOCK_MONOTONIC and CLOCK_BOOTTIME is dumped,
# left dead for a while, and restored. With a time namespace (--timens on, or auto when the
# images say another boot) its clocks never go backwards and the downtime does not show;
# without one (off, or auto on the same boot) the downtime shows as a jump, which proves the
# watcher can tell. A re-dump of a task living in such a namespace keeps its clocks too.
# Usage: timens_test.py FERRY CLOCKWATCH WORKDIR   (as root)
import ctypes, os, re, shutil, signal, subprocess, sys, time
from tap import check, results, reap

ferry, watcher, work = sys.argv[1:4]
DOWN = 4.0		# seconds between dump and restore (the hidden case allows half: a loaded dump is slow)


def ferry_run(*args):
    return subprocess.run([ferry, *args], capture_output=True, text=True)


def wait_for(path, text, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        try:
            with open(path) as f:
                if text in f.read():
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def result(out):
    """SIGTERM the watcher, reap it, return (max_step_ms, backwards) from its output."""
    os.kill(pid, signal.SIGTERM)
    reap(pid)
    with open(out) as f:
        m = re.search(r"max_step_ms=(\d+) backwards=(\d+)", f.read())
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def cycle(img, mode, fake_boot=False):
    """Dump pid into img, wait DOWN seconds, restore with --timens mode."""
    shutil.rmtree(img, ignore_errors=True)
    r = ferry_run("dump", "-t", str(pid), "-D", img, "-v4", "-o", "dump.log")
    if r.returncode:
        return r
    reap(pid)
    if fake_boot:	# images that say they come from another boot
        path = os.path.join(img, "timens-1.img")
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            boot_id = f.read().strip()
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data.replace(boot_id, b"0" * len(boot_id)))
    time.sleep(DOWN)
    args = ["restore", "-D", img, "-d", "-v4", "-o", "restore.log"]
    return ferry_run(*args, *(["--timens", mode] if mode else []))


def log(img):
    with open(os.path.join(img, "restore.log")) as f:
        return f.read()


def timens_of(p):
    return os.stat("/proc/%d/ns/time" % p).st_ino


libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)	# PR_SET_CHILD_SUBREAPER: restored tasks come back to us
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")
for name, mode, fake, hidden in (("--timens on", "on", False, True),
                                 ("--timens auto, images from another boot", None, True, True),
                                 ("--timens off", "off", False, False),
                                 ("--timens auto, images from this boot", "auto", False, False)):
    out = os.path.join(work, "watch-%d.out" % len(results))
    img = os.path.join(work, "img-%d" % len(results))
    task = subprocess.Popen([watcher], stdin=subprocess.DEVNULL, stdout=open(out, "w"),
                            stderr=subprocess.STDOUT, close_fds=True, start_new_session=True)
    pid = task.pid
    wait_for(out, "watching")
    time.sleep(0.3)
    r = cycle(img, mode, fake)
    check("%s: dump and restore" % name, r.returncode == 0, r.stderr)
    if r.returncode:
        os.kill(pid, signal.SIGKILL)
        continue
    time.sleep(0.3)
    in_ns = timens_of(pid) != timens_of(os.getpid())
    check("%s: %s" % (name, "restored in a new time namespace" if hidden else "no time namespace"),
          in_ns == hidden and ("new time namespace" in log(img)) == hidden, log(img))
    if hidden:	# dump it again from inside its namespace: its clocks go on still
        r = cycle(img + "-again", "on")
        check("%s: a re-dump from inside the namespace restores" % name, r.returncode == 0,
              r.stderr)
        time.sleep(0.3)
    step, back = result(out)
    if hidden:
        check("%s: the clocks never went backwards and the downtime is hidden" % name,
              back == 0 and step is not None and step < DOWN * 1000 / 2,
              "max step %s ms, %s steps backwards" % (step, back))
    else:
        check("%s: the downtime shows as a forward jump, never backwards" % name,
              back == 0 and step is not None and step >= DOWN * 1000 * 0.9,
              "max step %s ms, %s steps backwards" % (step, back))

r = ferry_run("restore", "-D", work, "--timens", "sometimes")
check("a bad --timens value is a usage error", r.returncode == 2 and "--timens" in r.stderr,
      r.stderr)
print("%d passed, %d failed, 0 skipped" % (results.count(True), results.count(False)))
sys.exit(0 if all(results) else 1)
