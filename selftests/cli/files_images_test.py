#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The files' own images are untrusted input: a task holding a pipe with data, a memfd and
# an unlinked file is dumped; copies of its images with pipes-data.img, the memfd's pages
# or the ghost file truncated, or memfd.img missing, must each be refused naming the file,
# kill whatever the restore created and leave the images unchanged; the pristine images
# then restore a task that runs on.
# Usage: files_images_test.py FERRY TICKER WORKDIR
import os, shutil, signal, subprocess, sys, time
from tap import check, finish, refuse_hostile

ferry, ticker, work = sys.argv[1:4]


shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")

r, w = os.pipe()
os.write(w, b"p" * 3000)
mfd = os.memfd_create("zt-images")
os.write(mfd, b"m" * 10000)
ghost_path = os.path.join(work, "ghost")
gfd = os.open(ghost_path, os.O_RDWR | os.O_CREAT, 0o600)
os.write(gfd, b"g" * 20000)
os.unlink(ghost_path)
out = open(os.path.join(work, "ticks.out"), "w")
task = subprocess.Popen([ticker], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL,
                        pass_fds=[r, mfd, gfd], start_new_session=True)
for fd in (r, w, mfd, gfd):
    os.close(fd)
time.sleep(0.3)
img = os.path.join(work, "img")
d = subprocess.run([ferry, "dump", "-t", str(task.pid), "-D", img], capture_output=True,
                   text=True)
task.wait()
names = os.listdir(img) if os.path.isdir(img) else []
check("the task with a pipe, a memfd and a ghost file is dumped",
      d.returncode == 0 and "pipes-data.img" in names and "memfd.img" in names and
      "ghost-file-1.img" in names, d.stderr + " ".join(names))


def truncate(name, by):
    def mutate(dirname):
        p = os.path.join(dirname, name)
        os.truncate(p, os.path.getsize(p) - by)
    return mutate


cases = [("truncated pipe data", truncate("pipes-data.img", 100), "pipes-data.img"),
         ("truncated memfd pages", truncate("pages-65536.img", 4096), "pages-65536.img"),
         ("truncated ghost file", truncate("ghost-file-1.img", 1000), "ghost-file-1.img"),
         ("missing memfd.img", lambda dn: os.unlink(os.path.join(dn, "memfd.img")), "memfd.img")]
refuse_hostile(ferry, img, work, cases, task.pid,
               "restore with a %s is refused naming %s")

res = subprocess.run([ferry, "restore", "-D", img, "-d"], capture_output=True, text=True)
time.sleep(0.5)
n = len(open(os.path.join(work, "ticks.out")).read().splitlines())
time.sleep(0.5)
ticking = len(open(os.path.join(work, "ticks.out")).read().splitlines()) > n
check("the intact images restore a task that runs on", res.returncode == 0 and ticking,
      res.stderr)
if res.returncode == 0:
    os.kill(task.pid, signal.SIGKILL)

finish()
