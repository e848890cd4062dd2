#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The image store through the command line: store init/ls/verify/rm; dump --store of a real
# process (selftests/demo/counter.c: a tick counter with a 64 MiB patterned buffer that
# checks itself on SIGUSR1) and restore --store, verified from inside the restored process;
# a flipped byte in an image refused naming the file, changing nothing; a failed dump
# leaving no checkpoint; a failed restore marking the checkpoint failed and its retry by
# id; and the pmem: backend on a loop device (ext4, no DAX on this host).
# ZDTM programs (anon256m: two copy threads; protnone: pages read through /proc/PID/mem)
# go through dump --store and restore --store too: the digests the page copy computes as it
# copies must equal those recomputed at restore.
# Usage: store_test.py FERRY COUNTER TICKER ZDTM_DIR WORKDIR
import ctypes, os, re, shutil, signal, subprocess, sys, time
from tap import check, results, counter_ok

ferry, counter, ticker, zdtm, work = map(os.path.abspath, sys.argv[1:6])
skips = []


def skip(name, why):
    skips.append(name)
    print("ok %d %s # SKIP %s" % (len(results) + len(skips), name, why))


def ferry_run(*args):
    return subprocess.run([ferry, *args], capture_output=True, text=True, timeout=120)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def reap(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def kill_reap(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    reap(pid)


def wait_for(path, pattern, secs=15):
    end = time.time() + secs
    while time.time() < end:
        text = open(path).read() if os.path.exists(path) else ""
        if re.search(pattern, text, re.M):
            return text
        time.sleep(0.1)
    return None


def last_tick(path):
    ticks = re.findall(r"^tick (\d+)$", open(path).read(), re.M)
    return int(ticks[-1]) if ticks else 0


def start_counter(log):
    p = subprocess.Popen([counter, log], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
    wait_for(log, r"^tick 2$")
    return p


def tree_hash(d):
    out = []
    for root, _, files in sorted(os.walk(d)):
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                out.append((os.path.relpath(os.path.join(root, name), d), hash(f.read())))
    return out


def ls_state(spec, ckpt):
    r = ferry_run("store", "ls", spec)
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[0] == ckpt:
            return f[1]
    return None




def flip_byte(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0xff]))


# the restored tasks are reparented to us when `ferry restore -d` exits: reap them at once
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")
store_dir = os.path.join(work, "store")
spec = "dir:" + store_dir
log = os.path.join(work, "counter.log")

# 1. help, init, empty ls
r = ferry_run("store", "--help")
check("ferry store --help", r.returncode == 0 and "Usage: ferry store" in r.stdout, r.stderr)
r = ferry_run("store", "init", spec)
check("store init makes a dir: store", r.returncode == 0 and
      os.path.exists(os.path.join(store_dir, "ferry-store")), r.stderr)
r = ferry_run("store", "ls", spec)
check("store ls of an empty store", r.returncode == 0 and "0 checkpoints" in r.stdout,
      r.stdout + r.stderr)
r = ferry_run("store", "ls", "dir:" + os.path.join(work, "nothing"))
check("store ls of a missing store fails, saying how to make one",
      r.returncode == 1 and "store init" in r.stderr, r.stderr)

# 2. a failed dump into the store (the task holds a pidfd) leaves no checkpoint behind
pidfd = os.pidfd_open(os.getpid())
task = subprocess.Popen([ticker], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, pass_fds=[pidfd], start_new_session=True)
os.close(pidfd)
time.sleep(0.3)
r = ferry_run("dump", "-t", str(task.pid), "--store", spec)
time.sleep(0.1)
check("a failed dump --store leaves the task running and no checkpoint",
      r.returncode == 1 and task.poll() is None and
      not [d for d in os.listdir(store_dir) if d.startswith("ckpt-")],
      r.stderr + str(os.listdir(store_dir)))
task.kill()
task.wait()

# a store too small for the process: the dump fails cleanly, the process runs on
small = os.path.join(work, "small")
os.makedirs(small)
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "ferry-test", small]).returncode:
    skip("a full store", "cannot mount a tmpfs")
else:
    try:
        proc = start_counter(log)
        r = ferry_run("dump", "-t", str(proc.pid), "--store", "dir:" + small)
        time.sleep(0.2)
        check("a dump into a full store fails saying so; the task runs on; no checkpoint",
              r.returncode == 1 and "No space left" in r.stderr and proc.poll() is None
              and not [d for d in os.listdir(small) if d.startswith("ckpt-")],
              r.stderr + str(os.listdir(small)))
        check("... and its memory is intact", counter_ok(proc.pid, log))
        proc.kill()
        proc.wait()
        open(log, "w").close()
    finally:
        subprocess.run(["umount", small])

