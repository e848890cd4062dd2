#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The QEMU kexec test's driver: fetches the kernels, builds the initramfs and root image,
boots QEMU (TCG) and stamps every console line with the host's monotonic clock. The guest
(guest/stage.sh, guest/steps.sh) prints "E2E: PASS|FAIL|SKIP NAME ..." verdicts and
"E2E: T EVENT" timeline marks; this script prints them as TAP, a timeline, and the totals.
The guest has a NIC on QEMU's user-mode network with a host port forwarded to its :7000;
when the guest says "E2E: T tcp-listen", a peer thread here connects to it and streams
numbered records both ways (TcpPeer): the connection must survive the dump and restore.

  e2e.py FERRY [--fast|--full] [--keep]     (as root; FERRY_KOLD/KNEW/KMAJOR pick kernels)

FERRY_E2E_PCAP=1 also records the guest NIC's packets next to each log (LOG.pcap).
FERRY_E2E_TCP=0 leaves the TCP connection out of the upgrade (a SKIP says so).
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.join(TOP, "selftests", "build")
KERNELS = os.path.join(HERE, "kernels.sh")
# 2 GiB guest, 512 MiB of legacy pmem at 1 GiB (below the PCI hole, clear of firmware)
MEM = "2048"
PMEM = "memmap=512M!1G"
# tcpserver's port in the guest (slirp's guest address is 10.0.2.15)
GUEST_PORT = 7000
REC = 16
TICK = 0.02


class Results:
    def __init__(self):
        self.n = 0
        self.passed = self.failed = self.skipped = 0

    def add(self, verdict, text):
        self.n += 1
        if verdict == "PASS":
            self.passed += 1
            print(f"ok {self.n} - {text}")
        elif verdict == "SKIP":
            self.skipped += 1
            print(f"ok {self.n} - # SKIP {text}")
        else:
            self.failed += 1
            print(f"not ok {self.n} - {text}")
        sys.stdout.flush()


class TcpPeer(threading.Thread):
    """The guest tcpserver's peer: sends "H<n>" every 20 ms, checks the guest's "G<n>"
    records are contiguous, notes the longest pause between two of them, and expects the
    guest's "E<last n>" then its FIN; a reset, an early EOF or a bad record is a failure."""

    def __init__(self, port, t0):
        super().__init__(daemon=True)
        self.port, self.t0 = port, t0
        self.stop = threading.Event()
        self.tx = self.rx = 0
        self.pause = 0.0
        self.errors = []
        self.ended = False   # the guest's E record arrived
        self.fin = False     # and its FIN after it

    def fail(self, why):
        """The first failure counts, stamped with the host seconds of the QEMU run."""
        if not self.errors:
            self.errors.append(f"{why} (at {time.monotonic() - self.t0:.3f} s)")

    def record(self, rec, t, last):
        kind, num = rec[:1], rec[1:REC - 1]
        if rec[-1:] != b"\n" or not num.isdigit() or kind not in (b"G", b"E"):
            self.fail(f"record {self.rx + 1} from the guest is garbled: {rec!r}")
            return last
        n = int(num)
        if kind == b"E":
            if n != self.rx:
                self.fail(f"the guest says it sent {n} records, {self.rx} arrived")
            self.ended = True
            return last
        if n != self.rx + 1:
            what = "a duplicate" if n <= self.rx else "a gap"
            self.fail(f"record {self.rx + 1} from the guest says {n} ({what})")
            return last
        if last is not None and t - last > self.pause:
            self.pause = t - last
        self.rx = n
        return t

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        except OSError as e:
            self.fail(f"cannot connect to 127.0.0.1:{self.port}: {e}")
            return
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        buf, out, last, next_tx, shut = b"", b"", None, time.monotonic(), False
        try:
            while not self.stop.is_set() and not self.errors and not self.fin:
                now = time.monotonic()
                if not self.ended and now >= next_tx:
                    self.tx += 1
                    out += b"H%014d\n" % self.tx
                    next_tx = max(next_tx + TICK, now - 1)
                if out:
                    try:
                        out = out[s.send(out):]
                    except BlockingIOError:
                        pass
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    time.sleep(TICK / 4)
                    continue
                if not data:
                    if not self.ended:
                        self.fail(f"EOF from the guest after {self.rx} records, before its end")
                    self.fin = True
                    break
                buf += data
                t = time.monotonic()
                while len(buf) >= REC and not self.errors:
                    rec, buf = buf[:REC], buf[REC:]
                    if self.ended:
                        self.fail(f"data after the guest's end record: {rec!r}")
                    else:
                        last = self.record(rec, t, last)
                if self.ended and not shut and not self.errors:
                    s.shutdown(socket.SHUT_WR)
                    shut = True
        except OSError as e:
            self.fail(f"{e.strerror or e} after {self.rx} records from the guest")
        finally:
            s.close()

    def verdicts(self, t):
        """Console-like lines for judge() and timeline()."""
        if not self.errors and not self.fin:
            self.fail(f"the guest did not end the stream (E record and FIN) "
                      f"after {self.rx} records")
        head = "tcp peer: no reset, no gap, no duplicate"
        if self.errors:
            v = f"E2E: FAIL {head}: {self.errors[0]}"
        else:
            v = f"E2E: PASS {head} ({self.tx} records sent, {self.rx} received)"
        return [(t, v), (t, f"E2E: note tcp peer: longest pause {self.pause:.3f} s "
                         f"between two records from the guest")]


