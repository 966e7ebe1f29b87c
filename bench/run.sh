#!/usr/bin/env bash
# Whole-process benchmark: release rnc against nc, ncat and socat in one interleaved run.
#
#   bench/run.sh                  full run (2 GiB transfers, 5 reps, ~6 min on 2 cores) -> docs/perf/
#   bench/run.sh --quick          smoke run (256 MiB, 3 reps, < 90 s)                  -> target/bench-quick/
#   bench/run.sh --install        first apt-get install the missing peers (netcat-openbsd ncat socat iperf3)
#   bench/run.sh --out DIR ...    write results elsewhere
#   bench/run.sh -- ARGS...       anything else is passed to netbench.py, e.g.
#   bench/run.sh --scenarios tcp-upload,latency --reps 9
#
# The harness is netbench.py from the shared folder beside the repo (../shared/bench/netbench.py),
# or the file named by $NETBENCH. Output: OUT/latest.json (every raw run), OUT/latest.txt (the
# summary), OUT/throughput.svg and OUT/latency.svg (bench/plot.py), OUT/targets.md (ratios and
# the targets of issue 4). Compare ratios within one run only: absolute times drift between runs.
# Linux only; needs python3 >= 3.10. Never part of `cargo test`.
set -euo pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

install=0 quick=0 out="" pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --install) install=1 ;;
        --quick) quick=1; pass+=(--quick) ;;
        --out) out=${2:?--out needs a directory}; shift ;;
        --out=*) out=${1#--out=} ;;
        -h|--help) usage; exit 0 ;;
        --) shift; pass+=("$@"); break ;;
        *) pass+=("$1") ;;
    esac
    shift
done
[ -n "$out" ] || { if [ "$quick" = 1 ]; then out=target/bench-quick; else out=docs/perf; fi; }

die() { echo "bench/run.sh: $*" >&2; exit 2; }

[ "$(uname -s)" = Linux ] || die "netbench needs Linux (/proc/net, splice, pidfd_open)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null \
    || die "netbench needs python3 >= 3.10"

# --- the harness
nb=${NETBENCH:-}
if [ -z "$nb" ] && [ -f "$(dirname "$root")/shared/bench/netbench.py" ]; then
    nb="$(dirname "$root")/shared/bench/netbench.py"
fi
if [ -z "$nb" ] || [ ! -f "$nb" ]; then
    die "netbench.py not found${nb:+ at $nb}.
  It is the project's shared harness, kept in the shared/ folder that sits beside this repo
  (expected at $(dirname "$root")/shared/bench/netbench.py). Put a copy there, or point to it:
      NETBENCH=/path/to/netbench.py bench/run.sh"
fi

# --- the peers
declare -A pkg_of=([nc]=netcat-openbsd [ncat]=ncat [socat]=socat [iperf3]=iperf3)
missing=()
for t in nc ncat socat iperf3; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$install" = 1 ]; then
        pkgs=(); for t in "${missing[@]}"; do pkgs+=("${pkg_of[$t]}"); done
        sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
        echo "bench/run.sh: installing ${pkgs[*]}" >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}"
    else
        echo "bench/run.sh: not installed: ${missing[*]} (netbench skips them; --install adds them)" >&2
    fi
fi

# --- rnc
cargo build --release --quiet
rnc="$root/target/release/rnc"
[ -x "$rnc" ] || die "cargo build --release did not produce $rnc"

commit=unknown
if git -C "$root" rev-parse --short HEAD >/dev/null 2>&1; then
    commit=$(git -C "$root" rev-parse --short HEAD)
    # uncommitted changes to what the binary is built from
    if [ -n "$(git -C "$root" status --porcelain -- src Cargo.toml Cargo.lock build.rs 2>/dev/null)" ]; then
        commit="$commit+dirty"
    fi
fi

# rnc as netbench defines it, plus its -z template so connect-z measures rnc too.
# A --tools-file given by the caller comes later on the command line and wins.
work=$(mktemp -d "${TMPDIR:-/tmp}/rnc-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Run a private copy, so a rebuild of target/release during the run cannot change the binary.
cp "$rnc" "$work/rnc"
rnc_sum=$(sha256sum "$work/rnc" | cut -c1-12)
tools="$work/tools.json"
cat >"$tools" <<'EOF'
{"rnc": {"bin": "$RNC",
         "listen": "{bin} -l {host} {port}", "connect": "{bin} {host} {port}",
         "udp_listen": "{bin} -u -l {host} {port}", "udp_connect": "{bin} -u {host} {port}",
         "unix_listen": "{bin} -l -U {path}", "unix_connect": "{bin} -U {path}",
         "zero_io": "{bin} -z {host} {port}"}}
EOF

# --json given by the caller wins; the plot reads whichever file was written.
json="$out/latest.json"
for ((i = 0; i < ${#pass[@]}; i++)); do
    case "${pass[$i]}" in
        --json) json=${pass[$((i + 1))]:-$json} ;;
        --json=*) json=${pass[$i]#--json=} ;;
    esac
done

mkdir -p "$out"
txt="$out/latest.txt"
echo "bench/run.sh: rnc $commit ($rnc), harness $nb, results in $out/" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
set +e
RNC="$work/rnc" python3 "$nb" --sink null --tools-file "$tools" --json "$json" "${pass[@]}" >"$work/summary.txt"
rc=$?
set -e
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "rnc commit $commit (binary sha256 $rnc_sum); load average before $load_before, after $load_after"
    echo "command: RNC=target/release/rnc python3 netbench.py --sink null --tools-file <rnc+zero_io> --json $json ${pass[*]}"
    echo
    cat "$work/summary.txt"
} >"$txt"
cat "$txt"

if [ -f "$json" ]; then
    python3 "$root/bench/plot.py" "$json" --out "$out" --note "rnc $commit" >"$out/targets.md"
    echo
    cat "$out/targets.md"
else
    echo "bench/run.sh: no $json written; no plot" >&2
fi
# netbench exits 1 when a tool failed somewhere (see Failures in the summary)
exit $rc
