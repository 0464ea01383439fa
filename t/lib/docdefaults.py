#!/usr/bin/env python3
"""Compare the defaults of maitred.conf.5 with the code and the other docs.

usage: docdefaults.py ROOT

Reads, under ROOT:
  shared/conf.c       directives[] (name -> setter, field) and the
                      assignments of conf_defaults() and gzip_defaults()
  man/maitred.conf.5  the "Default:" of each ".It Ic NAME" entry
  README.md           the default column of the directive table
  conf/maitred.conf   the "## Timeouts (the values shown are the
                      defaults)" section

Prints one line per mismatch and exits 1 if there is any. Only what can
be compared mechanically is: a setter whose value is a number, a
duration, a size or on/off, and a README default written in backticks.
"""
import os
import re
import sys

ROOT = sys.argv[1]


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def c_table(src):
    """directives[]: name -> (setter, field or None)."""
    body = src[src.index("static const struct directive directives[]"):]
    body = body[:body.index("};")]
    out = {}
    for m in re.finditer(r'\{\s*"([a-z0-9_]+)",\s*(\w+),[^{}]*?'
                         r'(?:OFF\((\w+)\)|0),', body, re.S):
        out[m.group(1)] = (m.group(2), m.group(3))
    return out


def c_defaults(src):
    """field -> value (int) of the plain assignments in the defaults."""
    out = {}
    for fn in ("gzip_defaults", "conf_defaults"):
        m = re.search(r"^%s\(.*?\)\n\{(.*?)^\}" % fn, src, re.S | re.M)
        for a in re.finditer(r"c->(\w+) = ([^;]+);", m.group(1)):
            expr = re.sub(r"\((?:size_t|long|int)\)", "", a.group(2))
            expr = re.sub(r"(\d+)[uUlL]+\b", r"\1", expr)
            if re.fullmatch(r"[\d\s*+<()-]+", expr):
                out[a.group(1)] = eval(expr)  # digits and operators only
    return out


def parse_ms(v):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", v)
    if not m:
        return None
    mult = {None: 1000, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}
    return int(m.group(1)) * mult[m.group(2)]


def parse_size(v):
    m = re.fullmatch(r"(\d+)([kmgKMG])?", v)
    if not m:
        return None
    mult = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(m.group(1)) * mult[m.group(2) and m.group(2).lower()]


PARSE = {
    "d_ms": parse_ms,
    "d_size": parse_size,
    "d_cache_size": parse_size,
    "d_sockbuf": parse_size,
    "d_int": lambda v: int(v) if v.isdigit() else None,
    "d_flag": lambda v: {"on": 1, "off": 0}.get(v),
}


def man_defaults(man):
    """NAME -> the words after "Default:" in its entry, macros dropped."""
    out, cur, buf = {}, None, []

    def flush():
        if cur is None:
            return
        text = " ".join(buf)
        m = re.search(r"Default:\s*(.*?)(?:[.,;:](?:\s|$)| \(|$)", text)
        if m:
            v = re.sub(r"(^|\s)\.?(Cm|Ql|Pa|Ic|Ar)\s+", r"\1", m.group(1))
            v = v.strip()
            if v.startswith(cur + " "):
                v = v[len(cur) + 1:]	# "Default: .Ql rate_limit 100/60s"
            out[cur] = v

    for line in man.split("\n"):
        m = re.match(r"\.It Ic (\S+)", line)
        if m or line.startswith((".Sh", ".Ss")):
            flush()
            cur, buf = (m.group(1) if m else None), []
        elif cur is not None:
            buf.append(line)
    flush()
    return out


def readme_defaults(readme):
    out = {}
    for m in re.finditer(r"^\| `([a-z0-9_]+)`(?:, `[a-z0-9_]+`)* \| "
                         r"`([^`]*)`[^|]*\|", readme, re.M):
        out[m.group(1)] = m.group(2)
    return out


def conf_defaults_section(conf):
    m = re.search(r"^## Timeouts \(the values shown are the defaults\)\n"
                  r"(.*?)^## ", conf, re.S | re.M)
    out = {}
    for line in m.group(1).split("\n"):
        d = re.match(r"#?([a-z0-9_]+)\s+(\S.*)$", line)
        if d:
            out[d.group(1)] = d.group(2)
    return out


def main():
    src = read("shared/conf.c")
    table = c_table(src)
    code = c_defaults(src)
    man = man_defaults(read("man/maitred.conf.5"))
    bad = []
    for name, (setter, field) in sorted(table.items()):
        if setter not in PARSE or field is None:
            continue
        if name not in man:
            bad.append("maitred.conf.5: %s: no \"Default:\"" % name)
            continue
        doc = PARSE[setter](man[name])
        have = code.get(field, 0)
        if doc != have:
            bad.append("maitred.conf.5: %s: Default: %s, but conf.c sets "
                       "%s = %s" % (name, man[name], field, have))
    for what, vals in (("README.md", readme_defaults(read("README.md"))),
                       ("conf/maitred.conf",
                        conf_defaults_section(read("conf/maitred.conf")))):
        for name, v in sorted(vals.items()):
            if name not in table:
                bad.append("%s: %s: not a directive" % (what, name))
            elif name not in man:
                bad.append("%s: %s: default %s, maitred.conf.5 gives none"
                           % (what, name, v))
            elif v != man[name]:
                bad.append("%s: %s: default %s, maitred.conf.5 says %s"
                           % (what, name, v, man[name]))
    for b in bad:
        print(b)
    checked = sum(1 for s, f in table.values() if s in PARSE and f)
    print("# %d code defaults checked" % checked, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