def tcp_off():
    """The guest's word for FERRY_E2E_TCP=0."""
    return " e2e.tcp=0" if os.environ.get("FERRY_E2E_TCP") == "0" else ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def kernel(which):
    rel = subprocess.run([KERNELS, "pick", which], check=True, capture_output=True,
                         text=True).stdout.strip()
    sh(KERNELS, "fetch", rel)
    return rel


def build(out, ferry, rels):
    wl = os.path.join(out, "wl")
    shutil.rmtree(wl, ignore_errors=True)
    os.makedirs(wl)
    for p in ("zdtm/anon256m", "zdtm/file_offset", "kexec/counter", "kexec/pipetree",
              "kexec/tcpserver"):
        shutil.copy(os.path.join(BUILD, p), wl)
    sh(os.path.join(HERE, "mkimages.sh"), out, ferry, wl, *rels)


def boot(out, rel, append, timeout, log, initrd=None, disk=None):
    """One QEMU run from power-on to poweroff: [(host seconds, line)], with the TCP
    peer's verdicts at the end if the guest started its tcpserver."""
    cache = subprocess.run([KERNELS, "dir"], check=True, capture_output=True,
                           text=True).stdout.strip()
    port = free_port()
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", MEM, "-smp", "1", "-cpu", "max", "-display", "none",
           "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nodefaults",
           "-kernel", os.path.join(cache, rel, "vmlinuz"),
           "-initrd", initrd or os.path.join(out, "initrd.cpio"),
           "-drive", f"file={disk or os.path.join(out, 'root.img')},if=virtio,format=raw",
           "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:{GUEST_PORT}",
           "-device", "virtio-net-pci,netdev=n0",
           *(["-object", f"filter-dump,id=d0,netdev=n0,file={log}.pcap"]
             if os.environ.get("FERRY_E2E_PCAP") else []),
           "-append", f"console=ttyS0 panic=-1 {PMEM} {append}{tcp_off()}"]
    lines, peer = [], None
    t0 = time.monotonic()
    with open(log, "w") as lf:
        lf.write(" ".join(cmd) + "\n")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        try:
            deadline = t0 + timeout
            os.set_blocking(p.stdout.fileno(), False)
            buf = b""
            while p.poll() is None and time.monotonic() < deadline:
                chunk = p.stdout.read()
                if not chunk:
                    time.sleep(0.02)
                    continue
                buf += chunk
                now = time.monotonic() - t0
                *done, buf = buf.split(b"\n")
                for raw in done:
                    line = raw.decode(errors="replace").rstrip("\r")
                    lines.append((now, line))
                    lf.write(f"{now:8.3f} {line}\n")
                    if peer is None and "E2E: T tcp-listen" in line:
                        peer = TcpPeer(port, t0)
                        peer.start()
            if p.poll() is None:
                lines.append((time.monotonic() - t0, "E2E: FAIL qemu: timed out"))
                lf.write(f"timeout after {timeout} s\n")
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
            if peer:
                peer.stop.set()
                peer.join(10)
                for t, line in peer.verdicts(time.monotonic() - t0):
                    lines.append((t, line))
                    lf.write(f"{t:8.3f} {line}\n")
    return lines


def judge(lines, res, prefix):
    for _, line in lines:
        m = re.search(r"E2E: (PASS|FAIL|SKIP) (.*)", line)
        if m:
            res.add(m.group(1), f"{prefix}{m.group(2)}")
    if not any("E2E: done" in l for _, l in lines):
        tail = " | ".join(l for _, l in lines[-5:])
        res.add("FAIL", f"{prefix}guest did not finish: {tail}")


