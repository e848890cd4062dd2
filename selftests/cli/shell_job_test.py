#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# -j/--shell-job: a task on a terminal is refused without -j, dumped with it, refused at
# restore without -j, and restored with -j onto the restoring ferry's (new) terminal,
# where it continues counting; a job blocked in read(2) on its terminal reads on from the
# new one. Usage: shell_job_test.py FERRY TICKER WORKDIR
import ctypes, os, pty, select, signal, subprocess, sys, time
from tap import check, results

ferry, ticker, work = sys.argv[1:4]
img = os.path.join(work, "img")


def read_for(fd, seconds):
    out, end = b"", time.time() + seconds
    while time.time() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out.decode(errors="replace")


def ticks(text):
    return [int(w.split()[1]) for w in text.splitlines() if w.startswith("tick ")]


def ferry_run(*args):
    return subprocess.run([ferry, *args], capture_output=True, text=True)


os.makedirs(work, exist_ok=True)
os.system("rm -rf '%s'" % img)
print("TAP version 13")
m1, s1 = pty.openpty()
task = subprocess.Popen([ticker], stdin=s1, stdout=s1, stderr=s1, close_fds=True)
seen = ticks(read_for(m1, 1.0))
r = ferry_run("dump", "-t", str(task.pid), "-D", img)
check("dump without -j is refused with a hint", r.returncode != 0 and "-j" in r.stderr, r.stderr)
more = ticks(read_for(m1, 0.5))
seen += more
check("the refused task keeps running", task.poll() is None and more)
r = ferry_run("dump", "-j", "-t", str(task.pid), "-D", img, "-v4", "-o", "dump.log")
check("dump -j succeeds", r.returncode == 0, r.stderr)
task.wait()
seen += ticks(read_for(m1, 0.3))
last = (seen or [-1])[-1]
r = ferry_run("restore", "-D", img, "-d")
check("restore without -j is refused with a hint", r.returncode != 0 and "-j" in r.stderr, r.stderr)
m2, s2 = pty.openpty()
rst = subprocess.Popen([ferry, "restore", "-j", "-D", img, "-v4", "-o", "restore.log"],
                       stdin=s2, stdout=s2, stderr=s2, close_fds=True)
after = ticks(read_for(m2, 1.5))
check("the restored task counts on in the new terminal", after and after[0] == last + 1,
      "last tick before dump %d, after restore %s" % (last, after[:5]))
check("same PID", os.path.exists("/proc/%d" % task.pid))
try:
    os.kill(task.pid, signal.SIGTERM)
except ProcessLookupError:
    pass
rc = rst.wait(timeout=10)
check("ferry restore exits with the task's status (128+SIGTERM)", rc == 128 + 15, "exit %d" % rc)

# A job blocked in read(2) on its terminal: the read goes on on the new terminal.
def in_read(pid):
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0] == "0"
    except OSError:
        return False


os.system("rm -rf '%s'" % img)
m1, s1 = pty.openpty()
task = subprocess.Popen([ticker, "read"], stdin=s1, stdout=s1, stderr=s1, close_fds=True)
before = read_for(m1, 0.5)
for _ in range(50):
    if in_read(task.pid):
        break
    time.sleep(0.1)
check("the reader is blocked in read(2) on its terminal", "reading" in before and in_read(task.pid),
      before)
r = ferry_run("dump", "-j", "-t", str(task.pid), "-D", img, "-v4", "-o", "dump.log")
check("dump -j of a task blocked in read succeeds", r.returncode == 0, r.stderr)
task.wait()
m2, s2 = pty.openpty()
rst = subprocess.Popen([ferry, "restore", "-j", "-D", img, "-v4", "-o", "restore.log"],
                       stdin=s2, stdout=s2, stderr=s2, close_fds=True)
for _ in range(50):
    if in_read(task.pid):
        break
    time.sleep(0.1)
os.write(m2, b"hello after restore\n")
out = read_for(m2, 1.5)
check("the restored read gets a line typed on the new terminal",
      "got: hello after restore" in out and "read error" not in out, out)
try:
    os.kill(task.pid, signal.SIGTERM)
except ProcessLookupError:
    pass
rc = rst.wait(timeout=10)
check("the restored reader ends on SIGTERM", rc == 128 + 15, "exit %d" % rc)
print("%d passed, %d failed, 0 skipped" % (results.count(True), results.count(False)))
sys.exit(0 if all(results) else 1)
