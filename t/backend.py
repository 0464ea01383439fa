#!/usr/bin/env python3
"""Configurable test backend for maitred's proxy tests.

HTTP/1.1 with keep-alive on 127.0.0.1 or ::1; quiet (nothing printed per
request); writes its pid to --pidfile and exits cleanly on SIGTERM.
Every response carries "X-Backend: NAME" (default: the port).

Paths:
  /health          200 "ok" (not counted)
  /count           requests served so far, excluding /count and /health
  /conns           connections accepted so far (TLS: handshakes done),
                   and with --tls how many of them resumed a session:
                   "CONNS RESUMED"
  /slow?ms=N       sleep N ms, then answer
  /inflight        the most requests in progress at once so far (this
                   one, /count, /health and /inflight itself not counted)
  /status/NNN      answer with status NNN
  /fail?code=NNN   from now on every other path answers NNN (0: as
                   usual again); not counted
  /sick?name=N     503 when this backend is named N (repeatable), else 200
                   "ok" (not counted): a health check that fails for some
  /big?bytes=N     N deterministic bytes, byte i = i % 251, Content-Length
                   (&rand=1: N bytes that do not compress, rand_bytes(N))
                   (&ctype=T: Content-Type T, application/octet-stream
                   by default; &one=1: head and body in one write, with
                   &pad=P: an X-Pad field of P bytes in the head)
  /chunked?n=K     chunked response of K chunks "chunk I\\n" (&lf=1: lines
                   end in a bare LF; &zeros=Z: Z leading zeros per size;
                   &ext=E: ";E" after each size; &one=1: head and body
                   in one write)
  /echo            any method: JSON {"method", "path", "headers" (names
                   lower-cased, repeated fields joined with ", "),
                   "body_sha256", "body_len"}; request bodies may be
                   chunked
  /close           answer, then close the connection
  /bad             malformed head (two Content-Length), then close
  /die             close the connection without any response
  /eof             HTTP/1.0-style: no Content-Length, the body ends when
                   the connection closes (head, body and FIN at once)
                   (?bytes=N: N bytes of the /big pattern as the body)
  /eofrst          the same, but cut by a reset after "partial-"
  /slowhead?ms=M   a small answer sent a byte at a time, M ms apart
  /ws              WebSocket echo (RFC 6455)
  ?hdr=Name:Value  (any path, repeatable) add this response header field
  ?nhdr=N          (any path) add N fields "X-N<i>: v"
  anything else    200 "NAME METHOD PATH\\n"

With --tls-cert and --tls-key the server speaks HTTPS (TLS 1.2+, the
handshake in the connection's own thread) and every response carries
"X-TLS-SNI: NAME", the SNI name the client sent ("-": none). With --stall it accepts
TCP connections and never reads or answers (a TLS handshake that never
ends).

usage: t/backend.py --port P [--name NAME] [--host ::1] [--pidfile F]
                    [--tls-cert CRT --tls-key KEY] [--stall]
"""

import argparse
import base64
import hashlib
import json
import os
import random
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BIG_CHUNK = 65536


def big_bytes(n):
    """The first n bytes of the /big pattern: byte i is i % 251."""
    pattern = bytes(i % 251 for i in range(251))
    reps = n // 251 + 1
    return (pattern * reps)[:n]


def rand_bytes(n):
    """N deterministic bytes that deflate cannot shrink (seed 251)."""
    return random.Random(251).randbytes(n)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "maitred-test-backend"

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        pass

    # -- request bodies ---------------------------------------------------

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            return self.read_chunked()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def read_chunked(self):
        body = bytearray()
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionError("eof in chunked body")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            body += self.rfile.read(size)
            self.rfile.readline(3)
        while True:  # trailers
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
        return bytes(body)

    # -- responses ----------------------------------------------------------

    def head(self, status, length=None, ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("X-Backend", self.server.name)
        if self.server.tls is not None:
            self.send_header("X-TLS-SNI",
                             getattr(self.connection, "tls_sni", None) or "-")
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in list(extra) + getattr(self, "extra_hdrs", []):
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def reply(self, status, body=b"", ctype="text/plain", extra=()):
        if isinstance(body, str):
            body = body.encode()
        if status < 200 or status in (204, 304):
            self.head(status, None, None, extra)
            return
        self.head(status, len(body), ctype, extra)
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- dispatch -------------------------------------------------------------

    def dispatch(self):
        url = urlsplit(self.path)
        if url.path in ("/count", "/health", "/inflight"):
            return self.dispatch_counted(url)
        self.server.busy(1)
        try:
            return self.dispatch_counted(url)
        finally:
            self.server.busy(-1)

    def dispatch_counted(self, url):
        path, q = url.path, parse_qs(url.query)
        self.extra_hdrs = [tuple(h.split(":", 1)) for h in q.get("hdr", [])
                           if ":" in h]
        self.extra_hdrs += [("X-N%d" % i, "v") for i in
                            range(int(q.get("nhdr", ["0"])[0]))]
        if path not in ("/count", "/health", "/sick", "/fail", "/inflight"):
            self.server.count_one()
        if path == "/echo":
            return self.do_echo(url)
        body = self.read_body()  # keep the connection in step
        del body
        if path == "/health":
            return self.reply(200, "ok\n")
        if path == "/sick":
            if self.server.name in q.get("name", []):
                return self.reply(503, "sick\n")
            return self.reply(200, "ok\n")
        if path == "/count":
            return self.reply(200, "%d\n" % self.server.served)
        if path == "/inflight":
            return self.reply(200, "%d\n" % self.server.inflight_max)
        if path == "/fail":
            self.server.fail_code = int(q.get("code", ["0"])[0])
            return self.reply(200, "ok\n")
        if self.server.fail_code:
            return self.reply(self.server.fail_code, "failing\n")
        if path == "/conns":
            return self.reply(200, "%d %d\n" % (self.server.conns,
                                               self.server.resumed))
        if path == "/slow":
            time.sleep(int(q.get("ms", ["1000"])[0]) / 1000.0)
            return self.reply(200, "slow\n")
        if path.startswith("/status/"):
            code = path[8:]
            if not (code.isdigit() and 100 <= int(code) <= 999):
                return self.reply(400, "bad status\n")
            return self.reply(int(code), "status %s\n" % code)
        if path == "/big":
            n = int(q.get("bytes", ["1048576"])[0])
            if "one" in q:
                # Head (<pad> bytes of X-Pad in it) and body in one
                # write: the proxy's first read finds them together.
                pad = int(q.get("pad", ["0"])[0])
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Backend: %s\r\n"
                                 b"X-Pad: %s\r\nContent-Length: %d\r\n\r\n%s"
                                 % (self.server.name.encode(), b"p" * pad, n,
                                    big_bytes(n)))
                return None
            return self.do_big(n,
                               q.get("ctype", ["application/octet-stream"])[0],
                               q.get("rand", ["0"])[0] == "1")
        if path == "/bigextra":
            # The body, then bytes that belong to no response.
            n = int(q.get("bytes", ["262144"])[0])
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                             b"\r\n%sEXTRA" % (n, big_bytes(n)))
            return None
        if path == "/bigdie":
            # Announces bytes, sends half, closes: a body cut short.
            n = int(q.get("bytes", ["262144"])[0])
            self.head(200, n, "application/octet-stream")
            self.wfile.write(big_bytes(n // 2))
            self.wfile.flush()
            self.close_connection = True
            return None
        if path == "/chunked":
            return self.do_chunked(int(q.get("n", ["3"])[0]),
                                   b"\n" if "lf" in q else b"\r\n",
                                   int(q.get("zeros", ["0"])[0]),
                                   "one" in q, q.get("ext", [None])[0])
        if path == "/close":
            self.close_connection = True
            return self.reply(200, "closing\n")
        if path == "/bad":
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             b"Content-Length: 7\r\n\r\n12345")
            return None
        if path == "/die":
            self.close_connection = True
            return None
        if path == "/eofrst":
            # A close-delimited body cut by a reset: not a complete one.
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain"
                             b"\r\n\r\npartial-")
            self.wfile.flush()
            time.sleep(0.2)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            return None
        if path == "/slowhead":
            # The head a byte at a time, <ms> apart.
            ms = int(q.get("ms", ["200"])[0]) / 1000.0
            self.close_connection = True
            try:
                for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi":
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(ms)
            except OSError:
                pass
            return None
        if path == "/eof":
            self.close_connection = True
            n = int(q.get("bytes", ["0"])[0])
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain"
                             b"\r\nConnection: close\r\n\r\n" +
                             (big_bytes(n) if n else b"until the close\n"))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            return None
        if path == "/ws":
            return self.do_ws()
        return self.reply(200, "%s %s %s\n" % (self.server.name,
                                               self.command, self.path))

    def do_echo(self, url):
        body = self.read_body()
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        doc = {
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_len": len(body),
        }
        self.reply(200, json.dumps(doc) + "\n", "application/json")

    def do_big(self, n, ctype="application/octet-stream", rand=False):
        self.head(200, n, ctype)
        if self.command == "HEAD":
            return
        if rand:
            self.wfile.write(rand_bytes(n))
            return
        pattern = big_bytes(251 * (BIG_CHUNK // 251))
        sent = 0
        while sent < n:
            part = pattern[:min(len(pattern), n - sent)]
            self.wfile.write(part)
            sent += len(part)

    def do_chunked(self, n, eol=b"\r\n", zeros=0, one=False, ext=None):
        ext = b"" if ext is None else b";" + ext.encode("latin-1")
        if one:
            # Head and body in one write: the proxy reads them together.
            body = b"".join(b"%x%s%schunk %d\n%s" % (8 + len(str(i)) - 1, ext,
                                                     eol, i, eol)
                            for i in range(n))
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                             b"\r\n\r\n%s0%s%s" % (body, eol, eol))
            return
        self.head(200, None, extra=[("Transfer-Encoding", "chunked")])
        if self.command == "HEAD":
            return
        for i in range(n):
            data = ("chunk %d\n" % i).encode()
            self.wfile.write(b"0" * zeros + b"%x%s%s%s%s" % (len(data), ext,
                                                            eol, data, eol))
        self.wfile.write(b"0%s%s" % (eol, eol))

    # -- WebSocket ------------------------------------------------------------

    def do_ws(self):
        key = self.headers.get("Sec-WebSocket-Key")
        if (self.headers.get("Upgrade", "").lower() != "websocket"
                or not key):
            return self.reply(400, "websocket upgrade expected\n")
        accept = base64.b64encode(hashlib.sha1(
            (key.strip() + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("X-Backend", self.server.name)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            self.ws_echo()
        except (ConnectionError, OSError, ValueError):
            pass
        return None

    def ws_read_frame(self):
        h = self.rfile.read(2)
        if len(h) < 2:
            raise ConnectionError("eof")
        opcode, masked, n = h[0] & 0x0F, h[1] & 0x80, h[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.rfile.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.rfile.read(8))[0]
        mask = self.rfile.read(4) if masked else b""
        data = self.rfile.read(n)
        if len(data) < n:
            raise ConnectionError("eof")
        if masked:
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return h[0], opcode, data

    def ws_write_frame(self, first, data):
        n = len(data)
        if n < 126:
            h = struct.pack("!BB", first, n)
        elif n < 65536:
            h = struct.pack("!BBH", first, 126, n)
        else:
            h = struct.pack("!BBQ", first, 127, n)
        self.wfile.write(h + data)
        self.wfile.flush()

    def ws_echo(self):
        while True:
            first, opcode, data = self.ws_read_frame()
            if opcode == 0x8:  # close: answer with the same code
                self.ws_write_frame(0x88, data[:2])
                return
            if opcode == 0x9:  # ping
                self.ws_write_frame(0x8A, data)
            elif opcode in (0x0, 0x1, 0x2):
                self.ws_write_frame(first & 0x8F, data)


for _m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
           "PURGE"):
    setattr(Handler, "do_" + _m, Handler.dispatch)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, name, tls=None):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.name = name
        self.served = 0
        self.inflight = self.inflight_max = 0
        self.conns = 0
        self.resumed = 0
        self.fail_code = 0
        self.tls = tls
        self.lock = threading.Lock()
        super().__init__(addr, Handler)

    def busy(self, d):
        with self.lock:
            self.inflight += d
            self.inflight_max = max(self.inflight_max, self.inflight)

    def count_one(self):
        with self.lock:
            self.served += 1

    def finish_request(self, request, client_address):
        # In the connection's thread: a slow or failed handshake holds
        # up nobody else.
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        with self.lock:
            self.conns += 1
            if self.tls is not None and request.session_reused:
                self.resumed += 1
        try:
            super().finish_request(request, client_address)
        finally:
            if self.tls is not None:
                request.close()  # the plain socket was detached


def stall(a):
    """Accept connections and hold them, never reading a byte."""
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.host, a.port))
    s.listen(128)
    s.settimeout(0.5)
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    held = []
    while not stop.is_set():
        try:
            held.append(s.accept()[0])
        except socket.timeout:
            pass
    for c in held:
        c.close()
    s.close()
    if a.pidfile:
        try:
            os.unlink(a.pidfile)
        except OSError:
            pass
    return 0


def tls_context(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.tls_cert, a.tls_key)
    ctx.set_alpn_protocols(["http/1.1"])

    def sni(sock, name, _ctx):
        sock.tls_sni = name
    ctx.sni_callback = sni
    return ctx


def main():
    ap = argparse.ArgumentParser(description="maitred test backend")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--pidfile")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--stall", action="store_true")
    a = ap.parse_args()

    if a.stall:
        return stall(a)
    tls = tls_context(a) if a.tls_cert else None
    srv = Server((a.host, a.port), a.name or str(a.port), tls)
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    while not stop.wait(0.5):
        pass
    srv.shutdown()
    srv.server_close()
    if a.pidfile:
        try:
            os.unlink(a.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
