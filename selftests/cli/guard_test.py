#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The switch-root guard (restore --switch-root-guard) without a systemd initrd: a fake init
# (--guard-init) plays systemd's part. sigwatch (a parent with handlers and a second thread,
# a child reading signals from a signalfd, a child stopped) is dumped and restored under the
# guard; the fake init sends each SIGTERM, SIGHUP and SIGCONT as systemd does when it
# leaves its initrd, this test sends SIGUSR1, then the fake init changes its root (chroot).
# Inside the restored tasks: none saw a signal of the fake init, all saw ours, the stopped
# one is stopped again, and once the guard is gone the fake init's signals reach them.
# Usage: guard_test.py FERRY SIGWATCH WORKDIR   (as root)
import ctypes, os, shutil, signal, subprocess, sys, time
from tap import check, gone, finish

ferry, sigwatch, work = sys.argv[1:4]

# the fake init: a command a line on stdin ("kill SIG PID...", "chroot DIR"), "ok" after each
FAKE_INIT = r"""
import os, sys
for line in sys.stdin:
    w = line.split()
    if w[0] == "kill":
        for p in w[2:]:
            os.kill(int(p), int(w[1]))
    elif w[0] == "chroot":
        os.chroot(w[1])
    print("ok", flush=True)
"""


def wait_for(cond, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def lines():
    with open(log) as f:
        return [l.split() for l in f if l.startswith("got ")]


def got(pid, sig, sender):
    return ["got", str(pid), str(sig), str(sender)] in lines()


def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0]
    except FileNotFoundError:
        return "-"


def status_field(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for l in f:
                if l.startswith(key + ":"):
                    return l.split()[1]
    except FileNotFoundError:
        pass
    return None


def guard_pids():
    out = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if f.read().startswith(b"@ferry-guard"):
                    out.append(int(d))
        except (OSError, ValueError):
            pass
    return out


def reaped(*ps):
    """Every one of ps is gone, our zombies among them reaped (we are their subreaper)."""
    def done():
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        return all(not os.path.exists("/proc/%d" % p) for p in ps)
    return wait_for(done)


def fake(cmd):
    init.stdin.write(cmd + "\n")
    init.stdin.flush()
    return init.stdout.readline().strip() == "ok"


libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)	# PR_SET_CHILD_SUBREAPER: restored tasks come back to us
shutil.rmtree(work, ignore_errors=True)
os.makedirs(os.path.join(work, "newroot"))
log, img = os.path.join(work, "signals.log"), os.path.join(work, "img")
print("TAP version 13")

task = subprocess.Popen([sigwatch, log], stdin=subprocess.DEVNULL, close_fds=True,
                        start_new_session=True)
ready = lambda: open(log).read().count("ready") == 3
wait_for(lambda: os.path.exists(log) and ready())
pids = [int(l.split()[1]) for l in open(log) if l.startswith("ready")]
parent, sfd, stopped = task.pid, [p for p in pids if p != task.pid][0], None
wait_for(lambda: any(state(p) == "T" for p in pids))
stopped = [p for p in pids if state(p) == "T"][0]
sfd = [p for p in pids if p not in (parent, stopped)][0]
thread = [int(t) for t in os.listdir("/proc/%d/task" % parent) if int(t) != parent][0]

r = subprocess.run([ferry, "dump", "-t", str(parent), "-D", img, "-v4", "-o", "dump.log"],
                   capture_output=True, text=True)
check("sigwatch (3 processes, 4 threads) is dumped",
      r.returncode == 0 and reaped(parent, sfd, stopped), r.stderr)

init = subprocess.Popen([sys.executable, "-c", FAKE_INIT], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True, close_fds=True)
glog = os.path.join(work, "guard.log")
t0 = time.time()
r = subprocess.run([ferry, "restore", "-D", img, "-d", "-v4", "-o", "restore.log",
                    "--switch-root-guard", "--guard-init", str(init.pid), "--guard-log", glog,
                    "--guard-timeout", "60"], capture_output=True, text=True)
