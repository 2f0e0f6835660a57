"""The shared look: colours every part uses, a style that does not leak, plots that label themselves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from resnets import viz


def test_plain_and_residual_have_their_colours() -> None:
    assert {"plain", "residual", "preact"} <= set(viz.COLORS)
    assert viz.kind_of(True) == "residual" and viz.kind_of(False) == "plain"
    assert len(set(viz.COLORS.values())) == len(viz.COLORS)


def test_style_is_scoped() -> None:
    before = plt.rcParams["axes.spines.top"]
    with viz.style():
        assert plt.rcParams["axes.spines.top"] is False
    assert plt.rcParams["axes.spines.top"] == before


def test_plots_draw_labelled_axes_and_png() -> None:
    fig, (a, b) = viz.figure(2)
    viz.plot_by_depth(a, [4, 8], {"plain": np.array([[0.1, 0.2], [0.5, 0.6]])}, ylabel="loss")
    viz.plot_layer_profile(b, np.array([[1.0, 1e-3, 1e-6], [2.0, 1e-3, 1e-5]]), "plain")
    viz.plot_curves(b, np.ones((2, 5)), "residual", label="r")
    viz.mark_chance(a)
    assert a.get_xlabel().startswith("depth") and a.get_yscale() == "log"
    assert b.get_yscale() == "log" and len(b.patches) == 3
    assert viz.to_png(fig).startswith(b"\x89PNG")
    plt.close(fig)


def test_style_restores_only_what_it_set() -> None:
    # pyplot switches Jupyter's interactive mode on the first time it draws; a style block
    # that undid that would stop every later figure from showing in a notebook.
    before = plt.rcParams["interactive"]
    try:
        with viz.style():
            plt.rcParams["interactive"] = not before
        assert plt.rcParams["interactive"] == (not before)
    finally:
        plt.rcParams["interactive"] = before


def test_log_axis_labels_plain_numbers() -> None:
    fig, ax = viz.figure()
    ax.plot([1, 2, 3], [0.02, 0.1, 0.6])
    viz.log_axis(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels(minor=True) + ax.get_yticklabels() if t.get_text()]
    assert (
        ax.get_yscale() == "log" and "0.1" in labels and not any("times" in label or "^" in label for label in labels)
    )
    plt.close(fig)


def test_plot_lines_colours_each_line_by_its_kind() -> None:
    fig, ax = viz.figure()
    viz.plot_lines(ax, [0, 1, 2], {"plain": [3, 2, 1], "residual": [1, 1, 1]})
    viz.plot_lines(ax, [0, 1, 2], {"resnet56": [1, 2, 3]}, {"resnet56": "residual"}, fmt="-")
    colours = [line.get_color() for line in ax.lines]
    assert colours == [viz.COLORS["plain"], viz.COLORS["residual"], viz.COLORS["residual"]]
    assert [line.get_label() for line in ax.lines] == ["plain", "residual", "resnet56"]
    plt.close(fig)


def test_ticks_at_labels_exactly_the_given_values() -> None:
    fig, (a, b) = viz.figure(2)
    viz.ticks_at(a, [2, 4, 8])
    viz.ticks_at(b, [0.0, 0.1, 1.0], scale="symlog")
    assert list(a.get_xticks()) == [2, 4, 8] and b.get_xscale() == "symlog"
    assert [t.get_text() for t in b.get_xticklabels()] == ["0", "0.1", "1"]
    try:
        viz.ticks_at(a, [1, 2], scale="log3")
    except ValueError as error:
        assert "log2" in str(error)
    else:
        raise AssertionError("an unknown scale should be refused")
    plt.close(fig)


def test_plot_steps_to_reach_marks_runs_that_never_got_there() -> None:
    fig, ax = viz.figure()
    steps = {"plain": np.array([[10.0, 20.0], [np.inf, 30.0]]), "residual": np.array([[5.0, 5.0], [6.0, 6.0]])}
    viz.plot_steps_to_reach(ax, [4, 8], steps, limit=100, ylabel="steps")
    # plain: a line through the one finite mean and a cross at the limit; residual: one line
    assert len(ax.lines) == 3
    cross = [line for line in ax.lines if line.get_marker() == "x"][0]
    assert list(cross.get_ydata()) == [100] and ax.get_ylim()[1] == pytest.approx(110)
    plt.close(fig)


def test_share_bars_and_lesions_draw_one_bar_per_value() -> None:
    fig, (a, b) = viz.figure(2)
    viz.plot_share_bars(a, np.arange(4), [0.1, 0.4, 0.4, 0.1], "residual", "paths")
    viz.plot_lesions(b, [0.1, 0.5, 0.2], intact=0.05, kind="plain")
    assert len(a.patches) == 4 and len(b.patches) == 3
    assert [line.get_ydata()[0] for line in b.lines] == [0.05, 0.5]  # intact, chance
    assert b.get_title() == "Plain net, 3 blocks"
    plt.close(fig)


def test_gain_vs_depth_draws_solid_and_dashed_lines_per_kind() -> None:
    fig, ax = viz.figure()
    gains = {("residual", False): [1.0, 1.2], ("residual", True): [3.0, 30.0], ("dense", False): [1.0, 1.1]}
    viz.plot_gain_vs_depth(ax, [4, 8], gains)
    styles = [(line.get_color(), line.get_linestyle()) for line in ax.lines[:3]]
    assert styles == [(viz.COLORS["residual"], "-"), (viz.COLORS["residual"], "--"), (viz.COLORS["dense"], "-")]
    assert ax.get_yscale() == "log"
    plt.close(fig)


def test_block_norms_panels() -> None:
    from resnets.probes import BlockNorms

    norms = {
        "a": BlockNorms([1.0, 2.0], [1e-2, 1e-3], [0.5, 1.0]),
        "b": BlockNorms([1.0, 1.0], [1e-2, 1e-2], [1.0, 1.0]),
    }
    fig, axes = viz.figure(3)
    viz.plot_block_norms(axes, norms, {"a": "residual", "b": "preact"})
    assert [len(ax.lines) for ax in axes] == [2, 2, 2]
    assert list(axes[2].lines[0].get_ydata()) == [0.5, 1.0]  # the running product of gate_open
    assert [ax.get_yscale() for ax in axes] == ["linear", "log", "log"]
    plt.close(fig)


def test_mark_chance_labels_either_end() -> None:
    fig, ax = viz.figure()
    viz.mark_chance(ax)
    viz.mark_chance(ax, 2.0, "reference", where="below left")
    right, left = ax.texts
    assert right.get_text() == "chance: ln 2" and right.get_ha() == "right"
    assert left.get_text() == "reference" and left.get_ha() == "left" and left.get_va() == "top"
    with pytest.raises(ValueError, match="below left"):
        viz.mark_chance(ax, where="middle")
    plt.close(fig)
