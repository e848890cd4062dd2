#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The host's network across a kexec, without the kexec: a process holding an established
# TCP connection through a host link fh9 (addresses v4 and v6, and a route through it to
# the peer's network) is dumped with --tcp-established --host-links and killed. Then the
# test makes the host look like a freshly booted one: the network lock's table is gone
# (a kexec loses it), fh9 has no address, no route and is down, while the peer goes on
# sending. The restore must lock the connection again, bring fh9 back (up, addresses,
# route) and the connection with it: the peer checks every byte of its stream echoed back,
# with no gap, duplicate or reset. Also: without --host-links no such image; a link
# missing at restore fails it, naming the link, images unchanged.
# "The host" is a private network namespace, the peer another one.
# Usage: hostnet_test.py FERRY SOCKHOLDER WORKDIR   (as root)
import ctypes, os, shutil, signal, socket, subprocess, sys, time
from tap import check, finish, reap

if os.environ.get("FERRY_HOSTNET_TEST") != "inner":
    os.environ["FERRY_HOSTNET_TEST"] = "inner"
    os.execvp("unshare", ["unshare", "-n", sys.executable, *sys.argv])

ferry, holder, work = sys.argv[1:4]
PORT = 7790
PEER = "10.80.0.5"	# on the peer's lo: reached only through the route via fh9
libc = ctypes.CDLL(None, use_errno=True)


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True)


def pat(i):
    return bytes((x * 7 + (x >> 8)) & 0xff for x in range(i, i + 1024))


class Peer:
    """The remote end: sends a numbered pattern, checks that it comes back whole."""

    def __init__(self, ls):
        ls.settimeout(10)
        self.s, _ = ls.accept()
        self.s.settimeout(0.05)
        self.tx = self.rx = 0
        self.err = None

    def pump(self, seconds, send=True):
        end = time.time() + seconds
        while time.time() < end and not self.err:
            if send and self.tx - self.rx < 64 << 10:
                try:
                    self.tx += self.s.send(pat(self.tx))
                except (BlockingIOError, socket.timeout):
                    pass
                except OSError as e:
                    self.err = "send: %s" % e
            try:
                data = self.s.recv(65536)
                if not data:
                    self.err = "EOF from the restored side at byte %d" % self.rx
                exp = b"".join(pat(i) for i in range(self.rx, self.rx + len(data), 1024))
                if data != exp[:len(data)]:
                    self.err = "stream differs at byte %d" % self.rx
                self.rx += len(data)
            except socket.timeout:
                pass
            except OSError as e:
                self.err = "recv: %s" % e
        return self.err


def peer_socket(pid):
    """A listening socket in the peer's namespace (that of pid)."""
    here = os.open("/proc/self/ns/net", os.O_RDONLY)
    there = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY)
    if libc.setns(there, 0x40000000):
        raise OSError(ctypes.get_errno(), "setns")
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    libc.setns(here, 0x40000000)
    os.close(here)
    os.close(there)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", PORT))
    ls.listen(4)
    return ls


def images(img):
    return sorted((f, open(os.path.join(img, f), "rb").read()) for f in os.listdir(img)
                  if not f.endswith(".log"))


def start_holder():
    p = subprocess.Popen([holder, "tcp4", PEER, str(PORT)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    return p.pid, Peer(ls)


libc.prctl(36, 1, 0, 0, 0)	# PR_SET_CHILD_SUBREAPER: the restored task comes back to us
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")
sh("ip link set lo up")
if sh("nft list tables").returncode:
    print("ok 1 # SKIP no nftables here: " + sh("nft list tables").stderr.strip())
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)
probe = sh("ip link add fprobe0 type veth peer name fprobe1 && ip link del fprobe0")
if probe.returncode:
    print("ok 1 # SKIP no veth links in this kernel: " + probe.stderr.strip())
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)
r = subprocess.run([ferry, "check"], capture_output=True, text=True)
check("ferry check: the network lock works here", any(
    l.split()[:2] == ["ok", "network-lock"] for l in r.stdout.splitlines()), r.stdout)
ns = subprocess.Popen(["unshare", "-n", "sleep", "600"])
time.sleep(0.3)
setup = sh("""set -e
ip link add fh9 type veth peer name pv9
ip link set pv9 netns /proc/{p}/ns/net
ip addr add 10.79.0.1/24 dev fh9; ip -6 addr add fd79::1/64 dev fh9 nodad
ip link set fh9 mtu 1400 up
ip route add 10.80.0.0/24 via 10.79.0.2 dev fh9 metric 9
nsenter -t {p} -n sh -ec '
ip link set lo up; ip addr add {peer}/32 dev lo
ip addr add 10.79.0.2/24 dev pv9; ip link set pv9 mtu 1400 up'
""".format(p=ns.pid, peer=PEER))
check("set-up: host link fh9 (v4, v6, a route through it), a peer behind it",
      setup.returncode == 0, setup.stderr)
