#!/usr/bin/env python3
"""A slow client, as a phone on a bad network would be.

usage: slowreader.py [--post FILE [--chunked]] [--tls CA] [--header H]...
                     PORT TARGET OUT GO [DEADLINE]

Sends "GET TARGET" (Connection: close) to 127.0.0.1:PORT with a small
receive buffer and writes "sent" to OUT.sent. With --post, a POST of
FILE instead (Content-Length, or chunked with --chunked), of which only
the first half is sent before OUT.sent. Then nothing happens until the
file GO exists; then the rest of the body is sent and the whole answer
read. Gives up after DEADLINE seconds (default 60) in all; exit 3 then.
The answer's head goes to OUT.head, its body (chunks decoded) to OUT;
exit 4 on bad chunks. With --tls, over TLS, checking the server's
certificate against the file CA for the name "localhost". Each
--header adds the header field H ("Name: value") to the request.
"""

import argparse
import os
import socket
import ssl
import sys
import time


def chunked(data):
    """<data> as chunks of 64 KB at most, with the last chunk."""
    out = bytearray()
    for i in range(0, len(data), 65536):
        part = data[i:i + 65536]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


def request(a):
    """The request's bytes: (before GO, after GO)."""
    extra = "".join(h + "\r\n" for h in a.header)
    if a.post is None:
        return (("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n"
                 % (a.target, extra)).encode(), b"")
    with open(a.post, "rb") as f:
        data = f.read()
    if a.chunked:
        body, field = chunked(data), "Transfer-Encoding: chunked"
    else:
        body, field = data, "Content-Length: %d" % len(data)
    head = ("POST %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n%s\r\n"
            % (a.target, field, extra)).encode()
    half = len(body) // 2
    return head + body[:half], body[half:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--post")
    ap.add_argument("--chunked", action="store_true")
    ap.add_argument("--tls", metavar="CA")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("port", type=int)
    ap.add_argument("target")
    ap.add_argument("out")
    ap.add_argument("go")
    ap.add_argument("deadline", type=float, nargs="?", default=60)
    a = ap.parse_args()
    deadline = time.time() + a.deadline
    first, rest = request(a)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(a.deadline)
    s.connect(("127.0.0.1", a.port))
    if a.tls is not None:
        ctx = ssl.create_default_context(cafile=a.tls)
        s = ctx.wrap_socket(s, server_hostname="localhost")
    s.sendall(first)
    with open(a.out + ".sent", "w") as f:
        f.write("sent\n")
    while not os.path.exists(a.go):
        if time.time() > deadline:
            sys.exit(3)
        time.sleep(0.05)
    s.settimeout(max(1.0, deadline - time.time()))
    data = bytearray()
    try:
        s.sendall(rest)
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except socket.timeout:
        sys.exit(3)
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    with open(a.out + ".head", "wb") as f:
        f.write(head + b"\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    with open(a.out, "wb") as f:
        f.write(body)


def dechunk(b):
    """The chunked body <b> decoded; exit 4 when it is not whole."""
    out, i = bytearray(), 0
    while True:
        j = b.find(b"\r\n", i)
        if j < 0:
            sys.exit(4)
        n = int(b[i:j].split(b";")[0], 16)
        if n == 0:
            return bytes(out)
        out += b[j + 2:j + 2 + n]
        if b[j + 2 + n:j + 4 + n] != b"\r\n":
            sys.exit(4)
        i = j + 4 + n


main()
