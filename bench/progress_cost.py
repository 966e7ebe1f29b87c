#!/usr/bin/env python3
"""progress_cost.py - does the progress line slow a transfer down?

Sends the same file through rnc on loopback with the receiver's stderr on a pseudo-terminal
(so rnc draws its progress line there) and with `--no-status`, interleaved, and prints the
median wall time of each and their ratio. Loopback only; not part of `cargo test`.

    cargo build --release
    python3 bench/progress_cost.py --size 1G --reps 7
"""
import argparse
import os
import pty
import re
import statistics
import subprocess
import threading
import time


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def one_run(rnc, path, status):
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    env = dict(os.environ, TERM="xterm")
    args = [rnc, "-l", "127.0.0.1", "0"] + ([] if status else ["--no-status"])
    # -v makes the listening line appear even when the progress line owns stderr.
    listener = subprocess.Popen(args + ["-v"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    drawn = [0]
    deadline = time.time() + 10
    port = None
    while port is None and time.time() < deadline:
        try:
            seen += os.read(master, 4096)
        except BlockingIOError:
            time.sleep(0.001)
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", seen)
        if m:
            port = int(m.group(1))
    stop = threading.Event()

    def drain():
        while not stop.is_set():
            try:
                chunk = os.read(master, 65536)
                drawn[0] += chunk.count(b"\r\x1b[K")
            except BlockingIOError:
                time.sleep(0.005)
            except OSError:
                return

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    start = time.perf_counter()
    with open(path, "rb") as f:
        subprocess.run([rnc, "127.0.0.1", str(port)], stdin=f, stdout=subprocess.DEVNULL,
                       check=True)
    listener.wait(60)
    elapsed = time.perf_counter() - start
    stop.set()
    t.join()
    os.close(master)
    return elapsed, drawn[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rnc", default="target/release/rnc")
    ap.add_argument("--size", default="1G")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--file", default="/tmp/rnc-progress-cost.bin")
    a = ap.parse_args()
    size = parse_size(a.size)
    if not os.path.exists(a.file) or os.path.getsize(a.file) != size:
        with open(a.file, "wb") as f:
            left = size
            while left:
                chunk = os.urandom(min(left, 1 << 20))
                f.write(chunk)
                left -= len(chunk)
    on, off, redraws = [], [], []
    for _ in range(a.reps):
        t, n = one_run(a.rnc, a.file, True)
        on.append(t)
        redraws.append(n)
        off.append(one_run(a.rnc, a.file, False)[0])
    med_on, med_off = statistics.median(on), statistics.median(off)
    ratios = [x / y for x, y in zip(on, off)]
    print(f"size {a.size}, {a.reps} interleaved reps")
    print(f"progress line on : median {med_on:.3f} s  (min {min(on):.3f}, max {max(on):.3f}), "
          f"{statistics.median(redraws):.0f} redraws")
    print(f"--no-status      : median {med_off:.3f} s  (min {min(off):.3f}, max {max(off):.3f})")
    print(f"paired ratio on/off: median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
