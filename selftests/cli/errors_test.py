#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The error promises, through the command line: a failed dump leaves the task running and
# untraced with no images left; a restore whose PID is taken, or whose images are corrupt
# or truncated, is refused with a message naming the file (and offset) and changes
# nothing; a non-root caller is refused; usage errors exit 2.
# Usage: errors_test.py FERRY TICKER WORKDIR
import os, shutil, signal, subprocess, sys, time

ferry, ticker, work = sys.argv[1:4]
results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print(("ok" if cond else "not ok") + " %d %s" % (len(results), name))
    if not cond and detail:
        for line in str(detail).splitlines()[:20]:
            print("#   " + line)


def ferry_run(*args, **kw):
    return subprocess.run([ferry, *args], capture_output=True, text=True, **kw)


def status_field(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]
    return None


def start_ticker(stdout):
    return subprocess.Popen([ticker], stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)


def file_ticks(path):
    with open(path) as f:
        return len(f.read().splitlines())


def tree_hash(d):
    out = []
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out.append((name, hash(f.read())))
    return out


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
