#!/usr/bin/env python3
"""soak.py - run rnc for a long time and check that nothing drifts.

A `-k` listener serves client after client on loopback for --minutes. Each round also runs
one rnc client. Clients send random amounts of data (some reset mid-stream with SO_LINGER 0,
some vanish half-way), the listener's output is checked byte for byte against what the
good clients sent, and the listener's open fds and resident memory are sampled: both must
stay flat. Loopback only, bounded in time, stops by itself. Not part of `cargo test`.

    cargo build --release
    python3 bench/soak.py --minutes 10            # default: target/release/rnc
    python3 bench/soak.py --minutes 1 --rnc target/debug/rnc

Exit status 0 when every check held, 1 otherwise.
"""
import argparse
import hashlib
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_listener(rnc):
    proc = subprocess.Popen(
        [rnc, "-k", "-l", "127.0.0.1", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    line = b""
    deadline = time.time() + 10
    while b"listening on" not in line:
        if time.time() > deadline:
            proc.kill()
            sys.exit("soak: the listener did not start")
        line = proc.stderr.readline()
    port = int(re.search(rb":(\d+)\s*$", line).group(1))
    # Keep reading stderr (one line per reset client), or a full pipe would stall rnc.
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    return proc, port


class Collector(threading.Thread):
    """Reads the listener's stdout into a hash and a byte count."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.data = bytearray()
        self.lock = threading.Lock()

    def run(self):
        while True:
            chunk = self.stream.read1(1 << 16)
            if not chunk:
                return
            with self.lock:
                self.data.extend(chunk)

    def size(self):
        with self.lock:
            return len(self.data)

    def take(self):
        with self.lock:
            out = bytes(self.data)
            self.data.clear()
            return out


def client_round(port, rng, kind):
    """One client; returns the bytes the listener must have printed."""
    payload = rng.randbytes(rng.choice([0, 1, 100, 65536, 300_000, 2_000_000]))
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if kind == "good":
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        s.close()
        return payload
    if kind == "reset":
        s.sendall(payload[: len(payload) // 2])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return None
    # vanish: close without reading; rnc sees EOF after a partial send
    s.sendall(payload[: len(payload) // 3])
    s.close()
    return payload[: len(payload) // 3]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--rnc", default="target/release/rnc")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    proc, port = start_listener(a.rnc)
    out = Collector(proc.stdout)
    out.start()
    stop = time.time() + a.minutes * 60
    rounds = failures = 0
    samples = []
    try:
        while time.time() < stop:
            kind = rng.choices(["good", "reset", "vanish"], [8, 1, 1])[0]
            expected = client_round(port, rng, kind)
            # Wait until the listener has written what it got (reset: whatever arrived).
            deadline = time.time() + 10
            if expected is not None:
                while out.size() < len(expected) and time.time() < deadline:
                    time.sleep(0.001)
                got = out.take()
                if hashlib.sha256(got).digest() != hashlib.sha256(expected).digest():
                    failures += 1
                    print(f"soak: round {rounds} ({kind}): {len(got)} bytes out, "
                          f"{len(expected)} expected", file=sys.stderr)
            else:
                time.sleep(0.01)
                out.take()
            if proc.poll() is not None:
                print(f"soak: the listener exited ({proc.returncode})", file=sys.stderr)
                failures += 1
                break
            rounds += 1
            if rounds % 50 == 0:
                samples.append((rounds, fd_count(proc.pid), rss_kib(proc.pid)))
    finally:
        proc.terminate()
        proc.wait(10)
    first = samples[1] if len(samples) > 1 else (samples[0] if samples else None)
    last = samples[-1] if samples else None
    print(f"soak: {rounds} clients in {a.minutes} min, {failures} failures")
    if first and last:
        print(f"soak: fds {first[1]} -> {last[1]}, RSS {first[2]} KiB -> {last[2]} KiB")
        if last[1] > first[1]:
            print("soak: fd count grew", file=sys.stderr)
            failures += 1
        if last[2] > first[2] + 1024:
            print("soak: RSS grew by more than 1 MiB", file=sys.stderr)
            failures += 1
    if proc.returncode not in (143, -15):
        print(f"soak: the listener ended with {proc.returncode}, not 143", file=sys.stderr)
        failures += 1
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
