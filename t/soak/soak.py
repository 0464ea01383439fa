#!/usr/bin/env python3
"""Soak maitred: IPv6 clients, TLS listeners and backends, PHP.

usage: t/soak/soak.py --phase ipv6|tls|php --rel BIN --asan BIN
                      [--minutes M] [--clients N] [--dir DIR]

Each phase starts its own backends (t/backend.py, php-fpm) and two
maitreds in front of them, one per binary (release and ASan+UBSan),
on loopback only, then runs N client threads against both for M
minutes while it disturbs the servers (reloads, blacklist edits,
certificate changes, php-fpm kills). Every body is checked (SHA-256 of
known bodies, echoed digests); every status is classified as expected or
not; the masters' and workers' RSS and open fds are sampled. The report
lists the counts, every unexpected answer, the sanitizer reports and
worker deaths of each maitred, and the resource samples. Exit status 1
when something unexpected was seen.
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soaklib import (BACKEND_PY, Maitred, Procs, Stats, big_bytes,  # noqa
                     decode_body, free_port, log, monitor, sha, wait_port,
                     write, children, zombies)

BIG_SIZES = (1000, 70000, 1048576)
BIG_SHA = {n: sha(big_bytes(n)) for n in BIG_SIZES}
LANGS = ("fr", "en", "de")
RANDBIN = os.urandom(1536 * 1024)


class Phase:
    """What the clients may see, changed by the disturbances."""

    def __init__(self):
        self.lock = threading.Lock()
        self.allow = {}		# tag -> time until which it is expected

    def permit(self, tag, until):
        with self.lock:
            self.allow[tag] = max(self.allow.get(tag, 0), until)

    def ok(self, tag):
        with self.lock:
            return time.time() <= self.allow.get(tag, 0)


class Target:
    def __init__(self, inst, host, port, tls=None, fam=None):
        self.inst, self.host, self.port, self.tls = inst, host, port, tls
        self.fam = fam or ("v6" if ":" in host else "v4")

    def conn(self, timeout=30):
        if self.tls:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self.tls)
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=timeout)


def chunks(body, n=7):
    step = max(1, len(body) // n)
    for i in range(0, len(body), step):
        yield body[i:i + step]


class Client(threading.Thread):
    """Requests from a mix (kinds) to one target, keep-alive, checked."""

    def __init__(self, target, kinds, stats, phase, deadline, expect):
        super().__init__(daemon=True)
        self.t, self.kinds, self.stats = target, kinds, stats
        self.phase, self.deadline, self.expect = phase, deadline, expect
        self.rng = random.Random()

    def run(self):
        conn, uses = None, 0
        while time.time() < self.deadline:
            kind = self.rng.choice(self.kinds)
            if conn is None or uses >= self.rng.randint(1, 30):
                if conn:
                    conn.close()
                conn, uses = self.t.conn(), 0
            try:
                self.one(conn, kind, uses > 0)
                uses += 1
            except Exception as e:  # noqa: reconnect on anything
                conn.close()
                conn = None
                why = type(e).__name__
                if uses > 0 and isinstance(e, (http.client.RemoteDisconnected,
                                               ConnectionResetError,
                                               BrokenPipeError)):
                    # a reused connection the server closed meanwhile
                    # (reload, keep-alive end): a client retries it
                    self.stats.add("%s %s reused-conn-closed %s" % (
                        self.t.inst, self.t.fam, why))
                    continue
                tag = self.expect(self.t, kind, None, None)
                if tag and self.phase.ok(tag):
                    self.stats.add("%s %s %s exc-expected(%s)" % (
                        self.t.inst, self.t.fam, kind, tag))
                else:
                    self.stats.fail("%s %s %s: %s %s" % (
                        self.t.inst, self.t.fam, kind, why, e))
                    self.stats.add("%s %s %s EXC %s" % (
                        self.t.inst, self.t.fam, kind, why))
                time.sleep(0.05)

    def one(self, conn, kind, reused):
        rng = self.rng
        hdrs = {"Host": "localhost"}
        body = None
        method = "GET"
        check = None
        if rng.random() < 0.3:
            hdrs["Accept-Encoding"] = "gzip"
        if kind == "cached":
            n = rng.randint(0, 300)
            path = "/cached/k%d" % n
            want = re.compile(r"^b[12] GET %s\n$" % re.escape(path))
            check = lambda b, r: want.match(b.decode("latin-1"))  # noqa
        elif kind == "vary":
            n, lang = rng.randint(0, 100), rng.choice(LANGS)
            path = "/echo?v=%d&hdr=Vary:Accept-Language" % n
            hdrs["Accept-Language"] = lang

            def check(b, r, path=path, lang=lang):
                d = json.loads(b)
                return (d["path"] == path and
                        d["headers"].get("accept-language") == lang)
        elif kind == "big":
            n = rng.choice(BIG_SIZES)
            path = "/big?bytes=%d" % n
            check = lambda b, r, n=n: sha(b) == BIG_SHA[n]  # noqa
        elif kind == "static":
            if rng.random() < 0.5:
                path = "/s/hello.txt"
                check = lambda b, r: b == b"hello from the soak\n" * 50  # noqa
            else:
                path = "/s/rand.bin"
                check = lambda b, r: b == RANDBIN  # noqa
        elif kind == "post":
            method = "POST"
            data = os.urandom(rng.choice((0, 10, 5000, 70000, 300000)))
            path = "/echo?post"
            if rng.random() < 0.3 and data:
                body = chunks(data)
                hdrs["Transfer-Encoding"] = "chunked"
            else:
                body = data

            def check(b, r, data=data):
                d = json.loads(b)
                return (d["method"] == "POST" and d["body_len"] == len(data)
                        and d["body_sha256"] == sha(data))
        elif kind == "chunked":
            k = rng.randint(1, 200)
            path = "/chunked?n=%d" % k
            want = "".join("chunk %d\n" % i for i in range(k)).encode()
            check = lambda b, r, w=want: b == w  # noqa
        elif kind == "head":
            method = "HEAD"
            path = "/big?bytes=70000"
            check = lambda b, r: b == b""  # noqa
        elif kind.startswith("php"):
            method, path, body, check, hdrs = php_request(kind, rng, hdrs)
        else:
            raise ValueError(kind)
        conn.request(method, path, body=body, headers=hdrs,
                     encode_chunked="Transfer-Encoding" in hdrs)
        r = conn.getresponse()
        raw = r.read()
        b = decode_body(r, raw)
        key = "%s %s %s %d" % (self.t.inst, self.t.fam, kind, r.status)
        if r.status == 200 or (kind == "head" and r.status == 200):
            if check and not check(b, r):
                self.stats.fail("%s %s %s %s: bad body (%d bytes) %r" % (
                    self.t.inst, self.t.fam, kind, path, len(b), b[:120]))
                key += " BADBODY"
            self.stats.add(key)
        else:
            tag = self.expect(self.t, kind, r, b)
            if tag and self.phase.ok(tag):
                self.stats.add(key + " expected(%s)" % tag)
                time.sleep(0.02)	# refused: do not spin
            else:
                self.stats.fail("%s %s %s %s: status %d %r" % (
                    self.t.inst, self.t.fam, kind, path, r.status, b[:200]))
                self.stats.add(key + " UNEXPECTED")
        if r.will_close:
            conn.close()


# ---------------------------------------------------------------- PHP ----

PHP_SCRIPTS = {
    "echo.php": '<?php header("Content-Type: text/plain");'
                ' echo "q=", $_GET["q"] ?? "-", "\\n";',
    "input.php": '<?php header("Content-Type: text/plain");'
                 ' $in = file_get_contents("php://input");'
                 ' echo strlen($in), " ", hash("sha256", $in);',
    "large.php": '<?php $n = (int)($_GET["n"] ?? 1000);'
                 ' while ($n > 0) { $k = min($n, 65536);'
                 ' echo str_repeat("a", $k); $n -= $k; }',
    "sleep.php": '<?php usleep((int)($_GET["ms"] ?? 100) * 1000);'
                 ' echo "slept";',
    "fatal.php": '<?php no_such_function_in_the_soak();',
    "exit.php": '<?php echo "partial"; flush(); exit(3);',
    "kill.php": '<?php echo str_repeat("k", 20000); flush();'
                ' posix_kill(getmypid(), 9);',
    "drip.php": '<?php for ($i = 0; $i < 5; $i++) { echo "drip $i\\n";'
                ' flush(); usleep(200000); }',
    "headers.php": '<?php header("X-Soak: yes"); http_response_code(201);'
                   ' echo "created";',
}


def php_request(kind, rng, hdrs):
    method, body = "GET", None
    if kind == "php-echo":
        q = "%08x" % rng.getrandbits(32)
        path = "/echo.php?q=" + q
        return method, path, None, (lambda b, r, q=q: b == (
            "q=%s\n" % q).encode()), hdrs
    if kind == "php-post":
        data = os.urandom(rng.choice((0, 100, 60000, 1000000)))
        h = dict(hdrs, **{"Content-Type": "application/octet-stream"})
        body = data
        if data and rng.random() < 0.3:
            body = chunks(data)
            h["Transfer-Encoding"] = "chunked"
        return "POST", "/input.php", body, (lambda b, r, d=data: b == (
            "%d %s" % (len(d), sha(d))).encode()), h
    if kind == "php-large":
        n = rng.choice((10, 100000, 3000000))
        return method, "/large.php?n=%d" % n, None, (
            lambda b, r, n=n: b == b"a" * n), hdrs
    if kind == "php-slow":
        ms = rng.choice((100, 800, 2000))
        return method, "/sleep.php?ms=%d" % ms, None, (
            lambda b, r: b == b"slept"), hdrs
    if kind == "php-drip":
        return method, "/drip.php", None, (lambda b, r: b == "".join(
            "drip %d\n" % i for i in range(5)).encode()), hdrs
    if kind == "php-fatal":
        return method, "/fatal.php", None, None, hdrs
    if kind == "php-exit":
        return method, "/exit.php", None, (lambda b, r: b == b"partial"), hdrs
    if kind == "php-kill":
        return method, "/kill.php", None, None, hdrs
    if kind == "php-headers":
        return method, "/headers.php", None, None, hdrs
    if kind == "php-timeout":
        return method, "/sleep.php?ms=4000", None, None, hdrs
    raise ValueError(kind)


# ----------------------------------------------------------- disturbers --

def every(stop, secs, fn, name):
    def loop():
        while not stop.wait(secs):
            try:
                fn()
            except Exception as e:  # noqa
                log("%s: %r" % (name, e))
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def read_response(s, rng, pauses):
    """Head and Content-Length body from socket s, pausing at first."""
    data, n = b"", 0
    while b"\r\n\r\n" not in data:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("eof in head")
        data += d
    head, body = data.split(b"\r\n\r\n", 1)
    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    if not m:
        raise ValueError("no length: %r" % head[:200])
    want = int(m.group(1))
    while len(body) < want:
        if n < pauses:
            time.sleep(rng.uniform(0.05, 0.4))
            n += 1
        d = s.recv(min(65536, want - len(body)) if n >= pauses else 3000)
        if not d:
            raise ConnectionError("eof after %d of %d" % (len(body), want))
        body += d
    return head, body


def slow_read(ss, what, rng, stats, inst):
    """A client that reads its answer slowly at first, then checks it."""
    if what == "slow-static":
        path, want = "/s/rand.bin", RANDBIN
    else:
        n = rng.choice((70000, 1048576))
        path, want = "/big?bytes=%d&slow=%d" % (n, rng.getrandbits(20)), \
            big_bytes(n)
    ss.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\n"
               b"Connection: close\r\n\r\n" % path.encode())
    head, body = read_response(ss, rng, rng.randint(3, 15))
    if not head.startswith(b"HTTP/1.1 200") or body != want:
        stats.fail("%s %s %s: %r, %d bytes, %s" % (
            inst, what, path, head[:40], len(body),
            "same" if body == want else "DIFFERENT"))
    ss.close()


def abusive_tls(host, port, stats, phase, deadline, ctx, inst):
    """Handshakes cut, stalled, plain text, old versions, renegotiation,
    bodies and answers abandoned half way."""
    rng = random.Random()
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.time() < deadline:
        what = rng.choice(("connect-close", "hello-cut", "hello-stall",
                           "plain-http", "tls1.0", "body-cut", "answer-cut",
                           "reneg", "full-close", "slow-static",
                           "slow-proxy", "slow-proxy"))
        try:
            s = socket.create_connection((host, port), timeout=10)
            if what == "connect-close":
                s.close()
            elif what in ("hello-cut", "hello-stall"):
                # a real ClientHello, cut in half
                inc = ssl.MemoryBIO()
                out = ssl.MemoryBIO()
                obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
                try:
                    obj.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                hello = out.read()
                s.sendall(hello[:len(hello) // 2])
                if what == "hello-stall":
                    time.sleep(rng.uniform(0.5, 3))
                s.close()
            elif what == "plain-http":
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                s.settimeout(5)
                try:
                    s.recv(4096)
                except (socket.timeout, OSError):
                    pass
                s.close()
            elif what == "tls1.0":
                c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                c.check_hostname = False
                c.verify_mode = ssl.CERT_NONE
                c.minimum_version = ssl.TLSVersion.TLSv1
                c.maximum_version = ssl.TLSVersion.TLSv1_1
                try:
                    c.set_ciphers("ALL:@SECLEVEL=0")
                    ss = c.wrap_socket(s)
                    stats.fail("%s tls1.0 handshake succeeded" % inst)
                    ss.close()
                except (ssl.SSLError, OSError):
                    s.close()
            else:
                ss = ctx.wrap_socket(s, server_hostname="localhost")
                if what == "body-cut":
                    ss.sendall(b"POST /echo HTTP/1.1\r\nHost: localhost\r\n"
                               b"Content-Length: 1000000\r\n\r\n" +
                               os.urandom(rng.choice((10, 100000))))
                    ss.close()
                elif what == "answer-cut":
                    ss.sendall(b"GET /s/rand.bin HTTP/1.1\r\n"
                               b"Host: localhost\r\n\r\n")
                    ss.recv(rng.choice((100, 20000)))
                    ss.close()
                elif what.startswith("slow-"):
                    slow_read(ss, what, rng, stats, inst)
                elif what == "full-close":
                    ss.sendall(b"GET /s/hello.txt HTTP/1.1\r\nHost: localhost"
                               b"\r\nConnection: close\r\n\r\n")
                    data = b""
                    while True:
                        d = ss.recv(65536)
                        if not d:
                            break
                        data += d
                    if not data.endswith(b"hello from the soak\n"):
                        stats.fail("%s full-close: %r" % (inst, data[-80:]))
                    ss.close()
                else:
                    ss.close()
            stats.add("%s abuse %s" % (inst, what))
        except (OSError, ssl.SSLError) as e:
            stats.add("%s abuse %s %s" % (inst, what, type(e).__name__))
        time.sleep(rng.uniform(0, 0.05))


def abusive_php(host, port, stats, deadline, inst):
    """Bodies cut, answers abandoned or stalled, pipelined requests."""
    rng = random.Random()
    while time.time() < deadline:
        what = rng.choice(("body-cut", "answer-cut", "answer-stall",
                           "pipeline"))
        try:
            s = socket.create_connection((host, port), timeout=15)
            if what == "body-cut":
                s.sendall(b"POST /input.php HTTP/1.1\r\nHost: l\r\n"
                          b"Content-Length: 1000000\r\n\r\n" +
                          os.urandom(rng.choice((10, 100000))))
            elif what in ("answer-cut", "answer-stall"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"GET /large.php?n=3000000 HTTP/1.1\r\n"
                          b"Host: l\r\n\r\n")
                s.recv(10000)
                if what == "answer-stall":
                    time.sleep(rng.uniform(1, 6))
                    s.recv(10000)
            else:
                s.sendall(b"GET /echo.php?q=one HTTP/1.1\r\nHost: l\r\n\r\n"
                          b"GET /echo.php?q=two HTTP/1.1\r\nHost: l\r\n"
                          b"Connection: close\r\n\r\n")
                data = b""
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    data += d
                if not (b"q=one\n" in data and b"q=two\n" in data and
                        data.count(b"HTTP/1.1 200") == 2) and \
                        b" 502 " not in data:
                    stats.fail("%s pipeline: %r" % (inst, data[-300:]))
            s.close()
            stats.add("%s abuse %s" % (inst, what))
        except OSError as e:
            stats.add("%s abuse %s %s" % (inst, what, type(e).__name__))
        time.sleep(rng.uniform(0.1, 0.5))


def slow_php_tls(port, ctx, stats, deadline, inst, fpm):
    """PHP output to a TLS client that reads slowly at first, checked."""
    rng = random.Random()
    while time.time() < deadline:
        n = rng.choice((70000, 3000000))
        try:
            s = socket.create_connection(("::1", port), timeout=15)
            ss = ctx.wrap_socket(s, server_hostname="localhost")
            # HTTP/1.0: large.php gives no length, the close ends it
            ss.sendall(b"GET /large.php?n=%d HTTP/1.0\r\nHost: l\r\n\r\n"
                       % n)
            data, k = b"", 0
            while True:
                if k < 10:
                    time.sleep(rng.uniform(0.05, 0.3))
                    k += 1
                d = ss.recv(3000 if k < 10 else 65536)
                if not d:
                    break
                data += d
            ss.close()
            head, _, body = data.partition(b"\r\n\r\n")
            if head.startswith(b"HTTP/1.1 502") and fpm:
                stats.add("%s slow-php-tls 502 (fpm down?)" % inst)
            elif not head.startswith(b"HTTP/1.1 200") or body != b"a" * n:
                stats.fail("%s slow-php-tls n=%d: %r, %d bytes" % (
                    inst, n, head[:60], len(body)))
            else:
                stats.add("%s slow-php-tls ok" % inst)
        except (OSError, ssl.SSLError) as e:
            stats.fail("%s slow-php-tls: %r" % (inst, e))
        time.sleep(rng.uniform(0.1, 0.5))


def reneg(host, port, ca, stats, inst, deadline):
    """openssl s_client, TLS 1.2, asks for a renegotiation ("R")."""
    while time.time() < deadline:
        try:
            p = subprocess.run(
                ["timeout", "10", "openssl", "s_client", "-tls1_2",
                 "-connect", "%s:%d" % (host if ":" not in host else
                                        "[%s]" % host, port),
                 "-servername", "localhost", "-CAfile", ca],
                input=b"R\nGET /s/hello.txt HTTP/1.1\r\nHost: l\r\n\r\n",
                capture_output=True, timeout=15)
            out = p.stdout + p.stderr
            if b"RENEGOTIATING" in out:
                stats.add("%s reneg tried (%s)" % (
                    inst, "refused" if b"no renegotiation" in out or
                    b"alert" in out else "rc=%d" % p.returncode))
            else:
                stats.add("%s reneg no-attempt rc=%d" % (inst, p.returncode))
        except subprocess.TimeoutExpired:
            stats.add("%s reneg timeout" % inst)
        time.sleep(1)


# --------------------------------------------------------------- phases --

def mk_htdocs(d):
    os.makedirs(os.path.join(d, "s"), exist_ok=True)
    write(os.path.join(d, "s", "hello.txt"), "hello from the soak\n" * 50)
    with open(os.path.join(d, "s", "rand.bin"), "wb") as f:
        f.write(RANDBIN)
    for name, src in PHP_SCRIPTS.items():
        write(os.path.join(d, name), src + "\n")


def base_conf(d, listens, extra):
    lines = ["# written by t/soak/soak.py"]
    lines += ["listen %s" % l for l in listens]
    lines += ["workers 2", "pidfile %s/maitred.pid" % d,
              "htdocs %s/htdocs" % d, "error_log %s/error.log" % d,
              "access_log %s/access.log" % d, "log_level info"]
    lines += extra
    return "\n".join(lines) + "\n"


def two_maitreds(args, procs, top, conf_fn):
    ms = []
    for name, binary in (("rel", args.rel), ("asan", args.asan)):
        d = os.path.join(top, name)
        os.makedirs(d, exist_ok=True)
        mk_htdocs(os.path.join(d, "htdocs"))
        m = Maitred(procs, binary, d, name)
        m.port = free_port()
        write(m.conf, conf_fn(m, 0))
        m.conf_fn = conf_fn
        ms.append(m)
    for m in ms:
        m.start()
    for m in ms:
        assert wait_port("127.0.0.1", m.port)
    return ms


def phase_ipv6(args, procs, top, stats, phase, stop, deadline):
    bports = []
    for i in (1, 2):
        p = free_port()
        procs.start(["python3", BACKEND_PY, "--port", str(p), "--name",
                     "b%d" % i, "--host", "::1"])
        assert wait_port("::1", p)
        bports.append(p)
    write(os.path.join(top, "backends.cfg"),
          "".join("[::1]:%d:1:3\n" % p for p in bports))
    write(os.path.join(top, "cache_rules.cfg"),
          "/cached/*:2:100000\n/echo:3:100000\n/big*:5:4000000\n")
    # a large list of IPv6 and IPv4 networks that never match
    rng = random.Random(1)
    filler = []
    for _ in range(3000):
        filler.append("2001:db8:%x:%x::/64" % (rng.getrandbits(16),
                                              rng.getrandbits(16)))
        filler.append("fd%02x:%x::/32" % (rng.getrandbits(8),
                                          rng.getrandbits(16)))
        filler.append("10.%d.%d.0/24" % (rng.randint(0, 255),
                                         rng.randint(0, 255)))
    bl = os.path.join(top, "blacklist.txt")
    write(bl, "\n".join(filler) + "\n")
    state = {"rl": 0}

    def conf(m, rl):
        return base_conf(m.d, ["[::1]:%d" % m.port, "127.0.0.1:%d" % m.port],
                         ["backends %s/backends.cfg" % top,
                          "cache_rules %s/cache_rules.cfg" % top,
                          "blacklist %s" % bl, "gzip on",
                          "gzip_types text/plain application/json",
                          "rate_limit " + ("50/1s burst=20" if rl else "off"),
                          "rate_limit_exempt 127.0.0.1",
                          "rate_limit_ipv6_prefix 64",
                          "connect_timeout 2s", "read_timeout 10s"])
    ms = two_maitreds(args, procs, top, conf)

    def reload():
        state["rl"] ^= 1
        now = time.time()
        with phase.lock:
            phase.allow["ratelimit-v6"] = now + (1e9 if state["rl"] else 12)
        for m in ms:
            write(m.conf, conf(m, state["rl"]))
            m.hup()
        log("reload: rate_limit %s" % ("50/1s" if state["rl"] else "off"))

    blmodes = [("none", []), ("v6-host", ["::1"]), ("v6-net", ["::/127"]),
               ("v6-all", ["::/0"]), ("v4-mapped", ["::ffff:127.0.0.0/104"]),
               ("v4", ["127.0.0.0/8"])]
    bstate = {"i": 0}

    def blacklist():
        bstate["i"] = (bstate["i"] + 1) % len(blmodes)
        name, extra = blmodes[bstate["i"]]
        now = time.time()
        for tag in ("bl-v6", "bl-v4"):
            with phase.lock:
                if phase.allow.get(tag, 0) > now + 1e8:
                    phase.allow[tag] = now + 5	# takes ~2 s to drop
        tag = {"v6-host": "bl-v6", "v6-net": "bl-v6", "v6-all": "bl-v6",
               "v4-mapped": "bl-v4", "v4": "bl-v4"}.get(name)
        if tag:
            phase.permit(tag, now + 1e9)
        tmp = bl + ".tmp"
        write(tmp, "\n".join(filler + extra) + "\n")
        os.rename(tmp, bl)
        log("blacklist: %s" % name)

    def expect(t, kind, r, b):
        if r is None:
            return "bl-" + t.fam	# closed connection while listed
        if r.status == 403:
            return "bl-" + t.fam
        if r.status == 429 and t.fam == "v6" and r.getheader(
                "Retry-After") and r.getheader("RateLimit"):
            return "ratelimit-v6"
        return None

    kinds = ["cached", "vary", "big", "static", "post", "chunked", "head"]
    clients = []
    for i in range(args.clients):
        m = ms[i % 2]
        host = "::1" if (i // 2) % 4 < 3 else "127.0.0.1"
        clients.append(Client(Target(m.name, host, m.port), kinds, stats,
                              phase, deadline, expect))
    every(stop, 40, reload, "reload")
    every(stop, 25, blacklist, "blacklist")
    return ms, clients


def mkcert(pki, name, cn, san):
    k, csr, crt, ext = (os.path.join(pki, name + x)
                        for x in (".key", ".csr", ".crt", ".ext"))
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", k, "-out", csr, "-subj", "/CN=" + cn],
                   check=True, capture_output=True)
    write(ext, "subjectAltName=%s\n" % san)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA",
                    os.path.join(pki, "ca.crt"), "-CAkey",
                    os.path.join(pki, "ca.key"), "-CAcreateserial", "-out",
                    crt, "-days", "2", "-extfile", ext],
                   check=True, capture_output=True)


def phase_tls(args, procs, top, stats, phase, stop, deadline):
    pki = os.path.join(top, "pki")
    os.makedirs(pki)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", os.path.join(pki, "ca.key"), "-out",
                    os.path.join(pki, "ca.crt"), "-days", "2", "-subj",
                    "/CN=soak CA"], check=True, capture_output=True)
    san = "DNS:localhost,IP:127.0.0.1,IP:::1"
    for n in ("a", "b", "be"):
        mkcert(pki, n, "localhost", san)
    mkcert(pki, "other", "other.test", "DNS:other.test")
    shutil.copy(os.path.join(pki, "a.crt"), os.path.join(pki, "srv.crt"))
    shutil.copy(os.path.join(pki, "a.key"), os.path.join(pki, "srv.key"))
    ca = os.path.join(pki, "ca.crt")
    bports = []
    for i, host in ((1, "127.0.0.1"), (2, "::1")):
        p = free_port()
        procs.start(["python3", BACKEND_PY, "--port", str(p), "--name",
                     "b%d" % i, "--host", host, "--tls-cert",
                     os.path.join(pki, "be.crt"), "--tls-key",
                     os.path.join(pki, "be.key")])
        assert wait_port(host, p)
        bports.append((host, p))
    write(os.path.join(top, "backends.cfg"), "".join(
        ("[%s]:%d:1:3\n" if ":" in h else "%s:%d:1:3\n") % (h, p)
        for h, p in bports))
    write(os.path.join(top, "cache_rules.cfg"),
          "/cached/*:2:100000\n/echo:3:100000\n/big*:5:4000000\n")

    def conf(m, _):
        return base_conf(m.d, ["127.0.0.1:%d ssl" % m.port,
                               "[::1]:%d ssl" % m.port],
                         ["ssl_certificate %s/srv.crt" % pki,
                          "ssl_certificate_key %s/srv.key" % pki,
                          "ssl_sni other.test %s/other.crt %s/other.key" % (
                              pki, pki),
                          "backends %s/backends.cfg" % top,
                          "backend_tls on", "backend_tls_ca %s" % ca,
                          "cache_rules %s/cache_rules.cfg" % top,
                          "gzip on", "gzip_types text/plain application/json",
                          "rate_limit off", "client_timeout 4s",
                          "connect_timeout 2s", "read_timeout 10s"])
    ms = two_maitreds(args, procs, top, conf)
    ctx = ssl.create_default_context(cafile=ca)
    cstate = {"n": 0}

    def rotate():
        # a new certificate now and then, else the other one: reload
        cstate["n"] += 1
        src = "b" if cstate["n"] % 2 else "a"
        if cstate["n"] % 5 == 0:
            mkcert(pki, src, "localhost", san)
        if cstate["n"] % 7 == 0:
            # a key that does not match: the reload fails, the running
            # certificates stay; the next rotation repairs it
            shutil.copy(os.path.join(pki, "other.key"),
                        os.path.join(pki, "srv.key"))
            for m in ms:
                m.hup()
            log("reload with a mismatched key")
            return
        for x in (".crt", ".key"):
            shutil.copy(os.path.join(pki, src + x),
                        os.path.join(pki, "srv" + x + ".tmp"))
        # key and certificate must match when maitred reads them
        os.rename(os.path.join(pki, "srv.key.tmp"),
                  os.path.join(pki, "srv.key"))
        os.rename(os.path.join(pki, "srv.crt.tmp"),
                  os.path.join(pki, "srv.crt"))
        for m in ms:
            m.hup()
        log("reload with certificate %s" % src)

    def killworker():
        for m in ms:
            ws = m.workers()
            if ws:
                os.kill(random.choice(ws), signal.SIGKILL)
                log("%s: killed a worker" % m.name)
                phase.permit("workerkill-" + m.name, time.time() + 3)

    def expect(t, kind, r, b):
        if r is None:
            return "workerkill-" + t.inst
        if r.status in (502,) :
            return "workerkill-" + t.inst
        return None

    kinds = ["cached", "vary", "big", "static", "post", "chunked", "head"]
    clients = []
    for i in range(args.clients):
        m = ms[i % 2]
        host = "::1" if (i // 2) % 2 else "127.0.0.1"
        c = ssl.create_default_context(cafile=ca)
        c.check_hostname = False	# the host is an IP: SAN holds it
        clients.append(Client(Target(m.name, host, m.port, tls=c), kinds,
                              stats, phase, deadline, expect))
    ab = []
    for m in ms:
        for host in ("127.0.0.1", "::1"):
            ab.append(threading.Thread(target=abusive_tls, args=(
                host, m.port, stats, phase, deadline, ctx, m.name),
                daemon=True))
        ab.append(threading.Thread(target=reneg, args=(
            "127.0.0.1", m.port, ca, stats, m.name, deadline), daemon=True))
    every(stop, 20, rotate, "rotate")
    every(stop, 150, killworker, "killworker")
    # wrk over TLS for volume, against each maitred, in bursts
    wrk = []

    def wrk_burst():
        for m in ms:
            log_path = os.path.join(top, "wrk-%s.log" % m.name)
            p = procs.start(["timeout", "40", "wrk", "-t1", "-c16", "-d30s",
                             "https://127.0.0.1:%d/s/hello.txt" % m.port],
                            log_path)
            wrk.append(p)
    every(stop, 90, wrk_burst, "wrk")
    return ms, clients + ab


def start_fpm(procs, d, port, children_n=4, port6=None):
    os.makedirs(d, exist_ok=True)
    fpm = shutil.which("php-fpm8.2") or shutil.which("php-fpm") or \
        sorted(x for x in os.listdir("/usr/sbin") if x.startswith("php-fpm"))
    if isinstance(fpm, list):
        fpm = "/usr/sbin/" + fpm[0]
    write(os.path.join(d, "php-fpm.conf"), """[global]
