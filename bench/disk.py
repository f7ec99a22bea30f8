"""How long this disk takes to make a write durable: the floor under every commit.

Writes a block and calls fdatasync (what SQLite calls at each commit with
synchronous=FULL), again and again over the same few MiB of one file, as the
WAL is reused after each checkpoint; prints the distribution.

    python bench/disk.py --dir /work
    python bench/disk.py --dir /work --bytes 131072 --count 5000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

REUSED_BYTES = 4 * 2**20  # the span the writes cycle over, about a WAL's size


def fdatasync_ms(path: str, block: bytes, count: int) -> list[float]:
    """Milliseconds of each fdatasync after writing `block`, sorted."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    timings = []
    offset = 0
    try:
        for _ in range(count):
            os.pwrite(descriptor, block, offset)
            offset = (offset + len(block)) % REUSED_BYTES
            started = time.perf_counter()
            os.fdatasync(descriptor)
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(descriptor)
    return sorted(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=None, help="a folder on the disk to measure")
    parser.add_argument("--bytes", type=int, default=40_960, help="written before each sync")
    parser.add_argument("--count", type=int, default=3_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        timings = fdatasync_ms(os.path.join(folder, "sync.bin"), os.urandom(args.bytes), args.count)

    def at(share: float) -> float:
        return timings[min(len(timings) - 1, int(share * len(timings)))]

    print(f"fdatasync after {args.bytes:,} bytes, {args.count:,} times, in {args.dir or '/tmp'}")
    print(
        f"  p50 {at(0.5):.2f} ms   p90 {at(0.9):.2f} ms   p99 {at(0.99):.2f} ms"
        f"   p99.9 {at(0.999):.2f} ms   max {timings[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
