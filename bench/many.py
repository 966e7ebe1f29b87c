#!/usr/bin/env python3
"""Many clients on one listener: rnc against ncat, side by side in one run, on loopback.

    python3 bench/many.py                      # all scenarios (about 2 min on 2 cores)
    python3 bench/many.py --scenarios broker   # one of: broker, fanout, echo-bulk, echo-short
    RNC=target/release/rnc python3 bench/many.py --clients 10000 --json out.json

Scenarios (issue 12):
  broker      N idle clients on `--broker` (10,000 by default), one more sends a 64-byte
              message: time until all N have it, the listener's RSS with N idle clients and
              its peak. ncat is run with the same N: it aborts past FD_SETSIZE (~1,020
              clients) or stops relaying, which is reported as what it delivered.
  fanout      1,000 clients, 100 messages of 64 bytes from one sender, 5 ms apart: delivery
              latency per message and client, p50 and p99.
  echo-bulk   `-lk -e /bin/cat` vs `ncat -lk -e /bin/cat`: 256 MiB through the program and back.
  echo-short  the same servers: 1,000 connections (8 at a time), each one line and its echo,
              read before the client closes: connections per second.
  echo-seq    the same, one connection after another.

Only loopback. Needs Python >= 3.10, the standard library, and an open-file limit above N
(`ulimit -n`, in each process; the script raises its soft limit to the hard one). Never part of `cargo test`.
"""

