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


def test_vgg16_keeps_its_parameters_in_its_head_and_resnet152_does_not() -> None:
    counts = {count.name: count for count in context.classic_counts()}
    assert list(counts) == list(context.CLASSICS)
    vgg, resnet = counts["vgg16"], counts["resnet152"]
    assert vgg.parameters == 138_357_544 and round(vgg.parameters / 1e6) == context.ILSVRC["vgg16"].mparams
    assert vgg.fully_connected == 123_642_856 and vgg.convolutional == 14_714_688
    assert resnet.fully_connected == 2048 * 1000 + 1000 and resnet.parameters < vgg.first_fully_connected
    assert vgg.final_map == (512, 7, 7) and resnet.final_map == (2048, 7, 7)
    assert counts["googlenet"].fully_connected == 1024 * 1000 + 1000  # no auxiliary classifiers
    assert "123.64M (89%)" in context.classics_table()


def test_vggs_head_counted_by_arithmetic_is_the_one_torchvision_builds() -> None:
    vgg = next(count for count in context.classic_counts(("vgg16",)))
    assert context.flattened_head_parameters(512 * 7 * 7) == vgg.fully_connected
    assert context.flattened_head_parameters(10, hidden=(), classes=2) == 22  # one layer: 10x2 + 2
