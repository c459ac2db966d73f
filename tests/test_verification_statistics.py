"""Mann-Whitney U and percentiles against exact enumeration and published reference values."""

from __future__ import annotations

import itertools
import math
import random
from statistics import NormalDist

import pytest

from tools.deploy.verification.statistics import mann_whitney_u, percentile


def _pair_count_u(x: list[float], y: list[float]) -> float:
    """U by its definition: pairs where x wins, ties counting one half."""
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)


def _exact_u_distribution(x: list[float], y: list[float]) -> list[float]:
    """U of the first group over every way of splitting the pooled values (permutation null)."""
    pooled = [*x, *y]
    n1 = len(x)
    values: list[float] = []
    for chosen in itertools.combinations(range(len(pooled)), n1):
        first = [pooled[i] for i in chosen]
        rest = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        values.append(_pair_count_u(first, rest))
    return values


SAMPLES_WITH_TIES = [
    ([1.0, 2.0, 2.0, 3.0, 5.0], [2.0, 3.0, 3.0, 4.0, 6.0, 6.0]),
    ([10.0, 10.0, 10.0, 12.0], [10.0, 11.0, 11.0, 9.0, 9.0]),
    ([4.0, 7.0, 7.0, 8.0, 8.0, 9.0], [1.0, 2.0, 7.0, 7.0]),
]


@pytest.mark.parametrize(("x", "y"), SAMPLES_WITH_TIES)
def test_u_counts_pairs_where_first_sample_is_larger_with_ties_as_half(
    x: list[float], y: list[float]
) -> None:
    assert mann_whitney_u(x, y).u == pytest.approx(_pair_count_u(x, y))


@pytest.mark.parametrize(("x", "y"), SAMPLES_WITH_TIES)
def test_p_values_use_the_exact_tie_corrected_variance_and_continuity_correction(
    x: list[float], y: list[float]
) -> None:
    # The tie-corrected variance formula must equal the permutation variance of U, computed
    # here by brute force; p is then the normal tail beyond U -/+ 0.5.
    null = _exact_u_distribution(x, y)
    mean = sum(null) / len(null)
    sd = math.sqrt(sum((u - mean) ** 2 for u in null) / len(null))
    u1 = _pair_count_u(x, y)
    normal = NormalDist(mean, sd)
    greater = 1.0 - normal.cdf(u1 - 0.5)
    less = normal.cdf(u1 + 0.5)

    assert mann_whitney_u(x, y, "greater").p_value == pytest.approx(greater, abs=1e-12)
    assert mann_whitney_u(x, y, "less").p_value == pytest.approx(less, abs=1e-12)
    two_sided = min(1.0, 2.0 * min(greater, less))
    assert mann_whitney_u(x, y, "two-sided").p_value == pytest.approx(two_sided, abs=1e-12)


def test_normal_approximation_is_close_to_the_exact_p_value_for_eight_per_side() -> None:
    rng = random.Random(7)
    x = [rng.gauss(1.0, 1.0) for _ in range(8)]
    y = [rng.gauss(0.0, 1.0) for _ in range(8)]
    null = _exact_u_distribution(x, y)
    u1 = _pair_count_u(x, y)
    exact_greater = sum(u >= u1 for u in null) / len(null)

    approx = mann_whitney_u(x, y, "greater").p_value

    assert 0.0 < exact_greater < 0.5  # the samples really differ, so the tail is informative
    assert approx == pytest.approx(exact_greater, abs=0.01)


def test_matches_scipy_documentation_example_for_the_asymptotic_method() -> None:
    # scipy.stats.mannwhitneyu docs: males vs females, method="asymptotic"
    # -> statistic 17.0, pvalue 0.11134688653314041.
    males = [19.0, 22.0, 16.0, 29.0, 24.0]
    females = [20.0, 11.0, 17.0, 12.0]

    result = mann_whitney_u(males, females, "two-sided")

    assert result.u == 17.0
    assert result.p_value == pytest.approx(0.11134688653314041, rel=1e-9)


def test_fully_separated_small_samples_give_the_hand_computed_z_and_p() -> None:
    # U1 = 0, mean 4.5, variance 3*3*7/12 = 5.25; "less": z = (9 - 4.5 - 0.5) / sqrt(5.25).
    result = mann_whitney_u([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], "less")

    assert result.u == 0.0
    assert result.z == pytest.approx(4.0 / math.sqrt(5.25))
    assert result.p_value == pytest.approx(0.040428, abs=1e-6)


def test_less_equals_greater_with_the_samples_swapped() -> None:
    rng = random.Random(3)
    x = [round(rng.uniform(0, 10)) for _ in range(30)]
    y = [round(rng.uniform(1, 11)) for _ in range(25)]

    assert mann_whitney_u(x, y, "less").p_value == pytest.approx(
        mann_whitney_u(y, x, "greater").p_value
    )


def test_a_clear_shift_is_significant_and_the_same_distribution_is_not() -> None:
    rng = random.Random(11)
    baseline = [rng.uniform(20, 40) for _ in range(60)]
    slower = [rng.uniform(30, 50) for _ in range(60)]
    same = [rng.uniform(20, 40) for _ in range(60)]

    assert mann_whitney_u(slower, baseline, "greater").p_value < 0.001
    assert mann_whitney_u(same, baseline, "greater").p_value > 0.02
    # One-sided: a faster candidate is not evidence of a slowdown.
    assert mann_whitney_u(baseline, slower, "greater").p_value > 0.99


def test_identical_values_carry_no_evidence() -> None:
    result = mann_whitney_u([5.0] * 10, [5.0] * 12, "greater")

    assert result.p_value == 1.0
    assert result.z == 0.0


def test_empty_samples_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        mann_whitney_u([], [1.0])


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([float(v) for v in range(1, 101)], 95, 95.05),
        ([3.0, 1.0, 2.0], 0, 1.0),
        ([3.0, 1.0, 2.0], 100, 3.0),
        ([7.0], 95, 7.0),
        ([10.0, 20.0], 25, 12.5),
    ],
)
def test_percentile_interpolates_linearly_between_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_rejects_empty_input_and_out_of_range_q() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match="within"):
        percentile([1.0], 101)
