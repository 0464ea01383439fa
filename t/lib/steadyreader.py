#!/usr/bin/env python3
"""A client that reads slowly but steadily, then fast.

usage: steadyreader.py PORT TARGET RATE SECONDS [DEADLINE]

Sends "GET TARGET" (Connection: close) to 127.0.0.1:PORT from a socket
with a small receive buffer, reads RATE bytes a second (in 8 KB reads)
for SECONDS, then as fast as it can until the server closes. Prints

    status CODE
    body BYTES
    sha256 HEX
    end eof|reset|timeout

for the answer (a chunked body decoded: BYTES -1 when its framing is
cut or broken). Gives up after DEADLINE seconds (default 60) in all.
"""

import hashlib
import socket
import sys
import time


def dechunk(body):
    """The decoded chunked <body>, or None when it is cut or broken."""
    out, i = bytearray(), 0
    while True:
        j = body.find(b"\r\n", i)
        if j < 0:
            return None
        try:
            n = int(body[i:j].split(b";")[0], 16)
        except ValueError:
            return None
        if n == 0:
            return bytes(out) if body[j:j + 4] == b"\r\n\r\n" else None
        if len(body) < j + 2 + n + 2:
            return None
        out += body[j + 2:j + 2 + n]
        i = j + 2 + n + 2


def main():
    port, target = int(sys.argv[1]), sys.argv[2]
    rate, slow = int(sys.argv[3]), float(sys.argv[4])
    deadline = time.time() + (float(sys.argv[5]) if len(sys.argv) > 5 else 60)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
              % target.encode())
    data = bytearray()
    end = "eof"
    start = time.time()
    step = 8192 / rate
    s.settimeout(5)
    try:
        while time.time() < deadline:
            slow_now = time.time() - start < slow
            got = s.recv(8192 if slow_now else 1 << 20)
            if not got:
                break
            data += got
            if slow_now:
                time.sleep(step)
        else:
            end = "timeout"
    except ConnectionResetError:
        end = "reset"
    except socket.timeout:
        end = "timeout"
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    if b"\r\ntransfer-encoding: chunked" in head.lower():
        body = dechunk(body)
        if body is None:
            print("status", head.split(b" ")[1].decode())
            print("body -1")
            print("end", end)
            return
    print("status", head.split(b" ")[1].decode() if b" " in head else "-")
    print("body", len(body))
    print("sha256", hashlib.sha256(body).hexdigest())
    print("end", end)


main()
