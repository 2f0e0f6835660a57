"""A chapter's claim that fails shows the reader a sentence, not a traceback, and still fails the cell."""

from __future__ import annotations

import sys
import types

import pytest
from IPython.core.interactiveshell import InteractiveShell

from resnets import ResnetsError
from resnets.course import claims


def test_a_claim_that_holds_says_nothing(capsys: pytest.CaptureFixture) -> None:
    claims.claim(True, "one is one")
    assert capsys.readouterr().out == ""


def test_a_claim_that_fails_names_itself_and_why() -> None:
    with pytest.raises(claims.ClaimNotHeld, match="This claim no longer holds: deep plain nets end higher. Why"):
        claims.claim(False, "deep plain nets end higher", why=claims.TOY_TRAINING)
    assert issubclass(claims.ClaimNotHeld, ResnetsError)


def test_in_a_notebook_the_failure_is_the_sentence_not_a_traceback(capsys: pytest.CaptureFixture) -> None:
    shell = InteractiveShell.instance()
    try:
        result = shell.run_cell(
            "from resnets.course.claims import claim, SHIPPED_NETS\n"
            "claim(0.3 < 0.2, 'ResNet-20 should survive a deletion far better', why=SHIPPED_NETS)"
        )
    finally:
        InteractiveShell.clear_instance()
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert not result.success, "the cell must still fail, so that CI fails on a broken claim"
    assert "✗ This claim no longer holds:" in text and "ResNet-20 should survive a deletion far better" in text
    assert "shipped checkpoints" in text
    assert "Traceback" not in text and "AssertionError" not in text and "File " not in text


def test_glue_hands_the_value_to_myst_nb(monkeypatch: pytest.MonkeyPatch) -> None:
    """With MyST-NB (the book build) the value is glued, not printed: the prose shows it."""
    glued = {}
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: glued.update({name: (value, display)})
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    claims.glue("gap", 0.125, text="12.5%")
    assert glued == {"gap": (0.125, False)}


def test_glue_prints_the_value_where_myst_nb_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """In Colab the markdown shows the role as typed, so the cell prints what it stands for."""
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb now raises ImportError
    claims.glue("gap", 0.125, text="12.5%")
    claims.glue("depth", 56)
    assert capsys.readouterr().out == "gap = 12.5%\ndepth = 56\n"


def test_glue_hands_numpy_and_torch_scalars_over_as_python_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """MyST-NB formats a glued value from its repr: np.float64(0.125) is no number to ``:.1%``."""
    import numpy as np
    import torch

    glued = {}
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: glued.update({name: value})
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    claims.glue("mean", np.mean([0.1, 0.15]))
    claims.glue("count", np.int64(3))
    claims.glue("norm", torch.tensor(2.5))
    claims.glue("names", ["a", "b"])  # not a scalar: as it is
    assert glued == {"mean": 0.125, "count": 3, "norm": 2.5, "names": ["a", "b"]}
    assert [type(glued[k]) for k in ("mean", "count", "norm")] == [float, int, float]
    assert float(repr(glued["mean"])) == 0.125
