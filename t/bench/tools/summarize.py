#!/usr/bin/env python3
"""Summarize a compare.sh TSV into markdown tables (medians over rounds).

usage: summarize.py FILE.tsv [--baseline GROUP=ADAPTER]...
(defaults: static=nginx_static proxy=nginx cache=nginx_cache acl=maitred php=nginx_php)
"""
import csv
import statistics as st
import sys
from collections import OrderedDict


def med(xs):
    return st.median(xs) if xs else float("nan")


def main(argv):
    path = argv[1]
    base = {"static": "nginx_static", "proxy": "nginx", "cache": "nginx_cache", "acl": "maitred", "php": "nginx_php"}
    for i, a in enumerate(argv):
        if a == "--baseline":
            g, n = argv[i + 1].split("=")
            base[g] = n
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    groups = OrderedDict()
    for r in rows:
        groups.setdefault((r["scenario"], r["adapter"]), []).append(r)

    agg = OrderedDict()
    for (s, a), rs in groups.items():
        rps = [int(r["requests"]) / (int(r["duration_us"]) / 1e6) for r in rs]
        dur = [int(r["duration_us"]) / 1e6 for r in rs]
        reqs = [int(r["requests"]) for r in rs]
        d = {
            "group": rs[0]["group"],
            "n": len(rs),
            "rps": med(rps),
            "rps_min": min(rps),
            "rps_max": max(rps),
            "p50": med([int(r["p50_us"]) / 1000 for r in rs]),
            "p99": med([int(r["p99_us"]) / 1000 for r in rs]),
            "err_status": sum(int(r["err_status"]) for r in rs),
            "err_sock": sum(int(r["err_connect"]) + int(r["err_read"]) + int(r["err_write"]) + int(r["err_timeout"]) for r in rs),
            "err_timeout": sum(int(r["err_timeout"]) for r in rs),
            "proxy_cores": med([float(r["proxy_cpu_s"]) / t for r, t in zip(rs, dur)]),
            "backend_cores": med([float(r["backend_cpu_s"]) / t for r, t in zip(rs, dur)]),
            "wrk_cores": med([(float(r["wrk_user_s"]) + float(r["wrk_sys_s"])) / t for r, t in zip(rs, dur)]),
            "busy_cores": med([float(r.get("sys_busy_s") or "nan") / t for r, t in zip(rs, dur)]),
            "other_cores": med([(float(r.get("sys_busy_s") or "nan") - float(r["proxy_cpu_s"]) - float(r["backend_cpu_s"])
                                 - float(r["wrk_user_s"]) - float(r["wrk_sys_s"])) / t for r, t in zip(rs, dur)]),
            "be_req_per_req": med([int(r["be_requests"]) / max(q, 1) for r, q in zip(rs, reqs)]),
            "be_conn_per_s": med([int(r["be_accepts"]) / t for r, t in zip(rs, dur)]),
        }
        d["cpu_per_100k"] = med([float(r["proxy_cpu_s"]) / max(int(r["requests"]), 1) * 1e5 for r in rs])
        d["peak_rss_mib"] = min(int(r.get("peak_rss_kb") or 0) for r in rs) / 1024
        d["spread"] = (d["rps_max"] - d["rps_min"]) / d["rps"] * 100 if d["rps"] else 0
        pc = med([float(r["proxy_cpu_s"]) for r in rs])
        d["req_per_core_s"] = (med([int(r["requests"]) / float(r["proxy_cpu_s"]) for r in rs if float(r["proxy_cpu_s"]) > 0])
                               if pc > 0 else float("nan"))
        agg[(s, a)] = d

    # paired ratios: adapter vs baseline within the same round (same few seconds)
    by_round = {}
    for r in rows:
        by_round[(r["scenario"], r["adapter"], r["round"])] = int(r["requests"]) / (int(r["duration_us"]) / 1e6)
    for (s, a), d in agg.items():
        bname = base.get(d["group"], "")
        rs = [by_round[k] / by_round[(s, bname, k[2])] for k in by_round
              if k[0] == s and k[1] == a and (s, bname, k[2]) in by_round]
        d["pratio"] = (med(rs), min(rs), max(rs)) if rs else None

    print("### Throughput, latency, CPU, memory (median of rounds)")
    print()
    print("| scenario | server | req/s | spread | p50 ms | p99 ms | errors | CPU-s / 100k req | peak RSS MiB | ratio vs baseline [min-max] |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (s, a), d in agg.items():
        pr = d["pratio"]
        b = base.get(d["group"], "")
        ratio = "-" if not pr else ("1.00 (baseline)" if a == b else f"{pr[0]:.2f} [{pr[1]:.2f}-{pr[2]:.2f}]")
        errs = d["err_status"] + d["err_sock"]
        err = f"{errs}" if not errs else f"{errs} ({d['err_status']} status, {d['err_sock']} socket)"
        cpu = "-" if a == "direct" else f"{d['cpu_per_100k']:.2f}"
        rss = "-" if a == "direct" else f"{d['peak_rss_mib']:.1f}"
        print(f"| {s} | {a} | {d['rps']:,.0f} | {d['spread']:.0f}% | {d['p50']:.2f} | {d['p99']:.2f} | {err} | {cpu} | {rss} | {ratio} |")
    print()
    groups_seen = []
    for d in agg.values():
        if d["group"] not in groups_seen:
            groups_seen.append(d["group"])
    print("baselines: " + ", ".join(f"{g} scenarios -> {base.get(g, '-')}" for g in groups_seen) + ".")
    print("ratio = median over rounds of (req/s / baseline req/s in the same round), i.e. paired, which cancels")
    print("slow drifts of the machine; [min-max] over rounds. spread = (max-min)/median of req/s over the rounds.")
    print("errors = non-2xx/3xx responses + socket errors, summed over all rounds. CPU-s / 100k req = CPU seconds")
    print("of the server's whole process tree per 100,000 requests (median of rounds; lower is better).")
    print("peak RSS = highest sum of VmRSS over the server's processes, sampled every 0.1 s during a run; the")
    print("smallest such peak over the rounds. Each server runs through the whole matrix, so memory it kept from")
    print("an earlier scenario (c=1000, 100 KB) shows in later rows; shared pages count once per process that")
    print("touched them. The idle_10k table measures memory on freshly started servers.")
    acl = [(a, d) for (s, a), d in agg.items() if s == "acl_small" and a != base.get("acl") and d["pratio"]]
    for a, d in acl:
        r = d["pratio"][0]
        print()
        print(f"**Access-control overhead** (acl_small): {a} / {base.get('acl')} = {r:.3f} "
              f"(throughput overhead {(1 - r) * 100:.1f}%), CPU-s/100k {d['cpu_per_100k']:.2f} vs "
              f"{agg.get(('acl_small', base.get('acl')), {}).get('cpu_per_100k', float('nan')):.2f}: "
              f"{'within' if r >= 0.95 else 'NOT within'} the 5% target.")
    print()
    print("### CPU split and upstream behaviour (median of rounds; 2.0 cores = whole machine)")
    print()
    print("| scenario | proxy | proxy cores | backend cores | wrk cores | other cores | machine busy | req per proxy CPU-s | backend req per client req | new backend conns/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (s, a), d in agg.items():
        rpc = "-" if d["req_per_core_s"] != d["req_per_core_s"] else f"{d['req_per_core_s']:,.0f}"
        print(f"| {s} | {a} | {d['proxy_cores']:.2f} | {d['backend_cores']:.2f} | {d['wrk_cores']:.2f} | {d['other_cores']:.2f} | {d['busy_cores']:.2f} | {rpc} | {d['be_req_per_req']:.2f} | {d['be_conn_per_s']:,.0f} |")
    print()
    print("other cores = machine busy - (proxy + backend + wrk): softirq time not charged to a process, other tenants.")
    print("Measurement windows are slightly longer than wrk's duration (process start/stop), so cores are a slight overestimate.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
