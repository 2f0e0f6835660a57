"""ResNets in context: the widened family's counts match the papers, and a pre-norm Transformer
stack keeps a clean identity path where a post-norm one does not."""

from __future__ import annotations

import pytest

from resnets.course import context


def test_the_widened_family_has_the_papers_parameter_counts() -> None:
    rows = {name: parameters for name, _, parameters, _, _ in context.widening_rows()}
    assert set(rows) == set(context.WIDENED)
    for name, mparams in context.PAPER_MPARAMS.items():
        assert rows[name] / 1e6 == pytest.approx(mparams, rel=0.02), name
    table = context.widening_table()
    assert "resnext50_32x4d" in table and "36.48M" in table and "36.5M" in table


def test_resnext_costs_what_resnet50_costs() -> None:
    macs = {name: m for name, _, _, m, _ in context.widening_rows(("resnet50", "resnext50_32x4d"))}
    assert macs["resnext50_32x4d"] / macs["resnet50"] == pytest.approx(1.0, abs=0.05)


def test_only_the_pre_norm_stack_is_the_identity_with_silent_branches() -> None:
    assert context.identity_path_gap(norm_first=True) < 1e-6
    assert context.identity_path_gap(norm_first=False) > 0.1
