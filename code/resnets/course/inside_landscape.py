"""Part 3, chapter 4, section 6: what the loss looks like around a shipped net's weights (Li et al. 2018).

    surface = landscape(net, images, line_points, grid_points)   # loss and error on a line and a grid
    local_minima(surface["grid"]["loss"])                        # how many dips: one for a bowl
    plot_landscape_1d({net: surface["line"], ...})              # loss and error along one direction
    plot_landscape_2d({net: surface["grid"], ...})              # contours over two directions, a panel per net

The directions are filter-normalised random ones (``landscape.random_directions``); the loss is
measured on class-balanced training images (``inside.evaluation_set``). ``inside.probe_work``
counts these slices in the chapter's cost.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.colors
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

from .. import viz
from ..cache import cached
from ..data import normalize
from ..landscape import loss_surface, random_directions
from .inside import CHANCE_ERROR, Trained, evaluation_set


@cached
def landscape(
    net: Trained, images: int, line_points: int, grid_points: int, span: float = 1.0, seed: int = 0, device: str = "cpu"
) -> dict[str, dict[str, np.ndarray]]:
    """Training loss around the trained weights along filter-normalised random directions.

    Returns {"line": loss_surface(...) along d1 at ``line_points`` points of [-span, span],
    "grid": the same on a ``grid_points`` x ``grid_points`` grid over (d1, d2)}. The directions
    depend on ``seed`` only; ``images`` training images, class-balanced.
    """
    train_images, labels = evaluation_set("train", images)
    x = normalize(train_images)
    model = net.load(device)
    directions = random_directions(model, count=2, seed=seed)
    return {
        "line": loss_surface(model, x, labels, directions[:1], np.linspace(-span, span, line_points)),
        "grid": loss_surface(model, x, labels, directions, np.linspace(-span, span, grid_points)),
    }


def local_minima(loss: np.ndarray) -> int:
    """How many points of a 1-D or 2-D loss slice lie strictly below all their neighbours
    (2 neighbours on a line, up to 8 on a grid; edges compare with the neighbours they have).
    A convex bowl has exactly one; a chaotic landscape many."""
    loss = np.asarray(loss, dtype=float)
    padded = np.pad(loss, 1, constant_values=np.inf)
    shifts = [o for o in np.ndindex(*(3,) * loss.ndim) if o != (1,) * loss.ndim]
    below = np.ones(loss.shape, dtype=bool)
    for offset in shifts:
        neighbour = padded[tuple(slice(o, o + n) for o, n in zip(offset, loss.shape))]
        below &= loss < neighbour
    return int(below.sum())


def plot_landscape_1d(surfaces: Mapping[Trained, Mapping[str, np.ndarray]]) -> Figure:
    """Loss (left, log scale) and error (right) along one filter-normalised direction."""
    fig, (left, right) = viz.figure(2, figsize=(11, 4))
    with viz.style():
        for net, line in surfaces.items():
            style = dict(color=viz.COLORS[net.kind], marker="o", ms=3, label=net.label)
            left.plot(line["coordinates"], line["loss"], **style)
            right.plot(line["coordinates"], line["error"], **style)
        viz.log_axis(left)
        alphas = next(iter(surfaces.values()))["coordinates"]
        for ax in (left, right):
            ax.set_xticks(np.linspace(alphas[0], alphas[-1], 5))
        left.set(
            xlabel="α (step along the direction)",
            ylabel="training loss (nats, log scale)",
            title="Loss along a random direction",
        )
        right.axhline(CHANCE_ERROR, ls=":", lw=1.2, color=viz.COLORS["reference"])
        right.set(
            xlabel="α (step along the direction)",
            ylabel="training error",
            ylim=(0, 1),
            title="Error along the same direction",
        )
        left.legend()
    return fig


def plot_landscape_2d(surfaces: Mapping[Trained, Mapping[str, np.ndarray]], decades: float = 1.0) -> Figure:
    """Contours of the loss over two filter-normalised directions, one panel per net, on
    shared log-spaced levels from the lowest loss up to ``decades`` decades above it (higher
    losses are drawn as the top level)."""
    lowest = min(float(s["loss"].min()) for s in surfaces.values())
    highest = max(float(s["loss"].max()) for s in surfaces.values())
    levels = np.geomspace(lowest, max(min(highest, lowest * 10**decades), lowest * 1.01), 13)
    fig, axes = viz.figure(len(surfaces), figsize=(4.6 * len(surfaces) + 1, 4.2), squeeze=False)
    with viz.style():
        for ax, (net, grid) in zip(axes[0], surfaces.items()):
            c = grid["coordinates"]
            loss = np.clip(grid["loss"], levels[0], levels[-1])
            # loss[i, j] is at (alpha_i, beta_j): alpha runs along x, so transpose for contourf
            filled = ax.contourf(c, c, loss.T, levels=levels, norm=matplotlib.colors.LogNorm(), cmap="viridis")
            ax.contour(c, c, loss.T, levels=levels, colors="white", linewidths=0.5, alpha=0.6)
            ax.plot(0, 0, marker="*", ms=10, color="white", mec="black")
            ticks = np.linspace(c[0], c[-1], 5)
            ax.set(xlabel="α", ylabel="β", title=net.label, aspect="equal", xticks=ticks, yticks=ticks)
            ax.grid(False)
        bar = fig.colorbar(filled, ax=list(axes[0]), shrink=0.9)
        bar.set_label("training loss (nats, log scale)")
        nice = [m * 10.0**e for e in range(-2, 16) for m in (1, 2, 5)]
        bar.set_ticks([v for v in nice if levels[0] <= v <= levels[-1]] or [levels[0], levels[-1]])
        bar.ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    return fig


__all__ = ["landscape", "local_minima", "plot_landscape_1d", "plot_landscape_2d"]
