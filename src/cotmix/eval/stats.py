"""Intervals for the numbers cotmix reports.

A fraction measured on n prompts (or samples, or tokens) gets a 95% Wilson score interval: unlike
the normal approximation it stays inside [0, 1] and is not zero-width at 0 or 1 (a model right on
all of 2048 prompts is right with probability >= 0.998, not exactly 1).
A count of runs (k of n seeds meeting a criterion) gets the exact Clopper-Pearson interval.
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


# Two-sided 95% Student t quantiles by degrees of freedom (beyond 30: the normal's 1.96).
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
        2.042]


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> list[float] | None:
    """The exact 95% interval for a share of k successes in n trials (bisection on the binomial
    tail; n here is a count of seeds, so a few dozen at most)."""
    if n <= 0:
        return None

    def tail_at_least(p: float, j: int) -> float:  # P(X >= j) for X ~ Bin(n, p)
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(j, n + 1))

    def solve(f, target: float) -> float:  # f increasing in p on [0, 1]
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
        return (lo + hi) / 2

    lower = 0.0 if k == 0 else solve(lambda p: tail_at_least(p, k), alpha / 2)
    upper = 1.0 if k == n else solve(lambda p: tail_at_least(p, k + 1), 1 - alpha / 2)
    return [lower, upper]


def t95(dof: int) -> float:
    """The two-sided 95% Student t quantile with `dof` degrees of freedom (>= 1)."""
    return _T95[dof - 1] if dof <= len(_T95) else Z95


def slope_fit(xs: list[float], ys: list[float]) -> dict | None:
    """Least squares y = a + b x: the slope b with its 95% t interval (None with fewer than 3
    points), the intercept a and the residual sum of squares; None with fewer than 2 distinct x."""
    n = len(xs)
    if len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    rss = sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, ys))
    half = t95(n - 2) * math.sqrt(rss / (n - 2) / sxx) if n > 2 else None
    return {"slope": slope, "intercept": my - slope * mx, "ci95": None if half is None else [slope - half, slope + half],
            "rss": rss, "points": n}


def growth_laws(ds: list[float], costs: list[float]) -> dict | None:
    """Both growth laws fitted to (d, cost) by least squares on log cost: cost ~ e^(r d) (on d) and
    cost ~ d^k (on log d), each slope with its 95% t interval, and which leaves the smaller residual
    (None with fewer than 3 distinct d: a line through two d fits either law exactly). None with
    fewer than 2 distinct d."""
    if len(set(ds)) < 2:
        return None
    logs = [math.log(c) for c in costs]
    exponential = slope_fit([float(d) for d in ds], logs)
    power = slope_fit([math.log(d) for d in ds], logs)
    better = None
    if len(set(ds)) >= 3:
        better = "power" if power["rss"] <= exponential["rss"] else "exponential"
    return {"exponential": exponential, "power": power, "better": better}
