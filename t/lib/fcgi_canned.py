#!/usr/bin/env python3
"""A FastCGI server that answers every request with the same records.

usage: fcgi_canned.py --port PORT | --unix PATH --pidfile FILE RECORD...

Listens on 127.0.0.1:PORT (or the Unix-domain socket PATH); for each connection, reads the request
(BEGIN_REQUEST, PARAMS, STDIN up to the empty STDIN record), then sends
each RECORD in order and closes: the way to hand maitred output that no
PHP would write. A RECORD is "TYPE:ID:CONTENT": the record type and
request id in decimal, and the content with the escapes \\r \\n \\0
\\xNN; an END_REQUEST (type 3) with no content gets the usual 8 zero
bytes. Writes its pid to FILE; exits on SIGTERM.

--keep: a request that asks for it (FCGI_KEEP_CONN) leaves the
connection open for the next one. --drop-reused: the second request on
a connection is read but not answered, the connection closed (a PHP-FPM
child that went away as maitred reused its connection). --log FILE: a
line per request, "conn C req R keep K stdin N" (N bytes of FCGI_STDIN),
with "dropped" at the end when it was.
"""

import argparse
import os
import signal
import socket
import struct
import sys


def unescape(text):
    raw = os.fsencode(text)
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 92 and i + 1 < len(raw):
            d = chr(raw[i + 1])
            if d in "rn0\\":
                out.append({"r": 13, "n": 10, "0": 0, "\\": 92}[d])
                i += 2
                continue
            if d == "x" and i + 4 <= len(raw):
                out.append(int(raw[i + 2:i + 4].decode(), 16))
                i += 4
                continue
        out.append(raw[i])
        i += 1
    return bytes(out)


def record(spec):
    t, rid, content = spec.split(":", 2)
    c = unescape(content)
    if int(t) == 3 and not c:
        c = bytes(8)
    return struct.pack(">BBHHBB", 1, int(t), int(rid), len(c), 0, 0) + c


class Conn:
    def __init__(self, s):
        self.s = s
        self.buf = b""

    def fill(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                return False
            self.buf += d
        return True


def read_request(c):
    """Read records up to the empty STDIN: (keep flag, STDIN bytes), or
    None if the peer went away."""
    keep, stdin = 0, 0
    while True:
        if not c.fill(8):
            return None
        _, t, _, clen, pad, _ = struct.unpack(">BBHHBB", c.buf[:8])
        if not c.fill(8 + clen + pad):
            return None
        if t == 1 and clen >= 3:
            keep = c.buf[8 + 2] & 1
        if t == 5:
            stdin += clen
        c.buf = c.buf[8 + clen + pad:]
        if t == 5 and clen == 0:
            return keep, stdin


def main():
    ap = argparse.ArgumentParser()
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int)
    where.add_argument("--unix")
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--drop-reused", action="store_true")
    ap.add_argument("--log")
    ap.add_argument("records", nargs="+")
    a = ap.parse_args()
    answer = b"".join(record(r) for r in a.records)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if a.unix:
        ls = socket.socket(socket.AF_UNIX)
        ls.bind(a.unix)
    else:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", a.port))
    ls.listen(16)
    with open(a.pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
    nconn = 0
    while True:
        s, _ = ls.accept()
        nconn += 1
        c = Conn(s)
        try:
            for nreq in range(1, 1 << 30):
                got = read_request(c)
                if got is None:
                    break
                keep, stdin = got
                drop = a.drop_reused and nreq == 2
                if a.log:
                    with open(a.log, "a") as f:
                        f.write("conn %d req %d keep %d stdin %d%s\n" % (
                            nconn, nreq, keep, stdin,
                            " dropped" if drop else ""))
                if drop:
                    break
                s.sendall(answer)
                if a.keep and keep:
                    continue
                # half-close, then wait for maitred's close: a close with
                # unread bytes would be a reset
                s.shutdown(socket.SHUT_WR)
                s.settimeout(5)
                while s.recv(65536):
                    pass
                break
        except OSError:
            pass
        s.close()


if __name__ == "__main__":
    main()
