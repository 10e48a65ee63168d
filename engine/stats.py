"""Lateness statistics in bounded memory: a fixed histogram, never a growing list of samples.

Lateness is actual send time minus deadline. Bins are 10 µs wide up to 10 ms (where a good engine
lives, so p50/p99 are exact to 10 µs) and 1 ms wide up to 1 s; anything later lands in one overflow
bin. The maximum and the earliest send are kept exactly.
"""

from __future__ import annotations

_FINE = 1000  # 10 µs bins: 0 .. 10 ms
_COARSE = 990  # 1 ms bins: 10 ms .. 1 s
_FINE_WIDTH = 1e-5
_COARSE_WIDTH = 1e-3
_FINE_END = _FINE * _FINE_WIDTH


class LatencyHistogram:
    """Counts of lateness samples; percentiles are the upper edge of their bin (never optimistic)."""

    __slots__ = ("bins", "count", "max", "early_count", "early_max")

    def __init__(self) -> None:
        self.bins = [0] * (_FINE + _COARSE + 1)
        self.count = 0
        self.max = 0.0
        """Latest send, seconds (0 with no samples)."""
        self.early_count = 0
        self.early_max = 0.0
        """Earliest send, seconds before its deadline (0 if none was early)."""

    def add(self, late: float) -> None:
        """Record one send ``late`` seconds after its deadline (negative: early)."""
        self.count += 1
        if late > self.max:
            self.max = late
        if late < 0.0:
            self.early_count += 1
            if -late > self.early_max:
                self.early_max = -late
            self.bins[0] += 1
        elif late < _FINE_END:
            self.bins[int(late / _FINE_WIDTH)] += 1
        else:
            self.bins[min(_FINE + int((late - _FINE_END) / _COARSE_WIDTH), _FINE + _COARSE)] += 1

    def percentile(self, q: float) -> float:
        """The lateness (seconds) that ``q`` (0..1) of the samples do not exceed; 0 with no samples."""
        if self.count == 0:
            return 0.0
        rank = max(1, round(q * self.count))
        seen = 0
        for i, n in enumerate(self.bins):
            seen += n
            if seen >= rank:
                if i == _FINE + _COARSE:  # the overflow bin: only the maximum is known
                    return self.max
                return min(_upper_edge(i), self.max) if self.max > 0 else 0.0
        return self.max

    def reset(self) -> None:
        self.__init__()


def _upper_edge(i: int) -> float:
    if i < _FINE:
        return (i + 1) * _FINE_WIDTH
    return _FINE_END + (i - _FINE + 1) * _COARSE_WIDTH
