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
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .errors import ConfigError

COLORS: dict[str, str] = {
    "plain": "#D55E00",  # vermilion
    "residual": "#0072B2",  # blue (post-activation, He et al. 2015, wherever the two orders meet)
    "preact": "#009E73",  # bluish green (pre-activation, He et al. 2016)
    "reference": "#9A9A9A",  # context: other runs, chance level
    "live": "#000000",  # a run happening now
    "highway": "#E69F00",  # orange: the gated relative (Part 2, chapter 6)
    "dense": "#CC79A7",  # reddish purple: the concatenating relative (Part 2, chapter 6)
}
LABELS: dict[str, str] = {
    "plain": "plain",
    "residual": "residual",
    "preact": "pre-activation residual",
    "highway": "highway",
    "dense": "dense",
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
    """ "residual" or "plain": the key of COLORS and LABELS for a net."""
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


def image_grid(
    images: np.ndarray,
    row_labels: Sequence[str] | None = None,
    titles: Sequence[Sequence[str]] | None = None,
    cell: float = 1.1,
) -> Figure:
    """A grid of small images: ``images`` is (rows, cols, H, W, 3), uint8 or floats in [0, 1].

    ``row_labels`` name the rows (e.g. the classes) on the left; ``titles[r][c]`` goes above
    image (r, c). Images are drawn pixel for pixel (no smoothing): CIFAR's 32x32 as it is.
    """
    images = np.asarray(images)
    rows, cols = images.shape[:2]
    with style():
        fig, axes = plt.subplots(
            rows,
            cols,
            figsize=(cols * cell + (0.9 if row_labels else 0), rows * cell * (1.2 if titles else 1)),
            squeeze=False,
            constrained_layout=True,
        )
        for r in range(rows):
            for c in range(cols):
                ax = axes[r, c]
                ax.imshow(images[r, c], interpolation="nearest")
                ax.set_xticks([]), ax.set_yticks([])
                ax.grid(False)
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if titles is not None:
                    ax.set_title(titles[r][c], fontsize=8, fontweight="normal")
            if row_labels is not None:
                axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=10)
    return fig


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
        ax.annotate(
            str(depth),
            (len(mean), mean[-1]),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
            color=color,
        )


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


def mark_chance(
    ax: Axes, level: float = float(np.log(2)), text: str = "chance: ln 2", where: str = "above right"
) -> None:
    """A dashed line at the loss of a classifier that always answers 50/50 (or any reference
    ``level``), labelled ``text`` at one end: ``where`` is "above right" or "below left"."""
    if where not in ("above right", "below left"):
        raise ConfigError(f"where must be 'above right' or 'below left', not {where!r}")
    right = where == "above right"
    ax.axhline(level, ls="--", lw=1.2, color=COLORS["reference"])
    ax.annotate(
        text,
        (1.0 if right else 0.0, level),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 4) if right else (4, -4),
        textcoords="offset points",
        ha="right" if right else "left",
        va="bottom" if right else "top",
        color=COLORS["reference"],
        fontsize=9,
    )


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


def plot_lines(
    ax: Axes,
    x: Sequence[float] | np.ndarray,
    lines: Mapping[str, Sequence[float] | np.ndarray],
    kinds: Mapping[str, str] | None = None,
    fmt: str = "o-",
    **kwargs,
) -> None:
    """One line per entry of ``lines`` (label -> (len(x),) values) in the colour of its kind.

    The kind of a label is ``kinds[label]``, or the label itself when it is a key of COLORS
    (then the legend says ``LABELS[kind]``). Extra keyword arguments go to ``ax.plot``.
    """
    kinds = kinds or {}
    for label, values in lines.items():
        kind = kinds.get(label, label)
        text = LABELS.get(label, label) if label not in kinds else label
        ax.plot(x, values, fmt, color=COLORS[kind], label=text, **kwargs)


def ticks_at(ax: Axes, values: Sequence[float], axis: str = "x", scale: str = "log2") -> None:
    """Put ``axis`` on ``scale`` ("log2", or "symlog" for values that include 0) with one
    labelled tick at each of ``values`` and no minor ticks: for a handful of chosen settings."""
    values = list(values)
    set_scale = ax.set_xscale if axis == "x" else ax.set_yscale
    if scale == "log2":
        set_scale("log", base=2)
    elif scale == "symlog":
        positive = [abs(v) for v in values if v]
        set_scale("symlog", linthresh=min(positive) if positive else 1.0)
    else:
        raise ConfigError(f"unknown scale {scale!r}; choose 'log2' or 'symlog'")
    (ax.set_xticks if axis == "x" else ax.set_yticks)(values, [f"{v:g}" for v in values])
    ax.minorticks_off()


