#!/usr/bin/env python3
"""Tiny /proc helper for the bench harness.

  proc.py tree PID          PID and all descendants, one per line
  proc.py cpu PID [PID...]  CPU seconds (utime+stime, all threads) summed over
                            the process trees rooted at the given PIDs
  proc.py cpus PID|- ...     CPU seconds of each tree separately ("-" -> 0),
                            then machine-wide busy and idle CPU seconds (/proc/stat)
  proc.py mem PID           JSON: nprocs, rss_kb (sum VmRSS), pss_kb (sum Pss)
  proc.py peak PID STOPFILE MAXSEC
                            sample the summed VmRSS of PID's tree every 0.1 s until
                            STOPFILE exists (or MAXSEC passed); print the peak in kB
"""
import json
import os
import sys
import time

CLK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # comm may contain spaces/parens: split after the last ')'
    rest = s[s.rindex(")") + 2:].split()
    return rest  # rest[0]=state, rest[1]=ppid, rest[11]=utime, rest[12]=stime


def children_map():
    m = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(_stat(d)[1])
        except (OSError, ValueError, IndexError):
            continue
        m.setdefault(ppid, []).append(int(d))
    return m


def tree(root, cmap=None):
    cmap = cmap if cmap is not None else children_map()
    out, todo = [], [int(root)]
    while todo:
        p = todo.pop()
        if not os.path.exists(f"/proc/{p}"):
            continue
        out.append(p)
        todo.extend(cmap.get(p, []))
    return out


def cpu_seconds(roots):
    cmap = children_map()
    ticks = 0
    for r in roots:
        for p in tree(r, cmap):
            try:
                st = _stat(p)
                ticks += int(st[11]) + int(st[12])
            except (OSError, ValueError, IndexError):
                pass
    return ticks / CLK


def machine():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    idle = v[3] + v[4]
    return busy / CLK, idle / CLK


def mem(root):
    rss = pss = n = 0
    for p in tree(root):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
            n += 1
        except OSError:
            pass
    return {"nprocs": n, "rss_kb": rss, "pss_kb": pss}


def rss_sum(pids):
    rss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                        break
        except OSError:
            pass
    return rss


def peak(root, stopfile, maxsec):
    end = time.monotonic() + maxsec
    best, pids, refresh = 0, [], 0.0
    while True:
        now = time.monotonic()
        if now >= refresh:  # the tree rarely changes: re-read it once a second
            pids, refresh = tree(root), now + 1.0
        best = max(best, rss_sum(pids))
        if os.path.exists(stopfile) or now >= end:
            break
        time.sleep(0.1)
    return best


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "tree":
        print("\n".join(map(str, tree(argv[2]))))
    elif cmd == "cpu":
        print(f"{cpu_seconds([a for a in argv[2:] if a]):.2f}")
    elif cmd == "cpus":
        vals = ["0.00" if a in ("-", "") else f"{cpu_seconds([a]):.2f}" for a in argv[2:]]
        print(" ".join(vals + [f"{x:.2f}" for x in machine()]))
    elif cmd == "peak":
        print(peak(argv[2], argv[3], float(argv[4])))
    elif cmd == "mem":
        print(json.dumps(mem(argv[2])))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
