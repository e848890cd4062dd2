#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The error promises, through the command line: a failed dump leaves the task running and
# untraced with no images left; a restore whose PID is taken, or whose images are corrupt
# or truncated, is refused with a message naming the file (and offset) and changes
# nothing; a non-root caller is refused; usage errors exit 2.
# Usage: errors_test.py FERRY TICKER WORKDIR
import ctypes, json, os, shutil, signal, subprocess, sys, time
from tap import check, results, tree_hash

ferry, ticker, work = sys.argv[1:4]


def ferry_run(*args, **kw):
    return subprocess.run([ferry, *args], capture_output=True, text=True, **kw)


def status_field(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]
    return None


def start_ticker(stdout, threads=0):
    return subprocess.Popen([ticker] + ([str(threads)] if threads else []),
                            stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)


def thread_states(pid):
    """(TracerPid, State) of every thread of pid."""
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        out.append((fields["TracerPid"].strip(), fields["State"].split()[0]))
    return out


def last_thread_ticks(data):
    lines = [l for l in data.decode().splitlines() if " threads " in l]
    return int(lines[-1].split()[-1]) if lines else -1


def file_ticks(path):
    with open(path) as f:
        return len(f.read().splitlines())


shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")

# 1. a failed dump (the task holds a pidfd, which ferry cannot restore) leaves it running,
# untraced, with no images
img = os.path.join(work, "pidfd-img")
pidfd = os.pidfd_open(os.getpid())
task = subprocess.Popen([ticker], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, pass_fds=[pidfd], start_new_session=True)
os.close(pidfd)
time.sleep(0.3)
r = ferry_run("dump", "-t", str(task.pid), "-D", img)
check("dump of a task holding a pidfd fails, naming the fd and the object",
      r.returncode == 1 and "fd %d" % pidfd in r.stderr and "[pidfd]" in r.stderr, r.stderr)
time.sleep(0.1)
check("the task is still running and not traced",
      task.poll() is None and status_field(task.pid, "TracerPid") == "0"
      and status_field(task.pid, "State") in ("S", "R"))
n0 = len(os.read(task.stdout.fileno(), 65536).splitlines())
time.sleep(0.5)
check("it still works (keeps printing)", len(os.read(task.stdout.fileno(), 65536)) > 0)
check("no images are left behind", os.path.isdir(img) and
      not [f for f in os.listdir(img) if f.endswith(".img")], os.listdir(img))
task.kill()
task.wait()

# 1b. a tree whose child is traced by someone else (us) is refused; nothing is left stopped
out = os.path.join(work, "tree-ticks.out")
tree = subprocess.Popen(["sh", "-c", "%s & wait" % ticker], stdin=subprocess.DEVNULL,
                        stdout=open(out, "w"), stderr=subprocess.DEVNULL, close_fds=True,
                        start_new_session=True)
time.sleep(0.3)
with open("/proc/%d/task/%d/children" % (tree.pid, tree.pid)) as f:
    kid = int(f.read().split()[0])
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_SEIZE = 0x4206
seized = libc.ptrace(PTRACE_SEIZE, kid, None, None) == 0
r = ferry_run("dump", "-t", str(tree.pid), "-D", os.path.join(work, "traced-img"))
check("dump of a tree with a child traced by another tracer is refused, naming it",
      seized and r.returncode == 1 and ("%d is already traced by %d" % (kid, os.getpid()))
      in r.stderr, r.stderr)
time.sleep(0.1)
check("the tree's root is running and untraced, the child still has only its tracer",
      tree.poll() is None and status_field(tree.pid, "TracerPid") == "0"
      and status_field(tree.pid, "State") in ("S", "R")
      and status_field(kid, "TracerPid") == str(os.getpid())
      and status_field(kid, "State") in ("S", "R"))
os.kill(kid, signal.SIGKILL)
tree.kill()
tree.wait()