def run_smoke(out, rel, res, timeout):
    """ferry on the guest kernel itself: dump -D and restore on the same 6.1 kernel."""
    lines = boot(out, rel, "e2e=smoke", timeout, os.path.join(out, f"smoke-{rel}.log"))
    judge(lines, res, f"smoke {rel}: ")
    tcp_pauses(lines)


def first(lines, pat, after=0.0):
    """Host time of the first line matching pat at or after `after`, or None."""
    for t, line in lines:
        if t >= after and re.search(pat, line):
            return t
    return None


def timeline(lines, res, old, new):
    marks = [("freeze", r"^upgrade: \S+ freeze"),
             ("dump done, sealed", r"^upgrade: \S+ dump done"),
             ("kexec -e", r"^upgrade: \S+ kexec -e"),
             (f"{new}: first console line", r"Linux version " + re.escape(new)),
             ("restore start (initramfs)", r"E2E: T restore-start|ferry: restoring the"),
             ("restore end", r"E2E: T restore-end|ferry: restore (done|failed)"),
             ("workloads running (real root's init)", r"E2E: T workloads-running"),
             ("bare kexec -e", r"E2E: T bare-kexec-e"),
             (f"{new}: first console line (bare)", r"Linux version " + re.escape(new)),
             ("init running (bare)", r"E2E: T init ")]
    at, t = {}, 0.0
    print(f"# timeline, host seconds since QEMU start ({old} -> {new}):")
    for name, pat in marks:
        t = first(lines, pat, t)
        if t is None:
            print(f"#   {'-':>8}  {name}: not seen")
            break
        at[name] = t
        print(f"#   {t:8.3f}  {name}")
    up = at.get("workloads running (real root's init)")
    if up is None or "freeze" not in at:
        return
    down = up - at["freeze"]
    print(f"# downtime (freeze -> workloads running): {down:.2f} s")
    if "kexec -e" in at:
        print(f"#   of which dump {at['dump done, sealed'] - at['freeze']:.2f} s, "
              f"kexec -e -> restore end {at['restore end'] - at['kexec -e']:.2f} s, "
              f"restore {at['restore end'] - at['restore start (initramfs)']:.2f} s")
    if "init running (bare)" in at:
        bare = at["init running (bare)"] - at["bare kexec -e"]
        print(f"# bare kexec boot of {new} (kexec -e -> init): {bare:.2f} s; "
              f"upgrade kexec -e -> workloads running: {up - at['kexec -e']:.2f} s")
    for _, line in lines:
        m = re.search(r"out counter: .*longest pause ([0-9.]+) s", line)
        if m:
            print(f"# the counter's own longest pause between two lines: {m.group(1)} s "
                  "(guest wall clock, re-read from the RTC at boot)")
    tcp_pauses(lines)


def tcp_pauses(lines):
    back = first(lines, r"E2E: T tcp-flowing", first(lines, r"E2E: T restore-end") or 0.0)
    end = first(lines, r"E2E: T restore-end")
    if back is not None and end is not None:
        print(f"# the TCP stream from the host reaches the guest again {back - end:.2f} s after "
              "the restore end (25 records)")
    for _, line in lines:
        m = re.search(r"E2E: note tcp peer: longest pause ([0-9.]+) s", line)
        if m:
            print(f"# the TCP peer's longest pause: {m.group(1)} s (host clock, records "
                  "from the guest)")
        m = re.search(r"out tcpserver: .*longest pause between two received ([0-9.]+) s", line)
        if m:
            print(f"# the guest tcpserver's longest pause: {m.group(1)} s (records from the "
                  "host; slirp resends on its own backoff timer)")


def run_upgrade(out, old, new, res, timeout, tag):
    """ferry upgrade old -> new, verify inside the new kernel, then a bare kexec."""
    log = os.path.join(out, f"upgrade-{tag}.log")
    lines = boot(out, old, f"e2e=upgrade e2e.next={new}", timeout, log)
    judge(lines, res, f"upgrade {old} -> {new}: ")
    timeline(lines, res, old, new)


def run_failures(out, old, new, res, timeout):
    """Store missing, image corrupt, restore failing midway: each boot goes on."""
    log = os.path.join(out, "failures.log")
    lines = boot(out, old, f"e2e=failures e2e.next={new}", timeout, log)
    judge(lines, res, "failures: ")