check("restore --switch-root-guard returns once the guard holds the trees",
      r.returncode == 0 and time.time() - t0 < 30, r.stderr)
guards = guard_pids()
check("one guard runs, named @ferry-guard (systemd spares it)", len(guards) == 1, guards)
guard = guards[0] if guards else -1
tracers = {p: status_field(p, "TracerPid") for p in (parent, thread, sfd, stopped)}
check("it holds every thread stopped", all(t == str(guard) for t in tracers.values()) and
      all(state(p) == "t" for p in (parent, thread, sfd, stopped)), tracers)

# systemd's broadcast, from the fake init; ours comes after it
ok = fake("kill %d %d %d %d" % (signal.SIGTERM, parent, sfd, stopped))
ok &= fake("kill %d %d %d %d" % (signal.SIGHUP, parent, sfd, stopped))
ok &= fake("kill %d %d %d %d" % (signal.SIGCONT, parent, sfd, stopped))
os.kill(parent, signal.SIGUSR1)
os.kill(sfd, signal.SIGUSR1)
time.sleep(0.3)
check("while the guard holds them, nothing is delivered", ok and not lines(), lines())
check("the guard waits for the fake init to change its root", os.path.exists("/proc/%d" % guard))
fake("chroot " + os.path.join(work, "newroot"))
check("... and exits once it did", reaped(guard))
me = os.getpid()
check("the handler process got our SIGUSR1 (queued while held)",
      wait_for(lambda: got(parent, signal.SIGUSR1, me)), lines())
check("the signalfd reader got our SIGUSR1", wait_for(lambda: got(sfd, signal.SIGUSR1, me)),
      lines())
time.sleep(0.3)
from_init = [l for l in lines() if l[3] == str(init.pid)]
check("no task saw a signal of the fake init (SIGTERM, SIGHUP, SIGCONT dropped)",
      not from_init, from_init)
check("the stopped child is stopped again", wait_for(lambda: state(stopped) == "T", 5),
      state(stopped))
check("no task is traced any more",
      all(status_field(p, "TracerPid") == "0" for p in (parent, thread, sfd, stopped)))
text = open(glog).read() if os.path.exists(glog) else ""
check("the guard's log says what it dropped and that it let go",
      "switched root" in text and "dropped 9 signals" in text, text)
fake("kill %d %d %d" % (signal.SIGHUP, parent, sfd))
check("without the guard, the fake init's signals reach the tasks again",
      wait_for(lambda: got(parent, signal.SIGHUP, init.pid) and got(sfd, signal.SIGHUP, init.pid)),
      lines())

# no switch of root within --guard-timeout: the guard lets go anyway
for p in (parent, sfd, stopped):
    os.kill(p, signal.SIGKILL)
reaped(parent, sfd, stopped)
r = subprocess.run([ferry, "restore", "-D", img, "-d", "--switch-root-guard", "--guard-init",
                    str(init.pid), "--guard-log", glog, "--guard-timeout", "1"],
                   capture_output=True, text=True)
guard = (guard_pids() or [-1])[0]
check("--guard-timeout: with no switch of root the guard lets go after it",
      r.returncode == 0 and reaped(guard) and
      status_field(parent, "TracerPid") == "0" and state(parent) in "SR",
      r.stderr + open(glog).read()[-400:] if os.path.exists(glog) else r.stderr)
for p in (parent, sfd, stopped):
    os.kill(p, signal.SIGKILL)
reaped(parent, sfd, stopped)

r = subprocess.run([ferry, "restore", "-D", img, "--guard-init", "1"], capture_output=True,
                   text=True)
check("--guard-init without --switch-root-guard is a usage error",
      r.returncode == 2 and "--switch-root-guard" in r.stderr, r.stderr)
r = subprocess.run([ferry, "restore", "-D", img, "--switch-root-guard", "--guard-timeout", "0"],
                   capture_output=True, text=True)
check("--guard-timeout 0 is a usage error", r.returncode == 2, r.stderr)
check("... and neither restored anything", gone(parent))
init.stdin.close()
init.wait()
finish()
