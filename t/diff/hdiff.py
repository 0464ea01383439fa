#!/usr/bin/env python3
"""Differential HTTP/1.1 testing of maitred against nginx and HAProxy.

In the spirit of "HTTP Garden": one echo origin per proxy (raw sockets)
records the exact bytes each proxy forwards; the same tricky requests go
through maitred, nginx and HAProxy (all on 127.0.0.1, each in front of
its own origin), and the script compares what the client got (statuses)
and what the origin saw (request line, Host, framing, body, fields).
A second battery has the origin answer with tricky raw responses and
compares what reaches the client.

Manual tool, not part of "make test" (it needs nginx and haproxy and
takes a few minutes):

    make B=build/rel build/rel/maitred
    python3 t/diff/hdiff.py [--maitred build/rel/maitred] [--only REGEX]
        [--json out.json] [--all] [--verbose]

Batteries: requests (a weird byte -- SP, HTAB, VT, FF, CR, LF, NUL, DEL,
0x80, 0xff, doubled SP, CRLF -- in every position of the request line
and of a field line; line ends; obs-fold; odd field names; Content-Length
and Transfer-Encoding variants; chunk sizes, extensions, trailers;
target forms; Host; versions; methods; Expect; pipelining; hop-by-hop
fields; bodies that are themselves requests), raw responses (status
lines, CL/TE conflicts, CTLs, obs-fold, 1xx, 204/304/HEAD with bodies,
chunk framing) and "keep" responses that leave junk in a connection the
origin keeps open, followed by a second request, to catch a proxy that
reuses the connection and takes the junk for the next answer.

Prints, per case where maitred differs from both peers (DIFF) or
forwards what a peer rejects (LAXER), one line per proxy: the statuses
the client got (or how the connection ended) and what the origin saw;
"--all" prints every case. "!!" marks an invariant broken on maitred's
side alone (origin saw both Content-Length and Transfer-Encoding, a CTL
byte in a forwarded field, more requests than the client sent, a 5xx
for a client error, a dead worker, junk taken for an answer, ...); an
incomplete request (a head without its end, a body shorter than its
Content-Length) shows as "maitred hangs" there, as it should.
Verdicts are for a human with RFC 9110/9112 in hand: nginx and HAProxy
differ from each other often, and being stricter is no bug.
Servers are started on free loopback ports (127.0.0.1) and stopped by
PID at exit; a run takes about four minutes and little CPU.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ADDED = {b"x-forwarded-for", b"x-real-ip", b"x-forwarded-proto",
         b"x-forwarded-host", b"via", b"connection", b"forwarded",
         b"x-forwarded-port", b"keep-alive"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---------------------------------------------------------------- origin

class Origin:
    """Echo origin: records every request it receives (parsed leniently,
    plus the raw bytes), answers each with a fixed 200, or with the raw
    response registered for the target "/r/<key>" (then closes)."""

    def __init__(self, responses):
        self.responses = responses
        self.lock = threading.Lock()
        self.log = []       # dicts, one per request seen
        self.raw = []       # raw byte chunks received (all conns)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def reset(self):
        with self.lock:
            self.log = []
            self.raw = []

    def take(self):
        with self.lock:
            return list(self.log), b"".join(self.raw)

    def accept(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(c,),
                             daemon=True).start()

    def record(self, d):
        with self.lock:
            self.log.append(d)

    def serve(self, c):
        c.settimeout(5)
        buf = b""
        try:
            while True:
                while True:
                    i = buf.find(b"\r\n\r\n")
                    j = buf.find(b"\n\n")
                    if i >= 0 and (j < 0 or i <= j):
                        head, rest = buf[:i], buf[i + 4:]
                        break
                    if j >= 0:
                        head, rest = buf[:j], buf[j + 2:]
                        break
                    d = c.recv(65536)
                    if not d:
                        if buf:
                            self.record({"junk": buf})
                        return
                    with self.lock:
                        self.raw.append(d)
                    buf += d
                lines = re.split(rb"\r?\n", head)
                rl = lines[0]
                hdrs = []
                for ln in lines[1:]:
                    k, _, v = ln.partition(b":")
                    hdrs.append((k, v.strip(b" \t")))
                cl = [v for k, v in hdrs if k.lower() == b"content-length"]
                te = [v for k, v in hdrs
                      if k.lower() == b"transfer-encoding"]
                body = b""
                buf = rest
                framing = "none"
                if te and b"chunked" in te[-1].lower():
                    framing = "chunked"
                    raw_chunks = b""
                    while True:
                        while b"\n" not in buf:
                            d = c.recv(65536)
                            if not d:
                                raise EOFError
                            with self.lock:
                                self.raw.append(d)
                            buf += d
                        ln, _, buf = buf.partition(b"\n")
                        raw_chunks += ln + b"\n"
                        n = int(ln.split(b";")[0].strip() or b"0", 16)
                        if n == 0:
                            # trailers until an empty line
                            while True:
                                while b"\n" not in buf:
                                    d = c.recv(65536)
                                    if not d:
                                        raise EOFError
                                    with self.lock:
                                        self.raw.append(d)
                                    buf += d
                                ln, _, buf = buf.partition(b"\n")
                                raw_chunks += ln + b"\n"
                                if ln.strip(b"\r") == b"":
                                    break
                            break
                        while len(buf) < n + 2:
                            d = c.recv(65536)
                            if not d:
                                raise EOFError
                            with self.lock:
                                self.raw.append(d)
                            buf += d
                        body += buf[:n]
                        raw_chunks += buf[:n + 2]
                        buf = buf[n + 2:]
                    framing = "chunked"
                elif cl:
                    n = int(cl[0])
                    framing = "cl"
                    while len(buf) < n:
                        d = c.recv(65536)
                        if not d:
                            raise EOFError
                        with self.lock:
                            self.raw.append(d)
                        buf += d
                    body, buf = buf[:n], buf[n:]
                self.record({"line": rl, "headers": hdrs, "framing": framing,
                             "ncl": len(cl), "nte": len(te), "body": body})
                parts = rl.split(b" ")
                target = parts[1] if len(parts) > 1 else b""
                m = re.match(rb"/r/(\w+)", target)
                if m and m.group(1).decode() in self.responses:
                    raw = self.responses[m.group(1).decode()]
                    for i, piece in enumerate(
                            raw if isinstance(raw, list) else [raw]):
                        if i:
                            time.sleep(0.05)
                        c.sendall(piece)
                    if not m.group(1).startswith(b"k"):
                        time.sleep(0.05)
                        return
                    # "k" keys: the connection stays open; junk left
                    # in it would be read as the next answer
                    buf = b""
                    continue
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                          b"X-Origin: 1\r\n\r\nok")
                if any(k.lower() == b"connection" and b"close" in v.lower()
                       for k, v in hdrs):
                    return
        except (OSError, ValueError, EOFError):
            if buf:
                self.record({"junk": buf})
        finally:
            c.close()


# --------------------------------------------------------------- proxies

class Proxies:
    def __init__(self, maitred, origins, tmp):
        self.procs = {}
        self.ports = {}
        self.tmp = tmp
        m = os.path.join(tmp, "maitred")
        os.makedirs(os.path.join(m, "htdocs"))
        with open(os.path.join(m, "backends.cfg"), "w") as f:
            f.write("127.0.0.1:%d:1:1000\n" % origins["maitred"].port)
        p = free_port()
        with open(os.path.join(m, "maitred.conf"), "w") as f:
            f.write("listen 127.0.0.1:%d\nworkers 1\npidfile %s/pid\n"
                    "htdocs %s/htdocs\nbackends %s/backends.cfg\n"
                    "error_log %s/error.log\nlog_level warning\n"
                    "rate_limit off\nread_timeout 3s\nclient_timeout 3s\n"
                    % (p, m, m, m, m))
        self.start("maitred", p, [maitred, "-c", m + "/maitred.conf"])
        n = os.path.join(tmp, "nginx")
        os.makedirs(n)
        p = free_port()
        with open(os.path.join(n, "nginx.conf"), "w") as f:
            f.write("""worker_processes 1; daemon off; pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 256; }
