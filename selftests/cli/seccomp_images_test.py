#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# seccomp.img and the seccomp fields of core-PID.img are untrusted input: a ticker running
# under two stacked seccomp filters is dumped; copies of its images with a filter whose prev
# link points at itself, a filter flag that PTRACE_SECCOMP_GET_METADATA never reports (TSYNC),
# a core naming a filter that is not in seccomp.img, or no seccomp.img at all must each be
# refused naming the file, kill whatever the restore created and leave the images unchanged;
# the pristine images then restore a ticker that runs on.
# Usage: seccomp_images_test.py FERRY TICKER WORKDIR
import ctypes, json, os, shutil, signal, struct, subprocess, sys, time
from tap import check, finish, refuse_hostile

ferry, ticker, work = sys.argv[1:4]
libc = ctypes.CDLL(None, use_errno=True)


def deny(nr, err):
    """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER): syscall nr fails with errno err."""
    insns = [(0x20, 0, 0, 0),                 # ld [nr]
             (0x15, 0, 1, nr),                # jeq nr, 0, 1
             (0x06, 0, 0, 0x00050000 | err),  # ret ERRNO(err)
             (0x06, 0, 0, 0x7fff0000)]        # ret ALLOW
    buf = ctypes.create_string_buffer(b"".join(struct.pack("<HBBI", *i) for i in insns))
    prog = struct.pack("<HxxxxxxQ", len(insns), ctypes.addressof(buf))
    pbuf = ctypes.create_string_buffer(prog)
    if libc.prctl(22, 2, ctypes.c_void_p(ctypes.addressof(pbuf)), ctypes.c_ulong(0),
                  ctypes.c_ulong(0)):   # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        os._exit(99)


def sandbox():
    deny(63, 42)    # uname
    deny(121, 43)   # getpgid


def crit_edit(path, edit):
    dec = subprocess.run(["crit", "decode", "-i", path], capture_output=True, text=True,
                         check=True)
    doc = json.loads(dec.stdout)
    edit(doc["entries"][0])
    enc = subprocess.run(["crit", "encode", "-o", path], input=json.dumps(doc),
                         capture_output=True, text=True)
    if enc.returncode:
        raise RuntimeError(enc.stderr)


shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")

out = open(os.path.join(work, "ticks.out"), "w")
task = subprocess.Popen([ticker], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL,
                        preexec_fn=sandbox, start_new_session=True)
time.sleep(0.3)
img = os.path.join(work, "img")
d = subprocess.run([ferry, "dump", "-t", str(task.pid), "-D", img], capture_output=True,
                   text=True)
task.wait()
names = os.listdir(img) if os.path.isdir(img) else []
core = "core-%d.img" % task.pid
check("the ticker under two seccomp filters is dumped",
      d.returncode == 0 and "seccomp.img" in names, d.stderr + " ".join(names))


def self_prev(e):
    e["seccomp_filters"][1]["prev"] = 1


def tsync_flag(e):
    e["seccomp_filters"][0]["flags"] = 1


def bad_index(e):
    e["thread_core"]["seccomp_filter"] = 7


cases = [("a filter that stacks on itself", lambda dn: crit_edit(
              os.path.join(dn, "seccomp.img"), self_prev), "seccomp.img"),
         ("a TSYNC filter flag", lambda dn: crit_edit(
              os.path.join(dn, "seccomp.img"), tsync_flag), "seccomp.img"),
         ("a core naming filter 7 of 2", lambda dn: crit_edit(
              os.path.join(dn, core), bad_index), core),
         ("no seccomp.img", lambda dn: os.unlink(os.path.join(dn, "seccomp.img")),
          "seccomp.img")]
refuse_hostile(ferry, img, work, cases if names else [], task.pid,
               "restore with %s is refused naming %s")

res = subprocess.run([ferry, "restore", "-D", img, "-d"], capture_output=True, text=True)
time.sleep(0.5)
n = len(open(os.path.join(work, "ticks.out")).read().splitlines())
time.sleep(0.5)
ticking = len(open(os.path.join(work, "ticks.out")).read().splitlines()) > n
check("the intact images restore a ticker that runs on", res.returncode == 0 and ticking,
      res.stderr)
if res.returncode == 0:
    os.kill(task.pid, signal.SIGKILL)

finish()