pid = {d}/fpm.pid
error_log = {d}/fpm.log
daemonize = no
[www]
listen = 127.0.0.1:{port}
pm = static
pm.max_children = {n}
catch_workers_output = yes
[www6]
listen = [::1]:{port6}
pm = static
pm.max_children = {n}
catch_workers_output = yes
""".format(d=d, port=port, n=children_n, port6=port6))
    root = ["-R"] if os.getuid() == 0 else []
    p = procs.start([fpm, "-F", "-y", os.path.join(d, "php-fpm.conf"),
                     "-p", d] + root, os.path.join(d, "stdout"))
    wait_port("127.0.0.1", port)
    wait_port("::1", port6)
    return p


def phase_php(args, procs, top, stats, phase, stop, deadline):
    fport, fport6 = free_port(), free_port()
    fdir = os.path.join(top, "fpm")
    fpm = {"p": start_fpm(procs, fdir, fport, 6, fport6)}
    kinds_fpm = ["php-echo", "php-post", "php-large", "php-slow", "php-drip",
                 "php-fatal", "php-exit", "php-kill", "php-headers",
                 "php-timeout", "php-echo", "php-post", "php-large"]
    kinds_cgi = ["php-echo", "php-post", "php-large", "php-slow",
                 "php-fatal", "php-exit", "php-kill", "php-headers",
                 "php-timeout"]

    pki = os.path.join(top, "pki")
    os.makedirs(pki)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", os.path.join(pki, "ca.key"), "-out",
                    os.path.join(pki, "ca.crt"), "-days", "2", "-subj",
                    "/CN=soak CA"], check=True, capture_output=True)
    mkcert(pki, "srv", "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1")
    ca = os.path.join(pki, "ca.crt")

    def conf(m, _):
        php = ("php fastcgi " + ("127.0.0.1:%d" % fport if m.name == "rel-fpm"
                                  else "[::1]:%d" % fport6)
               if m.mode == "fpm" else "php cgi /usr/bin/php-cgi")
        return base_conf(m.d, ["127.0.0.1:%d" % m.port, "[::1]:%d" % m.port,
                               "[::1]:%d ssl" % m.sport],
                         [php, "php_timeout 3s", "rate_limit off",
                          "ssl_certificate %s/srv.crt" % pki,
                          "ssl_certificate_key %s/srv.key" % pki,
                          "gzip on", "gzip_types text/plain text/html",
                          "php_buffer_max 2m"])
    ms = []
    for name, binary, mode in (("rel-fpm", args.rel, "fpm"),
                               ("asan-fpm", args.asan, "fpm"),
                               ("rel-cgi", args.rel, "cgi"),
                               ("asan-cgi", args.asan, "cgi")):
        d = os.path.join(top, name)
        os.makedirs(d)
        mk_htdocs(os.path.join(d, "htdocs"))
        m = Maitred(procs, binary, d, name)
        m.port, m.sport, m.mode = free_port(), free_port(), mode
        write(m.conf, conf(m, 0))
        m.start()
        assert wait_port("127.0.0.1", m.port)
        ms.append(m)

    def fpm_restart():
        p = fpm["p"]
        sig = random.choice((signal.SIGKILL, signal.SIGTERM, signal.SIGQUIT))
        kids = children(p.pid)
        phase.permit("fpm-down", time.time() + 1e9)
        os.kill(p.pid, sig)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        for k in kids:		# php-fpm children left by a KILL
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(2)
        fpm["p"] = start_fpm(procs, fdir, fport, 6, fport6)
        with phase.lock:
            phase.allow["fpm-down"] = time.time() + 8
        log("php-fpm restarted after %s" % sig.name)

    def reload():
        for m in ms:
            m.hup()
        log("reload")

    def expect(t, kind, r, b):
        if r is None:
            if kind == "php-kill":
                return "always"		# cut once the answer has started
            if t.inst.endswith("fpm"):
                return "fpm-down"
            return None
        if kind == "php-fatal" and r.status == 500:
            return "always"
        if kind == "php-headers" and r.status == 201 and b == b"created" \
                and r.getheader("X-Soak") == "yes":
            return "always"
        if kind == "php-timeout" and r.status == 504:
            return "always"
        if kind == "php-kill" and r.status == 502:
            return "always"
        if r.status == 502 and t.inst.endswith("fpm"):
            return "fpm-down"
        if r.status == 504 and t.inst.endswith("fpm"):
            # php_timeout runs from the request: waiting in php-fpm's
            # backlog behind busy children counts (expected, counted)
            return "fpm-queue"
        return None
    phase.permit("fpm-queue", time.time() + 1e9)
    phase.permit("always", time.time() + 1e9)
    clients = []
    for i in range(args.clients):
        m = ms[i % 4]
        host = "::1" if (i // 4) % 3 == 0 else "127.0.0.1"
        kinds = kinds_fpm if m.mode == "fpm" else kinds_cgi
        if (i // 4) % 3 == 2:
            c = ssl.create_default_context(cafile=ca)
            c.check_hostname = False
            t = Target(m.name, "::1", m.sport, tls=c, fam="v6tls")
        else:
            t = Target(m.name, host, m.port)
        clients.append(Client(t, kinds, stats, phase, deadline, expect))
    tctx = ssl.create_default_context(cafile=ca)
    tctx.check_hostname = False
    for m in ms:
        clients.append(threading.Thread(target=slow_php_tls, args=(
            m.sport, tctx, stats, deadline, m.name, m.mode == "fpm"),
            daemon=True))
    for m in ms:
        clients.append(threading.Thread(target=abusive_php, args=(
            "::1" if m.mode == "fpm" else "127.0.0.1", m.port, stats,
            deadline, m.name), daemon=True))
    every(stop, 75, fpm_restart, "fpm")
    every(stop, 45, reload, "reload")

    def zomb():
        for m in ms:
            for w in m.workers():
                z = zombies(w)
                if len(z) > 3:
                    stats.fail("%s worker %d has %d zombies" % (
                        m.name, w, len(z)))
    every(stop, 20, zomb, "zombies")
    return ms, clients


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", required=True, choices=("ipv6", "tls", "php"))
    ap.add_argument("--rel", required=True)
    ap.add_argument("--asan", required=True)
    ap.add_argument("--minutes", type=float, default=12)
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--dir")
    args = ap.parse_args()
    top = args.dir or tempfile.mkdtemp(prefix="soak-%s-" % args.phase)
    os.makedirs(top, exist_ok=True)
    log("phase %s in %s" % (args.phase, top))
    procs, stats, phase, stop = Procs(), Stats(), Phase(), threading.Event()
    deadline = time.time() + args.minutes * 60
    fn = {"ipv6": phase_ipv6, "tls": phase_tls, "php": phase_php}[args.phase]
    ms = []
    try:
        ms, clients = fn(args, procs, top, stats, phase, stop, deadline)
        for m in ms:
            m.sample()
        mon = threading.Thread(target=monitor, args=(ms, stop), daemon=True)
        mon.start()
        for c in clients:
            c.start()
        last = time.time()
        while time.time() < deadline + 5:
            time.sleep(5)
            if time.time() - last >= 60:
                log("%d requests, %d unexpected" % (stats.total(),
                                                    stats.nbad))
                last = time.time()
            for m in ms:
                if m.p.poll() is not None:
                    stats.fail("%s master exited: %s" % (m.name,
                                                        m.p.returncode))
                    raise SystemExit(1)
        stop.set()
        for c in clients:
            c.join(60)
        time.sleep(3)
        for m in ms:
            m.sample()
    finally:
        stop.set()
        rcs = {}
        for m in ms:
            rcs[m.name] = m.stop()
        procs.stop_all()
    out = stats.report()
    for m in ms:
        out.append("%s: master exit status %s" % (m.name, rcs.get(m.name)))
        out += m.report()
    for l in out:
        print(l)
    sys.exit(1 if stats.nbad else 0)


if __name__ == "__main__":
    main()