def run_debroot(out, ferry, old, new, res, timeout):
    """The same upgrade on a debootstrap'd Debian root with Debian's mkinitramfs + ferry's hook."""
    try:
        sh(os.path.join(HERE, "mkdebroot.sh"), out, ferry, os.path.join(out, "wl"), old, new)
    except subprocess.CalledProcessError as e:
        res.add("FAIL", f"debroot: building the Debian root failed ({e})")
        return
    log = os.path.join(out, "upgrade-debroot.log")
    lines = boot(out, old, f"root=/dev/vda init=/opt/e2e/bin/init e2e=upgrade e2e.next={new}",
                 timeout, log, initrd=os.path.join(out, "debroot", "boot", f"initrd.img-{old}"),
                 disk=os.path.join(out, "debroot.img"))
    judge(lines, res, f"debroot {old} -> {new}: ")
    timeline(lines, res, old, new)


def run_dracut(out, ferry, old, new, res, timeout, flavor):
    """The same on a Debian root with dracut instead: ferry's 90ferry module restores.
    flavor dracut: dracut's shell init; dracut-systemd: systemd in the initrd and as the
    real root's init."""
    name = {"dracut": "dracutroot", "dracut-systemd": "dracutsdroot"}[flavor]
    try:
        sh(os.path.join(HERE, "mkdebroot.sh"), f"--{flavor}", out, ferry,
           os.path.join(out, "wl"), old, new)
    except subprocess.CalledProcessError as e:
        res.add("FAIL", f"{flavor}: building the Debian root with dracut failed ({e})")
        return
    log = os.path.join(out, f"upgrade-{flavor}.log")
    # systemd's root: systemd is the real init too (udev would rename the NIC the TCP
    # connection's saved link is named after: kernel names)
    init = "/lib/systemd/systemd net.ifnames=0" if flavor == "dracut-systemd" else "/opt/e2e/bin/init"
    lines = boot(out, old, f"root=LABEL=e2eroot init={init} e2e=upgrade e2e.next={new}",
                 timeout, log, initrd=os.path.join(out, name, "boot", f"initrd.img-{old}"),
                 disk=os.path.join(out, f"{name}.img"))
    judge(lines, res, f"{flavor} {old} -> {new}: ")
    # the hook's kernel log lines, before dracut's own switch_root (systemd: the guard's
    # letting go after it)
    said, switched = r"ferry: restore done", r"dracut: Switching root"
    if flavor == "dracut-systemd":
        switched = r"initrd-switch-root\.service"
    done = first(lines, said, first(lines, r"upgrade: \S+ kexec -e") or 0.0)
    sw = done and first(lines, switched, done)
    res.add("PASS" if sw else "FAIL",
            f"{flavor} {old} -> {new}: '{said}' from dracut's pre-pivot hook, then its switch_root")
    if flavor == "dracut-systemd":
        let_go = sw and first(lines, r"ferry-guard: .*dropped \d+ signals from PID 1", sw)
        res.add("PASS" if let_go else "FAIL",
                f"{flavor} {old} -> {new}: the switch-root guard let the trees go after it")
    timeline(lines, res, old, new)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ferry")
    ap.add_argument("--full", action="store_true", help="also the 6.1 -> 6.12 upgrade")
    ap.add_argument("--only", default="", help="comma-separated: smoke,upgrade,failures,major,debroot,dracut,dracut-systemd")
    ap.add_argument("--timeout", type=int, default=420, help="seconds per QEMU run (a loaded machine is slow)")
    args = ap.parse_args()
    res = Results()
    out = os.path.join(BUILD, "kexec")
    os.makedirs(out, exist_ok=True)
    for tool in ("qemu-system-x86_64", "cpio"):
        if not shutil.which(tool):
            res.add("SKIP", f"no {tool} (selftests/install-deps.sh installs it)")
            print(f"{res.passed} passed, {res.failed} failed, {res.skipped} skipped")
            return 0
    only = set(filter(None, args.only.split(",")))
    old, new = kernel("old"), kernel("new")
    rels = [old, new]
    if args.full:
        rels.append(kernel("major"))
    build(out, os.path.abspath(args.ferry), rels)
    if (args.full and not only) or "smoke" in only:
        run_smoke(out, old, res, args.timeout)
    if not only or "upgrade" in only:
        run_upgrade(out, old, new, res, args.timeout, "minor")
    if not only or "failures" in only:
        run_failures(out, old, new, res, args.timeout)
    if args.full and (not only or "major" in only):
        run_upgrade(out, old, rels[2], res, args.timeout, "major")
    if args.full and (not only or "debroot" in only):
        run_debroot(out, os.path.abspath(args.ferry), old, new, res, args.timeout)
    for flavor in ("dracut", "dracut-systemd"):
        if args.full and (not only or flavor in only):
            run_dracut(out, os.path.abspath(args.ferry), old, new, res, args.timeout, flavor)
    print(f"{res.passed} passed, {res.failed} failed, {res.skipped} skipped")
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
