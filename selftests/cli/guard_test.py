#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The switch-root guard (restore --switch-root-guard) without a systemd initrd: a fake init
# (--guard-init) plays systemd's part. sigwatch (a parent with handlers and a second thread,
# a child reading signals from a signalfd, a child stopped) is dumped and restored under the
# guard. The fake init does what systemd's broadcast does when it leaves its initrd, to the
# tasks and the guard (SIGSTOP, SIGTERM, SIGHUP, SIGCONT; here also a tgkill to the thread),
# this test sends SIGUSR1, then the fake init changes its root (chroot). Inside the restored
# tasks: none saw a signal of the fake init, all saw ours, the stopped one is stopped again,
# and once the guard is gone the fake init's signals reach them again.
# Usage: guard_test.py FERRY SIGWATCH WORKDIR   (as root)
import ctypes, os, shutil, signal, subprocess, sys, time
from tap import check, gone, finish, until, state, reaped

ferry, sigwatch, work = sys.argv[1:4]

# the fake init: a command a line on stdin, "ok" after each:
#   kill SIG PID...   tgkill SIG TGID TID   chroot DIR
FAKE_INIT = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for line in sys.stdin:
    w = line.split()
    if w[0] == "kill":
        for p in w[2:]:
            os.kill(int(p), int(w[1]))
    elif w[0] == "tgkill":
        libc.syscall(234, int(w[2]), int(w[3]), int(w[1]))
    elif w[0] == "chroot":
        os.chroot(w[1])
    print("ok", flush=True)
