#!/usr/bin/env python3
"""How long first touching fresh memory takes: 4 KiB pages, transparent huge pages, and 4 KiB
pages mapped in by one madvise(MADV_POPULATE_WRITE) call before the writes.

Every buffer libaccel fills at load and prepare (model constants, packed weights, the activation
arena) is fresh memory that the kernel must fault in. Whether to ask for huge pages
(madvise(MADV_HUGEPAGE)) depends on what a fault costs on the machine, and on a virtual machine
that hands free memory back to its host (virtio free page reporting) it depends on how long the
memory sat free. This script maps an anonymous buffer, writes one byte per 4 KiB page, unmaps
it, and repeats, alternating the three kinds: back to back (`--gap-s 0`, memory freed a
moment ago) and after a pause (default 3 s: time for the guest to report the freed memory).

    .venv/bin/python benchmarks/first_touch.py [--mib 100] [--rounds 6] [--gap-s 3]
"""

import argparse
import mmap
import statistics
import time

import numpy as np

PAGE = 4096
HUGE = 2 << 20
MADV_POPULATE_WRITE = 23  # Linux 5.14; Python's mmap module has no name for it


def touch_ms(mib, kind):
    size = mib << 20
    buf = mmap.mmap(-1, size + HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if kind == "huge":
        buf.madvise(mmap.MADV_HUGEPAGE)
    pages = np.frombuffer(buf, dtype=np.uint8)[::PAGE]
    start = time.perf_counter()
    if kind == "populate":
        buf.madvise(MADV_POPULATE_WRITE)
    pages[:] = 1
    ms = (time.perf_counter() - start) * 1e3
    del pages
    buf.close()
    return ms


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--gap-s", type=float, default=3.0,
                        help="pause before each touch (0: back to back)")
    args = parser.parse_args()
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        print("transparent_hugepage:", f.read().strip())
    times = {"4k": [], "huge": [], "populate": []}
    for _ in range(args.rounds):
        for kind in times:
            time.sleep(args.gap_s)
            times[kind].append(touch_ms(args.mib, kind))
    for kind, ms in times.items():
        print(f"{kind:>8}: {args.mib} MiB in median {statistics.median(ms):.1f} ms "
              f"(min {min(ms):.1f}, max {max(ms):.1f}; {args.mib / statistics.median(ms) * 1e3 / 1024:.2f} GiB/s)")


if __name__ == "__main__":
    main()
