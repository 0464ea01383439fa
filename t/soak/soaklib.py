"""Shared pieces of t/soak/soak.py: processes, maitreds, counters.

Processes started here are tracked and stopped by pid; every server
listens on 127.0.0.1 or ::1; every wait is bounded.
"""

import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TDIR = os.path.dirname(HERE)
BACKEND_PY = os.path.join(TDIR, "backend.py")

SAN_RE = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|"
                    r"UndefinedBehaviorSanitizer|SUMMARY: ")
DEATH_RE = re.compile(r"exited on signal|exited with status|keeps dying")


def log(msg):
    sys.stdout.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stdout.flush()


def free_port():
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        try:
            s6 = socket.socket(socket.AF_INET6)
            s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s6.bind(("::1", port))
            s6.close()
        except OSError:
            s.close()
            continue
        s.close()
        return port
    raise RuntimeError("no free port")


def wait_port(host, port, timeout=15):
    end = time.time() + timeout
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.time() < end:
        s = socket.socket(fam)
        try:
            s.settimeout(1)
            s.connect((host, port))
            return True
        except OSError:
            time.sleep(0.1)
        finally:
            s.close()
    return False


def big_bytes(n):
    pattern = bytes(i % 251 for i in range(251))
    return (pattern * (n // 251 + 1))[:n]


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Procs:
    """Processes we started: stopped by pid at the end."""

    def __init__(self):
        self.procs = []

    def start(self, args, log_path=None, env=None, **kw):
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT if log_path else
                             subprocess.DEVNULL, env=env, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is not None:
            return p.returncode
        try:
            p.send_signal(sig)
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait(5)

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)


def children(pid):
    try:
        out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid=,stat="],
                             capture_output=True, text=True).stdout
    except OSError:
        return []
    return [int(l.split()[0]) for l in out.splitlines()
            if l.split() and not l.split()[1].startswith("Z")]


def zombies(pid):
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid=,stat="],
                         capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l.split()[1].startswith("Z")]


def proc_rss_fds(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            # private memory: the shared segment's pages in VmRSS grow
            # as the cache and tables are touched
            rss = next(int(l.split()[1]) for l in f
                       if l.startswith("RssAnon"))
        fds = len(os.listdir("/proc/%d/fd" % pid))
        return rss, fds
    except (OSError, StopIteration):
        return None, None


class Maitred:
    """One maitred master in directory d, with ASan/UBSan reports in d."""

    def __init__(self, procs, binary, d, name):
        self.procs, self.binary, self.d, self.name = procs, binary, d, name
        self.conf = os.path.join(d, "maitred.conf")
        self.p = None
        self.samples = []	# (t, master rss, master fds, [(pid, rss, fds)])

    def start(self):
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ("log_path=%s/asan:detect_leaks=1:"
                               "quarantine_size_mb=16" % self.d)
        env["UBSAN_OPTIONS"] = ("log_path=%s/ubsan:print_stacktrace=1"
                                % self.d)
        self.p = self.procs.start([self.binary, "-c", self.conf],
                                  os.path.join(self.d, "stderr.log"), env=env)
        end = time.time() + 20
        while time.time() < end and not children(self.p.pid):
            if self.p.poll() is not None:
                raise RuntimeError("%s exited: see %s" % (self.name, self.d))
            time.sleep(0.1)

    def hup(self):
        os.kill(self.p.pid, signal.SIGHUP)

    def workers(self):
        return children(self.p.pid)

    def sample(self):
        m = proc_rss_fds(self.p.pid)
        ws = [(w,) + proc_rss_fds(w) for w in self.workers()]
        self.samples.append((time.time(), m[0], m[1], ws))
        return m, ws

    def stop(self):
        return self.procs.stop(self.p)

    def report(self):
        """Lines about sanitizer reports, worker deaths and resources."""
        lines = []
        el = os.path.join(self.d, "error.log")
        txt = open(el, errors="replace").read() if os.path.exists(el) else ""
        deaths = [l for l in txt.splitlines() if DEATH_RE.search(l)]
        lines.append("%s: %d worker death line(s)" % (self.name, len(deaths)))
        lines += ["  " + l for l in deaths[:10]]
        san = []
        for f in os.listdir(self.d):
            if f.startswith(("asan", "ubsan")):
                san.append(f)
        for f in ("stderr.log", "error.log"):
            p = os.path.join(self.d, f)
            if os.path.exists(p):
                for l in open(p, errors="replace"):
                    if SAN_RE.search(l):
                        san.append("%s: %s" % (f, l.strip()))
        lines.append("%s: %d sanitizer report(s)" % (self.name, len(san)))
        lines += ["  " + s for s in san[:10]]
        warn = {}
        for l in txt.splitlines():
            m = re.search(r"\[(WARNING|ERROR|CRIT\w*)\] \[\d+\] (.*)", l)
            if m:
                k = re.sub(r"\d+", "N", m.group(2))[:110]
                warn[k] = warn.get(k, 0) + 1
        lines.append("%s: warning/error kinds (count):" % self.name)
        for k, v in sorted(warn.items(), key=lambda kv: -kv[1])[:25]:
            lines.append("  %6d %s" % (v, k))
        if self.samples:
            s0 = self.samples[min(2, len(self.samples) - 1)]
            s1 = self.samples[-1]
            lines.append("%s: master RssAnon %s->%s kB, fds %s->%s" % (
                self.name, s0[1], s1[1], s0[2], s1[2]))
            for lab, s in (("early", s0), ("last", s1)):
                lines.append("  workers %s: %s" % (lab, " ".join(
                    "%d:%skBanon/%sfd" % w for w in s[3])))
        return lines


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.bad = []
        self.nbad = 0

    def add(self, key):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def fail(self, what):
        with self.lock:
            self.nbad += 1
            if len(self.bad) < 60:
                self.bad.append("%s %s" % (time.strftime("%H:%M:%S"), what))

    def total(self):
        with self.lock:
            return sum(self.counts.values())

    def report(self):
        lines = ["requests: %d, unexpected: %d" % (self.total(), self.nbad)]
        for k in sorted(self.counts):
            lines.append("  %-50s %d" % (k, self.counts[k]))
        lines += ["  BAD " + b for b in self.bad]
        return lines


def decode_body(resp, body):
    if resp.getheader("Content-Encoding", "").lower() == "gzip":
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    return body


def monitor(ms, stop, every=15):
    while not stop.wait(every):
        for m in ms:
            try:
                (rss, fds), ws = m.sample()
                log("%s master %skB %sfd; workers %s" % (
                    m.name, rss, fds, " ".join("%d:%skBanon/%sfd" % w
                                              for w in ws)))
            except Exception as e:  # noqa
                log("monitor %s: %r" % (m.name, e))


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
