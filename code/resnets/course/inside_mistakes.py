"""Part 3, chapter 4, section 7: what a shipped net gets wrong on the test set.

    logits, labels = test_predictions(net, images)     # on class-balanced test images
    plot_confusion(matrix, title)                      # rows: true class, each as percentages
    most_confused(matrix)                              # the largest off-diagonal cell
    same_kind_share(matrix)                            # mistakes within animals or within vehicles
    mistakes_grid(images, labels, mistakes)            # ``probes.confident_mistakes``, drawn

The confusion matrix itself is ``probes.confusion_matrix``; ``inside.probe_work`` counts these
predictions in the chapter's cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from .. import viz
from ..cache import cached
from ..data import CLASSES, normalize
from ..probes import predict
from .inside import Trained, evaluation_set


@cached
def test_predictions(net: Trained, images: int, device: str = "cpu") -> tuple[Tensor, Tensor]:
    """(logits (N, 10), labels (N,)) of ``net`` on ``images`` class-balanced test images."""
    test_images, labels = evaluation_set("test", images)
    return predict(net.load(device), normalize(test_images)), labels


#: CIFAR-10's two kinds of thing: mistakes mostly stay within one.
VEHICLES = ("airplane", "automobile", "ship", "truck")


def same_kind_share(matrix: Tensor | np.ndarray) -> float:
    """Of the mistakes in a confusion matrix, the share that take an animal for another animal or
    a vehicle for another vehicle (a classifier that erred at random: (6*5 + 4*3) / 90, about 0.47)."""
    counts = _numpy(matrix).astype(float)
    vehicle = np.array([c in VEHICLES for c in CLASSES])
    same = vehicle[:, None] == vehicle[None, :]
    wrong = counts * (1 - np.eye(len(CLASSES)))
    return float(wrong[same].sum() / max(wrong.sum(), 1))


def _numpy(x: Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def most_confused(matrix: Tensor | np.ndarray) -> tuple[str, str, int]:
    """(true class, predicted class, count) of the largest off-diagonal cell of a confusion matrix."""
    counts = _numpy(matrix).astype(np.int64)
    np.fill_diagonal(counts, -1)
    true, predicted = np.unravel_index(counts.argmax(), counts.shape)
    return CLASSES[true], CLASSES[predicted], int(counts[true, predicted])


def plot_confusion(matrix: Tensor | np.ndarray, title: str = "") -> Figure:
    """A (10, 10) confusion matrix (rows: true class, columns: predicted), each row as
    percentages of its class, with the percentage written in every cell above 1%."""
    counts = _numpy(matrix).astype(float)
    share = 100 * counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    fig, ax = viz.figure(figsize=(7, 6))
    with viz.style():
        image = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
        for (i, j), value in np.ndenumerate(share):
            if value >= 1:
                ax.text(
                    j, i, f"{value:.0f}", ha="center", va="center", fontsize=8, color="white" if value > 50 else "black"
                )
        ticks = np.arange(len(CLASSES))
        ax.set_xticks(ticks, CLASSES, rotation=45, ha="right")
        ax.set_yticks(ticks, CLASSES)
        ax.set(xlabel="predicted class", ylabel="true class", title=title)
        ax.grid(False)
        fig.colorbar(image, ax=ax, shrink=0.8).set_label("% of the true class")
    return fig


def mistakes_grid(
    images: Tensor, labels: Tensor, mistakes: Sequence[tuple[int, int, float]], columns: int = 8
) -> Figure:
    """The test images of ``probes.confident_mistakes``, titled "true → predicted, confidence"."""
    rows = -(-len(mistakes) // columns)
    picked = [images[i].numpy() for i, _, _ in mistakes]
    blank = np.full_like(picked[0], 255)
    cells = picked + [blank] * (rows * columns - len(picked))
    titles = [f"{CLASSES[labels[i]]} →\n{CLASSES[p]} {c:.0%}" for i, p, c in mistakes] + [""] * (
        len(cells) - len(picked)
    )
    grid = np.stack(cells).reshape(rows, columns, *picked[0].shape)
    return viz.image_grid(grid, titles=[titles[r * columns : (r + 1) * columns] for r in range(rows)], cell=1.3)


__all__ = ["VEHICLES", "mistakes_grid", "most_confused", "plot_confusion", "same_kind_share", "test_predictions"]
