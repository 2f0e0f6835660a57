"""Part 3, chapter 4: looking inside trained CIFAR-10 nets. The experiments and their figures.

The nets are the CPU recipe's checkpoints shipped with the package (``checkpoints.load_pretrained``,
which checks each file's SHA-256 first), named by ``shipped.cpu_run_name``; ``trained(arch)``
finds one and says how to make it when it is missing. Every experiment takes a ``Trained`` (name, arch,
SHA-256: new weights, new cache entry) and a number of images, loads what it needs and
returns plain numbers; the expensive ones are ``@cached``. The figures take those numbers.

    question                          experiment         figure
    what does each stage see?         feature_maps       feature_map_explorer
    how big are the responses?        response_profile   plot_response_stds   (He et al. 2015, Fig. 7)
    ... and each BN's scale           bn_scales          plot_std_against_scale
    how much does each block change?  block_ratios       plot_block_ratios
    did the gradient reach layer 1?   gradient_ratios    plot_gradient_norms, gradient_ratio_table
    can the net lose a block?         course.lesions: lesion_study, plot_lesion_study (Veit et al. 2016)
    what does the loss look like?     landscape          plot_landscape_1d/2d (Li et al. 2018)
    what does it get wrong?           test_predictions   plot_confusion, mistakes_grid
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import matplotlib.colors
import matplotlib.ticker
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from .. import profiles, viz
from ..cache import cached
from ..checkpoints import MANIFEST, CheckpointError, load_pretrained, read_manifest
from ..costs import Workload
from ..data import CLASSES, load_cifar10, make_splits, normalize
from ..errors import ConfigError
from ..flops import forward_flops_of
from ..landscape import loss_surface, random_directions
from ..probes import bn_after_3x3, predict, residual_ratios, response_stds, stage_outputs
from ..shipped import cpu_run_name
from ..tables import format_table
from .widgets import Control, Explorer

#: The nets of the chapter, in the order they are drawn: plain then residual, shallow then deep; the
#: five of He et al. 2015's Fig. 7. ``shipped_nets`` finds those that are shipped.
ARCHS = ("plain20", "resnet20", "plain56", "resnet56", "resnet110")
CHANCE_ERROR = 1 - 1 / len(CLASSES)


@dataclass(frozen=True)
class ProbeSettings:
    """How many images and grid points each experiment uses in one profile."""

    response_images: int  # response stds (class-balanced test subset; 10000 = all)
    test_images: int  # predictions: confusion matrix and mistakes
    ratio_images: int  # ||F(x)|| / ||x|| per block
    lesion_images: int
    lesion_archs: tuple[str, ...]  # the nets whose blocks are deleted, studied live (course.lesions)
    lesion_draws: int  # random draws of k blocks deleted at once, for each k
    landscape_images: int  # training images the loss is measured on
    line_points: int  # points of the 1-D slice, on [-span, span]
    grid_points: int  # points per axis of the 2-D slice (odd: the trained net is the centre)
    span: float = 1.0


profiles.register(
    "inside",
    {
        "quick": ProbeSettings(
            response_images=500,
            test_images=1000,
            ratio_images=200,
            lesion_images=500,
            lesion_archs=("plain20", "resnet20"),
            lesion_draws=3,
            landscape_images=100,
            line_points=13,
            grid_points=7,
        ),
        "full": ProbeSettings(
            response_images=10000,
            test_images=10000,
            ratio_images=1000,
            lesion_images=10000,
            lesion_archs=ARCHS,
            lesion_draws=5,
            landscape_images=2500,
            line_points=41,
            grid_points=21,
        ),
    },
)


def probe_settings(profile: str) -> ProbeSettings:
    """The experiment sizes for ``rt.profile`` ("quick" or "full"), as registered with ``profiles``."""
    return profiles.sizes("inside", profile)


# ---------------------------------------------------------------------------------------
# The shipped nets
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trained:
    """One shipped checkpoint. Its repr (name, arch, SHA-256) keys the cached experiments."""

    name: str
    arch: str
    sha256: str
    manifest: str = field(default=str(MANIFEST), repr=False, compare=False)

    @property
    def entry(self) -> dict[str, Any]:
        return read_manifest(self.manifest)[self.name]

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The run's per-epoch log (metrics.jsonl): losses, errors, gradient norms, timings."""
        return self.entry.get("metrics", [])

    @property
    def test_error(self) -> float:
        """The final test error in the run's log (1.0 if it logged none)."""
        return self.metrics[-1].get("test_error", 1.0) if self.metrics else 1.0

    @property
    def residual(self) -> bool:
        return not self.arch.startswith("plain")

    @property
    def kind(self) -> str:
        """Its key in ``viz.COLORS``."""
        return viz.kind_of(self.residual)

    @property
    def depth(self) -> int:
        return int("".join(ch for ch in self.arch if ch.isdigit()))

    def load(self, device: str | torch.device = "cpu") -> nn.Module:
        """The trained model, checked against its SHA-256, in eval mode on ``device``."""
        return load_pretrained(self.name, self.manifest, map_location=device)

    def describe(self) -> str:
        """One line: how long and on what the net was trained, and its final test error."""
        provenance, metrics = self.entry.get("provenance", {}), self.metrics
        schedule = provenance.get("config", {}).get("schedule", "?")
        error = f"test error {self.test_error:.1%}"
        minutes = metrics[-1].get("wall_seconds", 0.0) / 60 if metrics else 0.0  # from start to the last epoch's end
        epochs = f"{len(metrics)} epoch{'s' if len(metrics) != 1 else ''}"
        return f"{self.arch:>9}: {epochs} ({schedule}), {minutes:.0f} min on {provenance.get('hardware', '?')}; {error}"


