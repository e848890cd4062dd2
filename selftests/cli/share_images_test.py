#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# ids-PID.img is untrusted input: the tree of zdtm/tree_clone_files (R; F and G in R's fd
# table; S in R's fs) is dumped, then a copy of its images in which F claims S's files_id
# (a table shared by two tasks that are not parent and child) must be refused naming an
# ids image and the offset of its entry, before any task is created, the images unchanged;
# so must copies in which S claims F's fs_id or R's vm_id (CLONE_VM is not supported).
# Usage: share_images_test.py FERRY TREE_CLONE_FILES WORKDIR
import ctypes, os, shutil, subprocess, sys, time
from tap import check, results, finish

ferry, test_bin, work = [os.path.abspath(a) for a in sys.argv[1:4]]


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def enc_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


# ids-PID.img: two magics, a u32 size, then task_kobj_ids_entry (varint fields only)
def read_ids(path):
    data = open(path, "rb").read()
    size = int.from_bytes(data[8:12], "little")
    msg, fields, i = data[12:12 + size], [], 0
    while i < len(msg):
        tag, i = varint(msg, i)
        val, i = varint(msg, i)
        fields.append([tag >> 3, val])
    return data[:8], fields


def write_ids(path, magics, fields):
    msg = b"".join(enc_varint(n << 3) + enc_varint(v) for n, v in fields)
    open(path, "wb").write(magics + len(msg).to_bytes(4, "little") + msg)


def field(fields, num):
    return next(v for n, v in fields if n == num)


def set_field(path, num, val):
    magics, fields = read_ids(path)
    for f in fields:
        if f[0] == num:
            f[1] = val
    write_ids(path, magics, fields)


def tree_hash(d):
    return [(n, hash(open(os.path.join(d, n), "rb").read())) for n in sorted(os.listdir(d))]


def pids_free(pids):
    reap()
    return all(not os.path.exists("/proc/%d" % p) for p in pids)


ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)     # PR_SET_CHILD_SUBREAPER: we reap the orphans
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")
out = open(os.path.join(work, "test.out"), "w")
task = subprocess.Popen([test_bin], cwd=work, stdin=subprocess.DEVNULL, stdout=out,
                        stderr=out, env=dict(os.environ, ZT_READY=os.path.join(work, "ready")))
for _ in range(500):
    if os.path.exists(os.path.join(work, "ready")):
        break
    time.sleep(0.02)
img = os.path.join(work, "img")
d = subprocess.run([ferry, "dump", "-t", str(task.pid), "-D", img], capture_output=True,
                   text=True)
task.wait()
time.sleep(0.2)
reap()
ids = {int(n[4:-4]): read_ids(os.path.join(img, n))[1] for n in os.listdir(img)
       if n.startswith("ids-")} if os.path.isdir(img) else {}
check("the tree with CLONE_FILES and CLONE_FS children is dumped",
      d.returncode == 0 and len(ids) == 4, d.stderr)
if d.returncode or len(ids) != 4:
    sys.exit(1)
root = ids[task.pid]
f_pid = next(p for p in ids if p != task.pid and field(ids[p], 2) == field(root, 2))
s_pid = next(p for p in ids if field(ids[p], 3) == field(root, 3) and p != task.pid)
check("ids: F has R's files_id, S R's fs_id and its own files_id",
      field(ids[s_pid], 2) != field(root, 2) and field(ids[f_pid], 3) != field(root, 3))

cases = [("F claims S's files_id", f_pid, 2, field(ids[s_pid], 2)),
         ("S claims F's fs_id", s_pid, 3, field(ids[f_pid], 3)),
         ("S claims R's vm_id", s_pid, 1, field(root, 1))]
for what, pid, num, val in cases:
    bad = os.path.join(work, "bad-%d-%d" % (pid, num))
    shutil.copytree(img, bad)
    set_field(os.path.join(bad, "ids-%d.img" % pid), num, val)
    snap = tree_hash(bad)
    res = subprocess.run([ferry, "restore", "-D", bad, "-d"], capture_output=True, text=True)
    check("restore where %s is refused naming ids-N.img and an offset" % what,
          res.returncode == 1 and "ids-" in res.stderr and "at offset" in res.stderr and
          pids_free(ids.keys()), res.stderr)
    check("... and leaves those images unchanged", tree_hash(bad) == snap)

finish()
