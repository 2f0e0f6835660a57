"""The few statistics the chapters' claims stand on: how far a measured error can move by chance.

binomial_standard_error(p, n)                  an error rate measured on n independent images
binomial_difference_standard_error(p, q, n)    the difference of two such rates
difference_standard_error(row, row)            the difference of two means over seeds
format_mean_std(mean, std)                     "8.75 ± 0.16", or "8.75" for a single run
"""

from __future__ import annotations

import math
from typing import Any


def binomial_standard_error(error: float, images: int) -> float:
    """Standard error of an error rate measured on ``images`` independent test images."""
    return math.sqrt(error * (1 - error) / images)


def binomial_difference_standard_error(first: float, second: float, images: int) -> float:
    """Standard error of the difference between two error rates, each measured on ``images``
    independent test images: the two binomial standard errors added in quadrature. Two nets scored on
    the *same* images mostly err on the same hard ones, so the difference of their rates varies less
    than this says: as a yardstick for "beyond chance" it is conservative (the paired, McNemar-style
    error would need each net's per-image answers, which the runs' metrics do not keep)."""
    return math.hypot(binomial_standard_error(first, images), binomial_standard_error(second, images))


def difference_standard_error(first: dict[str, Any], second: dict[str, Any]) -> float:
    """Standard error (points) of the difference between two ``reproduce.table6_summary`` rows' mean
    test errors, from the spread of each row's seeds: each mean's std / sqrt(runs), added in
    quadrature. NaN where a row is a single run (one run has no spread to measure)."""
    return math.hypot(*(row["test_error_std"] / math.sqrt(row["runs"]) for row in (first, second)))


def format_mean_std(mean: float, std: float) -> str:
    """A mean ± std to two decimals; the mean alone where the std is NaN (a single run)."""
    return f"{mean:.2f}" if math.isnan(std) else f"{mean:.2f} ± {std:.2f}"


__all__ = [
    "binomial_difference_standard_error",
    "binomial_standard_error",
    "difference_standard_error",
    "format_mean_std",
]
