#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# CRIU's RPC with CRIU's own client: Debian's pycriu (criu package) talks to `ferry swrk`
# (criu.use_binary) and to `ferry service` (criu.use_sk). VERSION, CHECK, FEATURE_CHECK;
# the counter (64 MiB patterned buffer, self-check on SIGUSR1) dumped and restored with its
# PID, its buffer checked from inside; leave_running. Refusals, each with a cr_errmsg that
# says why and the task untouched: an option ferry does not do, a request type it does not
# serve, a self dump, garbage on the socket (the service serves on). A client that is not
# root (uid 65534): its own task is dumped and the images are its own; another's task, a
# directory that is not its own, a task of another gid, a planted symlink or hard link,
# another's cgroup to freeze, the host's TCP lock and any restore are refused. One service per socket;
# SIGTERM stops it and removes the socket.
# Usage: rpc_test.py FERRY COUNTER TICKER WORKDIR   (as root)
import ctypes, json, os, shutil, signal, socket, subprocess, sys, time
from tap import check, gone, finish, until, state, reaped, counter_ok

for p in ("/usr/lib/python3/dist-packages",):
    if p not in sys.path:
        sys.path.append(p)
try:
    import pycriu
    from pycriu import rpc_pb2 as rpc
except ImportError as e:
    print("TAP version 13")
    check("pycriu (Debian's criu package, selftests/install-deps.sh) imports", False, str(e))
    finish()

ferry, counter, ticker, work = map(os.path.abspath, sys.argv[1:5])
NOBODY = 65534




