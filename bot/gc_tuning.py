"""Python's cyclic garbage collector, set for a long-running server.

With the default thresholds the collector runs every 700 net new container
objects. A busy bot always has a thousand turns in flight, so each run finds
their coroutines, futures and rows alive, promotes them, and older generations
are then scanned again and again for objects that reference counting frees a
moment later anyway. Measured with bench/turns.py: a fifth of all CPU time at
full load, and full collections of up to 90 ms that set the p99 turn latency.

So, once everything is loaded: what exists is moved out of the collector's
sight (`gc.freeze`), and a collection waits for 50,000 net new objects. Cyclic
garbage (rare: reference counting frees almost everything) is still collected,
and at most about that many objects of it wait for the next collection.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_for_serving() -> None:
    """Call once after start-up, when the surveys, modules and caches are loaded."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
