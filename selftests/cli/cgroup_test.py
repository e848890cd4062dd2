#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# cgroup v2 through the command line: a task dumped from a nested cgroup that is then
# removed is refused by `restore --manage-cgroups strict` (nothing created, images kept),
# restored by the default (soft) into the same path, created again; `--manage-cgroups
# ignore` leaves it in our cgroup; a failed restore removes the cgroups it created.
# `dump --freeze-cgroup` refuses a PATH that is not
# cgroup v2, does not hold the tree or holds ferry itself, and the task runs on untouched.
# Usage: cgroup_test.py FERRY TICKER WORKDIR   (as root)
import ctypes, os, shutil, signal, subprocess, sys, time
from tap import check, results

ferry, ticker, work = sys.argv[1:4]


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split()[:1] == ["cgroup2"] and pre.split()[3] == "/":
                return pre.split()[4]
    return None


def cgroup_of(pid):
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()


def status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]


def ferry_run(*args):
    return subprocess.run([ferry, *args], capture_output=True, text=True)


def reap(pid):
    for _ in range(250):
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pass
        if not os.path.exists("/proc/%d" % pid):
            return
        time.sleep(0.02)


def ticks(path):
    with open(path) as f:
        return len(f.read().splitlines())


def skip(why):
    print("ok 1 cgroup # SKIP " + why)
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)


mnt = cgroup2_mount()
if not mnt:
    skip("no cgroup v2 mounted")
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: we reap the restored
top_rel = "/ferry-cli-%d" % os.getpid()
top = mnt + top_rel
try:
    os.makedirs(top + "/x/y")
except OSError as e:
    skip("cannot create a cgroup in %s: %s" % (mnt, e))
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")
own = cgroup_of(os.getpid())

out = os.path.join(work, "ticks.out")
task = subprocess.Popen([ticker], stdin=subprocess.DEVNULL, stdout=open(out, "w"),
                        stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
with open(top + "/x/y/cgroup.procs", "w") as f:
    f.write(str(task.pid))
time.sleep(0.3)

# --freeze-cgroup refusals
r = ferry_run("dump", "-t", str(task.pid), "-D", work + "/no-img", "--freeze-cgroup", work)
check("--freeze-cgroup of a directory that is not cgroup v2 is refused",
      r.returncode == 1 and "not a cgroup v2 directory" in r.stderr, r.stderr)
os.makedirs(top + "/other")
r = ferry_run("dump", "-t", str(task.pid), "-D", work + "/no-img", "--freeze-cgroup",
              top + "/other")
check("--freeze-cgroup of a cgroup the tree is not in is refused, naming both",
      r.returncode == 1 and "%s/x/y" % top_rel in r.stderr and "%s/other" % top_rel in r.stderr,
      r.stderr)
os.rmdir(top + "/other")
r = subprocess.run(["sh", "-c", 'echo $$ > "$1"/cgroup.procs && exec "$2" dump -t "$3" -D "$4" '
                    '--freeze-cgroup "$1"', "sh", top + "/x", ferry, str(task.pid),
                    work + "/no-img"], capture_output=True, text=True)
check("--freeze-cgroup of a cgroup ferry itself is in is refused",
      r.returncode == 1 and "ferry itself is in" in r.stderr, r.stderr)
t0 = ticks(out)
time.sleep(0.5)
check("the task runs on, untraced, not frozen", task.poll() is None and
      status(task.pid, "TracerPid") == "0" and ticks(out) > t0 and
      "frozen 0" in open(top + "/cgroup.events").read())

img = os.path.join(work, "img")
r = ferry_run("dump", "-t", str(task.pid), "-D", img, "--freeze-cgroup", top + "/x")
task.wait()
check("dump with --freeze-cgroup of an ancestor cgroup", r.returncode == 0, r.stderr)
check("... thawed it", "frozen 0" in open(top + "/x/cgroup.events").read())
for d in ("/x/y", "/x"):
    for _ in range(100):
        try:
            os.rmdir(top + d)
            break
        except OSError:
            time.sleep(0.02)

r = ferry_run("restore", "-D", img, "-d", "--manage-cgroups", "strict")
reap(task.pid)
check("restore --manage-cgroups strict refuses the missing cgroup, naming it",
      r.returncode == 1 and "%s/x/y" % top_rel in r.stderr, r.stderr)
check("... creates nothing", not os.path.exists(top + "/x") and
      not os.path.exists("/proc/%d" % task.pid))

r = ferry_run("restore", "-D", img, "-d", "-v3")
check("restore (soft) creates the missing cgroup and says so",
      r.returncode == 0 and "created cgroup" in r.stderr, r.stderr)
check("... the task is back in %s/x/y" % top_rel,
      os.path.exists("/proc/%d" % task.pid) and cgroup_of(task.pid) == top_rel + "/x/y",
      cgroup_of(task.pid) if os.path.exists("/proc/%d" % task.pid) else "gone")
t0 = ticks(out)
time.sleep(0.5)
check("... and ticks", ticks(out) > t0)
os.kill(task.pid, signal.SIGKILL)
reap(task.pid)

r = ferry_run("restore", "-D", img, "-d", "--manage-cgroups", "ignore")
check("restore --manage-cgroups ignore leaves the task in our cgroup %s" % own,
      r.returncode == 0 and os.path.exists("/proc/%d" % task.pid) and
      cgroup_of(task.pid) == own, r.stderr)
for d in ("/x/y", "/x"):
    os.rmdir(top + d)
r = ferry_run("restore", "-D", img, "-d")
check("a restore that fails (the PID is taken) removes the cgroups it created",
      r.returncode == 1 and "created cgroup" in r.stderr and not os.path.exists(top + "/x"),
      r.stderr)
if os.path.exists("/proc/%d" % task.pid):
    os.kill(task.pid, signal.SIGKILL)
reap(task.pid)
r = ferry_run("restore", "-D", img, "--manage-cgroups", "bogus")
check("a bad --manage-cgroups MODE is a usage error", r.returncode == 2, r.stderr)

for d in ("/x/y", "/x", ""):
    for _ in range(100):
        try:
            os.rmdir(top + d)
            break
        except FileNotFoundError:
            break
        except OSError:
            time.sleep(0.02)
print("%d passed, %d failed, 0 skipped" % (results.count(True), results.count(False)))
sys.exit(0 if all(results) else 1)
