#!/usr/bin/env python3
"""Charts and target checks from a netbench.py --json result file (standard library only).

    python3 bench/plot.py docs/perf/latest.json --out docs/perf [--note "rnc abc1234"]

Writes OUT/throughput.svg (GiB/s by bulk scenario and tool) and OUT/latency.svg
(latency added per round trip and startup time), and prints Markdown tables to stdout:
the paired ratios of every tool to the baseline, and rnc against the targets of issue 4.
Every ratio comes from the one run in the file; numbers from two runs never mix.
"""

import argparse
import json
import math
import os
import statistics
import sys
from xml.sax.saxutils import escape

GiB = 1 << 30
BULK = ["tcp-upload", "tcp-download", "tcp-pipe", "unix-upload"]
CANDIDATE = "rnc"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
COLORS = {
    "nc": "#4e79a7", "ncat": "#f28e2b", "socat": "#59a14f", "rnc": "#e15759",
    "ref-splice": "#8c8c8c", "ref-rw": "#b5b5b5", "ref-iperf3": "#6b6b6b", "ref-spawn": "#a0a0a0",
}
EXTRA_COLORS = ["#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7"]
LABELS = {"ref-splice": "ref: sendfile/splice", "ref-rw": "ref: 128 KiB read/write",
          "ref-iperf3": "ref: iperf3 (memory)", "ref-spawn": "ref: spawn /bin/true"}


# ----------------------------------------------------------------------------- data helpers
def paired_ratio(e, base):
    """Median over reps/batches of entry/baseline, as netbench computes it."""
    if not e or not base:
        return None
    pe, pb = e.get("paired") or {}, base.get("paired") or {}
    rs = [pe[k] / pb[k] for k in pe if k in pb and pb[k]]
    return statistics.median(rs) if rs else None


def tool_order(results):
    """Tools first in the order netbench ran them, then the reference rows."""
    seen = []
    for sc in results.values():
        for n in sc.get("entries", {}):
            if n not in seen:
                seen.append(n)
    return [n for n in seen if not n.startswith("ref")] + [n for n in seen if n.startswith("ref")]


def color_of(name, _extra={}):
    if name in COLORS:
        return COLORS[name]
    if name not in _extra:
        _extra[name] = EXTRA_COLORS[len(_extra) % len(EXTRA_COLORS)]
    return _extra[name]


def has_value(e):
    return bool(e) and e.get("status") != "n/a" and bool(e.get("summary"))


# ----------------------------------------------------------------------------- SVG helpers
def nice_ticks(vmax, n=5):
    if vmax <= 0:
        return [0, 1]
    raw = vmax / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks, t = [], 0.0
    while t < vmax + step * 0.999:
        ticks.append(round(t, 10))
        t += step
    return ticks


def fmt_tick(v):
    return ("%g" % v) if v < 1e5 else "%.0f" % v


def text(x, y, s, size=12, anchor="middle", weight="normal", fill="#222", extra=""):
    return ('<text x="%.1f" y="%.1f" font-size="%s" text-anchor="%s" font-weight="%s" fill="%s"%s>%s</text>'
            % (x, y, size, anchor, weight, fill, extra, escape(s)))


def svg_doc(w, h, body):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'font-family="%s">\n'
            '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="white" fill-opacity="0.0"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="white" stroke-width="2" stroke-opacity="0.55"/>'
            '</pattern></defs>\n'
            '<rect width="100%%" height="100%%" fill="white"/>\n%s\n</svg>\n'
            % (w, h, w, h, FONT, "\n".join(body)))


def legend(names, x_right, y):
    """One row of swatches, right-aligned at x_right."""
    items = [(n, LABELS.get(n, n)) for n in names]
    widths = [20 + 6.4 * len(lbl) + 16 for _, lbl in items]
    x = x_right - sum(widths)
    out = []
    for (n, lbl), w in zip(items, widths):
        out.append('<rect x="%.1f" y="%.1f" width="14" height="14" rx="2" fill="%s"/>' % (x, y - 11, color_of(n)))
        if n.startswith("ref"):
            out.append('<rect x="%.1f" y="%.1f" width="14" height="14" rx="2" fill="url(#hatch)"/>' % (x, y - 11))
        out.append(text(x + 20, y, lbl, 12, "start"))
        x += w
    return out


