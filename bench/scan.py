#!/usr/bin/env python3
"""Port-scan benchmark: `rnc -z` against `nc -z`, side by side in one run (issue 12).

    bench/scan.py                  5 reps on loopback, 100 filtered ports for nc (~2.5 min)
    bench/scan.py --quick          3 reps, 20 filtered ports for nc (~40 s)
    bench/scan.py --reps 9 --nc-filtered 100 --json out.json

1. loopback: `-z 127.0.0.1 1-65535`, rnc and nc interleaved (rnc nc rnc nc ...). Nearly
   every port refuses at once, so this measures the cost of a probe. Untimed first, one
   `-v` run of each lists the open ports, and the two lists must agree (the machine's own
   listeners; a port that opens or closes between the runs shows as a difference).
2. filtered: in a private network namespace (`unshare -n`, root; `unshare -rn` otherwise)
   where nftables drops SYNs to 127.0.0.1 ports 20000-20999, `rnc -z -w 1` over all 1,000
   and `nc -z -w 1` over the first --nc-filtered of them (nc spends one `-w` on each, so
   1,000 would take 1,000 s); nc's time for 1,000 is extrapolated (linearly) and marked so.
   Each run includes setting the namespace up (`ns-setup` row: the same with `true`).

Reported: median wall seconds (min-max), user+system CPU seconds of the scanning process
(wait4), and rnc/nc (the median of the paired ratios). Compare within one run only. Linux only, needs
root or unprivileged user namespaces for part 2; never part of `cargo test`.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILTERED = (20000, 20999)
NFT_RULES = f"""table inet rnc_scan_bench {{
    chain input {{
        type filter hook input priority 0; policy accept;
        ip daddr 127.0.0.1 tcp dport {FILTERED[0]}-{FILTERED[1]} tcp flags & (syn | ack) == syn drop
    }}
}}"""


def run(argv, timeout):
    """Run argv with no stdin, stdout dropped; (wall s, exit code, stderr)."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise SystemExit(f"bench/scan.py: timed out after {timeout} s: {' '.join(argv)}")
    return time.monotonic() - started, proc.returncode, err.decode(errors="replace")


def run_measured(argv, timeout):
    """Like `run`, but reaps with wait4 for the process's CPU time. (Not its peak RSS:
    Linux carries ru_maxrss across exec, so a child forked from Python reports Python's.)"""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise SystemExit(f"bench/scan.py: timed out after {timeout} s: {' '.join(argv)}")
        time.sleep(0.002)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rc": proc.returncode}


def in_namespace(argv):
    """argv run in a fresh network namespace with the SYN-dropping rules."""
    flag = "-n" if os.geteuid() == 0 else "-rn"
    script = ("ip link set lo up && nft -f - <<'EOF' || exit 97\n" + NFT_RULES +
              "\nEOF\nexec \"$@\"")
    return ["unshare", flag, "sh", "-c", script, "sh", *argv]


def open_ports(argv, pattern_open):
    """The open ports a `-v` scan reports (untimed)."""
    _, rc, err = run(argv, timeout=600)
    ports = set()
    for line in err.splitlines():
        if pattern_open in line:
            words = line.split()
            at = words.index("127.0.0.1")
            ports.add(int(words[at + 1]))
    return ports, rc


def listening_ports():
    """TCP ports listening on 127.0.0.1 or every address, from /proc/net/tcp{,6}."""
    ports = set()
    for path, local in (("/proc/net/tcp", ("0100007F", "00000000")),
                        ("/proc/net/tcp6", ("0" * 32, "0000000000000000FFFF00000100007F"))):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    addr, port = fields[1].split(":")
                    if fields[3] == "0A" and addr in local:
                        ports.add(int(port, 16))
        except FileNotFoundError:
            pass
    return ports


def summary(runs):
    walls = [r["wall"] for r in runs]
    return {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
            "cpu_s": statistics.median(r["cpu"] for r in runs),
            "exit": sorted({r["rc"] for r in runs}), "reps": len(runs)}


