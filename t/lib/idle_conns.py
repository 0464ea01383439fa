#!/usr/bin/env python3
"""Client-side tools for the hardening tests (t/800-faults, t/810-hostile).

usage: idle_conns.py COMMAND [options]

  hold      open --conns N connections to 127.0.0.1:--port; with
            --request, send one keep-alive GET on each and read its
            answer (they are then idle keep-alive connections); write
            "held=K ok=K" to --status, wait until the file --go exists
            (at most --hold seconds), then send one more GET on
            --sample of them (default all) and count the answers. Prints
            one line: "conns=N held=K first_ok=A second_sent=S
            second_ok=B errors=E answered=C statuses=200:B,...".
  slowloris open --conns N connections, send a partial head on each and
            then one more byte every --interval seconds, for at most
            --duration seconds. Prints "conns=N connected=C closed=K
            got408=R median_close=S max_close=S" (close times from the
            first byte sent). With --post PATH, a whole POST head
            (Content-Length --body-len) and then the body byte by byte.
  load      --threads T clients, each looping for --duration seconds on
            GET --path (one connection per request, --timeout seconds
            per request). Prints "ok=A fail=B slow=C max=S": slow counts
            requests that took more than 2 s.

  slowpost  one POST --path with a --body-len byte body: the head at
            once, then the body one byte every --interval seconds; the
            answer (bytes) goes to stdout.

Everything is bounded: every socket operation has a timeout, every loop
a deadline.
"""

import argparse
import os
import selectors
import socket
import statistics
import sys
import threading
import time


