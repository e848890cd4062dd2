#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# SysV IPC of the host's IPC namespace is not the tree's to take: a task with a host shm
# segment attached is refused with a reason and a hint, and keeps running, untraced, with no
# images left. Usage: ipc_host_test.py FERRY SHMHOST WORKDIR   (as root)
import os, shutil, signal, subprocess, sys, time
from tap import check, results

ferry, shmhost, work = sys.argv[1:4]


def status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]


shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")
img = os.path.join(work, "img")
out = os.path.join(work, "shmhost.out")
task = subprocess.Popen([shmhost], stdin=subprocess.DEVNULL, stdout=open(out, "w"),
                        stderr=subprocess.STDOUT, close_fds=True, start_new_session=True)
for _ in range(100):
    line = open(out).read()
    if line:
        break
    time.sleep(0.05)
check("the task holds a host shm segment", line.startswith("attached"), line)
r = subprocess.run([ferry, "dump", "-t", str(task.pid), "-D", img], capture_output=True,
                   text=True)
check("dump is refused, naming the segment and the hint",
      r.returncode != 0 and "SysV shm segment" in r.stderr and "host's IPC namespace" in r.stderr
      and "unshare" in r.stderr, r.stderr)
time.sleep(0.2)
check("the task keeps running, untraced",
      task.poll() is None and status(task.pid, "TracerPid") == "0"
      and status(task.pid, "State") in ("S", "R"))
check("no images are left", not os.path.exists(img) or not [
    f for f in os.listdir(img) if f.endswith(".img")], os.listdir(img) if os.path.exists(img) else "")
task.send_signal(signal.SIGTERM)
check("the task ends normally", task.wait(timeout=10) == 0)
print("%d passed, %d failed, 0 skipped" % (results.count(True), results.count(False)))
sys.exit(0 if all(results) else 1)
