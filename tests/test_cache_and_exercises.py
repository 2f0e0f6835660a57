"""The result cache and the exercise checker."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnets import cache
from resnets.course import exercises

calls: list[int] = []


@cache.cached
def _square(x: int, power: int = 2) -> int:
    calls.append(x)
    return x**power


def test_cached_is_a_no_op_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESNETS_CACHE", raising=False)
    calls.clear()
    assert _square(3) == 9 and _square(3) == 9
    assert calls == [3, 3]


def test_cached_stores_and_reuses_results(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RESNETS_CACHE", str(tmp_path))
    calls.clear()
    assert _square(4) == 16 and _square(4) == 16 and _square(5) == 25
    assert calls == [4, 5]
    assert len(list(tmp_path.glob("*.pkl"))) == 2
    assert _square(4, 2) == _square(x=4, power=2) == 16 and calls == [4, 5]  # same call, however spelled
    assert not list(tmp_path.glob("*.tmp"))


def test_check_prints_the_verdict(capsys: pytest.CaptureFixture) -> None:
    assert exercises.check("part2.resnet20_parameters", 269_722)
    assert "✓" in capsys.readouterr().out
    assert not exercises.check("part2.resnet20_parameters", 270_000.0 * 2)
    assert "Hint" in capsys.readouterr().out
    assert not exercises.check("part2.resnet20_parameters", None)
    assert "Put your answer" in capsys.readouterr().out
    with pytest.raises(KeyError, match="no exercise 'nope'"):
        exercises.check("nope", 1)


def test_every_registered_exercise_computes() -> None:
    for key in exercises.keys():
        assert exercises.solution_of(key) is not None
