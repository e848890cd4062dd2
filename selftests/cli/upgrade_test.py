#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# `ferry upgrade`'s refusals on the host (which cannot kexec): a store too small for the
# trees, a missing store, and a kernel that does not load are all refused before any task
# is touched (still running, never stopped, untraced), with no checkpoint left behind;
# usage errors exit 2. The upgrade itself runs in QEMU (selftests/kexec/).
# Usage: upgrade_test.py FERRY ANON256M WORKDIR
import os, shutil, subprocess, sys, time
from tap import check, results

ferry, anon, work = (os.path.abspath(a) for a in sys.argv[1:4])


def ferry_run(*args):
    return subprocess.run([ferry, *args], capture_output=True, text=True, timeout=120)


def status(pid):
    st = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.split()[0] if v.split() else ""
    return st


def untouched(pid):
    st = status(pid)
    return st.get("State") in ("S", "R") and st.get("TracerPid") == "0"


def start_anon(d):
    ready = os.path.join(d, "ready")
    out = open(os.path.join(d, "anon.out"), "w")
    p = subprocess.Popen([anon], cwd=d, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                         env=dict(os.environ, ZT_READY=ready), start_new_session=True)
    for _ in range(600):
        if os.path.exists(ready):
            return p
        time.sleep(0.1)
    raise SystemExit("anon256m did not get ready")


shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")
tiny = os.path.join(work, "tiny")
os.makedirs(tiny)
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "ferry-test", tiny], check=True)
task = None
try:
    spec = "dir:" + os.path.join(tiny, "store")
    r = ferry_run("store", "init", spec)
    check("store init on a 16 MiB tmpfs", r.returncode == 0, r.stderr)
    task = start_anon(work)
    pid = str(task.pid)

    # 1. store too small for 256 MiB of memory: refused, task untouched, no checkpoint
    r = ferry_run("upgrade", "--kernel", "/proc/self/exe", "--store", spec, "-t", pid)
    check("store too small: refused", r.returncode == 1 and "MiB free" in r.stderr and
          "nothing was touched" in r.stderr, r.stdout + r.stderr)
    check("store too small: the task was not touched", untouched(task.pid), status(task.pid))
    ls = ferry_run("store", "ls", spec)
    check("store too small: no checkpoint left", ls.returncode == 0 and
          "sealed" not in ls.stdout and "writing" not in ls.stdout, ls.stdout + ls.stderr)

    # 2. no store at all
    r = ferry_run("upgrade", "--kernel", "/proc/self/exe", "--store", "pmem:/dev/ferry-none",
                  "-t", pid)
    check("missing store: refused", r.returncode == 1 and "ferry-none" in r.stderr,
          r.stderr)
    check("missing store: the task was not touched", untouched(task.pid))

    # 3. a kernel that does not load (this host cannot kexec at all): refused
    big = "dir:" + os.path.join(work, "big")
    ferry_run("store", "init", big)
    r = ferry_run("upgrade", "--dry-run", "--kernel", os.path.join(work, "ready"), "--store",
                  big, "-t", pid)
    check("kernel not loadable: refused", r.returncode == 1 and "cannot load" in r.stderr,
          r.stdout + r.stderr)
    check("kernel not loadable: the task was not touched", untouched(task.pid))

    # 4. usage errors
    r = ferry_run("upgrade", "-t", pid)
    check("no --kernel: usage error", r.returncode == 2, r.stderr)
    r = ferry_run("upgrade", "--kernel", "/proc/self/exe")
    check("no -t: usage error", r.returncode == 2, r.stderr)
    r = ferry_run("upgrade", "--kernel", "/proc/self/exe", "--ghost-limit", "1X", "-t", pid)
    check("bad --ghost-limit: usage error", r.returncode == 2 and "ghost-limit" in r.stderr,
          r.stderr)
    r = ferry_run("upgrade", "--kernel", "/proc/self/exe", "--tcp-established", "--tcp-close",
                  "-t", pid)
    check("--tcp-established with --tcp-close: usage error", r.returncode == 2 and
          "exclude" in r.stderr, r.stderr)
    r = ferry_run("upgrade", "--help")
    check("--help", r.returncode == 0 and "--dry-run" in r.stdout and "--file-locks" in r.stdout
          and "tmpfs" in r.stdout and "--tcp-established" in r.stdout, r.stdout)
finally:
    if task:
        task.kill()
        task.wait()
    subprocess.run(["umount", "-l", tiny])
print("%d passed, %d failed, 0 skipped" % (results.count(True), results.count(False)))
sys.exit(0 if all(results) else 1)
