#!/usr/bin/env python3
"""TLS latency and handshake benchmark (issue 11). Python 3 standard library only.

    python3 bench/tls_latency.py                 both parts, 5000 round trips and 100 handshakes per tool (~10 s)
    python3 bench/tls_latency.py --quick         fewer samples
    python3 bench/tls_latency.py --rnc PATH      another rnc binary (default: cargo build --release)

(a) Round-trip latency over TLS. A local TLS echo server (Python `ssl`, its own process,
TCP_NODELAY) and, for each client tool, one long-lived process with its stdin and stdout
on pipes: the driver writes a 64-byte line to the tool's stdin and times until the 64
echoed bytes are back on its stdout. Tools take turns in batches (interleaved, the order
rotated every round), so drift on the machine hits all of them alike. `python-ssl` is the
floor: the driver's own TLS socket to the same server, no tool and no pipes.

    rnc --tls --tls-ca CERT 127.0.0.1 PORT
    ncat --ssl --ssl-verify --ssl-trustfile CERT 127.0.0.1 PORT
    socat STDIO OPENSSL:127.0.0.1:PORT,cafile=CERT

(b) Connect + handshake + first byte. A TLS server (same kind) that sends a greeting line
as soon as a handshake completes. Per run: spawn the client, time until the greeting's
first byte arrives on the client's stdout, then end the client. Tools interleaved, many
runs, median and p90 in ms. The spawn (exec, dynamic linking, reading the CA file) is part
of the figure, as it is for a user.

    rnc --tls --tls-ca CERT 127.0.0.1 PORT
    openssl s_client -quiet -no_ign_eof -verify_return_error -CAfile CERT -connect 127.0.0.1:PORT
    ncat --ssl --ssl-verify --ssl-trustfile CERT 127.0.0.1 PORT
    socat STDIO OPENSSL:127.0.0.1:PORT,cafile=CERT

One throwaway certificate made with the openssl CLI: EC P-256, SAN IP:127.0.0.1,
basicConstraints=critical,CA:FALSE; every client verifies it. Every wait is bounded.
Compare ratios within one run only. Linux only; never part of `cargo test`.
"""

import argparse
import os
import select
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

LINE = 64
WAIT_S = 10.0


def serve(mode, cert, key):
    """The server process: print the port, then serve until stdin closes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)

    def handle(raw):
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(60)
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
            if mode == "greet":
                conn.sendall(b"hello from the TLS server\n")
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                if mode == "echo":
                    conn.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            raw.close()

    def accept_loop():
        while True:
            raw, _ = listener.accept()
            threading.Thread(target=handle, args=(raw,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    sys.stdin.read()


class Server:
    """A server process in `mode` (`echo` or `greet`)."""

    def __init__(self, mode, cert, key):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", mode, cert, key],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], WAIT_S)
        if not ready:
            raise SystemExit(f"the {mode} server did not start")
        self.port = int(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def read_exactly(fd, n, what):
    """n bytes from fd, each read bounded by WAIT_S."""
    got = b""
    while len(got) < n:
        ready, _, _ = select.select([fd], [], [], WAIT_S)
        if not ready:
            raise SystemExit(f"{what}: no reply within {WAIT_S} s")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise SystemExit(f"{what}: EOF after {len(got)} of {n} bytes")
        got += chunk
    return got


def end(proc):
    """End a client we started (SIGTERM, then SIGKILL), bounded."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def clients(rnc, cert, port, with_openssl):
    p = str(port)
    tools = {
        "rnc": [rnc, "--tls", "--tls-ca", cert, "127.0.0.1", p],
        "ncat": ["ncat", "--ssl", "--ssl-verify", "--ssl-trustfile", cert, "127.0.0.1", p],
        "socat": ["socat", "STDIO", f"OPENSSL:127.0.0.1:{p},cafile={cert}"],
    }
    if with_openssl:
        tools["openssl"] = [
            "openssl", "s_client", "-quiet", "-no_ign_eof", "-verify_return_error",
            "-CAfile", cert, "-connect", f"127.0.0.1:{p}",
        ]
    return tools


def pct(samples, q):
    s = sorted(samples)
    return s[max(0, min(len(s) - 1, int(round(q * len(s) + 0.5)) - 1))]