def plot_steps_to_reach(
    ax: Axes, depths: Sequence[int], steps: Mapping[str, np.ndarray], limit: int, ylabel: str
) -> None:
    """How many steps each kind of net needed to reach a target, against depth (log2 axis).

    ``steps[kind]`` is (len(depths), seeds), ``inf`` for a run that never got there; the
    line goes through the means, and depths where a run failed are marked with a cross at
    ``limit`` ("not within ``limit`` steps").
    """
    ks = np.asarray(depths)
    for kind, table in steps.items():
        mean = np.asarray(table, dtype=float).mean(axis=1)
        done = np.isfinite(mean)
        ax.plot(ks[done], mean[done], "o-", color=COLORS[kind], label=LABELS[kind])
        if (~done).any():
            ax.plot(
                ks[~done],
                np.full((~done).sum(), limit),
                "x",
                ms=10,
                mew=2,
                color=COLORS[kind],
                label=f"{kind}: not within {limit} steps",
            )
    ticks_at(ax, depths)
    ax.set(ylim=(0, limit * 1.1), ylabel=ylabel)
    ax.legend(fontsize=9)


def plot_share_bars(
    ax: Axes,
    x: Sequence[float] | np.ndarray,
    share: Sequence[float] | np.ndarray,
    kind: str,
    label: str,
    alpha: float = 0.7,
) -> None:
    """Bars of a distribution over ``x`` (shares summing to 1) in ``kind``'s colour."""
    ax.bar(x, share, width=0.9, color=COLORS[kind], alpha=alpha, label=label)


def plot_lesions(
    ax: Axes,
    errors: Sequence[float] | np.ndarray,
    intact: float,
    kind: str,
    chance: float = 0.5,
    title: str | None = None,
) -> None:
    """Test error with each block deleted in turn (a bar per block, input side first), beside the
    intact net's error (dashed) and chance (dotted)."""
    errors = np.asarray(errors)
    ax.bar(np.arange(1, len(errors) + 1), errors, color=COLORS[kind], width=0.8)
    ax.axhline(intact, ls="--", lw=1.2, color="black", label=f"nothing deleted: {intact:.0%}")
    ax.axhline(chance, ls=":", lw=1.2, color=COLORS["reference"], label=f"chance: {chance:.0%}")
    ax.set(
        xlabel="deleted block",
        xlim=(0.4, len(errors) + 0.6),
        title=title or f"{LABELS[kind].capitalize()} net, {len(errors)} blocks",
    )


def plot_gain_vs_depth(ax: Axes, layers: Sequence[int], gains: Mapping[tuple[str, bool], Sequence[float]]) -> None:
    """Gradient gain (output to input, log scale) against the number of weight layers, one colour
    per kind of connection: solid with it, dashed without it (``gains[(kind, plain)]``)."""
    for (kind, plain), values in gains.items():
        ax.plot(
            layers,
            values,
            "--" if plain else "-",
            marker="o",
            ms=4,
            color=COLORS[kind],
            label=f"{LABELS[kind]}, plain" if plain else LABELS[kind],
        )
    ax.axhline(1.0, color=COLORS["reference"], lw=0.8)
    ticks_at(ax, layers)
    log_axis(ax)
    ax.set(xlabel="weight layers in the stack", ylabel="gradient gain, output → input (RMS, log)")
    ax.legend(ncol=3, fontsize=9)


def plot_block_norms(axes: Sequence[Axes], norms: Mapping[str, object], kinds: Mapping[str, str]) -> None:
    """Three panels for ``probes.block_norms`` results (name -> BlockNorms), a line per model in
    the colour of ``kinds[name]``: the signal's size, the gradient's size (log) and the share of
    units with a clean skip path to the top (log), at each residual block, input side first."""
    panels = (  # (title, what to draw, y scale, y label)
        ("Signal", lambda n: n.signal, "linear", "rms of the block's output"),
        ("Gradient", lambda n: n.gradient, "log", "rms of ∂loss/∂output (log)"),
        ("Clean skip path to the top", lambda n: n.skip_path_survival(), "log", "share of units (log)"),
    )
    for ax, (title, values, scale, ylabel) in zip(axes, panels):
        for name, measured in norms.items():
            series = values(measured)
            ax.plot(np.arange(1, len(series) + 1), series, color=COLORS[kinds[name]], label=name)
        ax.set(yscale=scale, ylabel=ylabel, title=title, xlabel="residual block (input side → output side)")
        ax.legend(fontsize=9)