http { access_log off; client_max_body_size 10m; client_body_buffer_size 1m;
 client_body_temp_path %(d)s/b; proxy_temp_path %(d)s/p;
 fastcgi_temp_path %(d)s/f; uwsgi_temp_path %(d)s/u; scgi_temp_path %(d)s/s;
 upstream be { server 127.0.0.1:%(o)d; keepalive 8; }
 server { listen 127.0.0.1:%(p)d;
  location / { proxy_pass http://be; proxy_http_version 1.1;
   proxy_set_header Connection ""; proxy_set_header Host $http_host;
   proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; } } }
""" % {"d": n, "o": origins["nginx"].port, "p": p})
        self.start("nginx", p, ["nginx", "-p", n, "-c", n + "/nginx.conf",
                                "-e", n + "/error.log"])
        h = os.path.join(tmp, "haproxy")
        os.makedirs(h)
        p = free_port()
        with open(os.path.join(h, "haproxy.cfg"), "w") as f:
            f.write("""global
    nbthread 1
defaults
    mode http
    option http-keep-alive
    option forwardfor
    timeout connect 2s
    timeout client 3s
    timeout server 3s
    timeout http-request 3s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server o 127.0.0.1:%d
""" % (p, origins["haproxy"].port))
        self.start("haproxy", p, ["haproxy", "-db", "-f", h + "/haproxy.cfg"])
        for name, port in self.ports.items():
            end = time.time() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except OSError:
                    if time.time() > end or \
                            self.procs[name].poll() is not None:
                        raise SystemExit("%s did not start" % name)
                    time.sleep(0.05)

    def start(self, name, port, argv):
        self.ports[name] = port
        self.procs[name] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.tmp, name + ".stderr"), "w"))

    def alive(self, name):
        return self.procs[name].poll() is None

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


# ---------------------------------------------------------------- client

def exchange(port, data, idle=0.35, first=1.5, gap=0.05):
    """Send <data> (bytes, or a list of bytes sent 50 ms apart), read
    until close, or <idle> s of silence once something came, or <first>
    s with nothing. Returns (bytes, how it ended)."""
    s = socket.create_connection(("127.0.0.1", port), 2)
    parts = data if isinstance(data, list) else [data]
    got = b""
    how = "timeout"
    try:
        for i, d in enumerate(parts):
            if i:
                time.sleep(gap)
            s.sendall(d)
        end = time.time() + first
        while True:
            s.settimeout(max(0.01, (time.time() + idle if got else end)
                             - time.time()))
            try:
                d = s.recv(65536)
            except socket.timeout:
                how = "open"
                break
            if not d:
                how = "closed"
                break
            got += d
    except ConnectionResetError:
        how = "reset"
    except OSError as e:
        how = "err:%s" % e.errno
    finally:
        s.close()
    return got, how


def statuses(resp, head=False):
    """Status codes of the responses in <resp>, framed leniently (CL,
    chunked, else to the end); a non-HTTP remainder shows as "?"."""
    out = []
    while resp:
        m = re.match(rb"HTTP/1\.[01] (\d{3})[^\n]*\n", resp)
        e = resp.find(b"\r\n\r\n")
        if not m or e < 0:
            out.append("?")
            break
        st, hd, resp = m.group(1).decode(), resp[:e], resp[e + 4:]
        out.append(st)
        cl = re.search(rb"(?im)^content-length:\s*(\d+)", hd)
        if st[0] == "1":
            continue
        if st in ("204", "304") or head:
            head = False        # only the first final answer is to HEAD
            continue
        if re.search(rb"(?im)^transfer-encoding:.*chunked", hd):
            while True:
                ln, _, resp = resp.partition(b"\r\n")
                try:
                    n = int(ln.split(b";")[0], 16)
                except ValueError:
                    return out + ["?"]
                if n == 0:
                    while True:     # trailer lines, then the empty one
                        ln, _, resp = resp.partition(b"\r\n")
                        if not ln:
                            break
                    break
                resp = resp[n + 2:]
        elif cl:
            resp = resp[int(cl.group(1)):]
        else:
            break
    return out


# ----------------------------------------------------------------- cases

def req_cases():
    C = []

    def add(cat, name, data):
        C.append((cat, name, data))

    G = b"GET /x HTTP/1.1\r\nHost: h\r\n"
    P = b"POST /x HTTP/1.1\r\nHost: h\r\n"
    weird = {"SP": b" ", "HT": b"\t", "VT": b"\x0b", "FF": b"\x0c",
             "CR": b"\r", "LF": b"\n", "NUL": b"\x00", "DEL": b"\x7f",
             "80": b"\x80", "FF8": b"\xff", "SPSP": b"  ", "CRLF": b"\r\n"}
    # request line: a weird byte in every position
    for wn, w in weird.items():
        add("reqline", "pre-method " + wn, w + b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        add("reqline", "in-method " + wn, b"G" + w + b"ET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        add("reqline", "after-method " + wn, b"GET" + w + b"/x HTTP/1.1\r\nHost: h\r\n\r\n")
        add("reqline", "extra-after-method " + wn, b"GET " + w + b"/x HTTP/1.1\r\nHost: h\r\n\r\n")
        add("reqline", "in-target " + wn, b"GET /x" + w + b"y HTTP/1.1\r\nHost: h\r\n\r\n")
        add("reqline", "after-target " + wn, b"GET /x" + w + b"HTTP/1.1\r\nHost: h\r\n\r\n")
        add("reqline", "extra-after-target " + wn, b"GET /x " + w + b"HTTP/1.1\r\nHost: h\r\n\r\n")
        add("reqline", "in-version " + wn, b"GET /x HTTP/" + w + b"1.1\r\nHost: h\r\n\r\n")
        add("reqline", "after-version " + wn, b"GET /x HTTP/1.1" + w + b"\r\nHost: h\r\n\r\n")
        # header line positions
        add("field", "pre-name " + wn, G + w + b"X-A: 1\r\n\r\n")
        add("field", "in-name " + wn, G + b"X-" + w + b"A: 1\r\n\r\n")
        add("field", "before-colon " + wn, G + b"X-A" + w + b": 1\r\n\r\n")
        add("field", "after-colon " + wn, G + b"X-A:" + w + b"1\r\n\r\n")
        add("field", "in-value " + wn, G + b"X-A: 1" + w + b"2\r\n\r\n")
        add("field", "end-value " + wn, G + b"X-A: 12" + w + b"\r\n\r\n")
        add("field", "CL value " + wn,
            P + b"Content-Length: " + w + b"5" + w + b"\r\n\r\nhello")
        add("field", "TE value " + wn,
            P + b"Transfer-Encoding: " + w + b"chunked" + w +
            b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        add("field", "Host value " + wn, b"GET /x HTTP/1.1\r\nHost: h" + w + b"\r\n\r\n")
        add("field", "Host in " + wn, b"GET /x HTTP/1.1\r\nHost: a" + w + b"b\r\n\r\n")
    # line endings
    add("eol", "bare LF everywhere", b"GET /x HTTP/1.1\nHost: h\nX-A: 1\n\n")
    add("eol", "bare LF reqline", b"GET /x HTTP/1.1\nHost: h\r\n\r\n")
    add("eol", "bare LF final", b"GET /x HTTP/1.1\r\nHost: h\r\n\n")
    add("eol", "bare CR final", b"GET /x HTTP/1.1\r\nHost: h\r\n\r")
    add("eol", "CR CR LF", b"GET /x HTTP/1.1\r\r\nHost: h\r\n\r\n")
    add("eol", "leading CRLFs 2", b"\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("eol", "leading CRLFs 10", b"\r\n" * 10 + b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("eol", "leading LF", b"\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    # obs-fold
    add("fold", "fold SP", G + b"X-A: 1\r\n 2\r\n\r\n")
    add("fold", "fold HT", G + b"X-A: 1\r\n\t2\r\n\r\n")
    add("fold", "fold first line", b"GET /x HTTP/1.1\r\n Host: h\r\nHost: h\r\n\r\n")
    add("fold", "fold TE", P + b"Transfer-Encoding: x\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    add("fold", "fold CL", P + b"Content-Length: 5\r\n 0\r\n\r\nhello")
    # header names
    for nm in [b"X_A", b"X.A", b"X@A", b"X(A)", b"X/A", b"X{A}", b"X\"A",
               b"X=A", b"X[A]", b"X?A", b"X A", b"\xc3\xa9", b"X\x01A",
               b":A", b"", b"X-A:", b"Content_Length", b"Transfer_Encoding"]:
        add("name", "name %r" % nm, G + nm + b": 1\r\n\r\n")
    add("name", "no colon", G + b"X-A 1\r\n\r\n")
    add("name", "long name", G + b"X" * 9000 + b": 1\r\n\r\n")
    add("name", "long value", G + b"X: " + b"v" * 9000 + b"\r\n\r\n")
    add("name", "long value 60k", G + b"X: " + b"v" * 60000 + b"\r\n\r\n")
    add("name", "200 fields", G + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n")
    add("name", "Content_Length with CL", P + b"Content_Length: 3\r\nContent-Length: 5\r\n\r\nhello")
    # Content-Length variants
    for v in [b"5", b"05", b"+5", b"-5", b"5.0", b"0x5", b"5 5", b"5,5",
              b"5, 5", b"5,6", b"5,", b",5", b"", b" ", b"5a", b"\"5\"",
              b"99999999999999999999", b"18446744073709551621",
              b"00000000000000000000005", b"5\x00"]:
        add("cl", "CL %r" % v, P + b"Content-Length: " + v + b"\r\n\r\nhello")
    add("cl", "CL 5 + CL 5", P + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
    add("cl", "CL 5 + CL 6", P + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
    add("cl", "CL 0 GET", G + b"Content-Length: 0\r\n\r\n")
    add("cl", "CL 5 GET", G + b"Content-Length: 5\r\n\r\nhello")
    add("cl", "CL short body", P + b"Content-Length: 10\r\n\r\nhello")
    add("cl", "CL case", P + b"content-LENGTH: 5\r\n\r\nhello")
    # Transfer-Encoding variants
    CH = b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    for v in [b"chunked", b"Chunked", b"CHUNKED", b"chunked, chunked",
              b"identity, chunked", b"chunked, identity", b"gzip, chunked",
              b"chunked,", b",chunked", b"\"chunked\"", b"chunked;q=1",
              b"xchunked", b"chunked-false", b"chunk", b"identity",
              b"gzip", b"chunked , ", b"cHuNkEd", b"chunked\x0b",
              b"chunke\xc4\x91"]:
        add("te", "TE %r" % v, P + b"Transfer-Encoding: " + v + CH)
    add("te", "TE chunked x2 fields", P + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked" + CH)
    add("te", "TE chunked + identity fields", P + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity" + CH)
    add("te", "TE identity + chunked fields", P + b"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked" + CH)
    add("te", "TE + CL", P + b"Transfer-Encoding: chunked\r\nContent-Length: 5" + CH)
    add("te", "CL + TE", P + b"Content-Length: 5\r\nTransfer-Encoding: chunked" + CH)
    add("te", "TE empty", P + b"Transfer-Encoding: " + CH)
    add("te", "TE 1.0", b"POST /x HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked" + CH)
    add("te", "TE on GET", G + b"Transfer-Encoding: chunked" + CH)
    # chunk sizes
    PT = P + b"Transfer-Encoding: chunked\r\n\r\n"
    for sz in [b"5", b"05", b"0005", b"00000000000000000005",
               b"+5", b"-5", b"0x5", b"5 ", b"5\t", b" 5", b"5;", b"5;a=b",
               b"5;a=\"b;c\"", b"5;a=\"b\r\nc\"", b"5 ;a", b"5;a b",
               b"5\x00", b"fffffffffffffffff5", b"10000000000000005",
               b"5;\x80", b"5;a=\x01", b"5\xff", b"5_", b"5z"]:
        add("chunk", "size %r" % sz, PT + sz + b"\r\nhello\r\n0\r\n\r\n")
    add("chunk", "LF after size", PT + b"5\nhello\r\n0\r\n\r\n")
    add("chunk", "LF after data", PT + b"5\r\nhello\n0\r\n\r\n")
    add("chunk", "LF after last", PT + b"5\r\nhello\r\n0\n\n")
    add("chunk", "LF final", PT + b"5\r\nhello\r\n0\r\n\n")
    add("chunk", "data too long", PT + b"5\r\nhello!\r\n0\r\n\r\n")
    add("chunk", "data too short", PT + b"5\r\nhell\r\n0\r\n\r\n")
    add("chunk", "no CRLF after data", PT + b"5\r\nhelloXX0\r\n\r\n")
    add("chunk", "CR only after data", PT + b"5\r\nhello\r0\r\n\r\n")
    add("chunk", "last with ext", PT + b"5\r\nhello\r\n0;a=b\r\n\r\n")
    add("chunk", "last 000", PT + b"5\r\nhello\r\n000\r\n\r\n")
    add("chunk", "trailer", PT + b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n")
    add("chunk", "trailer CL", PT + b"5\r\nhello\r\n0\r\nContent-Length: 9\r\n\r\n")
    add("chunk", "trailer fold", PT + b"5\r\nhello\r\n0\r\nX-T: 1\r\n 2\r\n\r\n")
    add("chunk", "trailer no colon", PT + b"5\r\nhello\r\n0\r\nX-T\r\n\r\n")
    add("chunk", "trailer LF", PT + b"5\r\nhello\r\n0\r\nX-T: 1\n\r\n")
    add("chunk", "trailer NUL", PT + b"5\r\nhello\r\n0\r\nX-T: \x00\r\n\r\n")
    add("chunk", "trailer space name", PT + b"5\r\nhello\r\n0\r\nX T: 1\r\n\r\n")
    add("chunk", "empty size line", PT + b"\r\n5\r\nhello\r\n0\r\n\r\n")
    add("chunk", "two chunks", PT + b"2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n")
    # absolute-form, CONNECT, OPTIONS, Host
    add("target", "absolute", b"GET http://a/x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "absolute no path", b"GET http://a HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "absolute query", b"GET http://a?q HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "absolute userinfo", b"GET http://u@a/x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "absolute https", b"GET https://a/x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "absolute ftp", b"GET ftp://a/x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "absolute HTTP caps", b"GET HTTP://a/x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "absolute empty host", b"GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "absolute port", b"GET http://a:81/x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "absolute bad port", b"GET http://a:xx/x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "absolute no Host", b"GET http://a/x HTTP/1.1\r\n\r\n")
    add("target", "absolute ipv6", b"GET http://[::1]/x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "relative no slash", b"GET x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "fragment", b"GET /x#f HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "dotdot", b"GET /../x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "pct-enc", b"GET /%2e%2e/x%00 HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "star GET", b"GET * HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "OPTIONS /", b"OPTIONS / HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "CONNECT", b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n")
    add("target", "CONNECT path", b"CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "long target 9k", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "long target 70k", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    add("target", "utf8 target", b"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n")
    add("host", "no Host 1.1", b"GET /x HTTP/1.1\r\n\r\n")
    add("host", "no Host 1.0", b"GET /x HTTP/1.0\r\n\r\n")
    add("host", "two Host same", b"GET /x HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n")
    add("host", "two Host diff", b"GET /x HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n")
    add("host", "Host list", b"GET /x HTTP/1.1\r\nHost: h, i\r\n\r\n")
    add("host", "Host empty", b"GET /x HTTP/1.1\r\nHost:\r\n\r\n")
    add("host", "Host userinfo", b"GET /x HTTP/1.1\r\nHost: u@h\r\n\r\n")
    add("host", "Host port", b"GET /x HTTP/1.1\r\nHost: h:81\r\n\r\n")
    add("host", "Host bad port", b"GET /x HTTP/1.1\r\nHost: h:x\r\n\r\n")
    add("host", "Host path", b"GET /x HTTP/1.1\r\nHost: h/p\r\n\r\n")
    add("host", "Host backslash", b"GET /x HTTP/1.1\r\nHost: h\\p\r\n\r\n")
    add("host", "Host ipv6", b"GET /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n")
    add("host", "Host case", b"GET /x HTTP/1.1\r\nhOST: h\r\n\r\n")
    add("host", "Host trailing dot", b"GET /x HTTP/1.1\r\nHost: h.\r\n\r\n")
    add("host", "Host ..", b"GET /x HTTP/1.1\r\nHost: ..\r\n\r\n")
    add("host", "Host utf8", b"GET /x HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n")
    # versions
    for v in [b"HTTP/1.0", b"HTTP/1.1", b"HTTP/1.2", b"HTTP/1.10",
              b"HTTP/1.01", b"HTTP/01.1", b"HTTP/2.0", b"HTTP/0.9",
              b"HTTP/3", b"http/1.1", b"HTTP/1", b"HTTP/1.", b"HTTP/1.1 ",
              b"HTTP/ 1.1", b"HTTPS/1.1", b"HTTP/9.9", b"HTTP/1.9"]:
        add("version", "version %r" % v, b"GET /x " + v + b"\r\nHost: h\r\n\r\n")
    add("version", "HTTP/0.9 request", b"GET /x\r\n\r\n")
    add("version", "no version", b"GET /x \r\nHost: h\r\n\r\n")
    add("version", "h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    add("version", "1.0 keep-alive",
        [b"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
         b"GET /y HTTP/1.0\r\n\r\n"])
    add("version", "1.0 no keep-alive then more",
        b"GET /x HTTP/1.0\r\n\r\nGET /y HTTP/1.0\r\n\r\n")
    add("version", "1.1 close then more",
        b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n")
    # methods
    for m in [b"get", b"GeT", b"FOO", b"G\xc3\xa9T", b"PRI", b"TRACE",
              b"M" * 100, b"PURGE", b"DELETE", b"HEAD"]:
        add("method", "method %r" % m, m + b" /x HTTP/1.1\r\nHost: h\r\n\r\n")
    add("method", "GET with chunked body", G + b"Transfer-Encoding: chunked" + CH)
    add("method", "HEAD with CL body", b"HEAD /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
    # Expect
    for e in [b"100-continue", b"100-Continue", b"100-continue, foo",
              b"foo", b"", b"100-continue;x"]:
        add("expect", "Expect %r" % e,
            [P + b"Expect: " + e + b"\r\nContent-Length: 5\r\n\r\n", b"hello"])
    add("expect", "Expect on GET", G + b"Expect: 100-continue\r\n\r\n")
    add("expect", "Expect 1.0", [b"POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", b"hello"])
    # pipelining after bodies
    add("pipe", "CL body then GET", P + b"Content-Length: 5\r\n\r\nhello" + G + b"\r\n")
    add("pipe", "chunked then GET", PT + b"5\r\nhello\r\n0\r\n\r\n" + G + b"\r\n")
    add("pipe", "chunked trailer then GET", PT + b"5\r\nhello\r\n0\r\nX: 1\r\n\r\n" + G + b"\r\n")
    add("pipe", "3 GETs", (G + b"\r\n") * 3)
    add("pipe", "GET then junk", G + b"\r\nXXXX\r\n\r\n")
    add("pipe", "CL 0 then GET", P + b"Content-Length: 0\r\n\r\n" + G + b"\r\n")
    add("pipe", "CL+TE hidden GET", P + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG" + G + b"\r\n")
    # hop-by-hop / Connection
    add("conn", "Connection: X-A", G + b"Connection: X-A\r\nX-A: 1\r\n\r\n")
    add("conn", "Connection: Host", G + b"Connection: Host\r\n\r\n")
    add("conn", "Connection: Content-Length", P + b"Connection: Content-Length\r\nContent-Length: 5\r\n\r\nhello")
    add("conn", "Connection: Transfer-Encoding", PT.replace(b"\r\n\r\n", b"\r\nConnection: Transfer-Encoding\r\n\r\n") + b"5\r\nhello\r\n0\r\n\r\n")
    add("conn", "Upgrade h2c", G + b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAA\r\n\r\n")
    add("conn", "Upgrade websocket no key", G + b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    add("conn", "TE: trailers", G + b"TE: trailers\r\n\r\n")
    add("conn", "Proxy-Connection", G + b"Proxy-Connection: keep-alive\r\n\r\n")
    add("conn", "XFF given", G + b"X-Forwarded-For: 1.2.3.4\r\n\r\n")
    add("conn", "XFF two", G + b"X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\n\r\n")
    add("conn", "XFH given", G + b"X-Forwarded-Host: evil\r\n\r\n")
    add("conn", "Forwarded given", G + b"Forwarded: for=1.2.3.4\r\n\r\n")
    # a body that is itself a request: whoever skips it wrongly shows
    # "GET /smuggled" at the origin
    S = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
    SC = b"%x\r\n%s\r\n0\r\n\r\n" % (len(S), S)
    WS = (b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          b"Sec-WebSocket-Version: 13\r\n")
    CLS = b"Content-Length: %d\r\n\r\n" % len(S) + S
    add("smug", "Expect foo + CL body", P + b"Expect: foo\r\n" + CLS)
    add("smug", "Expect foo + chunked body", P + b"Expect: foo\r\nTransfer-Encoding: chunked\r\n\r\n" + SC)
    add("smug", "Expect 100 + CL body", P + b"Expect: 100-continue\r\n" + CLS)
    add("smug", "Expect 100 + chunked body", P + b"Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n" + SC)
    add("smug", "upgrade ws + CL body", G + WS + CLS)
    add("smug", "upgrade ws + chunked body", G + WS + b"Transfer-Encoding: chunked\r\n\r\n" + SC)
    add("smug", "upgrade h2c + CL body", G + b"Connection: Upgrade\r\nUpgrade: h2c\r\n" + CLS)
    add("smug", "OPTIONS * + CL body", b"OPTIONS * HTTP/1.1\r\nHost: h\r\n" + CLS)
    add("smug", "bad path + CL body", b"POST /../x HTTP/1.1\r\nHost: h\r\n" + CLS)
    add("smug", "TE identity + body", P + b"Transfer-Encoding: identity\r\n\r\n" + S)
    add("smug", "TE gzip,chunked + body", P + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + SC)
    add("smug", "CONNECT + body", b"CONNECT a:80 HTTP/1.1\r\nHost: a:80\r\n" + CLS)
    add("smug", "TRACE + CL body", b"TRACE /x HTTP/1.1\r\nHost: h\r\n" + CLS)
    add("smug", "1.0 + CL body keep-alive", b"POST /x HTTP/1.0\r\nConnection: keep-alive\r\n" + CLS)
    add("smug", "CL body + pipelined smuggled", P + b"Content-Length: 5\r\n\r\nhello" + S)
    # the same bytes in pieces, cut where a parser keeps state
    R = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
    for cut in [1, 3, 4, 15, 16, 17, 24, 25, 26, 27]:
        add("split", "GET cut at %d" % cut, [R[:cut], R[cut:]])
    B = PT + b"5;e=\"x\"\r\nhello\r\n0\r\nX-T: 1\r\n\r\n" + R
    for cut in range(len(PT) - 2, len(B) - len(R) + 1, 3):
        add("split", "chunked cut at %d" % cut, [B[:cut], B[cut:]])
    add("split", "chunked byte by byte",
        [PT] + [bytes([b]) for b in b"5\r\nhello\r\n0\r\n\r\n"])
    add("split", "CR | LF in head", [b"GET /x HTTP/1.1\r", b"\nHost: h\r", b"\n\r", b"\n"])
    add("split", "CR | junk in head", [b"GET /x HTTP/1.1\r", b"XHost: h\r\n\r\n"])
    big = bytes(range(256)) * 1024         # 256 KiB: spliced, not copied
    add("smug", "256k CL body + pipelined GET",
        P + b"Content-Length: %d\r\n\r\n" % len(big) + big + S)
    add("smug", "256k chunked body + pipelined GET",
        PT + b"%x\r\n" % len(big) + big + b"\r\n0\r\n\r\n" + S)
    add("smug", "256k CL body short by 1 + GET",
        P + b"Content-Length: %d\r\n\r\n" % (len(big) + 1) + big + S)
    add("smug", "chunked 0-size ext body", P + b"Transfer-Encoding: chunked\r\n\r\n0;x\r\n\r\n" + S)
    return C


def resp_cases():
    C = []

    def add(name, raw, method=b"GET"):
        C.append(("resp", name, raw, method))

    B = b"HTTP/1.1 200 OK\r\n"
    for sl in [b"HTTP/1.1 200 OK", b"HTTP/1.1 200", b"HTTP/1.1 200 ",
               b"HTTP/1.0 200 OK", b"HTTP/1.2 200 OK", b"HTTP/2.0 200 OK",
               b"HTTP/1.1 2000 OK", b"HTTP/1.1 20 OK", b"HTTP/1.1 099 OK",
               b"HTTP/1.1 600 OK", b"HTTP/1.1 999 OK", b"http/1.1 200 OK",
               b"HTTP/1.1  200 OK", b"HTTP/1.1 200\tOK", b"HTTP/1.1 200 O\x00K",
               b"HTTP/1.1 200 O\rK", b"HTTP/1.1 200 \xe9", b"HTTP/1.1 +20 OK",
               b"HTTP/1.1 200 OK\x0b", b" HTTP/1.1 200 OK", b"ICY 200 OK",
               b"HTTP/1.10 200 OK"]:
        add("status %r" % sl, sl + b"\r\nContent-Length: 2\r\n\r\nok")
    add("bare LF head", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
    add("bare CR in value", B + b"X-A: a\rb\r\nContent-Length: 2\r\n\r\nok")
    add("NUL in value", B + b"X-A: a\x00b\r\nContent-Length: 2\r\n\r\nok")
    add("VT in value", B + b"X-A: a\x0bb\r\nContent-Length: 2\r\n\r\nok")
    add("DEL in value", B + b"X-A: a\x7fb\r\nContent-Length: 2\r\n\r\nok")
    add("0x80 in value", B + b"X-A: a\x80b\r\nContent-Length: 2\r\n\r\nok")
    add("obs-fold", B + b"X-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok")
    add("obs-fold CL", B + b"X-A: a\r\nContent-Length:\r\n 2\r\n\r\nok")
    add("space before colon", B + b"X-A : a\r\nContent-Length: 2\r\n\r\nok")
    add("space before colon CL", B + b"Content-Length : 2\r\n\r\nok")
    add("bad name", B + b"X@A: a\r\nContent-Length: 2\r\n\r\nok")
    add("name with SP", B + b"X A: a\r\nContent-Length: 2\r\n\r\nok")
    add("no colon", B + b"XA\r\nContent-Length: 2\r\n\r\nok")
    add("CL+TE", B + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    add("TE+CL", B + b"Transfer-Encoding: chunked\r\nContent-Length: 20\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    add("CL dup same", B + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nok")
    add("CL dup diff", B + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\nok!")
    add("CL list", B + b"Content-Length: 2, 2\r\n\r\nok")
    add("CL trailing garbage", B + b"Content-Length: 2x\r\n\r\nok")
    add("CL trailing space", B + b"Content-Length: 2 \r\n\r\nok")
    add("CL +2", B + b"Content-Length: +2\r\n\r\nok")
    add("CL -1", B + b"Content-Length: -1\r\n\r\nok")
    add("CL huge", B + b"Content-Length: 99999999999999999999\r\n\r\nok")
    add("CL shorter body+extra", B + b"Content-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    add("CL longer than body", B + b"Content-Length: 10\r\n\r\nok")
    add("no framing", B + b"\r\nok-close")
    add("TE chunked", B + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    add("TE Chunked", B + b"Transfer-Encoding: CHUNKED\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    add("TE chunked,chunked", B + b"Transfer-Encoding: chunked, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    add("TE gzip", B + b"Transfer-Encoding: gzip\r\n\r\nok")
    add("TE identity", B + b"Transfer-Encoding: identity\r\n\r\nok")
    add("TE chunked,identity", B + b"Transfer-Encoding: chunked, identity\r\n\r\nok")
    add("TE xchunked", B + b"Transfer-Encoding: xchunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    add("TE in 1.0", b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    add("chunk LF", B + b"Transfer-Encoding: chunked\r\n\r\n2\nok\n0\n\n")
    add("chunk size +2", B + b"Transfer-Encoding: chunked\r\n\r\n+2\r\nok\r\n0\r\n\r\n")
    add("chunk size 0x2", B + b"Transfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n")
    add("chunk size overflow", B + b"Transfer-Encoding: chunked\r\n\r\n10000000000000002\r\nok\r\n0\r\n\r\n")
    add("chunk ext", B + b"Transfer-Encoding: chunked\r\n\r\n2;a=\"b\"\r\nok\r\n0\r\n\r\n")
    add("chunk size SP", B + b"Transfer-Encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n")
    add("chunk trailer", B + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n")
    add("chunk trailer NUL", B + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: \x00\r\n\r\n")
    add("chunk data long", B + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok!\r\n0\r\n\r\n")
    add("chunk no last", B + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
    add("100 then 200", b"HTTP/1.1 100 Continue\r\n\r\n" + B + b"Content-Length: 2\r\n\r\nok")
    add("103 then 200", b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + B + b"Content-Length: 2\r\n\r\nok")
    add("100 x3 then 200", b"HTTP/1.1 100 Continue\r\n\r\n" * 3 + B + b"Content-Length: 2\r\n\r\nok")
    add("1xx with CL", b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n" + B + b"Content-Length: 2\r\n\r\nok")
    add("103 with CL and TE", b"HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nLink: </a>\r\n\r\n" + B + b"Content-Length: 2\r\n\r\nok")
    add("103 with NUL", b"HTTP/1.1 103 Early Hints\r\nLink: <\x00>\r\n\r\n" + B + b"Content-Length: 2\r\n\r\nok")
    add("103 then 103 then 204", b"HTTP/1.1 103 Early Hints\r\n\r\n" * 2 + b"HTTP/1.1 204 No Content\r\n\r\n")
    add("101 unasked", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nraw")
    add("204 with CL body", b"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\nok")
    add("204 with chunked", b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    add("204 with body no CL", b"HTTP/1.1 204 No Content\r\n\r\nok")
    add("304 with CL body", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n\r\nok")
    add("HEAD with body", B + b"Content-Length: 2\r\n\r\nok", b"HEAD")
    add("HEAD chunked", B + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", b"HEAD")
    add("empty response", b"")
    add("garbage", b"garbage\r\n\r\n")
    add("HTTP/0.9 body", b"ok-0.9")
    add("head only no end", B + b"Content-Length: 2\r\n")
    add("long header 70k", B + b"X: " + b"v" * 70000 + b"\r\nContent-Length: 2\r\n\r\nok")
    add("200 fields", B + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"Content-Length: 2\r\n\r\nok")
    add("Connection: close + extra", B + b"Content-Length: 2\r\nConnection: close\r\n\r\nokEXTRA")
    add("leading CRLF", b"\r\n" + B + b"Content-Length: 2\r\n\r\nok")
    add("Set-Cookie x2", B + b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok")
    add("hop-by-hop Connection: X-A", B + b"Connection: X-A\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok")
    add("Keep-Alive header", B + b"Keep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok")
    add("Upgrade header on 200", B + b"Upgrade: h2c\r\nContent-Length: 2\r\n\r\nok")
    R = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    for cut in [1, 5, 8, 9, 12, 15, 16, 17, 33, 34, 35, 36, 37]:
        add("split head at %d" % cut, [R[:cut], R[cut:]])
    RC = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          b"2;e=\"x\"\r\nok\r\n0\r\nX-T: 1\r\n\r\n")
    for cut in range(45, len(RC), 2):
        add("split chunked at %d" % cut, [RC[:cut], RC[cut:]])
    add("split CR|junk", [b"HTTP/1.1 200 OK\r", b"XContent-Length: 2\r\n\r\nok"])
    add("Trailer hdr", B + b"Trailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n")
    return C


def keep_cases():
    """Raw answers after which the origin keeps the connection open, and
    a second request follows on the client's connection: a proxy that
    reuses the upstream connection must not take leftovers for the
    second answer."""
    C = []
    B = b"HTTP/1.1 200 OK\r\n"
    J = b"HTTP/1.1 404 JUNK\r\nContent-Length: 4\r\n\r\njunk"
    for name, raw, m in [
            ("HEAD with CL body", B + b"Content-Length: 4\r\n\r\nbody", b"HEAD"),
            ("HEAD with chunked body", B + b"Transfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n", b"HEAD"),
            ("HEAD with junk response", B + b"Content-Length: 4\r\n\r\n" + J, b"HEAD"),
            ("204 with CL body", b"HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nbody", b"GET"),
            ("204 with junk response", b"HTTP/1.1 204 No Content\r\n\r\n" + J, b"GET"),
            ("304 with junk response", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\n" + J, b"GET"),
            ("CL short + junk response", B + b"Content-Length: 2\r\n\r\nok" + J, b"GET"),
            ("chunked + junk response", B + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + J, b"GET"),
            ("chunked trailer + junk", B + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX: 1\r\n\r\n" + J, b"GET"),
            ("100 + 200 + junk", b"HTTP/1.1 100 Continue\r\n\r\n" + B + b"Content-Length: 2\r\n\r\nok" + J, b"GET"),
            ("1xx with CL", b"HTTP/1.1 100 Continue\r\nContent-Length: 4\r\n\r\n" + B + b"Content-Length: 2\r\n\r\nok", b"GET"),
            ("103 + 200 + junk", b"HTTP/1.1 103 Early Hints\r\n\r\n" + B + b"Content-Length: 2\r\n\r\nok" + J, b"GET"),
            ("1.0 CL keep-alive + junk", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok" + J, b"GET"),
            ("1.0 CL no keep-alive + junk", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok" + J, b"GET"),
            ("Connection: close + junk", B + b"Connection: close\r\nContent-Length: 2\r\n\r\nok" + J, b"GET"),
            ("CL 0 + junk", B + b"Content-Length: 0\r\n\r\n" + J, b"GET"),
            ("CL 0,0 + junk", B + b"Content-Length: 0, 0\r\n\r\n" + J, b"GET"),
            ("HEAD CL 0,0 + junk", B + b"Content-Length: 0, 0\r\n\r\n" + J, b"HEAD"),
            ("chunked ext + junk", B + b"Transfer-Encoding: chunked\r\n\r\n2;x=\"a\"\r\nok\r\n0\r\n\r\n" + J, b"GET"),
    ]:
        C.append(("keep", name, raw, m))
    return C


# ------------------------------------------------------------- analysis

def view(recs):
    """A comparable view of what the origin got."""
    out = []
    for r in recs:
        if "junk" in r:
            out.append({"junk": r["junk"][:80]})
            continue
        hdrs = [(k.lower(), v) for k, v in r["headers"]
                if k.lower() not in ADDED]
        host = [v for k, v in hdrs if k == b"host"]
        rest = sorted((k, v) for k, v in hdrs
                      if k not in (b"host", b"content-length",
                                   b"transfer-encoding"))
        out.append({"line": r["line"], "host": host, "body": r["body"],
                    "framing": r["framing"], "ncl": r["ncl"],
                    "nte": r["nte"], "fields": rest})
    return out


def short(v):
    if not v:
        return "-"
    parts = []
    for r in v:
        if "junk" in r:
            parts.append("JUNK%r" % r["junk"][:30])
            continue
        parts.append("%s H=%s %s:%r%s %s" % (
            r["line"][:60].decode("latin-1").__repr__(),
            b",".join(r["host"]).decode("latin-1"),
            r["framing"], r["body"][:20],
            "(%d)" % len(r["body"]) if len(r["body"]) > 20 else "",
            ";".join("%s=%s" % (k.decode("latin-1"), v.decode("latin-1")[:20])
                     for k, v in r["fields"])[:80]))
    return " | ".join(parts)


def invariants(v, st, data):
    bad = []
    for r in v:
        if "junk" in r:
            bad.append("origin got junk")
            continue
        if r["ncl"] and r["nte"]:
            bad.append("CL and TE forwarded")
        if r["ncl"] > 1 or r["nte"] > 1:
            bad.append("several CL/TE forwarded")
        if re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", r["line"]) or any(
                re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", k + v)
                for k, v in r["fields"] + [(b"host", h) for h in r["host"]]):
            bad.append("CTL forwarded")
        if len(r["host"]) != 1:
            bad.append("%d Host forwarded" % len(r["host"]))
    if len(v) > max(1, data.count(b"HTTP/1.") if isinstance(data, bytes)
                    else sum(d.count(b"HTTP/1.") for d in data)):
        bad.append("more requests forwarded than sent")
    if any(s.startswith("5") and s not in ("501", "505", "502", "503")
           for s in st):
        bad.append("5xx for a request")
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--maitred", default="build/rel/maitred")
    ap.add_argument("--only", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--no-resp", action="store_true")
    ap.add_argument("--no-req", action="store_true")
    a = ap.parse_args()
    names = ["maitred", "nginx", "haproxy"]
    rc = resp_cases()
    kc = keep_cases()
    responses = {"%d" % i: c[2] for i, c in enumerate(rc)}
    responses.update({"k%d" % i: c[2] for i, c in enumerate(kc)})
    origins = {n: Origin(responses) for n in names}
    tmp = tempfile.mkdtemp(prefix="hdiff.")
    px = Proxies(os.path.abspath(a.maitred), origins, tmp)
    results = []
    counts = {}
    flagged = 0
    try:
        cases = [] if a.no_req else [(c, n, d, None) for c, n, d in req_cases()]
        if not a.no_resp:
            for i, (c, n, raw, m) in enumerate(rc):
                cases.append((c, n, m + b" /r/%d HTTP/1.1\r\nHost: h\r\n\r\n"
                              % i, raw))
            for i, (c, n, raw, m) in enumerate(kc):
                cases.append((c, n, [m + b" /r/k%d HTTP/1.1\r\nHost: h\r\n\r\n"
                                     % i, b"GET /after HTTP/1.1\r\nHost: h\r\n\r\n"], raw))
        for cat, name, data, raw in cases:
            if a.only and not re.search(a.only, name):
                continue
            counts[cat] = counts.get(cat, 0) + 1
            for o in origins.values():
                o.reset()
            res = {}
            ths = []

            def run(n):
                got, how = exchange(px.ports[n], data,
                                    gap=0.4 if cat == "keep" else 0.05)
                time.sleep(0.05)
                recs, rawin = origins[n].take()
                res[n] = {"got": got, "how": how, "st": statuses(got, (data if isinstance(data, bytes) else data[0]).startswith(b"HEAD")),
                          "view": view(recs), "alive": px.alive(n)}
            for n in names:
                t = threading.Thread(target=run, args=(n,))
                t.start()
                ths.append(t)
            for t in ths:
                t.join()
            m = res["maitred"]
            if raw is None:
                sig = {n: (tuple(res[n]["st"][:1]) if res[n]["st"] else
                           (res[n]["how"],),
                           json.dumps([dict((k, (v if not isinstance(v, bytes) else v.decode("latin-1")))
                                            for k, v in r.items() if k in ("body", "line", "host", "junk"))
                                       for r in res[n]["view"]], default=lambda x: x.decode("latin-1") if isinstance(x, bytes) else str(x)))
                       for n in names}
                fwd = {n: len(res[n]["view"]) > 0 for n in names}
                notes = invariants(m["view"], m["st"], data)
            else:
                def norm(b):
                    b = re.sub(rb"(?im)^(date|server|via|x-backend|"
                               rb"connection|keep-alive|x-cache):[^\n]*\n",
                               b"", b)
                    return b
                sig = {n: (tuple(res[n]["st"]), norm(res[n]["got"]))
                       for n in names}
                fwd = {n: bool(res[n]["st"]) and res[n]["st"][-1][0] in "123"
                       for n in names}
                notes = []
                if m["st"] and m["st"][-1][0] in "1234" and any(
                        res[n]["st"] and res[n]["st"][-1] == "502"
                        for n in ("nginx", "haproxy")):
                    notes.append("peer 502s, maitred passes")
                if cat == "keep" and b"JUNK" in m["got"]:
                    notes.append("junk taken for an answer")
                if b"\x00" in m["got"].split(b"\r\n\r\n")[0]:
                    notes.append("NUL in head to client")
            if not m["alive"]:
                notes.append("maitred died")
            if not m["st"] and m["how"] == "open":
                notes.append("maitred hangs")
            differs = sig["maitred"] != sig["nginx"] and \
                sig["maitred"] != sig["haproxy"]
            laxer = fwd["maitred"] and not (fwd["nginx"] and fwd["haproxy"])
            if raw is None and fwd["maitred"] is False:
                laxer = False
            show = a.all or notes or differs or laxer
            tag = []
            if notes:
                tag.append("!! " + "; ".join(notes))
            if differs:
                tag.append("DIFF")
            if laxer:
                tag.append("LAXER")
            results.append({"cat": cat, "name": name, "tags": tag,
                            "res": {n: {"st": res[n]["st"],
                                        "how": res[n]["how"],
                                        "got": res[n]["got"][:300].decode("latin-1"),
                                        "view": short(res[n]["view"])}
                                    for n in names}})
            if show:
                flagged += 1
                print("== [%s] %s  %s" % (cat, name, " ".join(tag)))
                for n in names:
                    r = res[n]
                    if raw is None:
                        print("   %-8s %-14s %s" % (
                            n, ",".join(r["st"]) or r["how"],
                            short(r["view"])[:220]))
                    else:
                        print("   %-8s %-14s %r" % (
                            n, ",".join(r["st"]) or r["how"],
                            sig[n][1][:160]))
                sys.stdout.flush()
    finally:
        px.stop()
        if a.json:
            with open(a.json, "w") as f:
                json.dump(results, f, indent=1)
        shutil.rmtree(tmp, ignore_errors=True)
    print("cases per category:", json.dumps(counts), "flagged:", flagged)


if __name__ == "__main__":
    main()