def connect_many(port, n, deadline, batch=256):
    """Open n non-blocking connections; returns the connected sockets."""
    socks = []
    pending = []
    sel = selectors.DefaultSelector()
    opened = 0
    while (opened < n or pending) and time.monotonic() < deadline:
        while opened < n and len(pending) < batch:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                opened += 1
                continue
            sel.register(s, selectors.EVENT_WRITE)
            pending.append(s)
            opened += 1
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            sel.unregister(s)
            pending.remove(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                socks.append(s)
            else:
                s.close()
    for s in pending:
        sel.unregister(s)
        s.close()
    sel.close()
    return socks


REQ = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"


def response_complete(buf):
    """True when buf holds one whole response with Content-Length."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    return len(buf) >= end + 4 + length


def request_all(socks, deadline, statuses=None):
    """Send REQ on every socket, read one response each; returns the ok
    count and the sockets that answered 200 (the others are closed).
    The status code of every complete answer is counted in <statuses>."""
    sel = selectors.DefaultSelector()
    bufs = {}
    good = []
    for s in socks:
        try:
            s.send(REQ)
        except OSError:
            s.close()
            continue
        bufs[s] = bytearray()
        sel.register(s, selectors.EVENT_READ)
    while bufs and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                del bufs[s]
                s.close()
                continue
            bufs[s].extend(data)
            if response_complete(bufs[s]):
                sel.unregister(s)
                ok = bufs[s].startswith(b"HTTP/1.1 200")
                if statuses is not None:
                    code = bytes(bufs[s][9:12]).decode("ascii", "replace")
                    statuses[code] = statuses.get(code, 0) + 1
                del bufs[s]
                if ok:
                    good.append(s)
                else:
                    s.close()
    for s in list(bufs):
        sel.unregister(s)
        s.close()
    sel.close()
    return len(good), good


def cmd_hold(a):
    deadline = time.monotonic() + a.connect_time
    socks = connect_many(a.port, a.conns, deadline)
    first_ok = 0
    if a.request:
        first_ok, socks = request_all(socks,
                                      time.monotonic() + a.connect_time)
    if a.status:
        with open(a.status + ".tmp", "w") as f:
            f.write("held=%d ok=%d\n" % (len(socks), first_ok))
        os.rename(a.status + ".tmp", a.status)
    end = time.monotonic() + a.hold
    while time.monotonic() < end and not (a.go and os.path.exists(a.go)):
        time.sleep(0.05)
    held = len(socks)
    second_ok = sent = 0
    errors = 0
    statuses = {}
    if a.request:
        sample = socks if a.sample <= 0 else socks[::max(1, held //
                                                         a.sample)]
        sent = len(sample)
        second_ok, _ = request_all(sample, time.monotonic() + 30,
                                   statuses)
        errors = sent - second_ok
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    answered = sum(statuses.values())
    print("conns=%d held=%d first_ok=%d second_sent=%d second_ok=%d "
          "errors=%d answered=%d statuses=%s" % (
              a.conns, held, first_ok, sent, second_ok, errors, answered,
              ",".join("%s:%d" % kv for kv in sorted(statuses.items()))
              or "none"))
    return 0


def cmd_slowloris(a):
    start = time.monotonic()
    socks = connect_many(a.port, a.conns, start + 10)
    sel = selectors.DefaultSelector()
    head = b"GET / HTTP/1.1\r\nHost: t\r\nX-a: "
    if a.post:
        # slow POST: a whole head, then the body byte by byte
        head = ("POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                "\r\n" % (a.post, a.body_len)).encode()
    first = {}
    got = {}
    closed = {}
    for s in socks:
        try:
            s.send(head)
        except OSError:
            s.close()
            continue
        first[s] = time.monotonic()
        got[s] = bytearray()
        sel.register(s, selectors.EVENT_READ)
    end = time.monotonic() + a.duration
    next_drip = time.monotonic() + a.interval
    while len(closed) < len(first) and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                got[s].extend(data)
                continue
            sel.unregister(s)
            closed[s] = time.monotonic() - first[s]
        if time.monotonic() >= next_drip:
            next_drip += a.interval
            for s in first:
                if s in closed:
                    continue
                try:
                    s.send(b"x")
                except OSError:
                    pass
    got408 = sum(1 for s in first if got[s].startswith(b"HTTP/1.1 408"))
    times = sorted(closed.values())
    for s in first:
        if s not in closed:
            sel.unregister(s)
        s.close()
    sel.close()
    print("conns=%d connected=%d closed=%d got408=%d median_close=%.2f "
          "max_close=%.2f" % (a.conns, len(first), len(closed), got408,
                              statistics.median(times) if times else -1,
                              times[-1] if times else -1))
    return 0


def cmd_load(a):
    counts = {"ok": 0, "fail": 0, "slow": 0, "max": 0.0}
    lock = threading.Lock()
    end = time.monotonic() + a.duration
    req = ("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
           % a.path).encode()

    def one():
        t0 = time.monotonic()
        ok = False
        try:
            with socket.create_connection(("127.0.0.1", a.port),
                                          timeout=a.timeout) as s:
                s.settimeout(a.timeout)
                s.sendall(req)
                buf = bytearray()
                while not response_complete(buf):
                    data = s.recv(65536)
                    if not data:
                        break
                    buf.extend(data)
                ok = buf.startswith(b"HTTP/1.1 200") and \
                    response_complete(buf)
        except OSError:
            ok = False
        dt = time.monotonic() - t0
        with lock:
            counts["ok" if ok else "fail"] += 1
            if dt > 2:
                counts["slow"] += 1
            counts["max"] = max(counts["max"], dt)

    def loop():
        while time.monotonic() < end:
            one()
            if a.pause:
                time.sleep(a.pause)

    threads = [threading.Thread(target=loop) for _ in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.duration + a.timeout + 5)
    print("ok=%d fail=%d slow=%d max=%.2f" % (counts["ok"], counts["fail"],
                                             counts["slow"], counts["max"]))
    return 0


def cmd_slowpost(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
    s.settimeout(a.timeout)
    s.sendall(("POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
               "\r\n" % (a.path, a.body_len)).encode())
    try:
        for _ in range(a.body_len):
            time.sleep(a.interval)
            s.sendall(b"x")
        buf = bytearray()
        end = time.monotonic() + a.timeout
        while time.monotonic() < end and not response_complete(buf):
            data = s.recv(65536)
            if not data:
                break
            buf.extend(data)
    except OSError as e:
        sys.stdout.write("error: %s\n" % e)
        return 1
    sys.stdout.buffer.write(bytes(buf))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=("hold", "slowloris", "load",
                                       "slowpost"))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--request", action="store_true")
    ap.add_argument("--status")
    ap.add_argument("--go")
    ap.add_argument("--hold", type=float, default=10)
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--connect-time", type=float, default=20)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--path", default="/hello.txt")
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--pause", type=float, default=0)
    ap.add_argument("--body-len", type=int, default=20)
    ap.add_argument("--post", help="slowloris: slow POST bodies to this path")
    a = ap.parse_args()
    return {"hold": cmd_hold, "slowloris": cmd_slowloris,
            "load": cmd_load,
            "slowpost": cmd_slowpost}[a.command](a)


if __name__ == "__main__":
    sys.exit(main())