def row(name, s, extra=""):
    print(f"{name:<28} {s['median_s']:8.3f} s  ({s['min_s']:.3f}-{s['max_s']:.3f})"
          f"  cpu {s['cpu_s']:6.3f} s"
          f"  exit {','.join(map(str, s['exit']))}  x{s['reps']}{extra}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--nc-filtered", type=int, default=100,
                    help="filtered ports nc scans (one -w each); its time is extrapolated")
    ap.add_argument("--quick", action="store_true", help="--reps 3 --nc-filtered 20")
    ap.add_argument("--skip-filtered", action="store_true")
    ap.add_argument("--json", help="write the raw runs here")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.nc_filtered = 3, 20
    rnc = os.environ.get("RNC") or os.path.join(ROOT, "target/release/rnc")
    if not os.environ.get("RNC"):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    nc = shutil.which("nc") or sys.exit("bench/scan.py: nc is not installed")
    print(f"rnc: {rnc}\nnc:  {nc} ({os.path.realpath(nc)})")
    print(f"cpus: {os.cpu_count()}, open-file limit: {os.popen('ulimit -n').read().strip()}")
    results = {}

    # 1. Loopback, every port.
    before = listening_ports()
    rnc_open, _ = open_ports([rnc, "-v", "-z", "127.0.0.1", "1-65535"], "succeeded")
    nc_open, _ = open_ports([nc, "-v", "-z", "127.0.0.1", "1-65535"], "succeeded!")
    listening = before | listening_ports()
    agree = "agree" if rnc_open == nc_open else "differ"
    print(f"\nloopback 1-65535: open ports rnc {len(rnc_open)}, nc {len(nc_open)}: {agree}")
    for name, found in (("rnc", rnc_open), ("nc", nc_open)):
        ghosts = sorted(found - listening)
        if ghosts:
            print(f"  {name} reported open with no listener before or after: {ghosts}"
                  " (a connect that met itself: source port = destination port)")
    for name, found, other in (("rnc", rnc_open, nc_open), ("nc", nc_open, rnc_open)):
        missed = sorted((other & listening) - found)
        if missed:
            print(f"  {name} did not report listening ports {missed}"
                  " (listeners of other programs may come and go during the run)")
    runs = {"rnc": [], "nc": []}
    for _ in range(args.reps):
        runs["rnc"].append(run_measured([rnc, "-z", "127.0.0.1", "1-65535"], 600))
        runs["nc"].append(run_measured([nc, "-z", "127.0.0.1", "1-65535"], 600))
    s_rnc, s_nc = summary(runs["rnc"]), summary(runs["nc"])
    ratios = [r["wall"] / n["wall"] for r, n in zip(runs["rnc"], runs["nc"])]
    row("rnc -z 127.0.0.1 1-65535", s_rnc, f"  rnc/nc {statistics.median(ratios):.2f}")
    row("nc -z 127.0.0.1 1-65535", s_nc)
    results["loopback"] = {"runs": runs, "rnc": s_rnc, "nc": s_nc,
                           "paired_ratio": statistics.median(ratios), "open_ports_agree": agree}

    # 2. Filtered ports in a namespace of our own.
    if not args.skip_filtered:
        if not shutil.which("nft") or not shutil.which("unshare"):
            sys.exit("bench/scan.py: needs nft (apt-get install nftables) and unshare")
        probe = run_measured(in_namespace(["true"]), 60)
        if probe["rc"] != 0:
            sys.exit("bench/scan.py: cannot build the network namespace (rc "
                     f"{probe['rc']}); run as root or allow user namespaces")
        low, high = FILTERED
        nc_high = low + args.nc_filtered - 1
        runs = {"setup": [], "rnc": [], "nc": []}
        for _ in range(args.reps):
            runs["setup"].append(run_measured(in_namespace(["true"]), 60))
            runs["rnc"].append(run_measured(
                in_namespace([rnc, "-z", "-w", "1", "127.0.0.1", f"{low}-{high}"]), 120))
        # nc spends -w on each port: one rep of a hundred ports is already 100 s.
        runs["nc"].append(run_measured(
            in_namespace([nc, "-z", "-w", "1", "127.0.0.1", f"{low}-{nc_high}"]),
            10 * args.nc_filtered + 60))
        s_setup, s_rnc, s_nc = (summary(runs[k]) for k in ("setup", "rnc", "nc"))
        per_port = s_nc["median_s"] / args.nc_filtered
        extrapolated = per_port * (high - low + 1)
        print(f"\n1,000 filtered ports (127.0.0.1 {low}-{high}, SYNs dropped), -w 1:")
        row("ns-setup (true)", s_setup)
        row(f"rnc -z -w 1 ({high - low + 1} ports)", s_rnc,
            f"  rnc/nc(extrapolated) {s_rnc['median_s'] / extrapolated:.4f}")
        row(f"nc -z -w 1 ({args.nc_filtered} ports)", s_nc,
            f"  = {per_port:.3f} s/port -> {extrapolated:.0f} s for 1,000 (extrapolated)")
        results["filtered"] = {"runs": runs, "setup": s_setup, "rnc": s_rnc, "nc": s_nc,
                               "nc_ports": args.nc_filtered,
                               "nc_extrapolated_1000_s": extrapolated}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