def trained(arch: str, manifest: str | None = None) -> Trained:
    """The shipped checkpoint of ``arch`` trained with the CPU recipe (``cpu_run_name(arch)``), or an
    error that says how to make it."""
    name = cpu_run_name(arch)
    manifest = str(MANIFEST if manifest is None else manifest)
    entries = read_manifest(manifest)
    if name not in entries:
        shipped = ", ".join(sorted(entries)) or "none"
        raise CheckpointError(
            f"no shipped checkpoint named {name!r} (shipped: {shipped}). Make it with the course's CPU recipe: "
            f"`tools/train_cpu_runs.sh {arch}` (or `python -m resnets train --model {arch} --schedule cpu --eval-train "
            f"--eval-train-size 5000 --out runs/cpu/{name}`), then `python -m resnets ship runs/cpu/{name} --name "
            f"{name}`."
        )
    return Trained(name, entries[name]["arch"], entries[name]["sha256"], manifest)


def shipped_nets(archs: Sequence[str] = ARCHS, manifest: str | None = None) -> dict[str, Trained]:
    """``{arch: Trained}`` for each of ``archs`` that is shipped; one line for each that is not,
    naming the command that trains it."""
    entries = read_manifest(str(MANIFEST if manifest is None else manifest))
    found = {arch: trained(arch, manifest) for arch in archs if cpu_run_name(arch) in entries}
    for arch in (a for a in archs if a not in found):
        print(f"{arch} is not shipped yet: `tools/train_cpu_runs.sh {arch}` trains it (hours on a CPU), then ship it.")
    return found


#: A net whose final test error is above this has not learned enough to be looked inside: the
#: nets of the CPU recipe end well below it (chapter 3's table), nets trained one to three epochs
#: (29.5% to 77.2% in an earlier copy of this book) do not. The paper's nets end at 6-9%.
LEARNED_ERROR = 0.25


def comparable_depths(nets: Sequence[Trained]) -> list[int]:
    """The depths at which both the plain and the residual net learned something (final test
    error below ``LEARNED_ERROR``): only there can the two be compared. Says which are left out."""
    depths = []
    for depth in sorted({net.depth for net in nets}):
        pair = [net for net in nets if net.depth == depth]
        untrained = [f"{net.arch} ({net.test_error:.0%} test error)" for net in pair if net.test_error > LEARNED_ERROR]
        if untrained:
            verb, pronoun = ("has", "it") if len(untrained) == 1 else ("have", "them")
            print(
                f"Not compared at depth {depth}: {' and '.join(untrained)} {verb} not learned yet; "
                f"train {pronoun} longer."
            )
        elif len({net.residual for net in pair}) == 2:
            depths.append(depth)
    return depths


# ---------------------------------------------------------------------------------------
# Data: class-balanced subsets of CIFAR-10 (the chapter's nets were trained on the other 45k)
# ---------------------------------------------------------------------------------------


def evaluation_set(split: str, images: int) -> tuple[Tensor, Tensor]:
    """``images`` class-balanced images of the test set, or of the 45k training images.

    Returns uint8 (N, 32, 32, 3) images and int64 (N,) labels on the CPU. The same
    ``(split, images)`` always gives the same images.
    """
    data = load_cifar10()
    if split == "test":
        full = images >= len(data.test_labels)
        return make_splits(data, test_subset=None if full else images).test
    if split == "train":
        return make_splits(data, train_subset=images).train
    raise ConfigError(f"split must be 'test' or 'train'; got {split!r}")


