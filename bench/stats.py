"""Latency summaries: percentiles by nearest rank over every timed request."""
import math


def percentile(ordered, q):
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not ordered:
        return float('nan')
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(latencies_ns):
    ordered = sorted(latencies_ns)
    total = sum(ordered)
    ms = 1e-6
    return {
        'n': len(ordered),
        'p50_ms': percentile(ordered, 50) * ms,
        'p90_ms': percentile(ordered, 90) * ms,
        'p99_ms': percentile(ordered, 99) * ms,
        'mean_ms': total / len(ordered) * ms,
        'min_ms': ordered[0] * ms,
        'max_ms': ordered[-1] * ms,
        # One process serving one request at a time, as a Lambda copy does.
        'ops_per_s': len(ordered) / (total * 1e-9) if total else float('inf'),
    }


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
