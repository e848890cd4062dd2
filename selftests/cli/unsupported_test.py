#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Objects ferry cannot restore are refused before anything is killed: for each (io_uring,
# perf event, bpf map, pidfd, an unlinked file larger than --ghost-limit, a lock without
# --file-locks, a file whose path now leads to another file (overmounted), a non-memory device, an epoll whose target fd was closed but is
# still registered) a task holding it is dumped; the dump must fail naming the task, the fd
# and the object, leave the task running untraced and leave no images. A kind the kernel or
# the sandbox does not offer is a skip.
# Usage: unsupported_test.py FERRY TICKER WORKDIR
import ctypes, fcntl, os, select, shutil, subprocess, sys, time

ferry, ticker, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
results = []


def report(name, cond, detail=""):
    results.append(cond)
    print(("ok" if cond else "not ok") + " %d %s" % (len(results), name))
    if not cond and detail:
        for line in str(detail).splitlines()[:20]:
            print("#   " + line)


def status_field(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]
    return None


def io_uring_fd():
    params = ctypes.create_string_buffer(120)
    return libc.syscall(425, 4, params)


def perf_fd():
    attr = ctypes.create_string_buffer(128)
    ctypes.memmove(attr, (1).to_bytes(4, "little") + (128).to_bytes(4, "little"), 8)
    return libc.syscall(298, attr, 0, -1, -1, 0)     # PERF_TYPE_SOFTWARE, CPU_CLOCK


def bpf_map_fd():
    attr = ctypes.create_string_buffer(128)
    words = [2, 4, 4, 1]                              # ARRAY, key 4, value 4, 1 entry
    ctypes.memmove(attr, b"".join(w.to_bytes(4, "little") for w in words), 16)
    return libc.syscall(321, 0, attr, 128)           # BPF_MAP_CREATE


def device_fd():
    for path in ("/dev/loop-control", "/dev/net/tun", "/dev/fuse", "/dev/kmsg"):
        try:
            return os.open(path, os.O_RDWR)
        except OSError:
            pass
    return -1


keep = []


def epoll_closed_target_fd():
    # the task gets the epoll but not its target, which stays alive here: registered in
    # the task's epoll under a number that is not open in the task
    ep = select.epoll()
    target = os.eventfd(0)
    ep.register(target, select.EPOLLIN)
    keep.append(target)
    fd = os.dup(ep.fileno())
    ep.close()
    return fd


def big_unlinked_fd():
    path = os.path.join(work, "big-unlinked")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, b"x" * 4096)
    os.unlink(path)
    return fd


def flocked_fd():
    fd = os.open(os.path.join(work, "locked"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)      # the task shares the description, so the lock
    return fd


overmounted = []


def overmounted_fd():
    d = os.path.join(work, "overmounted")
    os.makedirs(d, exist_ok=True)
    fd = os.open(os.path.join(d, "file"), os.O_RDWR | os.O_CREAT, 0o600)
    if subprocess.run(["mount", "-t", "tmpfs", "ferry-test", d]).returncode:
        os.close(fd)
        return -1
    overmounted.append(d)
    with open(os.path.join(d, "file"), "w") as f:   # the path now leads to this one
        f.write("other")
    return fd


def nested_epoll_fd():
    inner, outer = select.epoll(), select.epoll()
    outer.register(inner.fileno(), select.EPOLLIN)
    fd = os.dup(outer.fileno())     # the dup keeps the registration's number: pass both
    keep.append(inner)
    extra_pass.append(inner.fileno())
    return fd


extra_pass = []
cases = [
    ("epoll watching an epoll", nested_epoll_fd, "an epoll itself"),
    ("file whose path now leads elsewhere", overmounted_fd, "another file"),
    ("flock without --file-locks", flocked_fd, "--file-locks"),
    ("unlinked file over --ghost-limit", big_unlinked_fd, "--ghost-limit", ["--ghost-limit", "1K"]),
    ("io_uring", io_uring_fd, "io_uring"),
    ("perf event", perf_fd, "perf_event"),
    ("bpf map", bpf_map_fd, "bpf-map"),
    ("pidfd", lambda: os.pidfd_open(os.getpid()), "pidfd"),
    ("device", device_fd, "device"),
    ("epoll with a closed target", epoll_closed_target_fd, "closed"),
]

print("TAP version 13")
for name, make, word, *extra in cases:
    fd = make()
    if fd < 0:
        print("ok %d %s # SKIP cannot create one here (errno %d)" % (len(results) + 1, name,
                                                                    ctypes.get_errno()))
        results.append(None)
        continue
    img = os.path.join(work, name.replace(" ", "-"))
    task = subprocess.Popen([ticker], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, pass_fds=[fd] + extra_pass, start_new_session=True)
    del extra_pass[:]
    os.close(fd)
    time.sleep(0.2)
    r = subprocess.run([ferry, "dump", "-t", str(task.pid), "-D", img] + (extra[0] if extra else []),
                       capture_output=True, text=True)
    named = ("process %d" % task.pid in r.stderr and "fd %d" % fd in r.stderr
             and word in r.stderr)
    report("%s: refused naming process, fd and object" % name, r.returncode == 1 and named,
           r.stderr)
    time.sleep(0.1)
    report("%s: the task runs on, untraced, no images left" % name,
           task.poll() is None and status_field(task.pid, "TracerPid") == "0"
           and not [f for f in os.listdir(img) if f.endswith(".img")])
    task.kill()
    task.wait()

for obj in keep:
    obj.close() if hasattr(obj, "close") else os.close(obj)
for d in overmounted:
    subprocess.run(["umount", d])
failed, skipped = results.count(False), results.count(None)
print("%d passed, %d failed, %d skipped" % (len(results) - failed - skipped, failed, skipped))
sys.exit(1 if failed else 0)
