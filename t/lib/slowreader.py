#!/usr/bin/env python3
"""A client that asks and then does not read, as a slow phone would.

usage: slowreader.py PORT TARGET OUT GO [DEADLINE]

Sends "GET TARGET" (Connection: close) to 127.0.0.1:PORT with a small
receive buffer, writes "sent" to OUT.sent, reads nothing until the file
GO exists, then reads the whole answer into OUT. Gives up after DEADLINE
seconds (default 60) in all; exit 3 then. The answer's head goes to
OUT.head, its body (chunks decoded) to OUT; exit 4 on bad chunks.
"""

import os
import socket
import sys
import time


def main():
    port, target, out, go = sys.argv[1:5]
    deadline = time.time() + (float(sys.argv[5]) if len(sys.argv) > 5 else 60)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(port)))
    s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
               % target).encode())
    with open(out + ".sent", "w") as f:
        f.write("sent\n")
    while not os.path.exists(go):
        if time.time() > deadline:
            sys.exit(3)
        time.sleep(0.05)
    s.settimeout(max(1.0, deadline - time.time()))
    data = bytearray()
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            sys.exit(3)
        if not b:
            break
        data += b
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    with open(out + ".head", "wb") as f:
        f.write(head + b"\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    with open(out, "wb") as f:
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
