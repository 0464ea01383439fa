#!/usr/bin/env python3
"""Check a multipart/byteranges answer against the file it comes from.

usage: multipart_check.py CONTENT_TYPE BODY_FILE FILE SIZE_TYPE RANGE...

CONTENT_TYPE is the answer's Content-Type value, BODY_FILE its body,
FILE the file served, SIZE_TYPE the media type each part must carry,
each RANGE "first-last" (inclusive, as they must appear, in order).
The body is parsed twice: by Python's email package (is it a valid
multipart body?) and by hand (exact bytes, each part's Content-Type and
Content-Range, nothing before the first boundary but the delimiter,
nothing after the last). Prints "ok N parts" or the first problem, and
exits 0 or 1.
"""

import email.parser
import email.policy
import re
import sys


def fail(msg):
    print("multipart:", msg)
    sys.exit(1)


def main():
    ctype, body_path, file_path, part_type = sys.argv[1:5]
    ranges = [tuple(int(x) for x in r.split("-")) for r in sys.argv[5:]]
    body = open(body_path, "rb").read()
    data = open(file_path, "rb").read()
    m = re.fullmatch(r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})",
                     ctype)
    if not m:
        fail("Content-Type %r" % ctype)
    boundary = m.group(1).encode()

    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        fail("email does not see a multipart body")
    parts = list(msg.iter_parts())
    if len(parts) != len(ranges):
        fail("email sees %d parts, want %d" % (len(parts), len(ranges)))

    # By hand: the exact layout.
    delim = b"--" + boundary
    if not body.startswith(delim + b"\r\n"):
        fail("does not start with the boundary")
    if not body.endswith(b"\r\n" + delim + b"--\r\n"):
        fail("does not end with the closing boundary")
    pos = 0
    for i, (first, last) in enumerate(ranges):
        lead = (b"" if i == 0 else b"\r\n") + delim + b"\r\n"
        if body[pos:pos + len(lead)] != lead:
            fail("part %d: no delimiter at %d" % (i, pos))
        pos += len(lead)
        end = body.index(b"\r\n\r\n", pos)
        fields = {}
        for line in body[pos:end].split(b"\r\n"):
            k, _, v = line.partition(b":")
            fields[k.strip().lower()] = v.strip().decode()
        pos = end + 4
        want_range = "bytes %d-%d/%d" % (first, last, len(data))
        if fields.get(b"content-range") != want_range:
            fail("part %d: Content-Range %r, want %r"
                 % (i, fields.get(b"content-range"), want_range))
        if fields.get(b"content-type") != part_type:
            fail("part %d: Content-Type %r" % (i, fields.get(b"content-type")))
        n = last - first + 1
        if body[pos:pos + n] != data[first:last + 1]:
            fail("part %d: bytes differ" % i)
        pos += n
    if body[pos:] != b"\r\n" + delim + b"--\r\n":
        fail("%d unexpected bytes after the last part" % (len(body) - pos))
    print("ok %d parts" % len(ranges))


main()
