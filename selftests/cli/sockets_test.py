#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Socket refusals and the network lock's undo, through the command line: an established
# TCP connection is refused without --tcp-established (with a hint) and a unix socket
# whose peer is outside the process is refused; a dump with --tcp-established that fails
# later, or that leaves the task running (-R), takes the connection out of repair and
# removes the lock: the connection still carries data both ways, no lock table is left,
# and the socket has its SO_REUSEADDR (which leaving repair clears) back.
# Usage: sockets_test.py FERRY SOCKHOLDER WORKDIR
import ctypes, os, shutil, socket, subprocess, sys, time
from tap import check, results

ferry, holder, work = sys.argv[1:4]


def echo_works(conn):
    conn.settimeout(5)
    try:
        conn.sendall(b"ping-%d" % len(results))
        want = b"ping-%d" % len(results)
        got = b""
        while len(got) < len(want):
            data = conn.recv(64)
            if not data:
                return False
            got += data
        return got == want
    except OSError:
        return False


def untraced(pid):
    with open("/proc/%d/status" % pid) as f:
        return any(l.split() == ["TracerPid:", "0"] for l in f)


def lock_tables(pid):
    r = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
    return [l for l in r.stdout.splitlines() if l.endswith("ferry_lock_%d" % pid)]


def reuseaddr_of(pid, fd=3):
    """SO_REUSEADDR of the socket at fd in pid, through a copy (pidfd_getfd)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        n = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd
        if n < 0:
            return "pidfd_getfd: " + os.strerror(ctypes.get_errno())
        with socket.socket(fileno=n) as s:
            return s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    finally:
        os.close(pidfd)


def tcp_holder(*extra):
    lsk = socket.socket()
    lsk.bind(("127.0.0.1", 0))
    lsk.listen(1)
    proc = subprocess.Popen([holder, "tcp", str(lsk.getsockname()[1]), *extra],
                            stdin=subprocess.DEVNULL, start_new_session=True)
    lsk.settimeout(5)
    conn, _ = lsk.accept()
    lsk.close()
    return proc, conn


def dump(pid, name, *opts):
    img = os.path.join(work, name)
    os.makedirs(img)
    r = subprocess.run([ferry, "dump", "-t", str(pid), "-D", img, *opts],
                       capture_output=True, text=True)
    return r, img


shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")

# 1. established TCP without --tcp-established: refused with the hint, task untouched
proc, conn = tcp_holder()
r, img = dump(proc.pid, "tcp-refused")
check("an established TCP connection is refused with a hint",
      r.returncode == 1 and "--tcp-established" in r.stderr, r.stderr)
check("after the refusal the task runs untraced and the connection works",
      proc.poll() is None and untraced(proc.pid) and echo_works(conn))
proc.kill(); proc.wait(); conn.close()

# 2. --tcp-established, then a pidfd fails the dump: repair off, lock removed
proc, conn = tcp_holder("pidfd")
check("the holder's connection has SO_REUSEADDR on", reuseaddr_of(proc.pid) == 1,
      reuseaddr_of(proc.pid))
r, img = dump(proc.pid, "tcp-failed", "--tcp-established")
check("a dump failing after locking a connection fails", r.returncode == 1, r.stderr)
check("after the failed dump the connection has its SO_REUSEADDR", reuseaddr_of(proc.pid) == 1,
      reuseaddr_of(proc.pid))
check("the failed dump removed its lock table", not lock_tables(proc.pid), lock_tables(proc.pid))
check("after the failed dump the connection carries data both ways",
      proc.poll() is None and untraced(proc.pid) and echo_works(conn))
check("the failed dump left no images", not [f for f in os.listdir(img) if f != "dump.log"],
      os.listdir(img))
proc.kill(); proc.wait(); conn.close()

# 3. --tcp-established -R: the connection goes on, no lock left
proc, conn = tcp_holder()
r, img = dump(proc.pid, "tcp-leave-running", "--tcp-established", "-R")
check("dump -R --tcp-established succeeds", r.returncode == 0, r.stderr)
check("after dump -R the lock is gone and the connection works",
      not lock_tables(proc.pid) and proc.poll() is None and echo_works(conn),
      lock_tables(proc.pid))
check("after dump -R the connection has its SO_REUSEADDR", reuseaddr_of(proc.pid) == 1,
      reuseaddr_of(proc.pid))
check("dump --tcp-established wrote a tcp-stream image",
      any(f.startswith("tcp-stream-") for f in os.listdir(img)), os.listdir(img))
proc.kill(); proc.wait(); conn.close()

# 4. a unix socket connected to a process outside: refused, task untouched
path = os.path.join(work, "ext.sock")
usk = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
usk.bind(path)
usk.listen(1)
proc = subprocess.Popen([holder, "unix", path], stdin=subprocess.DEVNULL, start_new_session=True)
usk.settimeout(5)
uconn, _ = usk.accept()
r, img = dump(proc.pid, "unix-ext")
check("a unix socket with a peer outside is refused", r.returncode == 1 and "outside" in r.stderr,
      r.stderr)
check("after the refusal the unix connection works", proc.poll() is None and echo_works(uconn))
proc.kill(); proc.wait()

print("1..%d" % len(results))
print("%d passed, %d failed, 0 skipped" % (sum(results), len(results) - sum(results)))
sys.exit(0 if all(results) else 1)
