#!/usr/bin/env python3
"""A FastCGI server that answers every request with the same records.

usage: fcgi_canned.py --port PORT --pidfile FILE RECORD...

Listens on 127.0.0.1:PORT; for each connection, reads the request
(BEGIN_REQUEST, PARAMS, STDIN up to the empty STDIN record), then sends
each RECORD in order and closes: the way to hand maitred output that no
PHP would write. A RECORD is "TYPE:ID:CONTENT": the record type and
request id in decimal, and the content with the escapes \\r \\n \\0
\\xNN; an END_REQUEST (type 3) with no content gets the usual 8 zero
bytes. Writes its pid to FILE; exits on SIGTERM.
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


def read_request(s):
    """Read records up to the empty STDIN; False if the peer went away."""
    buf = b""
    while True:
        while len(buf) < 8:
            d = s.recv(65536)
            if not d:
                return False
            buf += d
        _, t, _, clen, pad, _ = struct.unpack(">BBHHBB", buf[:8])
        while len(buf) < 8 + clen + pad:
            d = s.recv(65536)
            if not d:
                return False
            buf += d
        buf = buf[8 + clen + pad:]
        if t == 5 and clen == 0:
            return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("records", nargs="+")
    a = ap.parse_args()
    answer = b"".join(record(r) for r in a.records)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(16)
    with open(a.pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
    while True:
        s, _ = ls.accept()
        try:
            if read_request(s):
                s.sendall(answer)
                # half-close, then wait for maitred's close: a close with
                # unread bytes would be a reset
                s.shutdown(socket.SHUT_WR)
                s.settimeout(5)
                while s.recv(65536):
                    pass
        except OSError:
            pass
        s.close()


if __name__ == "__main__":
    main()
