#!/usr/bin/env python3
"""busy_poll_cost.py - what rnc's busy-polling buys and costs per round trip.

Drives a request/response exchange through `rnc HOST PORT` (64-byte lines into its stdin,
an echo server on loopback, the echo read back from its stdout), with busy-polling (the
default) and with `--no-busy-poll`, interleaved. For each it prints the median round-trip
time and rnc's CPU time (user + sys, from wait4) per round trip. Loopback only; not part of
`cargo test`.

    cargo build --release
    python3 bench/busy_poll_cost.py --runs 5 --trips 2000
"""
import argparse
import os
import select
import socket
import statistics
import subprocess
import sys
import time


ECHO = r"""
import socket, sys
udp = sys.argv[1] == "udp"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
if not udp:
    s.listen(8)
print(s.getsockname()[1], flush=True)
while True:
    if udp:
        d, addr = s.recvfrom(65536)
        s.sendto(d, addr)
        continue
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
"""


def echo_server(udp):
    """An echo server on 127.0.0.1 in its own process, and its port."""
    server = subprocess.Popen([sys.executable, "-c", ECHO, "udp" if udp else "tcp"],
                              stdout=subprocess.PIPE)
    return server, int(server.stdout.readline())


def one_run(rnc, port, udp, busy_poll, trips, warm=20):
    args = [rnc] + (["-u"] if udp else []) + ([] if busy_poll else ["--no-busy-poll"])
    child = subprocess.Popen(args + ["127.0.0.1", str(port)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    w, r = child.stdin.fileno(), child.stdout.fileno()
    samples = []
    for i in range(trips + warm):
        msg = b"%063d\n" % i
        t = time.perf_counter_ns()
        os.write(w, msg)
        got = b""
        while len(got) < len(msg):
            if not select.select([r], [], [], 5)[0]:
                sys.exit("busy_poll_cost: no echo within 5 s")
            got += os.read(r, len(msg) - len(got))
        if got != msg:
            sys.exit("busy_poll_cost: wrong echo %r" % got[:20])
        if i >= warm:
            samples.append(time.perf_counter_ns() - t)
    child.stdin.close()
    if udp:
        child.kill()  # a UDP client lingers after stdin EOF
    _, _, usage = os.wait4(child.pid, 0)
    child.stdout.close()
    cpu_us = (usage.ru_utime + usage.ru_stime) * 1e6 / (trips + warm)
    return statistics.median(samples) / 1000, cpu_us


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rnc", default="target/release/rnc")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--trips", type=int, default=2000)
    ap.add_argument("--udp", action="store_true", help="over UDP instead of TCP")
    a = ap.parse_args()
    server, port = echo_server(a.udp)
    results = {True: [], False: []}
    try:
        for _ in range(a.runs):
            for busy_poll in (True, False):
                results[busy_poll].append(one_run(a.rnc, port, a.udp, busy_poll, a.trips))
    finally:
        server.kill()
    print("%s, %d runs x %d round trips, medians over runs" %
          ("UDP" if a.udp else "TCP", a.runs, a.trips))
    for busy_poll in (True, False):
        rtt = statistics.median(x[0] for x in results[busy_poll])
        cpu = statistics.median(x[1] for x in results[busy_poll])
        print("  %-16s round trip %6.1f us   rnc CPU %5.1f us per round trip" %
              ("busy-poll" if busy_poll else "--no-busy-poll", rtt, cpu))


if __name__ == "__main__":
    main()
