"""Answers to the chapters' exercises, and the ``check`` cell readers run against them.

In a chapter:

    answer = None  # your answer here
    resnets.exercises.check("part2.bottleneck_macs", answer)

Each answer is *computed* by the package (never typed in), so it stays right if the code
changes. Register one with ``@solution("key", hint="...")`` below, grouped by part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class _Solution:
    compute: Callable[[], Any]
    hint: str
    rel: float


_SOLUTIONS: dict[str, _Solution] = {}


def solution(key: str, hint: str = "", rel: float = 1e-3) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register the function that computes the answer to exercise ``key``."""

    def register(compute: Callable[[], Any]) -> Callable[[], Any]:
        if key in _SOLUTIONS:
            raise ValueError(f"exercise {key!r} is registered twice")
        _SOLUTIONS[key] = _Solution(compute, hint, rel)
        return compute

    return register


def _matches(given: Any, expected: Any, rel: float) -> bool:
    if isinstance(expected, (bool, str)) or expected is None:
        return given == expected
    if isinstance(expected, (int, float, np.number)):
        try:
            return math.isclose(float(given), float(expected), rel_tol=rel, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, (list, tuple, np.ndarray)):
        try:
            return np.allclose(np.asarray(given, dtype=float), np.asarray(expected, dtype=float), rtol=rel)
        except (TypeError, ValueError):
            return False
    return given == expected


def check(key: str, answer: Any) -> bool:
    """Print whether ``answer`` is right for exercise ``key``; return True if it is."""
    if key not in _SOLUTIONS:
        raise KeyError(f"no exercise {key!r}; known: {', '.join(sorted(_SOLUTIONS))}")
    if answer is None:
        print(f"[{key}] Put your answer in `answer`, then run this cell again.")
        return False
    entry = _SOLUTIONS[key]
    if _matches(answer, entry.compute(), entry.rel):
        print(f"[{key}] ✓ Correct.")
        return True
    print(f"[{key}] ✗ Not yet." + (f" Hint: {entry.hint}" if entry.hint else ""))
    return False


def keys() -> list[str]:
    """Every registered exercise."""
    return sorted(_SOLUTIONS)


# --- Part 1 · The math ---------------------------------------------------------------------

# --- Part 2 · The implementation -----------------------------------------------------------


@solution("part2.resnet20_parameters", hint="count_parameters(build_model(...)), or do it by hand: 9·C_in·C_out per 3x3 conv.")
def _resnet20_parameters() -> int:
    from .models import build_model, count_parameters

    return count_parameters(build_model("resnet20"))


# --- Part 3 · Training on CIFAR-10 ---------------------------------------------------------
