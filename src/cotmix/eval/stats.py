"""Intervals for the numbers cotmix reports.

A fraction measured on n prompts (or samples, or tokens) gets a 95% Wilson score interval: unlike
the normal approximation it stays inside [0, 1] and is not zero-width at 0 or 1 (a model right on
all of 2048 prompts is right with probability >= 0.998, not exactly 1).
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: float, n: int, z: float = Z95) -> list[float] | None:
    """[lo, hi] of the Wilson score interval for `successes` out of `n` (None when n = 0)."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]
