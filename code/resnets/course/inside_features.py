"""Part 3, chapter 4, section 1: what each stage of a shipped net passes on.

    maps = feature_maps(net, images)                   # {"stem": (N, 16, 32, 32), ..., "layer3": (N, 64, 8, 8)}
    strongest_channels(maps, count)                    # per stage, the channels with the largest mean response
    mosaic(maps[stage][i])                             # (C, H, W) -> one tiled image
    draw_feature_maps(image, caption, stage, ...)      # an image beside one stage's chosen channels
    feature_map_explorer(net, images, labels)          # pick an image and a stage (``widgets.Explorer``)

Each stage's output is read after its ReLU (``probes.stage_outputs``): every value is >= 0, and
a bright tile is a channel that responds strongly to the image.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from .. import viz
from ..data import CLASSES, normalize
from ..probes import stage_outputs
from .inside import Trained
from .widgets import Control, Explorer


def feature_maps(net: Trained, images: Tensor, device: str = "cpu") -> dict[str, np.ndarray]:
    """What ``net`` passes on after its stem and each stage, for uint8 (N, 32, 32, 3) images.

    Returns {"stem": (N, 16, 32, 32), "layer1": ..., "layer3": (N, 64, 8, 8)} float32 arrays
    (after the ReLU: every value >= 0).
    """
    outputs = stage_outputs(net.load(device), normalize(images.to(device)))
    return {name: value.float().cpu().numpy() for name, value in outputs.items()}


def mosaic(maps: np.ndarray, columns: int = 8) -> np.ndarray:
    """(C, H, W) maps -> one (rows*(H+1)-1, columns*(W+1)-1) image, NaN in the gaps."""
    channels, h, w = maps.shape
    columns = min(columns, channels)
    rows = -(-channels // columns)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan)
    for k in range(channels):
        r, c = divmod(k, columns)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = maps[k]
    return out


def strongest_channels(maps: Mapping[str, np.ndarray], count: int = 16) -> dict[str, np.ndarray]:
    """For each stage, the ``count`` channels with the largest mean response over all images."""
    return {name: np.sort(np.argsort(value.mean(axis=(0, 2, 3)))[::-1][:count]) for name, value in maps.items()}


def draw_feature_maps(
    image: np.ndarray, caption: str, stage: str, maps: np.ndarray, channels: np.ndarray, total_channels: int
) -> Figure:
    """One image (H, W, 3 uint8) beside the chosen channels (C, h, w) of one stage's output."""
    fig, (left, right) = viz.figure(2, figsize=(10, 2.7), gridspec_kw={"width_ratios": [1, 4.2]})
    with viz.style():
        left.imshow(image, interpolation="nearest")
        left.set_title(caption, fontsize=11)
        tiles = mosaic(maps)
        cmap = matplotlib.colormaps["magma"].with_extremes(bad="white")
        right.imshow(tiles, cmap=cmap, vmin=0, vmax=max(float(np.nanmax(tiles)), 1e-6), interpolation="nearest")
        h, w = maps.shape[1:]
        right.set_title(
            f"after {stage}: {len(channels)} of its {total_channels} channels, {h}×{w} each (bright = strong response)",
            fontsize=11,
        )
        for ax in (left, right):
            ax.set_xticks([]), ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
    return fig


def feature_map_explorer(
    net: Trained, images: Tensor, labels: Tensor, device: str = "cpu", channels: int = 16
) -> Explorer:
    """Pick a test image and a stage; see what ``net`` passes on there.

    images: a few uint8 (N, 32, 32, 3) test images, labels (N,). Every stage's maps are
    computed once for all of them; the static site gets one frame per (image, stage).
    """
    maps = feature_maps(net, images, device)
    chosen = strongest_channels(maps, channels)
    choices = tuple(f"{i + 1}: {CLASSES[int(y)]}" for i, y in enumerate(labels))
    stages = tuple(maps)

    def frame(image: str, stage: str) -> Figure:
        i = choices.index(image)
        return draw_feature_maps(
            images[i].numpy(), image, stage, maps[stage][i, chosen[stage]], chosen[stage], maps[stage].shape[1]
        )

    return Explorer(
        controls=[Control("image", choices, "test image", kind="select"), Control("stage", stages, "after")],
        frame=frame,
        caption=f"Feature maps of {net.label} ({net.name}): the {channels} channels with the strongest mean "
        "response at each stage. Pick an image and slide from the stem to the last stage: the maps shrink "
        "(32, 16, 8 pixels) while the channels multiply (16, 32, 64).",
    )


__all__ = ["draw_feature_maps", "feature_map_explorer", "feature_maps", "mosaic", "strongest_channels"]
