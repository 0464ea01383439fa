#!/usr/bin/env python3
"""Demo backend for "make run": a tiny HTTP server on 127.0.0.1:PORT.

Every GET, HEAD and POST gets a small HTML page naming this backend and an
"X-Backend: PORT" header, so you can see which backend maitred picked.
/health answers 200 "ok" (for "health_check http /health").

usage: demo-backend.py PORT
"""

import html
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    server_version = "demo-backend"
    protocol_version = "HTTP/1.1"

    def _answer(self, send_body):
        port = self.server.server_address[1]
        length = int(self.headers.get("Content-Length") or 0)
        received = self.rfile.read(length) if length > 0 else b""
        if self.path == "/health":
            body = b"ok\n"
            ctype = "text/plain; charset=utf-8"
        else:
            body = (
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                f"<title>backend {port}</title></head><body>\n"
                f"<h1>backend {port}</h1>\n"
                f"<p>{html.escape(self.command)} {html.escape(self.path)}"
                f" &mdash; {len(received)} body bytes received</p>\n"
                "</body></html>\n"
            ).encode()
            ctype = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", str(port))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def do_GET(self):
        self._answer(True)

    def do_POST(self):
        self._answer(True)

    def do_HEAD(self):
        self._answer(False)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: demo-backend.py PORT")
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
