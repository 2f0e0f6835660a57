"""The shared look: colours every part uses, a style that does not leak, plots that label themselves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

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
    assert ax.get_yscale() == "log" and "0.1" in labels and not any("times" in l or "^" in l for l in labels)
    plt.close(fig)