# 3. dump --store of the counter prints the id; it is sealed and verifies
proc = start_counter(log)
pid = proc.pid
r = ferry_run("dump", "-t", str(pid), "--store", spec, "-o", os.path.join(work, "dump.log"),
              "-v4")
ckpt = r.stdout.strip()
proc.wait()
after = last_tick(log)
check("dump --store succeeds and prints the checkpoint id",
      r.returncode == 0 and re.fullmatch(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{4}", ckpt) and
      not alive(pid), r.stdout + r.stderr)
ckdir = os.path.join(store_dir, "ckpt-" + ckpt)
pages = os.path.join(ckdir, "tree-0", "pages-1.img")
m = re.search(r"sealed: .* (\d+) bytes \((\d+) of them hashed during the copy\)",
              open(os.path.join(work, "dump.log")).read())
check("the pages were hashed as they were copied, not read again at the seal",
      m and int(m.group(2)) == os.path.getsize(pages), m and m.group(0))
check("the checkpoint holds tree-0 with the images and a manifest",
      os.path.exists(os.path.join(ckdir, "manifest")) and os.path.getsize(pages) >= 64 << 20)
r = ferry_run("store", "ls", spec)
check("store ls shows it sealed, with the kernel", ls_state(spec, ckpt) == "sealed" and
      os.uname().release in r.stdout, r.stdout + r.stderr)
r = ferry_run("store", "verify", spec)
check("store verify: ok", r.returncode == 0 and (ckpt + ": ok") in r.stdout, r.stdout + r.stderr)

# 4. a flipped byte in the pages: verify names the file, restore is refused, nothing changes
flip_byte(pages, 12345)
snap = tree_hash(ckdir)
r = ferry_run("store", "verify", spec, ckpt)
check("verify of a corrupt image fails naming it with expected and actual checksums",
      r.returncode == 1 and "tree-0/pages-1.img" in r.stderr and "expected" in r.stderr
      and "actual" in r.stderr, r.stdout + r.stderr)
r = ferry_run("restore", "--store", spec, "-d")
check("restore of the corrupt checkpoint is refused naming the file",
      r.returncode == 1 and "tree-0/pages-1.img" in r.stderr and not alive(pid), r.stderr)
check("... and leaves the checkpoint as it was (images, manifest, state)",
      tree_hash(ckdir) == snap and ls_state(spec, ckpt) == "sealed")
flip_byte(pages, 12345)
r = ferry_run("store", "verify", spec, ckpt)
check("with the byte put back it verifies again", r.returncode == 0, r.stderr)

# 5. restore --store: same PID, counting on from where it stopped, memory intact
pidfile = os.path.join(work, "pid")
r = ferry_run("restore", "--store", spec, "-d", "--pidfile", pidfile, "-o",
              os.path.join(work, "restore.log"), "-v4")
rpid = int(open(pidfile).read().split()[0]) if os.path.exists(pidfile) else 0
check("restore --store succeeds with the same PID", r.returncode == 0 and rpid == pid and
      alive(pid), r.stderr)
check("the checkpoint is now restored", ls_state(spec, ckpt) == "restored")
text = wait_for(log, r"^tick %d$" % (after + 1))
ticks = [int(t) for t in re.findall(r"^tick (\d+)$", text or "", re.M)]
check("it counts on from tick %d where it was dumped: 1, 2, ... with no gap or restart"
      % after, text is not None and ticks == list(range(1, len(ticks) + 1)), text)
check("its 64 MiB buffer checks out from inside", counter_ok(pid, log), open(log).read()[-300:])
r = ferry_run("restore", "--store", spec, "-d")
check("a restored checkpoint is not restored again", r.returncode == 1 and
      "already restored" in r.stderr, r.stderr)
kill_reap(pid)

# 6. a failed restore marks the checkpoint failed; only a retry by id restores it
open(log, "w").close()
proc = start_counter(log)
pid = proc.pid
r = ferry_run("dump", "-R", "-t", str(pid), "--store", spec)
ckpt2 = r.stdout.strip()
check("dump -R --store: a second checkpoint, the task runs on",
      r.returncode == 0 and ckpt2 and ckpt2 != ckpt and alive(pid), r.stderr)
r = ferry_run("restore", "--store", spec, "-d")
check("restore while the PID is in use fails and marks the checkpoint failed",
      r.returncode == 1 and ls_state(spec, ckpt2) == "failed" and "retry" in r.stderr,
      r.stderr)
r = ferry_run("restore", "--store", spec, "-d")
check("the newest checkpoint is failed: restore without --checkpoint refuses, says how",
      r.returncode == 1 and "--checkpoint " + ckpt2 in r.stderr, r.stderr)
proc.kill()
proc.wait()
r = ferry_run("restore", "--store", spec, "--checkpoint", ckpt2, "-d")
check("the retry by id restores it", r.returncode == 0 and alive(pid) and
      ls_state(spec, ckpt2) == "restored", r.stderr)
check("... and the restored counter checks out from inside", counter_ok(pid, log))
kill_reap(pid)

# 7. store rm
r = ferry_run("store", "rm", spec, ckpt)
check("store rm removes a checkpoint", r.returncode == 0 and not os.path.exists(ckdir) and
      ls_state(spec, ckpt) is None and ls_state(spec, ckpt2) == "restored", r.stderr)
r = ferry_run("store", "rm", spec, "20000101-000000-0000")
check("store rm of an unknown id fails naming it", r.returncode == 1 and
      "20000101-000000-0000" in r.stderr, r.stderr)
r = ferry_run("restore", "--store", spec, "-D", work, "-d")
check("restore with both --store and -D is a usage error", r.returncode == 2 and
      "not both" in r.stderr, r.stderr)
r = ferry_run("restore", "--checkpoint", ckpt2, "-d")
check("--checkpoint without --store is a usage error", r.returncode == 2 and
      "--store" in r.stderr, r.stderr)
r = ferry_run("restore", "--store", spec, "--checkpoint", "../../etc", "-d")
check("a checkpoint id with a path in it is refused", r.returncode == 1 and "bad" in r.stderr,
      r.stderr)


# 8. ZDTM programs through the store, checked from inside on SIGTERM
def zdtm_test(name):
    ready = os.path.join(work, name + ".ready")
    out = os.path.join(work, name + ".out")
    env = dict(os.environ, ZT_READY=ready)
    p = subprocess.Popen([os.path.join(zdtm, name)], stdin=subprocess.DEVNULL,
                         stdout=open(out, "w"), stderr=subprocess.STDOUT, close_fds=True,
                         start_new_session=True, env=env, cwd=work)
    end = time.time() + 60
    while not os.path.exists(ready) and time.time() < end and p.poll() is None:
        time.sleep(0.1)
    r = ferry_run("dump", "-t", str(p.pid), "--store", spec)
    p.wait()
    r2 = ferry_run("restore", "--store", spec, "--checkpoint", r.stdout.strip(), "-d")
    ok = r.returncode == 0 and r2.returncode == 0 and alive(p.pid)
    if ok:
        os.kill(p.pid, signal.SIGTERM)
        _, status = os.waitpid(p.pid, 0)
        ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    else:
        kill_reap(p.pid)
    check("zdtm %s: dump --store, restore --store, PASS from inside" % name,
          ok and "PASS" in open(out).read(), r.stderr + r2.stderr + open(out).read()[-500:])


for name in ("protnone", "anon256m"):
    zdtm_test(name)


# 9. the pmem: backend on a loop device
def pmem_test():
    img = os.path.join(work, "pmem.img")
    with open(img, "wb") as f:
        f.truncate(256 << 20)
    # it holds something already: init must not erase it unless forced
    subprocess.run(["/usr/sbin/mkfs.ext2", "-q", "-F", img], check=True)
    r = subprocess.run(["losetup", "-f", "--show", img], capture_output=True, text=True)
    if r.returncode:
        skip("pmem backend on a loop device", "no loop device: " + r.stderr.strip())
        return
    dev = r.stdout.strip()
    pspec = "pmem:" + dev
    try:
        r = ferry_run("store", "init", pspec)
        check("store init refuses to erase a device with a filesystem, naming it",
              r.returncode == 1 and "ext2" in r.stderr and "--force" in r.stderr, r.stderr)
        r = ferry_run("store", "init", pspec, "--force")
        check("store init --force on a loop device (mkfs.ext4)", r.returncode == 0, r.stderr)
        r = ferry_run("store", "init", pspec)
        check("a second init without --force is refused", r.returncode == 1 and
              "--force" in r.stderr, r.stderr)
        open(log, "w").close()
        proc = start_counter(log)
        pid = proc.pid
        r = ferry_run("dump", "-t", str(pid), "--store", pspec, "-v3")
        pckpt = r.stdout.strip()
        proc.wait()
        check("dump --store pmem: (mounted without DAX here, logged)",
              r.returncode == 0 and pckpt and "no DAX" in r.stderr, r.stderr)
        r = ferry_run("store", "verify", pspec)
        check("the pmem store verifies", r.returncode == 0 and (pckpt + ": ok") in r.stdout,
              r.stdout + r.stderr)
        r = ferry_run("restore", "--store", pspec, "-d")
        check("restore --store pmem: brings the counter back", r.returncode == 0 and
              alive(pid) and counter_ok(pid, log), r.stderr)
        kill_reap(pid)
        check("ferry left no mount behind", dev not in open("/proc/self/mounts").read())
    finally:
        subprocess.run(["losetup", "-d", dev])


pmem_test()
print("%d passed, %d failed, %d skipped" % (results.count(True), results.count(False),
                                             len(skips)))
sys.exit(0 if all(results) else 1)