# 1c. a restore failing in the tree's last task kills every task it created
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: the killed tasks come back to us
img = os.path.join(work, "tree-img")
kid_out = os.path.join(work, "kid-ticks.out")
tree = subprocess.Popen(["sh", "-c", "%s >%s & wait" % (ticker, kid_out)],
                        stdin=subprocess.DEVNULL, stdout=open(out, "w"),
                        stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
time.sleep(0.3)
with open("/proc/%d/task/%d/children" % (tree.pid, tree.pid)) as f:
    kid = int(f.read().split()[0])
r = ferry_run("dump", "-t", str(tree.pid), "-D", img)
tree.wait()


def reap_orphans():
    for _ in range(100):
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pass
        if not os.path.exists("/proc/%d" % kid):
            return
        time.sleep(0.02)


reap_orphans()
os.unlink(kid_out)  # the child's stdout: its restore fails once the tree exists
before = tree_hash(img)
r = ferry_run("restore", "-D", img, "-d", "-W", work, "-v4", "-o", "tree-restore.log")
reap_orphans()
check("a restore failing in the last task of a tree fails, naming the file",
      r.returncode == 1 and "kid-ticks.out" in r.stderr, r.stderr)
left = [p for p in (tree.pid, kid) if os.path.exists("/proc/%d" % p)]
check("... kills every task it created (%d, %d) and leaves the images unchanged" %
      (tree.pid, kid), not left and tree_hash(img) == before,
      "still there: %s %s" % (left, [open("/proc/%d/stat" % p).read() for p in left]))

# 1d. the task of 1. with 8 more threads: every thread is let go untraced, and each keeps running
thr_img = os.path.join(work, "pidfd-threads-img")  # img stays the tree's, for 1e
pidfd = os.pidfd_open(os.getpid())
task = subprocess.Popen([ticker, "8"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, pass_fds=[pidfd], start_new_session=True)
os.close(pidfd)
time.sleep(0.5)
r = ferry_run("dump", "-t", str(task.pid), "-D", thr_img, "-v4")
check("dump of a multi-threaded task holding a pidfd fails, naming it",
      r.returncode == 1 and "[pidfd]" in r.stderr and "seized 8 more threads" in r.stderr,
      r.stderr[-2000:])
time.sleep(0.1)
states = thread_states(task.pid)
check("all 9 threads are still there, none traced or stopped",
      task.poll() is None and len(states) == 9 and
      all(tr == "0" and st in ("S", "R") for tr, st in states), states)
t0 = last_thread_ticks(os.read(task.stdout.fileno(), 65536))
time.sleep(0.6)
t1 = last_thread_ticks(os.read(task.stdout.fileno(), 65536))
check("the threads still count (8 threads, 50 ms each: more than 8 ticks in 0.6 s)",
      t0 >= 0 and t1 - t0 > 8, (t0, t1))
task.kill()
task.wait()


# 1e. a hostile pstree.img (a parent that is not in the tree, a PID twice) is refused
def varint(v):
    out = b""
    while True:
        b, v = v & 0x7f, v >> 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def pstree_entry(pid, ppid, pgid, sid):
    msg = b"".join(bytes([(n << 3)]) + varint(v)
                   for n, v in ((1, pid), (2, ppid), (3, pgid), (4, sid), (5, pid)))
    return len(msg).to_bytes(4, "little") + msg


def rewrite_pstree(name, entries):
    d = os.path.join(work, "tree-" + name)
    shutil.copytree(img, d)
    with open(os.path.join(d, "pstree.img"), "r+b") as f:
        magic = f.read(8)
        f.seek(0)
        f.truncate()
        f.write(magic + b"".join(pstree_entry(*e) for e in entries))
    return d


root = (tree.pid, 0, tree.pid, tree.pid)
for name, entries, words in (
        ("parent-outside", [root, (kid, 999999, tree.pid, tree.pid)], "not an earlier entry"),
        ("pid-twice", [root, (tree.pid, tree.pid, tree.pid, tree.pid)], "appears twice")):
    d = rewrite_pstree(name, entries)
    snap = tree_hash(d)
    r = ferry_run("restore", "-D", d, "-d")
    check("restore with a pstree.img with a %s is refused naming pstree.img" % name,
          r.returncode == 1 and "pstree.img" in r.stderr and words in r.stderr
          and not os.path.exists("/proc/%d" % tree.pid) and tree_hash(d) == snap, r.stderr)

# 2. nonsense targets
r = ferry_run("dump", "-t", "999999", "-D", os.path.join(work, "none"))
check("dump of a missing PID fails clearly", r.returncode == 1 and "999999" in r.stderr, r.stderr)
r = ferry_run("dump", "-t", str(os.getpid()), "-D", os.path.join(work, "self"))
check("dump of ferry's own ancestor is refused", r.returncode == 1, r.stderr)

# 3. dump -R, then a restore while the original still holds the PID
img = os.path.join(work, "img")
out = os.path.join(work, "ticks.out")
task = start_ticker(open(out, "w"))
time.sleep(0.3)
r = ferry_run("dump", "-R", "-t", str(task.pid), "-D", img, "-v4", "-o", "dump.log")
check("dump -R succeeds and the task runs on", r.returncode == 0 and task.poll() is None,
      r.stderr)
before = tree_hash(img)
r = ferry_run("restore", "-D", img, "-d")
check("restore while the PID is in use is refused, naming the PID",
      r.returncode == 1 and ("PID %d" % task.pid) in r.stderr, r.stderr)
check("the images are unchanged", tree_hash(img) == before)
task.kill()
task.wait()

# 4. corrupt and truncated images: refused before anything is created, images untouched
def corrupt_copy(name, mutate):
    d = os.path.join(work, "bad-" + name)
    shutil.copytree(img, d)
    mutate(d)
    return d


core = "core-%d.img" % task.pid
pages = "pages-1.img"


def flip_magic(d):
    with open(os.path.join(d, core), "r+b") as f:
        f.seek(4)
        f.write(b"\xde\xad\xbe\xef")


def truncate_core(d):
    p = os.path.join(d, core)
    os.truncate(p, os.path.getsize(p) - 7)


def truncate_pages(d):
    p = os.path.join(d, pages)
    os.truncate(p, os.path.getsize(p) - 4096)


def huge_entry(d):
    with open(os.path.join(d, "pstree.img"), "r+b") as f:
        f.seek(8)
        f.write(b"\xff\xff\xff\x7f")


cases = [("bad magic", flip_magic, core, "offset 4"),
         ("truncated entry", truncate_core, core, "offset"),
         ("oversize entry", huge_entry, "pstree.img", "offset 8"),
         ("truncated pages", truncate_pages, pages, pages)]
for what, mutate, fname, want in cases:
    d = corrupt_copy(what.replace(" ", "-"), mutate)
    snap = tree_hash(d)
    r = ferry_run("restore", "-D", d, "-d")
    check("restore with a %s is refused naming %s and %s" % (what, fname, want),
          r.returncode == 1 and fname in r.stderr and want in r.stderr
          and "Traceback" not in r.stderr and not os.path.exists("/proc/%d" % task.pid),
          r.stderr)
    check("... and leaves those images unchanged", tree_hash(d) == snap)
missing = corrupt_copy("missing", lambda d: os.unlink(os.path.join(d, "mm-%d.img" % task.pid)))
r = ferry_run("restore", "-D", missing, "-d")
check("restore with a missing image names it", r.returncode == 1 and
      ("mm-%d.img" % task.pid) in r.stderr, r.stderr)

# 5. the real restore still works from the pristine images
r = ferry_run("restore", "-D", img, "-d", "--pidfile", os.path.join(work, "pid"))
time.sleep(0.3)
with open(os.path.join(work, "pid")) as f:
    pid = int(f.read())
check("restore from the intact images works, same PID, and writes --pidfile",
      r.returncode == 0 and pid == task.pid and os.path.exists("/proc/%d" % pid), r.stderr)
n = file_ticks(out)
time.sleep(0.5)
check("the restored task keeps ticking", file_ticks(out) > n)
os.kill(pid, signal.SIGKILL)

# 5b. a multi-threaded task: its TIDs in use refuse the restore before anything is created;
# once they are free it comes back with every thread counting again
img = os.path.join(work, "img-threads")
out = os.path.join(work, "thread-ticks.out")
task = start_ticker(open(out, "w"), threads=3)
time.sleep(0.5)
r = ferry_run("dump", "-R", "-t", str(task.pid), "-D", img)
check("dump -R of a task with 3 more threads succeeds", r.returncode == 0, r.stderr)
before = tree_hash(img)
r = ferry_run("restore", "-D", img, "-d")
check("restore while its TIDs are in use is refused, naming one",
      r.returncode == 1 and "in use" in r.stderr and "thread" in r.stderr, r.stderr)
check("... and leaves the images unchanged", tree_hash(img) == before)
orig_tids = sorted(os.listdir("/proc/%d/task" % task.pid))
task.kill()
task.wait()


def bad_threads_copy(name, mutate):
    d = img + "-" + name
    shutil.copytree(img, d)
    mutate(d)
    return d


def dup_tid(d):
    p = os.path.join(d, "pstree.img")
    j = subprocess.run(["crit", "decode", "-i", p], capture_output=True, text=True, check=True)
    tree = json.loads(j.stdout)
    tree["entries"][0]["threads"][2] = tree["entries"][0]["threads"][1]
    subprocess.run(["crit", "encode", "-o", p], input=json.dumps(tree), text=True, check=True)


other = [t for t in orig_tids if int(t) != task.pid][0]
if shutil.which("crit"):
    d = bad_threads_copy("dup", dup_tid)
    r = ferry_run("restore", "-D", d, "-d")
    check("a thread listed twice in pstree.img is refused, naming the file",
          r.returncode == 1 and "pstree.img" in r.stderr and "twice" in r.stderr, r.stderr)
d = bad_threads_copy("nocore", lambda d: os.unlink(os.path.join(d, "core-%s.img" % other)))
r = ferry_run("restore", "-D", d, "-d")
check("a missing core image of a thread is refused, naming it",
      r.returncode == 1 and ("core-%s.img" % other) in r.stderr, r.stderr)
check("... and nothing was created", not os.path.exists("/proc/%d" % task.pid))
r = ferry_run("restore", "-D", img, "-d")
time.sleep(0.3)
with open(out, "rb") as f:
    t0 = last_thread_ticks(f.read())
time.sleep(0.6)
with open(out, "rb") as f:
    t1 = last_thread_ticks(f.read())
tids = sorted(os.listdir("/proc/%d/task" % task.pid)) if r.returncode == 0 else []
check("once they are free it is restored with its 4 TIDs, and the threads count again",
      r.returncode == 0 and tids == orig_tids and len(tids) == 4 and t1 - t0 > 3,
      (r.stderr, tids, orig_tids, t0, t1))
if r.returncode == 0:
    os.kill(task.pid, signal.SIGKILL)

# 5c. a stopped multi-threaded task: dump -R leaves every thread stopped; a dump and
# restore bring it back stopped with its TIDs, and SIGCONT makes every thread count again
def wait_states(pid, want, n):
    for _ in range(50):
        s = thread_states(pid)
        if len(s) == n and all(st == want for _, st in s):
            return s
        time.sleep(0.1)
    return thread_states(pid)


def ticks_after(path, delay):
    with open(path, "rb") as f:
        t0 = last_thread_ticks(f.read())
    time.sleep(delay)
    with open(path, "rb") as f:
        return last_thread_ticks(f.read()) - t0


img = os.path.join(work, "img-stopped")
out = os.path.join(work, "stopped-ticks.out")
task = start_ticker(open(out, "w"), threads=3)
time.sleep(0.5)
os.kill(task.pid, signal.SIGSTOP)
wait_states(task.pid, "T", 4)
r = ferry_run("dump", "-R", "-t", str(task.pid), "-D", img + "-R")
states = wait_states(task.pid, "T", 4)
check("dump -R of a stopped task with 3 more threads leaves all 4 stopped, untraced",
      r.returncode == 0 and all(tr == "0" and st == "T" for tr, st in states), (r.stderr, states))
orig_tids = sorted(os.listdir("/proc/%d/task" % task.pid))
r = ferry_run("dump", "-t", str(task.pid), "-D", img)
task.wait()
r2 = ferry_run("restore", "-D", img, "-d")
states = wait_states(task.pid, "T", 4) if r2.returncode == 0 else []
tids = sorted(os.listdir("/proc/%d/task" % task.pid)) if r2.returncode == 0 else []
check("dumped and restored, it is stopped again, all 4 threads with their TIDs",
      r.returncode == 0 and r2.returncode == 0 and tids == orig_tids and
      all(st == "T" for _, st in states), (r.stderr, r2.stderr, states, tids))
if r2.returncode == 0:
    still = ticks_after(out, 0.3)
    os.kill(task.pid, signal.SIGCONT)
    time.sleep(0.2)
    moved = ticks_after(out, 0.6)
    check("SIGCONT: the threads count again (they did not while stopped)",
          still == 0 and moved > 3, (still, moved))
    os.kill(task.pid, signal.SIGKILL)

# 6. non-root and usage
r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ferry,
                    "dump", "-t", "1", "-D", "/tmp"], capture_output=True, text=True)
check("a non-root caller is refused clearly", r.returncode == 1 and "root" in r.stderr,
      r.stderr)
for verb in ("dump", "restore", "check"):
    r = ferry_run(verb, "--help")
    check("ferry %s --help" % verb, r.returncode == 0 and "Usage: ferry %s" % verb in r.stdout,
          r.stdout + r.stderr)
r = ferry_run("dump", "--bogus")
check("an unknown option exits 2 with a hint", r.returncode == 2 and "--help" in r.stderr,
      r.stderr)
r = ferry_run("dump", "-D", work)
check("dump without -t exits 2 and says what is missing", r.returncode == 2 and "-t" in r.stderr,
      r.stderr)
r = ferry_run("--version")
check("ferry --version", r.returncode == 0 and r.stdout.startswith("ferry "), r.stdout)

print("%d passed, %d failed, 0 skipped" % (results.count(True), results.count(False)))
sys.exit(0 if all(results) else 1)
