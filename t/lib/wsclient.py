"""A minimal WebSocket client for the tunnel tests (RFC 6455).

A test runs its inline Python with PYTHONPATH="$BATS_TEST_DIRNAME/lib".
Text frames of up to 125 bytes are all the tests send.
"""
import base64
import os


def upgrade(s, path="/ws"):
    """Ask for a WebSocket on socket <s>: the status line of the answer,
    and whatever came after its head."""
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        got = s.recv(4096)
        if not got:
            break
        data += got
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), rest


def _recv_exactly(s, n):
    data = b""
    while len(data) < n:
        got = s.recv(n - len(data))
        if not got:
            return None
        data += got
    return data


def echo(s, msg):
    """Send <msg> as a masked text frame and read one frame back: its
    text, or "closed" when the connection ends first."""
    mask = os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | len(msg)]) + mask +
              bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
    hdr = _recv_exactly(s, 2)
    if hdr is None:
        return "closed"
    data = _recv_exactly(s, hdr[1] & 0x7f)
    return "closed" if data is None else data.decode()
