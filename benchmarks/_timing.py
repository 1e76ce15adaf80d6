"""Small timing helpers shared by the benchmarks."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    median_us: float
    p99_us: float
    mean_us: float

    def __str__(self) -> str:
        return (
            f"median {self.median_us:7.2f} us  p99 {self.p99_us:7.2f} us  "
            f"mean {self.mean_us:7.2f} us"
        )


def per_call(fn: Callable[[], object], calls: int, warmup: int = 2_000) -> Timing:
    """Time ``fn`` call by call; the timer's own cost (an empty call) is subtracted."""
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    overhead = _overhead(clock)
    samples = [0] * calls
    gc.disable()
    try:
        for i in range(calls):
            t0 = clock()
            fn()
            samples[i] = clock() - t0
    finally:
        gc.enable()
    return _summarise(samples, overhead)


def paired(
    fn_a: Callable[[], object], fn_b: Callable[[], object], calls: int, warmup: int = 2_000
) -> tuple[Timing, Timing]:
    """Time two callables alternately, so both see the same machine noise."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    clock = time.perf_counter_ns
    overhead = _overhead(clock)
    a, b = [0] * calls, [0] * calls
    gc.disable()
    try:
        for i in range(calls):
            t0 = clock()
            fn_a()
            t1 = clock()
            fn_b()
            t2 = clock()
            a[i], b[i] = t1 - t0, t2 - t1
    finally:
        gc.enable()
    return _summarise(a, overhead), _summarise(b, overhead)


def _summarise(samples: list[int], overhead: int) -> Timing:
    samples = sorted(samples)
    adjusted = [max(0, s - overhead) / 1000 for s in samples]
    return Timing(
        median_us=statistics.median(adjusted),
        p99_us=adjusted[int(len(adjusted) * 0.99) - 1],
        mean_us=sum(adjusted) / len(adjusted),
    )


def _overhead(clock: Callable[[], int]) -> int:
    def nothing() -> None:
        return None

    samples = []
    for _ in range(20_000):
        t0 = clock()
        nothing()
        samples.append(clock() - t0)
    return int(statistics.median(samples))
