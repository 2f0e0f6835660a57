"""Part 3, chapter 4: looking inside trained CIFAR-10 nets. The shipped nets, and what each block does.

The nets are the CPU recipe's checkpoints shipped with the package (``checkpoints.load_pretrained``,
which checks each file's SHA-256 first), named by ``shipped.cpu_run_name``; ``trained(arch)``
finds one and says how to make it when it is missing. Every experiment takes a ``Trained`` (name, arch,
SHA-256: new weights, new cache entry) and a number of images, loads what it needs and
returns plain numbers; the expensive ones are ``@cached``. The figures take those numbers.

    question                          experiment         figure
    what does each stage see?         course.inside_features: feature_maps, feature_map_explorer
    how big are the responses?        response_profile   plot_response_stds   (He et al. 2015, Fig. 7)
    ... and each BN's scale           bn_scales          plot_std_against_scale
    how much does each block change?  block_ratios       plot_block_ratios
    did the gradient reach layer 1?   gradient_ratios    plot_gradient_norms, gradient_ratio_table
    can the net lose a block?         course.lesions: lesion_study, plot_lesion_study (Veit et al. 2016)
    what does the loss look like?     course.inside_landscape: landscape, plot_landscape_1d/2d (Li et al. 2018)
    what does it get wrong?           course.inside_mistakes: test_predictions, plot_confusion, mistakes_grid

This module also holds what those modules share: the nets (``ARCHS``, ``Trained``, ``trained``,
``shipped_nets``, ``comparable_depths``), their images (``evaluation_set``), each experiment's
size per profile (``probe_settings``) and what the whole chapter computes (``probe_work``), and
each net's name and colour in every figure (``net_label``, ``net_color``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
from ..models import ModelSpec, parse_model_name
from ..probes import bn_after_3x3, residual_ratios, response_stds
from ..shipped import cpu_run_name
from ..tables import format_table

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
    def spec(self) -> ModelSpec:
        """What its arch's name says (``models.parse_model_name``): depth, plain or residual."""
        return parse_model_name(self.arch)

    @property
    def residual(self) -> bool:
        return not self.spec.plain

    @property
    def kind(self) -> str:
        """Its key in ``viz.COLORS``."""
        return viz.kind_of(self.residual)

    @property
    def depth(self) -> int:
        return self.spec.depth

    @property
    def label(self) -> str:
        """Its name in the figures' legends and titles (``net_label``)."""
        return net_label(self.arch)

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


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------


def net_label(arch: str) -> str:
    """How the figures and tables name a net: "plain-20", "ResNet-56"."""
    spec = parse_model_name(arch)
    return f"plain-{spec.depth}" if spec.plain else f"ResNet-{spec.depth}"


def net_color(arch: str, deepest: int) -> str:
    """A net's colour (plain or residual, ``viz.COLORS``), paler the shallower it is than ``deepest``
    (the deepest net drawn beside it): the deepest gets the full colour."""
    spec = parse_model_name(arch)
    base = np.array(matplotlib.colors.to_rgb(viz.COLORS[viz.kind_of(not spec.plain)]))
    strength = 0.45 + 0.55 * min(1.0, spec.depth / deepest)
    return matplotlib.colors.to_hex(1 - strength * (1 - base))


def plot_response_stds(responses: Mapping[Trained, Sequence[float]]) -> Figure:
    """He et al. 2015, Fig. 7: each 3x3 layer's response std, in layer order (left) and sorted
    from largest to smallest (right). One line per net; plain and residual in their colours."""
    fig, (ordered, ranked) = viz.figure(2, figsize=(11, 4))
    deepest = max(net.depth for net in responses)
    with viz.style():
        for net, stds in responses.items():
            stds = np.asarray(stds, dtype=float)
            color = net_color(net.arch, deepest)
            style = dict(color=color, lw=1.6, marker="o", ms=2.5, label=net.label, ls="-" if net.residual else "--")
            ordered.plot(np.arange(1, len(stds) + 1), stds, **style)
            ranked.plot(np.arange(1, len(stds) + 1), np.sort(stds)[::-1], **style)
        ordered.set(
            xlabel="layer index (input side → output side)",
            ylabel="std of the layer's response",
            title="In layer order",
        )
        ranked.set(xlabel="layer index (sorted by magnitude)", title="Sorted by magnitude")
        every = np.concatenate([np.asarray(v, dtype=float) for v in responses.values()])
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
    deepest = max(net.depth for net in stds)
    with viz.style():
        top = 0.0
        for net in stds:
            x, y = np.asarray(scales[net], dtype=float), np.asarray(stds[net], dtype=float)
            color = net_color(net.arch, deepest)
            ax.scatter(x, y, s=14, color=color, marker="o" if net.residual else "s", label=net.label)
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
    deepest = max(net.depth for net in ratios)
    with viz.style():
        for net, values in ratios.items():
            values = np.asarray(values, dtype=float)
            ax.plot(
                np.arange(1, len(values) + 1),
                values,
                color=net_color(net.arch, deepest),
                marker="o",
                ms=3,
                lw=1.6,
                ls="-" if net.residual else "--",
                label=net.label,
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
    """What the chapter's experiments compute in ``settings``, as images passed forward (nothing
    trains): the responses, block ratios and every point of both loss slices (``course.inside_landscape``)
    for the five nets, and the predictions (``course.inside_mistakes``), counted at the costliest net's
    price. ``course.lesions.lesion_work`` adds the lesion study; ``costs.full_profile_estimate`` turns
    the sum into GPU time. Default: the full profile's settings."""
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
                        label=f"{net.label}, {where}",
                    )
            viz.log_axis(ax)
            ax.set(xlabel="epoch", title=f"{depth} layers")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # 40 epochs: not one tick each
            ax.legend(fontsize=9)
        axes[0, 0].set_ylabel("‖∂loss/∂W‖, epoch mean (log scale)")
    return fig


__all__ = [
    "ARCHS",
    "CHANCE_ERROR",
    "LEARNED_ERROR",
    "ProbeSettings",
    "Trained",
    "block_ratios",
    "bn_scales",
    "branch_output_stds",
    "comparable_depths",
    "evaluation_set",
    "gradient_ratio_table",
    "gradient_ratios",
    "net_color",
    "net_label",
    "plot_block_ratios",
    "plot_gradient_norms",
    "plot_response_stds",
    "plot_std_against_scale",
    "probe_settings",
    "probe_work",
    "response_profile",
    "second_layer_share",
    "shipped_nets",
    "stage_medians",
    "stage_minima",
    "trained",
]
