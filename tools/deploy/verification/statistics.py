"""Mann-Whitney U test and percentiles, in plain Python (no scipy here).

Kayenta classifies a metric with a Mann-Whitney U test at 98 % confidence; we use the large
sample normal approximation with tie and continuity corrections, which is what scipy's
`mannwhitneyu(..., method="asymptotic")` computes. Analysis only runs it with at least 50
samples per side, where the approximation is accurate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Alternative = Literal["greater", "less", "two-sided"]


@dataclass(frozen=True)
class MannWhitneyResult:
    """Outcome of a Mann-Whitney U test.

    Attributes:
        u: The U statistic of the first sample (pairs where x > y, ties counting one half).
        p_value: Probability under the null hypothesis of a result at least this extreme.
        z: The continuity-corrected normal deviate the p-value was read from: the one-sided
            p-value is the upper tail beyond `z`, the two-sided one twice that.
    """

    u: float
    p_value: float
    z: float


def _normal_sf(z: float) -> float:
    # erfc keeps precision far into the upper tail, where 1 - cdf would round to 0.
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _midranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Ranks (1-based, ties get their average rank) and the size of each tie group."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    tie_sizes: list[int] = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        rank = (start + end) / 2.0 + 1.0
        for k in range(start, end + 1):
            ranks[order[k]] = rank
        tie_sizes.append(end - start + 1)
        start = end + 1
    return ranks, tie_sizes


def mann_whitney_u(
    x: Sequence[float], y: Sequence[float], alternative: Alternative = "two-sided"
) -> MannWhitneyResult:
    """Test whether `x` and `y` come from the same distribution.

    Args:
        x: First sample (for analysis: the candidate's latencies).
        y: Second sample (the baseline's latencies).
        alternative: "greater" tests whether x tends to be larger than y, "less" whether it
            tends to be smaller, "two-sided" either.

    Returns:
        The U statistic of `x`, the p-value and the normal deviate behind it. When every
        value is equal the test has no information: p-value 1, z 0.

    Raises:
        ValueError: A sample is empty or `alternative` is unknown.
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    if alternative not in ("greater", "less", "two-sided"):
        raise ValueError(f"unknown alternative {alternative!r}")
    ranks, tie_sizes = _midranks([*x, *y])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2.0
    u2 = n1 * n2 - u1
    n = n1 + n2
    mean = n1 * n2 / 2.0
    tie_term = sum(t**3 - t for t in tie_sizes) / (n * (n - 1))
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if variance <= 0:
        return MannWhitneyResult(u=u1, p_value=1.0, z=0.0)
    if alternative == "greater":
        u = u1
    elif alternative == "less":
        u = u2
    else:
        u = max(u1, u2)
    z = (u - mean - 0.5) / math.sqrt(variance)
    p_value = _normal_sf(z)
    if alternative == "two-sided":
        p_value *= 2.0
    return MannWhitneyResult(u=u1, p_value=min(max(p_value, 0.0), 1.0), z=z)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile with linear interpolation between ranks (numpy's default).

    Raises:
        ValueError: `values` is empty or `q` is outside [0, 100].
    """
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction
