"""One look for every figure of the course: colours, style and small plotting functions.

    from resnets import viz
    with viz.style():
        fig, ax = viz.figure()
        viz.plot_curves(ax, losses, kind="plain")

Plain nets are always drawn in vermilion and residual nets in blue (the Okabe-Ito palette,
readable with every common colour-vision deficiency); pre-activation residual nets in
bluish green. Use ``COLORS[kind]`` (or ``kind_of(residual)``) rather than a colour of your own.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import matplotlib
import matplotlib.ticker
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

COLORS: dict[str, str] = {
    "plain": "#D55E00",  # vermilion
    "residual": "#0072B2",  # blue (post-activation, He et al. 2015, wherever the two orders meet)
    "preact": "#009E73",  # bluish green (pre-activation, He et al. 2016)
    "reference": "#9A9A9A",  # context: other runs, chance level
    "live": "#000000",  # a run happening now
}
LABELS: dict[str, str] = {
    "plain": "plain",
    "residual": "residual",
    "preact": "pre-activation residual",
}
FIGSIZE = (8.0, 4.0)

STYLE: dict[str, object] = {
    "figure.figsize": FIGSIZE,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
}


def kind_of(residual: bool) -> str:
    """"residual" or "plain": the key of COLORS and LABELS for a net."""
    return "residual" if residual else "plain"


@contextmanager
def style() -> Iterator[None]:
    """Draw with the course's style inside this block; the settings it changed are restored
    afterwards. (Only those: ``plt.rc_context`` would also undo what pyplot sets up the first
    time it draws, such as Jupyter's interactive mode, and later figures would not show.)"""
    saved = {key: plt.rcParams[key] for key in STYLE}
    plt.rcParams.update(STYLE)
    try:
        yield
    finally:
        plt.rcParams.update(saved)


def use_style() -> None:
    """Make the course's style the default for the rest of the session (e.g. in a notebook)."""
    plt.rcParams.update(STYLE)


def figure(ncols: int = 1, nrows: int = 1, figsize: tuple[float, float] = FIGSIZE, **kwargs) -> tuple[Figure, Axes]:
    """A new figure in the course's style: ``fig, ax = figure()`` or ``fig, (a, b) = figure(2)``."""
    with style():
        return plt.subplots(nrows, ncols, figsize=figsize, **kwargs)


def log_axis(ax: Axes, axis: str = "y") -> None:
    """Put ``axis`` ("x" or "y") on a log scale labelled with plain numbers (0.02, 0.1, 1)
    instead of 6x10^-1 at every minor tick. Minor ticks (2 and 5 times each power of ten)
    are labelled only while the axis spans less than two decades."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target.set_major_locator(matplotlib.ticker.LogLocator(base=10))
    target.set_minor_locator(matplotlib.ticker.LogLocator(base=10, subs=(2.0, 5.0)))

    def minor(value: float, _position: int) -> str:
        low, high = sorted(target.get_view_interval())
        return f"{value:g}" if low > 0 and np.log10(high / low) < 2 else ""

    target.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _position: f"{value:g}"))
    target.set_minor_formatter(matplotlib.ticker.FuncFormatter(minor))


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (its size fixed: no tight bounding box, so frames line up)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------
# Small plotting functions, each on an Axes you pass in
# ---------------------------------------------------------------------------------------


def plot_curves_by_depth(ax: Axes, curves: Mapping[int, np.ndarray], kind: str) -> None:
    """Mean training curve of each depth, in ``kind``'s colour, lighter for shallower nets,
    each labelled with its depth at its right end. ``curves[depth]`` is (runs, steps)."""
    depths = sorted(curves)
    base = matplotlib.colors.to_rgb(COLORS[kind])
    for i, depth in enumerate(depths):
        shade = 0.25 + 0.75 * (i + 1) / len(depths)  # mix with white: shallow = pale
        color = tuple(1 - shade * (1 - c) for c in base)
        mean = np.asarray(curves[depth]).mean(axis=0)
        ax.plot(np.arange(1, len(mean) + 1), mean, color=color, label=f"{depth} layers")
        ax.annotate(str(depth), (len(mean), mean[-1]), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=9, color=color)


def plot_curves(
    ax: Axes,
    curves: np.ndarray,
    kind: str,
    label: str | None = None,
    alpha: float = 1.0,
    linewidth: float | None = None,
    color: str | None = None,
) -> None:
    """One line per row of ``curves`` (runs, steps), all in ``kind``'s colour, one legend entry."""
    curves = np.atleast_2d(curves)
    color = color or COLORS[kind]
    for i, curve in enumerate(curves):
        ax.plot(
            np.arange(1, len(curve) + 1), curve, color=color, alpha=alpha, lw=linewidth, label=label if i == 0 else None
        )


def plot_by_depth(
    ax: Axes,
    depths: Sequence[int],
    values: Mapping[str, np.ndarray],
    ylabel: str,
    logy: bool = True,
) -> None:
    """A metric against depth for several kinds of net: a dot per seed, a line through the means.

    ``values[kind]`` is (len(depths), seeds). The depth axis is logarithmic (base 2).
    """
    for kind, table in values.items():
        table = np.asarray(table)
        for i, depth in enumerate(depths):
            ax.scatter(np.full(table.shape[1], depth), table[i], color=COLORS[kind], alpha=0.45, s=18, lw=0)
        ax.plot(depths, table.mean(axis=1), "o-", color=COLORS[kind], label=LABELS[kind])
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(depths), [str(d) for d in depths])
    ax.minorticks_off()
    if logy:
        log_axis(ax)
    ax.set_xlabel("depth (hidden layers)")
    ax.set_ylabel(ylabel)
    ax.legend()


def plot_layer_profile(
    ax: Axes, norms: np.ndarray, kind: str, ylabel: str = "gradient norm", label: str | None = None
) -> None:
    """Bars of a per-layer quantity (input side on the left) on a log scale.

    ``norms`` is (layers,) or (runs, layers): bars at the geometric mean of the runs, with
    a whisker from the smallest to the largest run.
    """
    norms = np.atleast_2d(np.asarray(norms, dtype=float))
    centre = np.exp(np.log(norms).mean(axis=0))
    layers = np.arange(1, norms.shape[1] + 1)
    ax.bar(layers, centre, width=0.85, color=COLORS[kind], label=label or LABELS.get(kind, kind), log=True)
    if norms.shape[0] > 1:
        ax.vlines(layers, norms.min(axis=0), norms.max(axis=0), color="black", lw=0.8, alpha=0.6)
    ax.set_xlabel("layer (input side → output side)")
    ax.set_ylabel(ylabel)


def mark_chance(ax: Axes, level: float = float(np.log(2)), text: str = "chance: ln 2") -> None:
    """A dashed line at the loss of a classifier that always answers 50/50."""
    ax.axhline(level, ls="--", lw=1.2, color=COLORS["reference"])
    ax.annotate(text, (1.0, level), xycoords=("axes fraction", "data"), xytext=(-4, 4),
                textcoords="offset points", ha="right", va="bottom", color=COLORS["reference"], fontsize=9)


CLASS_COLORS = ("#CC79A7", "#444444")  # the two classes of a 2-D data set: neither plain nor residual


def plot_points(ax: Axes, X: np.ndarray, y: np.ndarray, size: float = 10) -> None:
    """A 2-D two-class data set: (N, 2) points, (N,) 0/1 labels."""
    for label, color in enumerate(CLASS_COLORS):
        ax.scatter(*X[y == label].T, s=size, color=color, label=f"class {label}", lw=0)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def plot_decision_regions(
    ax: Axes, predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray, resolution: int = 120
) -> None:
    """What a 2-D classifier answers everywhere: ``predict`` maps (M, 2) points to (M,) or
    (M, 1) logits; the background is shaded by the predicted class, the data drawn on top."""
    low, high = X.min(axis=0) - 0.15, X.max(axis=0) + 0.15
    g1, g2 = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    logits = np.asarray(predict(np.column_stack([g1.ravel(), g2.ravel()]))).reshape(g1.shape)
    cmap = matplotlib.colors.ListedColormap(CLASS_COLORS)
    ax.contourf(g1, g2, logits > 0, levels=[-0.5, 0.5, 1.5], cmap=cmap, alpha=0.18)
    ax.grid(False)
    plot_points(ax, X, y, size=6)
