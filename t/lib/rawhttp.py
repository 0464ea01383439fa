#!/usr/bin/env python3
"""Send raw bytes to HOST:PORT and print whatever comes back.

usage: rawhttp.py [options] HOST PORT [CHUNK...]

Each CHUNK argument is sent as written, after escape decoding (\\r \\n \\t
\\0 \\xNN \\\\). Without CHUNK arguments, stdin is read and sent as one
chunk, byte for byte (no escape decoding). Curl normalises paths and
refuses malformed heads; this tool does not, which is the point: it is
used for malformed requests, pipelining and slow clients.

options:
  --timeout S   stop reading after S seconds without a byte (default 3)
  --delay S     sleep S seconds between pieces (default 0)
  --split N     cut every chunk into pieces of N bytes (default: whole)
  --shut-wr     half-close (shutdown SHUT_WR) after the last piece
  --meta FILE   write "closed=0|1" (1: the peer closed), "elapsed=SECONDS"
                (from the last byte sent until close or give-up) and
                "sent=BYTES" to FILE
  --repeat N    append the (last) chunk N-1 more times (big heads)

The response bytes go to stdout unchanged. Exit status 0, or 2 when the
connection cannot be made.
"""

import argparse
import os
import select
import socket
import sys
import time


def unescape(text):
    """Decode the escapes of a command-line chunk into bytes."""
    raw = os.fsencode(text)
    simple = {ord("r"): 13, ord("n"): 10, ord("t"): 9, ord("0"): 0,
              ord("\\"): 92, ord("e"): 27}
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 92 and i + 1 < n:
            d = raw[i + 1]
            if d in simple:
                out.append(simple[d])
                i += 2
                continue
            if d == ord("x") and i + 4 <= n:
                try:
                    out.append(int(raw[i + 2:i + 4].decode(), 16))
                    i += 4
                    continue
                except ValueError:
                    pass
        out.append(c)
        i += 1
    return bytes(out)


def drain(sock, buf, wait):
    """Read what is available within <wait> seconds; False on EOF."""
    r, _, _ = select.select([sock], [], [], wait)
    if not r:
        return True
    try:
        data = sock.recv(65536)
    except (ConnectionResetError, OSError):
        return False
    if not data:
        return False
    buf.extend(data)
    return True


def main():
    ap = argparse.ArgumentParser(add_help=True)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--split", type=int, default=0)
    ap.add_argument("--shut-wr", action="store_true")
    ap.add_argument("--meta")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("chunks", nargs="*")
    a = ap.parse_args()

    if a.chunks:
        chunks = [unescape(c) for c in a.chunks]
    else:
        chunks = [sys.stdin.buffer.read()]
    if a.repeat > 1 and chunks:
        chunks[-1] = chunks[-1] * a.repeat

    pieces = []
    for c in chunks:
        if a.split > 0:
            pieces.extend(c[i:i + a.split] for i in range(0, len(c), a.split))
        else:
            pieces.append(c)

    try:
        sock = socket.create_connection((a.host, a.port), timeout=5)
    except OSError as e:
        sys.stderr.write("rawhttp: connect %s:%d: %s\n" % (a.host, a.port, e))
        return 2
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(None)

    buf = bytearray()
    open_ = True
    sent = 0
    last_send = time.monotonic()
    for idx, p in enumerate(pieces):
        if idx > 0 and a.delay > 0:
            end = time.monotonic() + a.delay
            while open_ and time.monotonic() < end:
                open_ = drain(sock, buf, max(0.0, end - time.monotonic()))
        if not open_:
            break
        try:
            if p:
                sock.sendall(p)
                sent += len(p)
                last_send = time.monotonic()
        except OSError:
            break
        open_ = drain(sock, buf, 0)
        if not open_:
            break
    if open_ and a.shut_wr:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    closed = not open_
    while not closed:
        before = len(buf)
        if not drain(sock, buf, a.timeout):
            closed = True
            break
        if len(buf) == before:
            break  # a.timeout seconds without a byte
    elapsed = time.monotonic() - last_send
    sock.close()

    sys.stdout.buffer.write(bytes(buf))
    sys.stdout.buffer.flush()
    if a.meta:
        with open(a.meta, "w") as f:
            f.write("closed=%d\nelapsed=%.3f\nsent=%d\n"
                    % (1 if closed else 0, elapsed, sent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