"""




def lines():
    with open(log) as f:
        return [l.split() for l in f if l.startswith("got ")]


def got(pid, sig, sender):
    return ["got", str(pid), str(sig), str(sender)] in lines()




def tracer(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for l in f:
                if l.startswith("TracerPid:"):
                    return int(l.split()[1])
    except FileNotFoundError:
        pass
    return None


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""




def fake(cmd):
    init.stdin.write(cmd + "\n")
    init.stdin.flush()
    return init.stdout.readline().strip() == "ok"


def restore(glog, timeout):
    return subprocess.run([ferry, "restore", "-D", img, "-d", "-v4", "-o", "restore.log",
                           "--switch-root-guard", "--guard-init", str(init.pid),
                           "--guard-log", glog, "--guard-timeout", str(timeout)],
                          capture_output=True, text=True)


def kill_all():
    for p in tasks + [guard]:
        try:
            os.kill(p, signal.SIGKILL)
        except (ProcessLookupError, OverflowError):
            pass
    reaped(*tasks)


libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)	# PR_SET_CHILD_SUBREAPER: restored tasks come back to us
shutil.rmtree(work, ignore_errors=True)
os.makedirs(os.path.join(work, "newroot"))
log, img = os.path.join(work, "signals.log"), os.path.join(work, "img")
print("TAP version 13")

task = subprocess.Popen([sigwatch, log], stdin=subprocess.DEVNULL, close_fds=True,
                        start_new_session=True)
until(lambda: os.path.exists(log) and open(log).read().count("ready") == 3)
pids = [int(l.split()[1]) for l in open(log) if l.startswith("ready")]
parent = task.pid
until(lambda: any(state(p) == "T" for p in pids))
stopped = [p for p in pids if state(p) == "T"][0]
sfd = [p for p in pids if p not in (parent, stopped)][0]
thread = [int(t) for t in os.listdir("/proc/%d/task" % parent) if int(t) != parent][0]
tasks, guard = [parent, thread, sfd, stopped], -1
init = subprocess.Popen([sys.executable, "-c", FAKE_INIT], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True, close_fds=True)
me = os.getpid()
try:
    r = subprocess.run([ferry, "dump", "-t", str(parent), "-D", img, "-v4", "-o", "dump.log"],
                       capture_output=True, text=True)
    check("sigwatch (3 processes, 4 threads) is dumped",
          r.returncode == 0 and reaped(parent, sfd, stopped), r.stderr)

    glog = os.path.join(work, "guard.log")
    t0 = time.time()
    r = restore(glog, 60)
    check("restore --switch-root-guard returns once the guard holds the trees",
          r.returncode == 0 and time.time() - t0 < 30, r.stderr)
    guard = tracer(parent) or -1
    check("the guard is named @ferry-guard (systemd spares it)",
          cmdline(guard).startswith(b"@ferry-guard"), cmdline(guard))
    check("it holds every thread stopped, under ptrace",
          all(tracer(p) == guard and state(p) == "t" for p in tasks),
          [(p, tracer(p), state(p)) for p in tasks])

    # systemd's broadcast from the fake init (the guard gets SIGSTOP and SIGCONT too);
    # ours comes after it
    ok = fake("kill %d %d %d %d %d" % (signal.SIGSTOP, parent, sfd, stopped, guard))
    for sig in (signal.SIGTERM, signal.SIGHUP):
        ok &= fake("kill %d %d %d %d" % (sig, parent, sfd, stopped))
    ok &= fake("tgkill %d %d %d" % (signal.SIGTERM, parent, thread))
    ok &= fake("kill %d %d %d %d %d" % (signal.SIGCONT, parent, sfd, stopped, guard))
    os.kill(parent, signal.SIGUSR1)
    os.kill(sfd, signal.SIGUSR1)
    check("the fake init sent its signals", ok)
    check("the guard waits for the fake init to change its root",
          not until(lambda: not os.path.exists("/proc/%d" % guard), 1) and
          all(state(p) == "t" for p in tasks), [(p, state(p)) for p in tasks])
    fake("chroot " + os.path.join(work, "newroot"))
    check("... and exits once it did", reaped(guard))
    # a later, higher signal: once it is seen, every signal queued before has been taken
    os.kill(parent, signal.SIGWINCH)
    os.kill(sfd, signal.SIGWINCH)
    check("the handler process and the signalfd reader got our SIGUSR1, then SIGWINCH",
          until(lambda: all(got(p, s, me) for p in (parent, sfd)
                               for s in (signal.SIGUSR1, signal.SIGWINCH))), lines())
    from_init = [l for l in lines() if l[3] == str(init.pid)]
    check("no task saw a signal of the fake init (SIGTERM, SIGHUP, SIGCONT, tgkill dropped)",
          not from_init, from_init)
    check("the stopped child is stopped again", until(lambda: state(stopped) == "T", 5),
          state(stopped))
    check("no task is traced any more", all(tracer(p) == 0 for p in tasks),
          [(p, tracer(p)) for p in tasks])
    text = open(glog).read() if os.path.exists(glog) else ""
    check("the guard's log says it saw the switch, dropped the 10 signals, let go",
          "switched root" in text and "dropped 10 signals" in text, text)
    fake("kill %d %d %d" % (signal.SIGHUP, parent, sfd))
    check("without the guard, the fake init's signals reach the tasks again",
          until(lambda: got(parent, signal.SIGHUP, init.pid) and
                   got(sfd, signal.SIGHUP, init.pid)), lines())

    # no switch of root within --guard-timeout: the guard lets go anyway
    kill_all()
    glog = os.path.join(work, "guard-timeout.log")
    t0 = time.time()
    r = restore(glog, 2)
    guard = tracer(parent) or -1
    check("--guard-timeout 2: the guard holds the tree", r.returncode == 0 and guard > 0 and
          state(parent) == "t", r.stderr)
    lived = reaped(guard) and time.time() - t0
    text = open(glog).read() if os.path.exists(glog) else ""
    check("... and with no switch of root lets it go after 2 s, running",
          lived and lived >= 1.9 and "did not switch root in 2 s" in text and
          tracer(parent) == 0 and state(parent) in "SR" and state(stopped) == "T",
          "%s s %s %s\n%s" % (lived, state(parent), state(stopped), text))
    kill_all()

    r = subprocess.run([ferry, "restore", "-D", img, "--guard-init", "1"], capture_output=True,
                       text=True)
    check("--guard-init without --switch-root-guard is a usage error",
          r.returncode == 2 and "--switch-root-guard" in r.stderr, r.stderr)
    r = subprocess.run([ferry, "restore", "-D", img, "--switch-root-guard", "--guard-timeout",
                        "0"], capture_output=True, text=True)
    check("--guard-timeout 0 is a usage error", r.returncode == 2, r.stderr)
    check("... and neither restored anything", gone(parent))
finally:
    kill_all()
    init.stdin.close()
    init.wait()
finish()
