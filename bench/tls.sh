#!/usr/bin/env bash
# TLS bulk benchmark: rnc, ncat and socat each talking to itself over TLS on loopback, in
# one interleaved netbench run (issue 11's throughput figures).
#
#   bench/tls.sh                 1 GiB upload and download, 5 reps (~3 min on 2 cores)
#   bench/tls.sh --quick         256 MiB, 3 reps
#   bench/tls.sh -- ARGS...      anything else goes to netbench.py (--reps 9, --size 512M, ...)
#
# rnc -l --tls / rnc --tls, ncat --ssl / ncat -l --ssl, socat OPENSSL / OPENSSL-LISTEN, all
# with one throwaway certificate (EC P-256, for 127.0.0.1, not a CA: rustls refuses a CA certificate as a server's) made here with the openssl CLI,
# and each client verifying it. No cipher suite is forced: all three negotiate TLS 1.3 with
# AES-256-GCM by default (rustls and OpenSSL list it first); the run prints what rnc got.
# Reported: median seconds, the paired ratio to `ncat-ssl`, and CPU seconds of each side.
# Compare ratios within one run only. Linux only; never part of `cargo test`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
die() { echo "bench/tls.sh: $*" >&2; exit 2; }

size=1G reps=5 pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) size=256M reps=3 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --) shift; pass+=("$@"); break ;;
        *) pass+=("$1") ;;
    esac
    shift
done

nb=${NETBENCH:-$(dirname "$root")/shared/bench/netbench.py}
[ -f "$nb" ] || die "netbench.py not found at $nb (set NETBENCH)"
for t in openssl ncat socat; do
    command -v "$t" >/dev/null 2>&1 || die "$t is not installed (apt-get install openssl ncat socat)"
done

cargo build --release --quiet
work=$(mktemp -d "${TMPDIR:-/tmp}/rnc-tls-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp target/release/rnc "$work/rnc"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -addext basicConstraints=critical,CA:FALSE \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# What rnc negotiates with itself, for the record.
"$work/rnc" -l --tls --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" 127.0.0.1 0 \
    </dev/null >/dev/null 2>"$work/listener.err" &
for _ in $(seq 50); do grep -q 'listening on' "$work/listener.err" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/listener.err" | cut -d: -f2)
[ -n "$port" ] || die "the rnc TLS listener did not start: $(cat "$work/listener.err")"
echo "rnc negotiates: $("$work/rnc" -v --tls --tls-ca "$work/cert.pem" 127.0.0.1 "$port" \
    </dev/null 2>&1 >/dev/null | grep -i -m1 'tls' || echo '(not shown)')"
wait

c="$work/cert.pem" k="$work/key.pem"
cat >"$work/tools.json" <<EOF
{"rnc-tls": {"bin": "$work/rnc",
    "listen": "{bin} -l --tls --tls-cert $c --tls-key $k {host} {port}",
    "connect": "{bin} --tls --tls-ca $c {host} {port}"},
 "ncat-ssl": {"bin": "ncat",
    "listen": "{bin} -l --ssl --ssl-cert $c --ssl-key $k {host} {port}",
    "connect": "{bin} --ssl --ssl-verify --ssl-trustfile $c {host} {port}",
    "connect_send": "{bin} --ssl --ssl-verify --ssl-trustfile $c --send-only {host} {port}",
    "listen_send": "{bin} -l --ssl --ssl-cert $c --ssl-key $k --send-only {host} {port}",
    "connect_recv": "{bin} --ssl --ssl-verify --ssl-trustfile $c --recv-only {host} {port}"},
 "socat-ssl": {"bin": "socat",
    "listen_recv": "{bin} -u OPENSSL-LISTEN:{port},bind={host},reuseaddr,cert=$c,key=$k,verify=0 STDOUT",
    "connect_send": "{bin} -u STDIN OPENSSL:{host}:{port},cafile=$c",
    "listen_send": "{bin} -u STDIN OPENSSL-LISTEN:{port},bind={host},reuseaddr,cert=$c,key=$k,verify=0",
    "connect_recv": "{bin} -u OPENSSL:{host}:{port},cafile=$c STDOUT"}}
EOF

python3 "$nb" --tools-file "$work/tools.json" --tools ncat-ssl,socat-ssl,rnc-tls \
    --baseline ncat-ssl --refs none --scenarios tcp-upload,tcp-download \
    --size "$size" --reps "$reps" "${pass[@]}"