def start(prog, *args, uid=None, gid=None):
    def drop():
        os.setsid()
        if uid is not None:
            os.setgroups([])
            os.setgid(uid if gid is None else gid)
            os.setuid(uid)
    return subprocess.Popen([prog, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, close_fds=True, preexec_fn=drop)


def start_counter(log):
    p = start(counter, log)
    until(lambda: os.path.exists(log) and "tick 2" in open(log).read())
    return p




def client(sk=None):
    c = pycriu.criu()
    if sk:
        c.use_sk(sk)
    else:
        c.use_binary(ferry)
    return c


def raw(c, typ, **opts):
    """Send a request of type with opts through c, return the criu_resp."""
    req = rpc.criu_req()
    req.type = typ
    for k, v in opts.items():
        setattr(req.opts, k, v)
    return c._send_req_and_recv_resp(req)


def imgdir(name, uid=0):
    d = os.path.join(work, name)
    os.makedirs(d)
    os.chown(d, uid, uid)
    return d


def as_nobody(fn):
    """Run fn() as uid/gid 65534 in a child; its JSON-able result."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out = fn()
        except Exception as e:
            out = {"exception": str(e)}
        os.write(wr, json.dumps(out).encode())
        os._exit(0)
    os.close(wr)
    data = b""
    while True:
        b = os.read(rd, 65536)
        if not b:
            break
        data += b
    os.close(rd)
    os.waitpid(pid, 0)
    return json.loads(data or b"{}")


libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)	# PR_SET_CHILD_SUBREAPER: restored tasks come back to us
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
os.chmod(work, 0o755)
print("TAP version 13")
procs = []
svc = None
try:
    # --- swrk: pycriu runs `ferry swrk FD` ---
    r = raw(client(), rpc.VERSION)
    check("swrk: VERSION answers ferry, CRIU RPC 3.17",
          r.success and r.version.name == "ferry" and r.version.major_number == 3, r)
    r = raw(client(), rpc.CHECK)
    check("swrk: CHECK succeeds on this kernel", r.success, r.cr_errmsg)
    r = raw(client(), rpc.FEATURE_CHECK)
    check("swrk: FEATURE_CHECK: no memory tracking, lazy pages or pidfd store",
          r.success and r.features.HasField("mem_track") and not r.features.mem_track and
          not r.features.lazy_pages and not r.features.pidfd_store, r)

    log = os.path.join(work, "counter.log")
    p = start_counter(log)
    procs.append(p.pid)
    d = imgdir("img")
    fd = os.open(d, os.O_DIRECTORY)
    c = client()
    c.opts.images_dir_fd, c.opts.pid, c.opts.log_file, c.opts.log_level = fd, p.pid, "dump.log", 4
    resp = c.dump()
    check("swrk: DUMP of the counter succeeds (not restored: false), the counter is gone",
          not resp.restored and reaped(p.pid) and os.path.exists(os.path.join(d, "dump.log")) and
          os.path.exists(os.path.join(d, "inventory.img")), os.listdir(d))
    c = client()
    c.opts.images_dir_fd, c.opts.log_file, c.opts.log_level = fd, "restore.log", 4
    resp = c.restore()
    check("swrk: RESTORE answers the PID, the counter's own", resp.pid == p.pid, resp)
    check("... and inside, its 64 MiB buffer is intact", counter_ok(p.pid, log))

    # --- service ---
    sk = os.path.join(work, "criu.sock")
    pidf = os.path.join(work, "service.pid")
    svc = subprocess.Popen([ferry, "service", "--address", sk, "--pidfile", pidf, "-v4", "-o",
                            os.path.join(work, "service.log")], stdin=subprocess.DEVNULL,
                           stderr=open(os.path.join(work, "service.err"), "w"))
    check("service: listens on --address, world-connectable, writes --pidfile",
          until(lambda: os.path.exists(pidf) and os.path.exists(sk)) and
          os.stat(sk).st_mode & 0o777 == 0o666 and int(open(pidf).read()) == svc.pid)
    r2 = subprocess.run([ferry, "service", "--address", sk], capture_output=True, text=True,
                        timeout=10)
    check("service: a second one on the same socket is refused",
          r2.returncode == 1 and "running service" in r2.stderr, r2.stderr)
    d2 = imgdir("img2")
    fd2 = os.open(d2, os.O_DIRECTORY)
    c = client(sk)
    c.opts.images_dir_fd, c.opts.pid, c.opts.leave_running = fd2, p.pid, True
    c.dump()
    check("service: DUMP with leave_running: the counter runs on",
          state(p.pid) in "SR" and counter_ok(p.pid, log))
    os.kill(p.pid, signal.SIGKILL)
    reaped(p.pid)
    c = client(sk)
    c.opts.images_dir_fd = fd2
    check("service: RESTORE of it answers its PID", c.restore().pid == p.pid)
    check("... and its buffer is intact", counter_ok(p.pid, log))

    # --- refusals ---
    r = raw(client(sk), rpc.DUMP, images_dir_fd=fd2, pid=p.pid, track_mem=True)
    check("an option ferry does not do (track_mem) is refused, named; the task untouched",
          not r.success and "track_mem" in r.cr_errmsg and state(p.pid) in "SR", r.cr_errmsg)
    r = raw(client(sk), rpc.RESTORE, images_dir_fd=fd2, rst_sibling=True)
    check("rst_sibling is refused, named", not r.success and "rst_sibling" in r.cr_errmsg,
          r.cr_errmsg)
    r = raw(client(sk), rpc.PRE_DUMP, images_dir_fd=fd2, pid=p.pid)
    check("PRE_DUMP is answered as not supported", not r.success and r.type == rpc.PRE_DUMP and
          "not supported" in r.cr_errmsg, r.cr_errmsg)
    r = raw(client(sk), rpc.DUMP, images_dir_fd=fd2)
    check("a self dump (no pid) is refused, saying so", not r.success and
          "self dump" in r.cr_errmsg, r.cr_errmsg)
    r = raw(client(sk), rpc.DUMP, images_dir_fd=fd2, pid=p.pid, log_file="../x.log")
    check("a log_file outside the work directory is refused", not r.success and
          "log_file" in r.cr_errmsg and state(p.pid) in "SR", r.cr_errmsg)
    g = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    g.connect(sk)
    g.send(b"\xff\xfe garbage, not a criu_req")
    resp = rpc.criu_resp()
    resp.ParseFromString(g.recv(65536))
    g.close()
    check("garbage on the socket: EMPTY, success false, 'cannot decode'",
          resp.type == rpc.EMPTY and not resp.success and "cannot decode" in resp.cr_errmsg,
          resp)
    check("... and the service serves on", raw(client(sk), rpc.VERSION).success)

    # --- a client that is not root ---
    t = start(ticker, uid=NOBODY)
    procs.append(t.pid)
    time.sleep(0.3)
    mine = imgdir("nobody", NOBODY)

    def dump_as_nobody(pid, path):
        fd = os.open(path, os.O_DIRECTORY)
        r = raw(client(sk), rpc.DUMP, images_dir_fd=fd, pid=pid, leave_running=True)
        return {"success": r.success, "msg": r.cr_errmsg}
    out = as_nobody(lambda: dump_as_nobody(p.pid, mine))
    check("uid 65534: DUMP of root's counter is refused, naming the owner; it runs on",
          not out.get("success") and "runs as uid 0" in out.get("msg", "") and
          state(p.pid) in "SR", out)
    g0 = start(ticker, uid=NOBODY, gid=0)
    procs.append(g0.pid)
    time.sleep(0.3)
    out = as_nobody(lambda: dump_as_nobody(g0.pid, mine))
    check("uid 65534: DUMP of a task of its uid but of group 0 is refused, naming the gid",
          not out.get("success") and "gid 0" in out.get("msg", "") and state(g0.pid) in "SR" and
          not os.listdir(mine), out)

    def tcp_as_nobody():
        fd = os.open(mine, os.O_DIRECTORY)
        r = raw(client(sk), rpc.DUMP, images_dir_fd=fd, pid=t.pid, leave_running=True,
                tcp_established=True)
        return {"success": r.success, "msg": r.cr_errmsg}
    out = as_nobody(tcp_as_nobody)
    check("uid 65534: tcp_established is refused (its lock is the host's)",
          not out.get("success") and "tcp_established" in out.get("msg", ""), out)
    out = as_nobody(lambda: dump_as_nobody(t.pid, d2))
    check("uid 65534: DUMP into a directory of root's is refused",
          not out.get("success") and "must belong to the client" in out.get("msg", ""), out)
    def freeze_as_nobody():
        fd = os.open(mine, os.O_DIRECTORY)
        r = raw(client(sk), rpc.DUMP, images_dir_fd=fd, pid=t.pid, leave_running=True,
                freeze_cgroup="/sys/fs/cgroup")
        return {"success": r.success, "msg": r.cr_errmsg}
    out = as_nobody(freeze_as_nobody)
    check("uid 65534: freeze_cgroup of a cgroup not its own is refused",
          not out.get("success") and "freeze_cgroup" in out.get("msg", "") and
          state(t.pid) in "SR", out)
    out = as_nobody(lambda: dump_as_nobody(t.pid, mine))
    owners = {os.stat(os.path.join(mine, f)).st_uid for f in os.listdir(mine)}
    check("uid 65534: DUMP of its own ticker succeeds, the images are its own",
          out.get("success") and owners == {NOBODY} and state(t.pid) in "SR",
          "%s %s" % (out, owners))

    trap = imgdir("nobody-trap", NOBODY)
    victim = os.path.join(work, "victim")
    open(victim, "w").write("root's own\n")
    os.symlink(victim, os.path.join(trap, "inventory.img"))
    os.symlink(victim, os.path.join(trap, "dump.log"))
    out = as_nobody(lambda: dump_as_nobody(t.pid, trap))
    check("uid 65534: an image planted as a symlink to root's file fails the dump, the file "
          "untouched", not out.get("success") and open(victim).read() == "root's own\n" and
          os.stat(victim).st_uid == 0 and state(t.pid) in "SR", out)
    hard = imgdir("nobody-hard", NOBODY)
    os.link(victim, os.path.join(hard, "inventory.img"))
    out = as_nobody(lambda: dump_as_nobody(t.pid, hard))
    check("uid 65534: ... and so does a planted hard link (images are new files only)",
          not out.get("success") and open(victim).read() == "root's own\n" and
          os.stat(victim).st_uid == 0, out)

    def log_as_nobody():
        fd = os.open(trap, os.O_DIRECTORY)
        r = raw(client(sk), rpc.DUMP, images_dir_fd=fd, pid=t.pid, leave_running=True,
                log_file="dump.log")
        return {"success": r.success, "msg": r.cr_errmsg}
    out = as_nobody(log_as_nobody)
    check("uid 65534: a log_file planted as a symlink is refused, the file untouched",
          not out.get("success") and "log_file" in out.get("msg", "") and
          open(victim).read() == "root's own\n", out)

    def restore_as_nobody():
        fd = os.open(mine, os.O_DIRECTORY)
        r = raw(client(sk), rpc.RESTORE, images_dir_fd=fd)
        return {"success": r.success, "msg": r.cr_errmsg}
    out = as_nobody(restore_as_nobody)
    check("uid 65534: RESTORE is refused (needs root)",
          not out.get("success") and "needs a root client" in out.get("msg", ""), out)

    svc.send_signal(signal.SIGTERM)
    check("SIGTERM stops the service and removes its socket",
          svc.wait(10) == 0 and not os.path.exists(sk))
    svc = None
    r = subprocess.run([ferry, "swrk", "0"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    check("swrk on an fd that is not a SEQPACKET socket fails, saying so",
          r.returncode == 1 and "not a SOCK_SEQPACKET socket" in r.stderr, r.stderr)
finally:
    if svc:
        svc.kill()
    for pid in procs:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    reaped(*procs)
finish()
