"""Draws docs/benchmarks.png from the results.json that wbs-bench wrote.

Usage: bench_chart.py RESULTS.json OUT.png

Six panels: the rates and tail latencies of small requests against their
targets, the large-object rates against their baselines, peak memory
against the 64 MiB budget, and the many-cases timings.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

GOOD = "#2e7d32"
BAD = "#c62828"
BASE = "#78909c"
RAW = "#1565c0"
REQW = "#90caf9"


def median(values):
    v = sorted(values)
    if not v:
        return 0.0
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def runs(items, client):
    xs = [r for r in items if r["client"] == client]
    return [r["clients"] for r in xs], xs


def rate_panel(ax, items, target, title, unit):
    raw_c, raw = runs(items, "raw")
    rq_c, rq = runs(items, "reqwest")
    labels = sorted(set(raw_c) | set(rq_c))
    pos = {c: i for i, c in enumerate(labels)}
    w = 0.38
    ax.bar([pos[c] - w / 2 for c in raw_c], [r["per_second"] for r in raw], w,
           color=RAW, label="raw keep-alive client")
    if rq:
        ax.bar([pos[c] + w / 2 for c in rq_c], [r["per_second"] for r in rq], w,
               color=REQW, label="reqwest blocking")
    for c, r in zip(raw_c, raw):
        ax.annotate(f"{r['per_second']:,.0f}", (pos[c] - w / 2, r["per_second"]),
                    ha="center", va="bottom", fontsize=7)
    ax.axhline(target, color=BAD, ls="--", lw=1)
    ax.annotate(f"target {target:,} at 32 clients", (0.99, target), xycoords=("axes fraction", "data"),
                ha="right", va="bottom", fontsize=7, color=BAD)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([f"{c} client{'s' if c > 1 else ''}" for c in labels])
    ax.set_ylabel(unit)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    top = max([r["per_second"] for r in items] + [target])
    ax.set_ylim(0, top * 1.3)


def latency_panel(ax, traffic):
    series = [
        ("submissions p99", traffic["submissions"], 100.0, RAW),
        ("status p99", traffic["status"], 10.0, "#6a1b9a"),
    ]
    for name, items, target, color in series:
        c, raw = runs(items, "raw")
        ax.plot(c, [r["p99_ms"] for r in raw], "o-", color=color, label=f"{name} (target ≤ {target:g} ms)")
        ax.plot(c, [r["p50_ms"] for r in raw], "o:", color=color, alpha=0.5, label=name.replace("p99", "p50"))
        ax.axhline(target, color=color, ls="--", lw=0.8, alpha=0.7)
    ax.set_yscale("log")
    ax.set_xscale("log", base=2)
    xs = sorted({r["clients"] for r in traffic["submissions"]})
    ax.set_xticks(xs)
    ax.set_xticklabels([str(x) for x in xs])
    ax.set_xlabel("concurrent clients (raw client)")
    ax.set_ylabel("ms (log)")
    ax.set_title("Latency of small requests", fontsize=10)
    ax.legend(fontsize=7)


def throughput_panel(ax, large):
    mib = large["object_bytes"] / 2**20
    dd = median(large["dd_seconds"])
    ingest = median(large["ingest_seconds"])
    age_s = median([a["seconds"] + f for a, f in zip(large["age"], large["age_fsync_seconds"])])
    inspect = median([r["seconds"] for r in large["inspect"]])
    bars = [
        ("plain copy\n(dd fsync)", mib / dd, BASE),
        ("wbs-server\ningest", mib / ingest, GOOD if ingest <= 2 * dd else BAD),
        ("wbs-server\nexport", mib / large["export_seconds"], RAW),
        ("age -d\n+ fsync", mib / age_s, BASE),
        ("wbs-inspect\nopen", mib / inspect, GOOD if inspect <= age_s / 0.9 else BAD),
    ]
    xs = range(len(bars))
    ax.bar(xs, [b[1] for b in bars], color=[b[2] for b in bars])
    for x, b in zip(xs, bars):
        ax.annotate(f"{b[1]:,.0f}", (x, b[1]), ha="center", va="bottom", fontsize=7)
    ax.hlines(0.5 * mib / dd, 0.6, 1.4, color=BAD, ls="--", lw=1)
    ax.hlines(0.9 * mib / age_s, 3.6, 4.4, color=BAD, ls="--", lw=1)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([b[0] for b in bars], fontsize=7)
    ax.set_ylabel("MiB/s")
    size = large["attachment_bytes"]
    label = f"{size / 2**30:g} GiB" if size >= 2**30 else f"{size / 2**20:g} MiB"
    ax.set_title(f"One {label} attachment, medians (dashed: target)", fontsize=10)
    ax.set_ylim(0, max(b[1] for b in bars) * 1.15)


def memory_panel(ax, r):
    large, many, traffic = r["large"], r["many"], r["traffic"]
    bars = [
        ("server,\nsmall\nrequests", traffic["server_memory"]["peak_kib"]),
        ("server,\nlarge\ningest", large["ingest_memory"]["peak_kib"]),
        ("server,\nlarge\nexport", large["export_memory"]["peak_kib"]),
        (f"server,\nexport\n{many['cases']:,} cases", many["export_memory"]["peak_kib"]),
        ("inspect,\nlarge", max([r["peak_kib"] for r in large["inspect"]] + [0])),
        (f"inspect,\n{many['cases']:,}\ncases", many["inspect"]["peak_kib"]),
        ("age -d,\nlarge", max([r["peak_kib"] for r in large["age"]] + [0])),
    ]
    vals = [b[1] / 1024 for b in bars]
    colors = [GOOD if v <= 64 else BAD for v in vals[:-1]] + [BASE]
    xs = range(len(bars))
    ax.bar(xs, vals, color=colors)
    for x, v in zip(xs, vals):
        ax.annotate(f"{v:.1f}", (x, v), ha="center", va="bottom", fontsize=7)
    ax.axhline(64, color=BAD, ls="--", lw=1)
    ax.annotate("budget 64 MiB", (0.99, 64), xycoords=("axes fraction", "data"), ha="right",
                va="bottom", fontsize=7, color=BAD)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([b[0] for b in bars], fontsize=6.5)
    ax.set_ylabel("peak RSS, MiB")
    ax.set_title("Peak memory", fontsize=10)
    ax.set_ylim(0, max(vals + [64]) * 1.2)


def many_panel(ax, many):
    n = many["cases"]
    create = many["create"]["seconds"] if many.get("create") else 0
    bars = [
        ("create\n(API, 32 clients)", create, BASE),
        ("export\n(server)", many["export_seconds"], RAW),
        ("wbs-inspect\nopen", many["inspect"]["seconds"],
         GOOD if many["inspect"]["seconds"] <= 10 else BAD),
    ]
    xs = range(len(bars))
    ax.bar(xs, [b[1] for b in bars], color=[b[2] for b in bars])
    for x, b in zip(xs, bars):
        ax.annotate(f"{b[1]:.2f} s", (x, b[1]), ha="center", va="bottom", fontsize=7)
    ax.hlines(10, 1.6, 2.4, color=BAD, ls="--", lw=1)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([b[0] for b in bars], fontsize=7)
    ax.set_ylabel("seconds")
    ax.set_title(f"{n:,} small cases (dashed: open target 10 s)", fontsize=10)
    ax.set_ylim(0, max([b[1] for b in bars] + [10]) * 1.15)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench_chart.py RESULTS.json OUT.png")
    with open(sys.argv[1], encoding="utf-8") as f:
        r = json.load(f)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    rate_panel(axes[0][0], r["traffic"]["submissions"], 1000, "Durable small submissions", "submissions/s")
    rate_panel(axes[0][1], r["traffic"]["status"], 10000, "Status look-ups", "look-ups/s")
    latency_panel(axes[0][2], r["traffic"])
    throughput_panel(axes[1][0], r["large"])
    memory_panel(axes[1][1], r)
    many_panel(axes[1][2], r["many"])
    m = r["machine"]
    met = sum(1 for t in r["targets"] if t["met"])
    fig.suptitle(
        f"WBS benchmarks ({r['mode']} run, {m['date']}): {met} of {len(r['targets'])} targets met\n"
        f"{m['cpu']}, {m['cores']} cores, {m['ram_mib'] / 1024:.0f} GiB RAM, kernel {m['kernel']}",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