def bar_panel(x0, y0, w, h, groups, series, values, y_title, fmt, sublabels=None, clip=False):
    """Grouped bars. values[(group, series)] = dict(v=, lo=, hi=, fail=).
    Only series with a value in a group take a slot there, so groups differ in width.
    clip: bars far above the rest are cut at the top with a break mark and labelled."""
    out = []
    vals = [d["v"] for d in values.values() if d.get("v") is not None]
    if not vals:
        return [text(x0 + w / 2, y0 + h / 2, "no data", 14)]
    top = max([d.get("hi") or d["v"] for d in values.values() if d.get("v") is not None])
    cap = None
    if clip and len(vals) >= 3:
        med = statistics.median(vals)
        normal = [v for v in vals if v <= 5 * med]
        if len(normal) < len(vals):
            cap = max(normal) * 1.35
            top = cap
    ticks = nice_ticks(top * 1.08)
    ymax = ticks[-1]
    sy = lambda v: y0 + h - (min(v, ymax) / ymax) * h
    # grid + y axis
    for t in ticks:
        y = sy(t)
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>'
                   % (x0, y, x0 + w, y, "#444" if t == 0 else "#e3e3e3"))
        out.append(text(x0 - 8, y + 4, fmt_tick(t), 11, "end", fill="#555"))
    out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>' % (x0, y0, x0, y0 + h))
    out.append(text(x0 - 52, y0 + h / 2, y_title, 12, extra=' transform="rotate(-90 %.1f %.1f)"'
                    % (x0 - 52, y0 + h / 2)))
    # slots
    slots = {g: [s for s in series if (g, s) in values] for g in groups}
    gap = 1.4  # in bar units, between groups
    units = sum(len(v) for v in slots.values()) + gap * len(groups)
    unit = w / units
    bw = unit * 0.82
    x = x0 + unit * gap / 2
    for g in groups:
        gx0 = x
        for s in slots[g]:
            d = values[(g, s)]
            cx = x + unit / 2
            if d.get("v") is None:
                out.append(text(cx, y0 + h - 6, d.get("fail", "FAIL"), 10, fill="#b00",
                                extra=' transform="rotate(-90 %.1f %.1f)"' % (cx + 4, y0 + h - 6)))
                x += unit
                continue
            v = d["v"]
            yb = sy(v)
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>'
                       % (cx - bw / 2, yb, bw, y0 + h - yb, color_of(s), escape(g), escape(s), fmt(v)))
            if s.startswith("ref"):
                out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="url(#hatch)"/>'
                           % (cx - bw / 2, yb, bw, y0 + h - yb))
            clipped = cap is not None and v > ymax
            if clipped:  # break mark: white zig-zag across the bar near the top
                yz = y0 + 16
                out.append('<polyline points="%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="none" '
                           'stroke="white" stroke-width="3"/>'
                           % (cx - bw / 2 - 1, yz + 3, cx - bw / 6, yz - 3, cx + bw / 6, yz + 3, cx + bw / 2 + 1, yz - 3))
            elif d.get("lo") is not None and d.get("hi") is not None and d["hi"] > d["lo"]:
                y1, y2 = sy(d["lo"]), sy(d["hi"])
                out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333" stroke-width="1"/>'
                           % (cx, y1, cx, y2))
                for yy in (y1, y2):
                    out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333" stroke-width="1"/>'
                               % (cx - 3, yy, cx + 3, yy))
            label_y = (min(yb, sy(d["hi"])) if (d.get("hi") and not clipped) else yb) - 4
            lbl = fmt(v)
            if clipped:
                out.append(text(cx, yb + 34, lbl, 11, weight="bold", fill="white"))
            else:
                out.append(text(cx, label_y, lbl, 11 if bw >= 26 else 9,
                                weight="bold" if s == CANDIDATE else "normal"))
            x += unit
        gx1 = x
        out.append(text((gx0 + gx1) / 2, y0 + h + 18, g, 13, weight="bold"))
        if sublabels and sublabels.get(g):
            out.append(text((gx0 + gx1) / 2, y0 + h + 34, sublabels[g], 11, fill="#555"))
        x += unit * gap
    return out


