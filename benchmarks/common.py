"""Timing and memory helpers shared by every model benchmark (one JSON line per run)."""
import json
import resource
import statistics
import sys
import time
from typing import Callable, Dict


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_call(fn: Callable[[], object], warmup: int = 1, repeat: int = 3) -> Dict[str, float]:
    """Median and min wall time of ``fn()`` in milliseconds after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return {"median_ms": statistics.median(times), "min_ms": min(times)}


def emit(record: Dict[str, object]) -> None:
    """Print one JSON line (what benchmarks/run_all.py collects)."""
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    sys.stdout.flush()