def _batches(images: Tensor, device: str, batch_size: int = 500):
    for i in range(0, len(images), batch_size):
        yield normalize(images[i : i + batch_size].to(device))


# ---------------------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------------------


def feature_maps(net: Trained, images: Tensor, device: str = "cpu") -> dict[str, np.ndarray]:
    """What ``net`` passes on after its stem and each stage, for uint8 (N, 32, 32, 3) images.

    Returns {"stem": (N, 16, 32, 32), "layer1": ..., "layer3": (N, 64, 8, 8)} float32 arrays
    (after the ReLU: every value >= 0).
    """
    outputs = stage_outputs(net.load(device), normalize(images.to(device)))
    return {name: value.float().cpu().numpy() for name, value in outputs.items()}


@cached
def response_profile(net: Trained, images: int, device: str = "cpu") -> list[tuple[str, float]]:
    """Std of every 3x3 layer's response (after BN, before ReLU and addition) over ``images``
    test images: He et al. 2015, Fig. 7. (layer name, std) in forward order."""
    test_images, _ = evaluation_set("test", images)
    return response_stds(net.load(device), _batches(test_images, device))


@cached
def block_ratios(net: Trained, images: int, device: str = "cpu") -> list[tuple[str, float]]:
    """||F(x)|| / ||x|| at every block, averaged over ``images`` test images (in batches)."""
    test_images, _ = evaluation_set("test", images)
    model = net.load(device)
    sums: dict[str, float] = {}
    for x in _batches(test_images, device):
        for name, ratio in residual_ratios(model, x):
            sums[name] = sums.get(name, 0.0) + ratio * len(x)
    return [(name, total / len(test_images)) for name, total in sums.items()]


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


@cached
def test_predictions(net: Trained, images: int, device: str = "cpu") -> tuple[Tensor, Tensor]:
    """(logits (N, 10), labels (N,)) of ``net`` on ``images`` class-balanced test images."""
    test_images, labels = evaluation_set("test", images)
    return predict(net.load(device), normalize(test_images)), labels


def branch_output_stds(profile: Sequence[tuple[str, float]]) -> np.ndarray:
    """From ``response_profile``: the stds of every block's second 3x3 layer (``bn2``), the
    output of the residual function F(x) just before the addition (in a plain net, the same
    layer without the addition). The stem and each block's first layer are left out."""
    return np.array([std for name, std in profile if name.endswith(".bn2")])


def second_layer_share(profile: Sequence[tuple[str, float]]) -> float:
    """From ``response_profile``: the share of blocks whose second 3x3 layer (``bn2``, F(x) in a
    residual block) responds less than their first (``bn1``): the zig-zag of Fig. 7's curves."""
    first = {name.removesuffix(".bn1"): std for name, std in profile if name.endswith(".bn1")}
    second = {name.removesuffix(".bn2"): std for name, std in profile if name.endswith(".bn2")}
    return float(np.mean([second[block] < first[block] for block in first]))


def stage_medians(values: Sequence[float], stages: int = 3) -> list[float]:
    """The median of per-block ``values`` (forward order) within each of the net's equal stages."""
    per_stage = len(values) // stages
    return [float(np.median(values[i * per_stage : (i + 1) * per_stage])) for i in range(stages)]


def stage_minima(profile: Sequence[tuple[str, float]]) -> list[tuple[str, float, tuple[int, int]]]:
    """From ``response_profile``: for each stage (``layer1``...), its quietest 3x3 layer as
    (name, std, (position counted from 1 within the stage's layers, the stage's layer count))."""
    minima = []
    for stage in sorted({name.split(".")[0] for name, _ in profile if name.startswith("layer")}):
        layers = [(name, std) for name, std in profile if name.startswith(stage + ".")]
        i = int(np.argmin([std for _, std in layers]))
        minima.append((layers[i][0], layers[i][1], (i + 1, len(layers))))
    return minima


def bn_scales(net: Trained) -> list[tuple[str, float]]:
    """The mean |gamma| of every BN that follows a 3x3 layer (``probes.bn_after_3x3``), in the order
    of ``response_profile``. A BN's output has std |gamma| per channel over the images it was fitted
    on, so where the test images look like the training images, each layer's response std is close
    to its BN's mean |gamma|: a learned parameter, which weight decay pulls towards 0."""
    return [(name, bn.weight.detach().abs().mean().item()) for name, bn in bn_after_3x3(net.load())]


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


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------


