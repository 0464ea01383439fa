#!/usr/bin/env python3
"""HTTP/1.1 requests from chosen loopback source addresses.

usage: srcclient.py [options] HOST PORT SRC...

Each SRC is a source address (127.0.0.5, ::1) or a range
"FIRST+COUNT" (127.1.0.1+2000: COUNT IPv4 addresses from FIRST, skipping
those whose last byte is 0 or 255). For each source in turn, one
connection is bound to it, one "GET PATH" with "Connection: close" is
sent (nothing with --no-send) and the answer is read until the server
closes or --timeout seconds pass without a byte. One line per
connection is printed:

    SRC STATUS CLOSED

STATUS is the response's status code ("-" when none came), CLOSED is 1
when the server closed the connection, 0 when the client gave up.
With --headers, the response head follows each line, then an empty line.

options:
  --path P      request target (default /hello.txt)
  --timeout S   give up on a silent connection after S seconds (default 3)
  --deadline S  stop (exit 3) when the whole run takes longer (default 60)
  --no-send     connect and send nothing (the server speaks first)
  --headers     print the response heads too
  --summary     print only "STATUS COUNT" lines, sorted by status

Exit status 0, 2 when a connection cannot be made, 3 on --deadline.
"""

import argparse
import ipaddress
import select
import socket
import sys
import time


def sources(specs):
    """Expand the SRC arguments into addresses."""
    for spec in specs:
        if "+" not in spec:
            yield spec
            continue
        first, count = spec.split("+", 1)
        addr = ipaddress.IPv4Address(first)
        left = int(count)
        while left > 0:
            if int(addr) & 0xff not in (0, 255):
                yield str(addr)
                left -= 1
            addr += 1


def one(src, host, port, args):
    """One request from src; (status, closed, head bytes)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.settimeout(args.timeout)
        s.bind((src, 0))
        s.connect((host, port))
        if not args.no_send:
            req = ("GET %s HTTP/1.1\r\nHost: test\r\n"
                   "Connection: close\r\n\r\n" % args.path)
            try:
                s.sendall(req.encode())
            except OSError:
                pass	# refused before reading: the answer may be there
        s.setblocking(False)
        data = bytearray()
        closed = 0
        while True:
            r, _, _ = select.select([s], [], [], args.timeout)
            if not r:
                break
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                closed = 1
                break
            except BlockingIOError:
                continue
            if not chunk:
                closed = 1
                break
            data += chunk
    finally:
        s.close()
    head = bytes(data).split(b"\r\n\r\n", 1)[0]
    status = "-"
    parts = head.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/"):
        status = parts[1].decode("ascii", "replace")
    return status, closed, head


def main():
    p = argparse.ArgumentParser(add_help=True)
    p.add_argument("--path", default="/hello.txt")
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--deadline", type=float, default=60.0)
    p.add_argument("--no-send", action="store_true")
    p.add_argument("--headers", action="store_true")
    p.add_argument("--summary", action="store_true")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("src", nargs="+")
    args = p.parse_args()

    end = time.monotonic() + args.deadline
    counts = {}
    for src in sources(args.src):
        if time.monotonic() > end:
            print("deadline of %gs passed" % args.deadline, file=sys.stderr)
            return 3
        try:
            status, closed, head = one(src, args.host, args.port, args)
        except OSError as e:
            print("%s: %s" % (src, e), file=sys.stderr)
            return 2
        if args.summary:
            counts[status] = counts.get(status, 0) + 1
            continue
        print("%s %s %d" % (src, status, closed))
        if args.headers:
            sys.stdout.write(head.decode("latin-1").replace("\r\n", "\n"))
            sys.stdout.write("\n\n")
    if args.summary:
        for status in sorted(counts):
            print("%s %d" % (status, counts[status]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