# ----------------------------------------------------------------------------- charts
def header(d, note, bulk=True):
    m, c = d.get("machine", {}), d.get("config", {})
    size = c.get("size")
    parts = ["%s UTC" % m.get("date_utc", "?")]
    if note:
        parts.append(note)
    parts.append("%s cores, %s, Linux %s" % (m.get("nproc", "?"), m.get("cpu", "?"), m.get("uname_r", "?")))
    if size and bulk:
        parts.append("%s per transfer, %s reps, sink %s" % (fmt_size(size), c.get("reps"), c.get("sink")))
    return " | ".join(parts)


def fmt_size(n):
    for u, f in (("GiB", GiB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= f:
            return ("%g %s" % (n / f, u))
    return "%d B" % n


def throughput_svg(d, note):
    R = d["results"]
    base_name = d.get("config", {}).get("baseline", "nc")
    groups = [g for g in BULK if g in R]
    order = tool_order({g: R[g] for g in groups})
    values, subl = {}, {}
    for g in groups:
        size = R[g]["meta"]["size"]
        ents = R[g]["entries"]
        for n in order:
            e = ents.get(n)
            if not e or e.get("status") == "n/a":
                continue
            if not has_value(e):
                values[(g, n)] = {"v": None, "fail": "FAIL"}
                continue
            s = e["summary"]
            values[(g, n)] = {"v": size / GiB / s["median"], "lo": size / GiB / s["max"],
                              "hi": size / GiB / s["min"]}
        r = paired_ratio(ents.get(CANDIDATE), ents.get(base_name))
        if r:
            subl[g] = "rnc time = %.2f\u00d7 %s's" % (r, base_name)
    W, H = 1100, 540
    body = [text(24, 30, "Loopback throughput by scenario and tool (GiB/s, higher is better)", 18, "start", "bold"),
            text(24, 50, header(d, note), 11.5, "start", fill="#555")]
    series = [n for n in order if any((g, n) in values for g in groups)]
    body += legend(series, W - 20, 78)
    body += bar_panel(84, 104, W - 84 - 20, H - 104 - 70, groups, series, values,
                      "GiB/s = size / median wall time", lambda v: "%.2f" % v, subl)
    body.append(text(24, H - 12, "Bars: median of timed reps; whiskers: fastest and slowest rep. "
                     "Wall time from client spawn until both sides have exited. "
                     "Hatched bars are references (machine limits).", 11, "start", fill="#666"))
    return svg_doc(W, H, body)


def latency_svg(d, note):
    R = d["results"]
    base_name = d.get("config", {}).get("baseline", "nc")
    W, H = 1100, 520
    body = [text(24, 30, "Interactive cost: latency added per round trip and startup (lower is better)",
                 18, "start", "bold"),
            text(24, 50, header(d, note, bulk=False) + "".join(
                 " | %s: %s \u00d7 %s" % (g, R[g]["meta"].get("batches"), R[g]["meta"].get("n_per_batch"))
                 for g in ("latency", "startup") if g in R),
                 11.5, "start", fill="#555")]
    allnames = []
    panels = []
    lat_groups = [g for g in ("latency", "udp-latency") if g in R]
    lv, ls = {}, {}
    for g in lat_groups:
        ents = R[g]["entries"]
        for n, e in ents.items():
            if n.startswith("ref") or e.get("status") == "n/a":
                continue
            if "added_us" in e:
                lv[(g, n)] = {"v": max(e["added_us"], 0.0)}
            elif not has_value(e):
                lv[(g, n)] = {"v": None}
            if n not in allnames:
                allnames.append(n)
        if CANDIDATE in ents and base_name in ents and ents[base_name].get("added_us"):
            a = ents[CANDIDATE].get("added_us")
            if a is not None:
                ls[g] = "rnc adds %.2f\u00d7 %s's" % (a / ents[base_name]["added_us"], base_name)
    st_groups = [g for g in ("startup", "connect-z") if g in R]
    sv, ss = {}, {}
    for g in st_groups:
        ents = R[g]["entries"]
        for n, e in ents.items():
            if e.get("status") == "n/a":
                continue
            sv[(g, n)] = {"v": e["summary"]["median"]} if has_value(e) else {"v": None}
            if n not in allnames:
                allnames.append(n)
        r = paired_ratio(ents.get(CANDIDATE), ents.get(base_name))
        if r:
            ss[g] = "rnc = %.2f\u00d7 %s's" % (r, base_name)
        elif CANDIDATE in ents and ents[CANDIDATE].get("status") == "n/a":
            ss[g] = "rnc: not measured"
    names = [n for n in allnames if not n.startswith("ref")] + [n for n in allnames if n.startswith("ref")]
    body += legend(names, W - 20, 78)
    pw = (W - 84 - 20 - 90) / 2
    if lat_groups:
        body.append(text(84 + pw / 2, 104, "latency added per round trip (\u00b5s over direct socket)", 13, weight="bold"))
        body += bar_panel(84, 120, pw, H - 120 - 70, lat_groups, names, lv, "+\u00b5s per round trip (median)",
                          lambda v: "%.0f" % v, ls)
    if st_groups:
        x1 = 84 + pw + 90
        body.append(text(x1 + pw / 2, 104, "spawn + connect + one line + exit (ms)", 13, weight="bold"))
        body += bar_panel(x1, 120, pw, H - 120 - 70, st_groups, names, sv, "ms per run (median)",
                          lambda v: ("%.2f" % v) if v < 10 else "%.0f" % v, ss, clip=True)
    body.append(text(24, H - 12, "+\u00b5s = tool's median round trip minus the direct-socket median "
                     "(64-byte line, echo server). Bars cut with a zig-zag are off the scale; "
                     "their label gives the value.", 11, "start", fill="#666"))
    return svg_doc(W, H, body)


# ----------------------------------------------------------------------------- tables
def md_ratios(d):
    R = d["results"]
    base_name = d.get("config", {}).get("baseline", "nc")
    scen = [s for s in R if s != "semantics"]
    names = [n for n in tool_order({s: R[s] for s in scen}) if n not in ("ref-direct",)]
    out = ["| scenario | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for s in scen:
        ents = R[s]["entries"]
        row = []
        for n in names:
            e = ents.get(n)
            if not e or e.get("status") == "n/a":
                row.append("")
            elif not has_value(e):
                row.append("FAIL")
            else:
                r = paired_ratio(e, ents.get(base_name))
                row.append(("**%.2f**" if n == CANDIDATE else "%.2f") % r if r else "-")
        out.append("| %s | %s |" % (s, " | ".join(row)))
    return "\n".join(out)


def md_targets(d):
    R = d["results"]
    b = d.get("config", {}).get("baseline", "nc")
    rows = []

    def add(target, measured, ok):
        rows.append("| %s | %s | %s |" % (target, measured, {True: "met", False: "**not met**", None: "not measured"}[ok]))

    def ent(s, n):
        return R.get(s, {}).get("entries", {}).get(n)

    sink = d.get("config", {}).get("sink")
    for s in BULK:
        r = paired_ratio(ent(s, CANDIDATE), ent(s, b))
        if r is None:
            add("%s: rnc time \u2264 0.65\u00d7 %s's" % (s, b), "-", None)
            continue
        add("%s: rnc time \u2264 0.65\u00d7 %s's" % (s, b), "%.2f\u00d7" % r, r <= 0.65)
        sp = ent(s, "ref-splice")
        if has_value(sp):
            r2 = paired_ratio(ent(s, CANDIDATE), sp)
            add("%s: rnc within 5%% of ref-splice (\u2264 1.05\u00d7)" % s, "%.2f\u00d7" % r2, r2 <= 1.05)
    exact, checked = True, 0
    for s in BULK:
        e = ent(s, CANDIDATE)
        if not e or e.get("status") == "n/a":
            continue
        checked += 1
        v = e.get("verify") or {}
        if e.get("status") != "ok" or not v.get("sha256_ok") or not all(x.get("ok") for x in e.get("runs", [])):
            exact = False
    add("every bulk run of rnc byte-exact",
        "sha256 of the verification run, %s" % ("byte count of every timed run" if sink == "pipe"
                                                 else "timed runs: exit status only (--sink null)"),
        exact if checked else None)
    lat_n, lat_r = ent("latency", b), ent("latency", CANDIDATE)
    if lat_n and lat_r and lat_n.get("added_us") and "added_us" in lat_r:
        q = lat_r["added_us"] / lat_n["added_us"]
        add("latency added per round trip \u2264 0.75\u00d7 %s's" % b,
            "%+.1f \u00b5s vs %+.1f \u00b5s = %.2f\u00d7" % (lat_r["added_us"], lat_n["added_us"], q), q <= 0.75)
    else:
        add("latency added per round trip \u2264 0.75\u00d7 %s's" % b, "-", None)
    for s, what in (("startup", "startup + connect + one line"), ("connect-z", "`-z` connect")):
        e = ent(s, CANDIDATE)
        r = paired_ratio(e, ent(s, b)) if has_value(e) else None
        add("%s \u2264 1.1\u00d7 %s's" % (what, b),
            ("%.2f ms vs %.2f ms = %.2f\u00d7" % (e["summary"]["median"], ent(s, b)["summary"]["median"], r))
            if r else "-", (r <= 1.1) if r else None)
    rss = []
    for s in BULK:
        e = ent(s, CANDIDATE)
        if has_value(e):
            for k in ("rss_L", "rss_C"):
                if e.get(k):
                    rss.append(e[k]["max"])
    if rss:
        add("peak RSS \u2264 4 MiB (flat from 100 MiB to 2 GiB: compare two runs' sizes)",
            "%.1f MiB max, either side, at %s" % (max(rss) / 1024, fmt_size(d["config"]["size"])),
            max(rss) <= 4096)
    cpu = []
    for s in BULK:
        er, en = ent(s, CANDIDATE), ent(s, b)
        if has_value(er) and has_value(en) and er.get("cpu_L") and en.get("cpu_L"):
            gib = R[s]["meta"]["size"] / GiB
            cr = (er["cpu_L"]["median"] + er["cpu_C"]["median"]) / gib
            cn = (en["cpu_L"]["median"] + en["cpu_C"]["median"]) / gib
            cpu.append((s, cr, cn, cr / cn))
    if cpu:
        worst = max(x[3] for x in cpu)
        add("CPU s per GiB (user+sys, both sides) \u2264 0.6\u00d7 %s's" % b,
            ", ".join("%s %.2f\u00d7 (%.3f vs %.3f s/GiB)" % (x[0], x[3], x[1], x[2]) for x in cpu), worst <= 0.6)
    ur, un = ent("udp", CANDIDATE), ent("udp", b)
    if has_value(ur) and has_value(un):
        g = ur["summary"]["median"] / un["summary"]["median"]
        lr, ln = ur["loss_pct"]["median"], un["loss_pct"]["median"]
        add("UDP goodput \u2265 %s's with no more loss" % b,
            "%.0f vs %.0f MiB/s (%.2f\u00d7); loss %.1f%% vs %.1f%%" % (ur["summary"]["median"], un["summary"]["median"], g, lr, ln),
            g >= 1.0 and lr <= ln)
    return "\n".join(["| target (issue 4) | measured in this run | |", "|---|---|---|"] + rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", help="netbench.py --json output")
    ap.add_argument("--out", default=None, help="directory for the SVGs (default: beside the JSON file)")
    ap.add_argument("--note", default="", help="text for the chart subtitle, e.g. the rnc commit")
    ap.add_argument("--no-tables", action="store_true", help="do not print the Markdown tables")
    a = ap.parse_args()
    with open(a.json) as f:
        d = json.load(f)
    out = a.out or os.path.dirname(os.path.abspath(a.json))
    os.makedirs(out, exist_ok=True)
    written = []
    if any(s in d.get("results", {}) for s in BULK):
        p = os.path.join(out, "throughput.svg")
        with open(p, "w") as f:
            f.write(throughput_svg(d, a.note))
        written.append(p)
    if any(s in d.get("results", {}) for s in ("latency", "udp-latency", "startup", "connect-z")):
        p = os.path.join(out, "latency.svg")
        with open(p, "w") as f:
            f.write(latency_svg(d, a.note))
        written.append(p)
    for p in written:
        print("plot: wrote %s" % p, file=sys.stderr)
    if not a.no_tables:
        print("### Paired ratios to %s (time, µs or ms: lower is better; udp goodput: higher is better)\n"
              % d.get("config", {}).get("baseline", "nc"))
        print(md_ratios(d))
        print("\n### Targets\n")
        print(md_targets(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