if setup.returncode:
    ns.kill()
    finish()
ls = peer_socket(ns.pid)
pid, peer = start_holder()
err = peer.pump(1.0)
check("the connection streams before the dump", not err and peer.rx > 0, err)

img = os.path.join(work, "img")
os.makedirs(img)
r = subprocess.run([ferry, "dump", "-t", str(pid), "-D", img, "--tcp-established",
                    "--host-links", "-v4", "-o", "dump.log"], capture_output=True, text=True)
check("dump --tcp-established --host-links", r.returncode == 0 and reap(pid), r.stderr)
names = os.listdir(img)
check("host-netdev.img and host-netns.img written",
      "host-netdev.img" in names and "host-netns.img" in names, names)
if shutil.which("crit") and "host-netdev.img" in names:
    c = subprocess.run(["crit", "decode", "-i", os.path.join(img, "host-netdev.img")],
                       capture_output=True, text=True)
    check("crit decodes host-netdev.img (fh9, EXTLINK)", c.returncode == 0 and
          "fh9" in c.stdout and "EXTLINK" in c.stdout, c.stdout + c.stderr)

# a freshly booted host: no lock, fh9 down without addresses and routes
sh("nft delete table inet ferry_lock_%d" % pid)
sh("ip addr flush dev fh9; ip link set fh9 down")
bare = sh("ip -o addr show dev fh9 scope global; ip route show 10.80.0.0/24").stdout.strip()
check("the host looks freshly booted: fh9 down, no address, no route", bare == "", bare)
peer.pump(1.0)	# sends into the void: retransmitted later
before = images(img)
r = subprocess.run([ferry, "restore", "-D", img, "-d", "-v4", "-o", "restore.log"],
                   capture_output=True, text=True)
log = open(os.path.join(img, "restore.log")).read()
check("restore -d", r.returncode == 0, r.stderr + log[-3000:])
link = sh("ip -o link show fh9").stdout
addrs = sh("ip -o addr show dev fh9").stdout
route = sh("ip route show 10.80.0.0/24").stdout
check("fh9 is up again with mtu 1400", ("state UP" in link or ",UP" in link) and "mtu 1400" in link,
      link)
check("fh9 has 10.79.0.1/24 and fd79::1/64 again", "10.79.0.1/24" in addrs and
      "fd79::1/64" in addrs, addrs)
check("the route through fh9 is back", "via 10.79.0.2 dev fh9" in route and "metric 9" in route,
      route)
check("the restore took the lock again and removed it",
      "locked 10.79.0.1" in log and sh("nft list table inet ferry_lock_%d" % pid).returncode != 0,
      log[-2000:])
rx0 = peer.rx
err = peer.pump(6.0)
check("the peer's stream comes back whole after the restore: no gap, duplicate or reset",
      not err and peer.rx > rx0 + (64 << 10), "%s (rx %d -> %d)" % (err, rx0, peer.rx))
check("the images are unchanged by the restore", images(img) == before)

# without --host-links: no host images; a link missing at restore: refused, named
os.kill(pid, signal.SIGKILL)
reap(pid)
pid, peer = start_holder()
peer.pump(0.5)
img2 = os.path.join(work, "img2")
os.makedirs(img2)
r = subprocess.run([ferry, "dump", "-t", str(pid), "-D", img2, "--tcp-established"],
                   capture_output=True, text=True)
check("dump without --host-links saves no host link", r.returncode == 0 and reap(pid) and
      "host-netdev.img" not in os.listdir(img2), r.stderr)
os.kill(pid, signal.SIGKILL) if os.path.exists("/proc/%d" % pid) else None
pid, peer = start_holder()
peer.pump(0.5)
img3 = os.path.join(work, "img3")
os.makedirs(img3)
r = subprocess.run([ferry, "dump", "-t", str(pid), "-D", img3, "--tcp-established",
                    "--host-links"], capture_output=True, text=True)
ok = r.returncode == 0 and reap(pid)
sh("ip link set fh9 name fh9gone")
before = images(img3)
r = subprocess.run([ferry, "restore", "-D", img3, "-d"], capture_output=True, text=True)
check("a host link missing at restore fails it, naming the link", ok and r.returncode != 0 and
      "link fh9" in r.stderr and "not in this boot" in r.stderr, r.stderr)
check("nothing left running, images unchanged", not os.path.exists("/proc/%d" % pid) and
      images(img3) == before)
sh("nft delete table inet ferry_lock_%d" % pid)
ns.kill()
finish()