def shade(net: Trained, deepest: int = 56) -> str:
    """``net``'s colour (plain or residual), paler for shallower nets: deep nets are the full colour."""
    base = np.array(matplotlib.colors.to_rgb(viz.COLORS[net.kind]))
    strength = 1.0 if net.depth >= deepest else 0.55
    return matplotlib.colors.to_hex(1 - strength * (1 - base))


def _label(net: Trained) -> str:
    return f"{'ResNet' if net.residual else 'plain'}-{net.depth}"


def plot_response_stds(profiles: Mapping[Trained, Sequence[float]]) -> Figure:
    """He et al. 2015, Fig. 7: each 3x3 layer's response std, in layer order (left) and sorted
    from largest to smallest (right). One line per net; plain and residual in their colours."""
    fig, (ordered, ranked) = viz.figure(2, figsize=(11, 4))
    with viz.style():
        for net, stds in profiles.items():
            stds = np.asarray(stds, dtype=float)
            style = dict(
                color=shade(net), lw=1.6, marker="o", ms=2.5, label=_label(net), ls="-" if net.residual else "--"
            )
            ordered.plot(np.arange(1, len(stds) + 1), stds, **style)
            ranked.plot(np.arange(1, len(stds) + 1), np.sort(stds)[::-1], **style)
        ordered.set(
            xlabel="layer index (input side → output side)",
            ylabel="std of the layer's response",
            title="In layer order",
        )
        ranked.set(xlabel="layer index (sorted by magnitude)", title="Sorted by magnitude")
        every = np.concatenate([np.asarray(v, dtype=float) for v in profiles.values()])
        for ax in (ordered, ranked):
            if every.max() > 10 * every.min():  # an exploding plain net: only a log scale shows them all
                viz.log_axis(ax)
                ax.set_ylabel(ax.get_ylabel() + " (log scale)" if ax.get_ylabel() else "")
            else:
                ax.set_ylim(bottom=0)
        ranked.legend(ncols=2)
        fig.suptitle(
            "Response of each 3×3 layer (after BN, before ReLU and addition) on CIFAR-10 test images", fontweight="bold"
        )
    return fig


def plot_std_against_scale(
    stds: Mapping[Trained, Sequence[float]], scales: Mapping[Trained, Sequence[float]]
) -> Figure:
    """Each 3x3 layer's response std (``response_profile``) against its BN's mean |gamma|
    (``bn_scales``), one point per layer, one colour per net, and the line std = |gamma|."""
    fig, ax = viz.figure(figsize=(5.5, 4.6))
    with viz.style():
        top = 0.0
        for net in stds:
            x, y = np.asarray(scales[net], dtype=float), np.asarray(stds[net], dtype=float)
            ax.scatter(x, y, s=14, color=shade(net), marker="o" if net.residual else "s", label=_label(net))
            top = max(top, x.max(), y.max())
        ax.plot([0, top * 1.05], [0, top * 1.05], ls=":", lw=1.2, color=viz.COLORS["reference"], label="std = mean |γ|")
        ax.set(
            xlabel="mean |γ| of the layer's batch norm",
            ylabel="std of the layer's response",
            title="Fig. 7's responses against the BN scales",
            xlim=(0, top * 1.05),
            ylim=(0, top * 1.05),
        )
        ax.legend(fontsize=9)
    return fig


def plot_block_ratios(ratios: Mapping[Trained, Sequence[float]]) -> Figure:
    """||F(x)|| / ||x|| of every block: how much of the signal each block rewrites (log scale)."""
    fig, ax = viz.figure(figsize=(9, 4))
    with viz.style():
        for net, values in ratios.items():
            values = np.asarray(values, dtype=float)
            ax.plot(
                np.arange(1, len(values) + 1),
                values,
                color=shade(net),
                marker="o",
                ms=3,
                lw=1.6,
                ls="-" if net.residual else "--",
                label=_label(net),
            )
        ax.axhline(1.0, ls=":", lw=1.2, color=viz.COLORS["reference"])
        viz.log_axis(ax)
        ax.set(
            xlabel="block (input side → output side)",
            ylabel="‖F(x)‖ / ‖x‖  (log scale)",
            title="How much each block changes the signal it receives",
        )
        ax.legend(ncols=2)
    return fig


def probe_work(settings: ProbeSettings | None = None) -> Workload:
    """What this module's experiments compute in ``settings``, as images passed forward (nothing
    trains): the responses, block ratios and every point of both loss slices for the five nets, and
    the predictions, counted at the costliest net's price. ``course.lesions.lesion_work`` adds the
    lesion study; ``costs.full_profile_estimate`` turns the sum into GPU time. Default: the
    full profile's settings."""
    settings = settings or probe_settings("full")
    points = settings.line_points + settings.grid_points**2
    per_net = settings.response_images + settings.ratio_images + points * settings.landscape_images
    forward = {arch: float(per_net) for arch in ARCHS}
    forward[max(ARCHS, key=forward_flops_of)] += settings.test_images
    return Workload(forward_images=forward)