import argparse
import contextlib
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNC = os.environ.get("RNC", os.path.join(ROOT, "target/release/rnc"))
# No byte for this long: the transfer is reported as stalled.
STALL_S = 10.0


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd):
    """A listener with stdin /dev/null and stdout discarded; waits until it listens."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    return proc


def wait_listening(port, proc, limit=10.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"listener exited: {proc.stderr.read().decode(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("listener never listened")


def interleaved(reps):
    """(rep, tool) in the order they run: rnc, ncat, rnc, ncat, …"""
    for rep in range(reps):
        for name in ("rnc", "ncat"):
            yield rep, name


@contextlib.contextmanager
def listener(commands, name):
    """`name`'s listener from `commands(port)` on a free port, up and listening; stopped
    when the block ends, however it ends."""
    port = free_port()
    proc = start(commands(port)[name])
    try:
        wait_listening(port, proc)
        yield port, proc
    finally:
        stop(proc)


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def connect_many(port, n, deadline, batch=500):
    """n connected, non-blocking sockets, connected `batch` at a time (fewer if the
    listener stops taking them: a batch that does not complete within 5 s ends it)."""
    socks = []
    while len(socks) < n and time.monotonic() < deadline:
        pending = []
        for _ in range(min(batch, n - len(socks))):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            pending.append(s)
        sel = selectors.DefaultSelector()
        for s in pending:
            sel.register(s, selectors.EVENT_WRITE)
        left = set(pending)
        end = min(deadline, time.monotonic() + 5)
        while left and time.monotonic() < end:
            for key, _ in sel.select(timeout=0.2):
                s = key.fileobj
                sel.unregister(s)
                left.discard(s)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    socks.append(s)
                else:
                    s.close()
        sel.close()
        for s in left:
            s.close()
        if left:
            break
        # Let the listener accept this batch before the next fills its backlog.
        time.sleep(0.05)
    return socks


def read_all(socks, want, limit):
    """Read from every socket until each has `want` bytes (or the limit). Returns the
    number that got all of it, and the time the last one completed."""
    sel = selectors.DefaultSelector()
    got = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        got[s] = 0
    done = 0
    last = None
    end = time.monotonic() + limit
    while done < len(socks) and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                continue
            before = got[s]
            got[s] += len(data)
            if before < want <= got[s]:
                done += 1
                last = time.monotonic()
                sel.unregister(s)
    sel.close()
    return done, last


def tools(port):
    return {
        "rnc": [RNC, "--broker", "-l", "127.0.0.1", str(port)],
        # ncat stops at 100 clients by default: lift that, to find its real ceiling.
        "ncat": ["ncat", "--broker", "-m", "100000", "-l", "127.0.0.1", str(port)],
    }


def scenario_broker(n, reps):
    rows = []
    for rep, name in interleaved(reps):
        with listener(tools, name) as (port, proc):
            t0 = time.monotonic()
            socks = connect_many(port, n, t0 + 120)
            connect_s = time.monotonic() - t0
            time.sleep(1.0)  # let the listener accept the backlog
            alive = proc.poll() is None
            idle_rss = rss_kib(proc.pid)
            sender = socket.create_connection(("127.0.0.1", port), timeout=2)
            time.sleep(0.5)
            msg = b"m" * 63 + b"\n"
            t1 = time.monotonic()
            try:
                sender.sendall(msg)
            except OSError:
                pass
            done, last = read_all(socks, len(msg), 30)
            deliver_s = (last - t1) if last else None
            peak = rss_kib(proc.pid, "VmHWM")
            rows.append({"scenario": "broker", "tool": name, "rep": rep, "clients": len(socks),
                         "delivered": done, "connect_s": round(connect_s, 3),
                         "deliver_s": round(deliver_s, 4) if deliver_s else None,
                         "idle_rss_kib": idle_rss, "peak_rss_kib": peak,
                         "alive_after_connect": alive,
                         "exited": proc.poll()})
            sender.close()
            for s in socks:
                s.close()
        print(json.dumps(rows[-1]), flush=True)
    return rows


def scenario_fanout(n, msgs, reps):
    rows = []
    for rep, name in interleaved(reps):
        with listener(tools, name) as (port, proc):
            socks = connect_many(port, n, time.monotonic() + 60)
            sender = socket.create_connection(("127.0.0.1", port), timeout=2)
            time.sleep(1.0)
            sent_at = {}
            lat = []
            sel = selectors.DefaultSelector()
            bufs = {}
            for s in socks:
                sel.register(s, selectors.EVENT_READ)
                bufs[s] = b""
            stop_at = time.monotonic() + 30
            seq = 0
            next_send = time.monotonic()
            received = 0
            while time.monotonic() < stop_at and received < msgs * len(socks):
                now = time.monotonic()
                if seq < msgs and now >= next_send:
                    line = f"{seq:08d}".encode() + b"x" * 55 + b"\n"
                    sent_at[seq] = time.monotonic()
                    try:
                        sender.sendall(line)
                    except OSError:
                        break  # the listener is gone: report what was delivered
                    seq += 1
                    next_send = now + 0.005
                for key, _ in sel.select(timeout=0.001):
                    s = key.fileobj
                    try:
                        data = s.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    t = time.monotonic()
                    if not data:
                        sel.unregister(s)
                        continue
                    bufs[s] += data
                    while len(bufs[s]) >= 64:
                        line, bufs[s] = bufs[s][:64], bufs[s][64:]
                        k = int(line[:8])
                        lat.append(t - sent_at[k])
                        received += 1
            sel.close()
            lat.sort()
            q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 3) if lat else None
            rows.append({"scenario": "fanout", "tool": name, "rep": rep, "clients": len(socks),
                         "listener_exited": proc.poll(),
                         "messages": msgs, "delivered": received,
                         "expected": msgs * len(socks), "p50_ms": q(0.5), "p99_ms": q(0.99)})
            sender.close()
            for s in socks:
                s.close()
        print(json.dumps(rows[-1]), flush=True)
    return rows


def echo_tools(port):
    return {
        "rnc": [RNC, "-lk", "-e", "/bin/cat", "127.0.0.1", str(port)],
        "ncat": ["ncat", "-lk", "-e", "/bin/cat", "127.0.0.1", str(port)],
    }


def scenario_echo_bulk(size, reps):
    rows = []
    block = os.urandom(1 << 16)
    for rep, name in interleaved(reps):
        with listener(echo_tools, name) as (port, proc):
            s = socket.create_connection(("127.0.0.1", port))
            # A server that deadlocks (it blocks writing to the program while the
            # program blocks writing back) is reported as stalled, not waited for.
            s.settimeout(STALL_S)
            t0 = time.monotonic()

            def send():
                left = size
                try:
                    while left > 0:
                        s.sendall(block[: min(left, len(block))])
                        left -= min(left, len(block))
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

            th = threading.Thread(target=send, daemon=True)
            th.start()
            got = 0
            stalled = False
            while True:
                try:
                    data = s.recv(1 << 20)
                except socket.timeout:
                    stalled = True
                    break
                if not data:
                    break
                got += len(data)
            secs = time.monotonic() - t0 - (STALL_S if stalled else 0)
            s.close()
            th.join(timeout=STALL_S)
            rows.append({"scenario": "echo-bulk", "tool": name, "rep": rep, "bytes": got,
                         "ok": got == size, "stalled": stalled, "secs": round(secs, 3),
                         "mib_s": round(size / secs / (1 << 20), 1) if not stalled else None})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def scenario_echo_short(conns, workers, reps, label):
    rows = []
    for rep, name in interleaved(reps):
        with listener(echo_tools, name) as (port, proc):
            failures = []

            def work(count, wid):
                for i in range(count):
                    line = f"worker {wid} request {i}\n".encode()
                    try:
                        s = socket.create_connection(("127.0.0.1", port), timeout=5)
                        s.sendall(line)
                        # Read the echo before closing: ncat -e drops a program's
                        # output once the client has half-closed (measured: every
                        # request of a client that sent its FIN first got nothing).
                        got = b""
                        while len(got) < len(line):
                            d = s.recv(4096)
                            if not d:
                                break
                            got += d
                        s.close()
                        if got != line:
                            failures.append(got)
                    except OSError as e:
                        failures.append(str(e))

            per = conns // workers
            t0 = time.monotonic()
            ths = [threading.Thread(target=work, args=(per, w)) for w in range(workers)]
            for t in ths:
                t.start()
            for t in ths:
                t.join()
            secs = time.monotonic() - t0
            rows.append({"scenario": label, "tool": name, "rep": rep,
                         "connections": per * workers, "failures": len(failures),
                         "secs": round(secs, 3), "per_s": round(per * workers / secs, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default="broker,fanout,echo-bulk,echo-short,echo-seq")
    ap.add_argument("--clients", type=int, default=10000)
    ap.add_argument("--fanout-clients", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    hard = raise_nofile()
    if hard < args.clients + 64:
        print(f"open-file limit {hard} is too low for {args.clients} clients", file=sys.stderr)
        return 2
    rows = []
    for sc in args.scenarios.split(","):
        if sc == "broker":
            rows += scenario_broker(args.clients, args.reps)
        elif sc == "fanout":
            rows += scenario_fanout(args.fanout_clients, 100, args.reps)
        elif sc == "echo-bulk":
            rows += scenario_echo_bulk(256 << 20, args.reps)
        elif sc == "echo-short":
            rows += scenario_echo_short(1000, 8, args.reps, "echo-short")
        elif sc == "echo-seq":
            rows += scenario_echo_short(1000, 1, args.reps, "echo-seq")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    # Medians per scenario and tool.
    print("\nmedians:")
    keys = {"broker": ["clients", "delivered", "deliver_s", "idle_rss_kib", "peak_rss_kib"],
            "fanout": ["clients", "delivered", "expected", "p50_ms", "p99_ms"],
            "echo-bulk": ["bytes", "stalled", "secs", "mib_s"],
            "echo-short": ["failures", "secs", "per_s"],
            "echo-seq": ["failures", "secs", "per_s"]}
    for sc, fields in keys.items():
        for tool in ["rnc", "ncat"]:
            sel = [r for r in rows if r["scenario"] == sc and r["tool"] == tool]
            if not sel:
                continue
            out = {}
            for f in fields:
                vals = [r[f] for r in sel if r.get(f) is not None]
                out[f] = statistics.median(vals) if vals else None
            print(f"  {sc:10s} {tool:5s} {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
