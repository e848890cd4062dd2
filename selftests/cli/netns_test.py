#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Network namespaces: a task in its own network namespace (lo up, a veth fv0 to the host
# with v4 and v6 addresses, routes, sysctls) is dumped with --external veth[fv0]:fh0,
# killed, and restored with its host end named fh1; from inside, it finds its links,
# addresses, routes and sysctls as they were and exchanges UDP with a peer on the host end.
# Refused, with the task left running: the veth without --external, a bridge link; a
# restore whose host name is taken fails and leaves nothing. All of it runs in a private
# network namespace ("the host"), not the machine's.
# A veth pair with both ends inside comes back as it was too; a second restore without
# --external names the host end as the dump did.
# Usage: netns_test.py FERRY NETNS_VETH WORKDIR   (as root)
import ctypes, os, shutil, signal, subprocess, sys, time
from tap import check, results, reap

if os.environ.get("FERRY_NETNS_TEST") != "inner":
    os.environ["FERRY_NETNS_TEST"] = "inner"
    os.execvp("unshare", ["unshare", "-n", sys.executable, *sys.argv])

ferry, helper, work = sys.argv[1:4]
PORT = "7777"


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True)


def wait_for(path, texts, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        with open(path) as f:
            data = f.read()
        if any(t in data for t in texts):
            return data
        time.sleep(0.05)
    return data


def status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]


def refused(name, args, words, img):
    r = subprocess.run([ferry, "dump", "-t", str(pid), "-D", img, *args], capture_output=True,
                       text=True)
    check(name + ": refused with the reason", r.returncode != 0 and all(
        w in r.stderr for w in words), r.stderr)
    time.sleep(0.2)
    check(name + ": the task keeps running, untraced", os.path.exists("/proc/%d" % pid) and
          status(pid, "TracerPid") == "0" and status(pid, "State") in ("S", "R"))
    check(name + ": no images left", not [f for f in os.listdir(img) if f.endswith(".img")],
          os.listdir(img))


libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)	# PR_SET_CHILD_SUBREAPER: the restored task comes back to us
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
print("TAP version 13")
sh("ip link set lo up")
probe = sh("ip link add fprobe0 type veth peer name fprobe1 && ip link del fprobe0")
if probe.returncode:
    print("ok 1 # SKIP no veth links in this kernel: " + probe.stderr.strip())
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)
peer = subprocess.Popen([helper, "peer", PORT], stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
out = os.path.join(work, "task.out")
task = subprocess.Popen(["unshare", "-n", helper, "task", PORT], stdin=subprocess.DEVNULL,
                        stdout=open(out, "w"), stderr=subprocess.STDOUT, close_fds=True,
                        start_new_session=True)
pid = task.pid
wait_for(out, ["started"])
setup = sh("""set -e
ip link add fv0 type veth peer name fh0
ip link set fv0 netns /proc/{pid}/ns/net
ip addr add 10.77.0.1/24 dev fh0; ip -6 addr add fd77::1/64 dev fh0 nodad; ip link set fh0 up
nsenter -t {pid} -n sh -ec '
ip link set lo up; ip link set fv0 mtu 1400 up
ip addr add 10.77.0.2/24 dev fv0; ip -6 addr add fd77::2/64 dev fv0 nodad
ip route add default via 10.77.0.1; ip route add 10.99.0.0/16 via 10.77.0.1 metric 7
ip -6 route add default via fd77::1
sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.fv0.rp_filter=2
sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.fv0.accept_ra=2
sysctl -qw net.unix.max_dgram_qlen=77
ip link add in0 type veth peer name in1; ip link set in1 address 02:00:00:00:88:02 mtu 9000
ip addr add 10.88.0.1/24 dev in0; ip link set in0 up'
""".format(pid=pid))
check("set-up: a veth to the host, a veth pair inside, addresses, routes, sysctls", setup.returncode == 0,
      setup.stderr)
os.kill(pid, signal.SIGUSR1)
data = wait_for(out, ["snap", "FAIL"])
check("the task sees its set-up and reaches the peer before the dump", "snap" in data, data)

img = os.path.join(work, "img")
os.makedirs(img)
refused("veth without --external", [], ["veth fv0", "--external veth[fv0]:HOSTNAME"], img)
sh("nsenter -t %d -n ip link add br0 type bridge" % pid)
refused("a bridge link", ["--external", "veth[fv0]:fh0"], ["br0", "kind bridge"], img)
sh("nsenter -t %d -n ip link del br0" % pid)

r = subprocess.run([ferry, "dump", "-t", str(pid), "-D", img, "--external", "veth[fv0]:fh0",
                    "-v4", "-o", "dump.log"], capture_output=True, text=True)
check("dump with --external veth[fv0]:fh0", r.returncode == 0 and reap(pid), r.stderr)
gone = False
for _ in range(200):	# the kernel tears a dead namespace down asynchronously
    gone = sh("ip link show fh0").returncode != 0
    if gone:
        break
    time.sleep(0.05)
check("the host end went with the namespace", gone)
if shutil.which("crit"):
    for f in ("netdev-1.img", "netns-1.img"):
        c = subprocess.run(["crit", "decode", "-i", os.path.join(img, f)], capture_output=True,
                           text=True)
        check("crit decodes " + f, c.returncode == 0 and ("fv0" in c.stdout or f[3] == "n"),
              c.stderr)

def images():
    return sorted((f, open(os.path.join(img, f), "rb").read()) for f in os.listdir(img)
                  if not f.endswith(".log"))


before = images()
sh("ip link add taken0 type veth peer name taken1")
r = subprocess.run([ferry, "restore", "-D", img, "-d", "--external", "veth[fv0]:taken0"],
                   capture_output=True, text=True)
check("a restore whose host end name is taken fails, with no task left",
      r.returncode != 0 and "taken0" in r.stderr and not os.path.exists("/proc/%d" % pid),
      r.stderr)
sh("ip link del taken0")
bad = img + "-bad"	# a link name that would escape /proc/sys/net/.../conf/
shutil.copytree(img, bad)
with open(os.path.join(bad, "netdev-1.img"), "rb") as f:
    data = f.read()
with open(os.path.join(bad, "netdev-1.img"), "wb") as f:
    f.write(data.replace(b"fv0", b"f/0"))
r = subprocess.run([ferry, "restore", "-D", bad, "-d"], capture_output=True, text=True)
check("a link name with a '/' in the images is refused, naming the file and offset",
      r.returncode != 0 and "netdev-1.img" in r.stderr and "offset" in r.stderr and
      not os.path.exists("/proc/%d" % pid), r.stderr)

r = subprocess.run([ferry, "restore", "-D", img, "-d", "--external", "veth[fv0]:fh1", "-v4",
                    "-o", "restore.log"], capture_output=True, text=True)
check("restore with the host end named fh1", r.returncode == 0 and os.path.exists(
    "/proc/%d" % pid), r.stderr)
check("the images are unchanged", before == images())
own = os.path.exists("/proc/%d" % pid) and os.stat("/proc/%d/ns/net" % pid).st_ino != \
    os.stat("/proc/self/ns/net").st_ino
check("the task is in a new network namespace", own)
host = sh("ip addr add 10.77.0.1/24 dev fh1 && ip -6 addr add fd77::1/64 dev fh1 nodad && "
          "ip link set fh1 up")
check("the host end fh1 is there, ours to configure", host.returncode == 0, host.stderr)
seen = sh("nsenter -t %d -n sh -c 'ip -d link; ip addr; ip route; ip -6 route'; ip addr" %
         pid).stdout
if os.path.exists("/proc/%d" % pid):
    os.kill(pid, signal.SIGTERM)
    reap(pid, 60)
data = open(out).read()
check("inside: links, addresses, routes, sysctls as dumped; UDP v4 and v6 to the host end",
      data.rstrip().endswith("PASS"), data + "--- seen from outside after restore:\n" + seen)

# again from the same images, without --external: the host end gets its name from the dump
r = subprocess.run([ferry, "restore", "-D", img, "-d"], capture_output=True, text=True)
check("a second restore without --external names the host end fh0, as at dump",
      r.returncode == 0 and sh("ip link show fh0").returncode == 0, r.stderr)
if os.path.exists("/proc/%d" % pid):
    os.kill(pid, signal.SIGKILL)
    reap(pid)
peer.kill()
peer.wait()
print("%d passed, %d failed, 0 skipped" % (results.count(True), results.count(False)))
sys.exit(0 if all(results) else 1)