def gradient_ratios(net: Trained) -> np.ndarray:
    """The first layer's gradient norm over the last layer's, one per epoch of the shipped run's
    log (each an epoch's mean of the engine's samples): (epochs,)."""
    return np.array([m["grad_norm_early"] / m["grad_norm_late"] for m in net.metrics])


def gradient_ratio_table(nets: Sequence[Trained]) -> str:
    """``gradient_ratios`` of each net: the first epoch apart, then the later epochs' median and range."""
    rows = []
    for net in nets:
        ratios = gradient_ratios(net)
        later = ratios[1:]
        spread = f"{later.min():.2g} to {later.max():.2g}" if len(later) else "(one epoch)"
        rows.append((net.arch, f"{ratios[0]:.3g}", f"{np.median(later):.3g}" if len(later) else "–", spread))
    headers = ["net", "epoch 1", "later epochs: median", "range"]
    return format_table(headers, rows, title="first layer's gradient norm / last layer's")


def plot_gradient_norms(nets: Sequence[Trained]) -> Figure:
    """Gradient norm of the first and last layer's weights over training, from the shipped
    runs' logs: one panel per depth, plain and residual in their colours."""
    depths = sorted({net.depth for net in nets})
    fig, axes = viz.figure(len(depths), figsize=(5.5 * len(depths), 4), sharey=True, squeeze=False)
    with viz.style():
        for ax, depth in zip(axes[0], depths):
            for net in (n for n in nets if n.depth == depth):
                epochs = [m["epoch"] for m in net.metrics]
                for key, where, style in (
                    ("grad_norm_early", "first layer", "o-"),
                    ("grad_norm_late", "last layer", "s--"),
                ):
                    ax.plot(
                        epochs,
                        [m[key] for m in net.metrics],
                        style,
                        color=viz.COLORS[net.kind],
                        label=f"{_label(net)}, {where}",
                    )
            viz.log_axis(ax)
            ax.set(xlabel="epoch", title=f"{depth} layers")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # 40 epochs: not one tick each
            ax.legend(fontsize=9)
        axes[0, 0].set_ylabel("‖∂loss/∂W‖, epoch mean (log scale)")
    return fig


def plot_landscape_1d(surfaces: Mapping[Trained, Mapping[str, np.ndarray]]) -> Figure:
    """Loss (left, log scale) and error (right) along one filter-normalised direction."""
    fig, (left, right) = viz.figure(2, figsize=(11, 4))
    with viz.style():
        for net, line in surfaces.items():
            style = dict(color=viz.COLORS[net.kind], marker="o", ms=3, label=_label(net))
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
            ax.set(xlabel="α", ylabel="β", title=_label(net), aspect="equal", xticks=ticks, yticks=ticks)
            ax.grid(False)
        bar = fig.colorbar(filled, ax=list(axes[0]), shrink=0.9)
        bar.set_label("training loss (nats, log scale)")
        nice = [m * 10.0**e for e in range(-2, 16) for m in (1, 2, 5)]
        bar.set_ticks([v for v in nice if levels[0] <= v <= levels[-1]] or [levels[0], levels[-1]])
        bar.ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    return fig


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
        caption=f"Feature maps of {_label(net)} ({net.name}): the {channels} channels with the strongest mean "
        "response at each stage. Pick an image and slide from the stem to the last stage: the maps shrink "
        "(32, 16, 8 pixels) while the channels multiply (16, 32, 64).",
    )


__all__ = [
    "ARCHS",
    "Trained",
    "block_ratios",
    "comparable_depths",
    "branch_output_stds",
    "draw_feature_maps",
    "evaluation_set",
    "feature_map_explorer",
    "feature_maps",
    "landscape",
    "local_minima",
    "mistakes_grid",
    "mosaic",
    "gradient_ratios",
    "probe_work",
    "gradient_ratio_table",
    "most_confused",
    "plot_block_ratios",
    "plot_confusion",
    "plot_gradient_norms",
    "plot_landscape_1d",
    "plot_landscape_2d",
    "plot_response_stds",
    "response_profile",
    "same_kind_share",
    "probe_settings",
    "second_layer_share",
    "shade",
    "stage_medians",
    "stage_minima",
    "shipped_nets",
    "bn_scales",
    "plot_std_against_scale",
    "strongest_channels",
    "test_predictions",
    "trained",
]