def latency(rnc, cert, key, rounds, batch):
    server = Server("echo", cert, key)
    tools = clients(rnc, cert, server.port, with_openssl=False)
    procs = {}
    line = (b"x" * (LINE - 1)) + b"\n"
    try:
        for name, argv in tools.items():
            procs[name] = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        ctx = ssl.create_default_context(cafile=cert)
        direct = ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.port), WAIT_S),
                                 server_hostname="127.0.0.1")
        direct.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def rt_direct():
            t0 = time.perf_counter_ns()
            direct.sendall(line)
            got = b""
            while len(got) < LINE:
                chunk = direct.recv(65536)
                if not chunk:
                    raise SystemExit("python-ssl: EOF")
                got += chunk
            return time.perf_counter_ns() - t0

        def rt_tool(name):
            proc = procs[name]
            fd_in, fd_out = proc.stdin.fileno(), proc.stdout.fileno()
            t0 = time.perf_counter_ns()
            os.write(fd_in, line)
            read_exactly(fd_out, LINE, name)
            return time.perf_counter_ns() - t0

        runners = {name: (lambda n=name: rt_tool(n)) for name in procs}
        runners["python-ssl"] = rt_direct
        names = list(runners)
        for name in names:  # warm-up, and a check that each one echoes
            for _ in range(50):
                runners[name]()
        samples = {name: [] for name in names}
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                for _ in range(batch):
                    samples[name].append(runners[name]() / 1000.0)
        direct.close()
    finally:
        for proc in procs.values():
            try:
                proc.stdin.close()
            except OSError:
                pass
            end(proc)
        server.close()
    return samples


def handshake(rnc, cert, key, runs):
    server = Server("greet", cert, key)
    tools = clients(rnc, cert, server.port, with_openssl=True)
    names = list(tools)
    samples = {name: [] for name in names}
    try:
        for r in range(runs + 2):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                t0 = time.perf_counter_ns()
                proc = subprocess.Popen(tools[name], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                try:
                    read_exactly(proc.stdout.fileno(), 1, name)
                    dt = (time.perf_counter_ns() - t0) / 1e6
                finally:
                    proc.stdin.close()
                    end(proc)
                if r >= 2:  # the first two rounds warm the page cache
                    samples[name].append(dt)
    finally:
        server.close()
    return samples


def make_cert(work):
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return cert, key


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(*sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rnc", help="rnc binary (default: cargo build --release)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=200, help="latency rounds (default 200)")
    ap.add_argument("--batch", type=int, default=25,
                    help="round trips per tool per round (default 25: small batches spread "
                    "bursts of other load over every tool)")
    ap.add_argument("--runs", type=int, default=100, help="handshake runs per tool (default 100)")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.batch, args.runs = 40, 25, 20
    for tool in ("openssl", "ncat", "socat"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install openssl ncat socat)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rnc = args.rnc
    if rnc is None:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=root, check=True)
        rnc = os.path.join(root, "target", "release", "rnc")
    with tempfile.TemporaryDirectory(prefix="rnc-tls-latency.") as work:
        cert, key = make_cert(work)
        print(f"rnc: {rnc}; {subprocess.run(['ncat', '--version'], capture_output=True, text=True).stderr.strip()}; "
              f"{subprocess.run(['socat', '-V'], capture_output=True, text=True).stdout.splitlines()[1].strip()}; "
              f"{subprocess.run(['openssl', 'version'], capture_output=True, text=True).stdout.strip()}")

        lat = latency(rnc, cert, key, args.rounds, args.batch)
        n = len(lat["rnc"])
        print(f"\n(a) round trip of a {LINE}-byte line over TLS, µs ({n} samples each, interleaved)")
        print(f"{'tool':<12}{'median':>10}{'p99':>10}{'rnc/tool median':>18}{'p99':>8}")
        for name, s in lat.items():
            med, p99 = statistics.median(s), pct(s, 0.99)
            rm = statistics.median(lat["rnc"]) / med
            rp = pct(lat["rnc"], 0.99) / p99
            print(f"{name:<12}{med:>10.1f}{p99:>10.1f}{rm:>18.2f}{rp:>8.2f}")

        hs = handshake(rnc, cert, key, args.runs)
        n = len(hs["rnc"])
        print(f"\n(b) spawn + connect + handshake + first byte, ms ({n} runs each, interleaved)")
        print(f"{'tool':<12}{'median':>10}{'p90':>10}{'rnc/tool':>10}")
        for name, s in hs.items():
            med = statistics.median(s)
            print(f"{name:<12}{med:>10.2f}{pct(s, 0.90):>10.2f}"
                  f"{statistics.median(hs['rnc']) / med:>10.2f}")


if __name__ == "__main__":
    main()
