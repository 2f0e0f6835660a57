"""The family in numbers: depth, blocks, parameters and multiply-adds of every ResNet, counted
from the built models and set beside the numbers the papers print.

    print(cifar_family_table())       # He et al. 2015 sec. 4.2 and Table 6, He et al. 2016
    print(imagenet_family_table())    # He et al. 2015 Table 1
    print(stage_table("resnet50"))    # the stages of one net: resolution and width
    print(shortcut_cost_table("resnet34"))

Every count here is measured on a model ``build_model`` made (the depth by counting its weight
layers, the multiply-adds by running it); only the ``PAPER_*`` constants are typed in, quoted
from the papers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..blocks import SHORTCUT_OPTIONS, ZeroPadShortcut
from ..cache import cached
from ..flops import count_flops
from ..models import (
    CIFAR_PAPER_DEPTHS,
    IMAGENET_LAYERS,
    ResNet,
    build_model,
    count_parameters,
    input_size,
    parse_model_name,
)
from ..papers import PAPER_TABLE6_PARAMETERS
from ..probes import trace_shapes, weight_layers
from ..tables import format_shape, format_table

#: He et al. 2015, Table 1: "FLOPs" (multiply-adds) at 224x224, in units of 1e9.
PAPER_IMAGENET_GMACS = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3}
#: Parameters in millions: He et al. 2015, Table 6 (CIFAR-10; kept with the rest of Table 6 in
#: ``papers``), and He et al. 2016, Table 4 (the pre-activation ResNet-164 and ResNet-1001; its
#: Table 3 gives their errors only).
PAPER_CIFAR_MPARAMS = {**PAPER_TABLE6_PARAMETERS, "preact_resnet164": 1.7, "preact_resnet1001": 10.2}
#: He et al. 2015, Table 3: ImageNet validation error (%, 10-crop testing), (top-1, top-5).
PAPER_TABLE3 = {
    "plain-34": (28.54, 10.02),
    "ResNet-34 A": (25.03, 7.76),
    "ResNet-34 B": (24.52, 7.46),
    "ResNet-34 C": (24.19, 7.40),
    "ResNet-50": (22.85, 6.71),
    "ResNet-101": (21.75, 6.05),
    "ResNet-152": (21.43, 5.71),
}
CIFAR_FAMILY = (*(f"resnet{d}" for d in CIFAR_PAPER_DEPTHS), "preact_resnet164", "preact_resnet1001")
IMAGENET_FAMILY = tuple(f"resnet{d}" for d in IMAGENET_LAYERS)


def matches_printed(value: float, printed: float, truncated: bool = False) -> bool:
    """True when ``value`` rounds to ``printed`` at the decimals ``printed`` shows: 0.2697 matches
    0.27, 10.33 does not match 10.2. ``truncated=True`` cuts the digits off instead of rounding, as
    some tables do (25.557 matches 25.5). How the chapters check a count against a paper's table."""
    text = repr(float(printed))
    decimals = 0 if text.endswith(".0") else len(text.split(".")[1])
    if truncated:
        return math.floor(round(value * 10**decimals, 9)) / 10**decimals == printed
    return round(value, decimals) == printed


def stage_parameters(name: str, **options: Any) -> dict[str, int]:
    """Parameters of each stage of ``build_model(name, **options)`` (``layer1``, ``layer2``...),
    and of the whole net under ``"total"``: where a ResNet keeps its weights."""
    model = build_for_counting(name, **options)
    stages = {stage: count_parameters(getattr(model, stage)) for stage in model.stages}
    return {**stages, "total": count_parameters(model)}


def main_path_depth(model: ResNet) -> int:
    """The depth as the papers count it: conv and linear layers, shortcut projections excluded."""
    return sum(1 for name, _ in weight_layers(model) if ".downsample" not in name)


@dataclass(frozen=True)
class ModelSummary:
    """What one member of the family is and costs."""

    name: str
    depth: int  # counted weight layers on the main path
    block: str  # class name of its blocks
    blocks_per_stage: tuple[int, ...]
    parameters: int
    macs: int  # multiply-adds per image at its input size
    image_size: int


def build_for_counting(name: str, **options: Any) -> ResNet:
    """``build_model(name, **options)`` for counting parameters and multiply-adds, which depend on
    the shapes only. The ImageNet nets are built on the meta device (no weights initialised, no
    224x224 convolutions run: five times faster); the CIFAR nets on the CPU, where their
    thousands of small operations run faster than the meta device's shape functions."""
    imagenet = parse_model_name(name, block=options.get("block")).family == "imagenet"
    with torch.device("meta" if imagenet else "cpu"):
        return build_model(name, **options)


@cached
def summarize(name: str, **options: Any) -> ModelSummary:
    """Build ``name`` (with ``build_model`` options) and count it; cached, the big nets take a second."""
    model = build_for_counting(name, **options)
    size = input_size(model)
    stages = [getattr(model, stage) for stage in model.stages]
    return ModelSummary(
        name=name,
        depth=main_path_depth(model),
        block=type(stages[0][0]).__name__,
        blocks_per_stage=tuple(len(stage) for stage in stages),
        parameters=count_parameters(model),
        macs=count_flops(model, (3, size, size)),
        image_size=size,
    )


def cifar_family_table(names: Sequence[str] = CIFAR_FAMILY) -> str:
    """The CIFAR-10 nets (32x32 input): depth 6n+2 (9n+2 with bottlenecks), parameters beside the
    papers', and multiply-adds (MACs) per image."""
    rows = []
    for name in names:
        s = summarize(name)
        paper = PAPER_CIFAR_MPARAMS.get(name)
        rows.append(
            (
                name,
                s.depth,
                s.blocks_per_stage[0],
                s.block,
                f"{s.parameters:,}",
                None if paper is None else f"{paper}M",
                f"{s.macs / 1e6:,.1f}M",
            )
        )
    headers = ["model", "depth", "n", "block", "parameters", "paper", "MACs"]
    title = (
        "The CIFAR-10 nets on a 32×32 image: blocks per stage (n), parameters (ours, and the paper's in "
        "millions) and multiply-adds (MACs, M = 10⁶)"
    )
    return format_table(headers, rows, title=title)


def imagenet_family_table(names: Sequence[str] = IMAGENET_FAMILY) -> str:
    """The ImageNet nets (224x224 input): multiply-adds (MACs) as torchvision builds the bottlenecks
    (stride on the 3x3, "v1.5") and as the paper did ("v1", stride on the first 1x1), beside Table 1."""
    rows = []
    for name in names:
        s = summarize(name)
        bottleneck = s.block == "Bottleneck"
        paper_stride = summarize(name, stride_in_1x1=True) if bottleneck else s
        rows.append(
            (
                name,
                s.depth,
                s.block,
                "-".join(map(str, s.blocks_per_stage)),
                f"{s.parameters:,}",
                f"{s.macs / 1e9:.2f}G",
                f"{paper_stride.macs / 1e9:.2f}G",
                f"{PAPER_IMAGENET_GMACS[name]}G",
            )
        )
    headers = ["model", "depth", "block", "blocks", "parameters", "MACs", "MACs (v1)", "paper"]
    title = (
        "The ImageNet nets on a 224×224 image: multiply-adds (G = 10⁹) with the stride on the 3×3 (MACs) "
        "and on the first 1×1 (v1), and He et al. 2015, Table 1 (paper)"
    )
    return format_table(headers, rows, title=title)


def stage_table(name: str, image_size: int | None = None, **options: Any) -> str:
    """The stem, stages and head of one net at one input size: output size, width, blocks, parameters."""
    model = build_for_counting(name, **options)  # shapes and counts only
    size = image_size or input_size(model)
    rows = []
    device = next(model.parameters()).device
    for r in trace_shapes(model, torch.zeros(1, 3, size, size, device=device), depth=1):
        if r.kind in ("BatchNorm2d", "ReLU", "Identity"):
            continue  # they keep the shape: the layer before them says it all
        module = model.get_submodule(r.name)
        blocks = len(module) if r.name in model.stages else None
        resolution = "×".join(map(str, r.output_shape[2:])) if len(r.output_shape) == 4 else None
        rows.append((r.name, r.kind, resolution, r.output_shape[1], blocks, f"{r.parameters:,}"))
    headers = ["layer", "type", "output size", "channels", "blocks", "parameters"]
    return format_table(headers, rows, title=f"{name} at {size}×{size} ({format_shape((1, 3, size, size))} input)")


@dataclass(frozen=True)
class Parity:
    """Our model against torchvision's, with torchvision's weights loaded into ours."""

    name: str
    tensors: int  # entries of torchvision's state dict
    same_keys: bool  # our state dict has the same names, in the same order
    max_logit: float  # largest |logit| of torchvision's model: the scale of the difference
    max_difference: float  # largest |our logit - torchvision's logit|


@cached
def torchvision_parity(name: str, image_size: int = 64, seed: int = 0) -> Parity:
    """Load a randomly initialised torchvision ``name`` into ``build_model(name)`` (strictly) and
    compare the logits of both, in eval mode, on a (4, 3, image_size, image_size) batch.

    One batch in train mode first moves BN's running statistics away from 0 and 1, so the check
    covers them too. The models are fully convolutional up to the average pool, so a small
    image checks the same weights as 224x224, in a fraction of the time. Cached.
    """
    import torchvision  # only this check needs it

    torch.manual_seed(seed)
    reference = getattr(torchvision.models, name)(weights=None)
    with torch.no_grad():
        reference.train()(torch.randn(8, 3, image_size, image_size))
    ours = build_model(name)
    ours.load_state_dict(reference.state_dict(), strict=True)
    reference.eval(), ours.eval()
    images = torch.randn(4, 3, image_size, image_size)
    with torch.no_grad():
        ours_logits, reference_logits = ours(images), reference(images)
    return Parity(
        name,
        tensors=len(reference.state_dict()),
        same_keys=list(ours.state_dict()) == list(reference.state_dict()),
        max_logit=reference_logits.abs().max().item(),
        max_difference=(ours_logits - reference_logits).abs().max().item(),
    )


@dataclass(frozen=True)
class ShortcutCost:
    """One shortcut option on one net."""

    option: str
    projections: int  # blocks whose shortcut is a 1x1 conv
    zero_pads: int  # blocks whose shortcut is option A's subsample-and-pad
    parameters: int
    macs: int


@cached
def shortcut_costs(name: str) -> list[ShortcutCost]:
    """Options A, B and C on one net: what each adds in parameters and multiply-adds."""
    costs = []
    for option in SHORTCUT_OPTIONS:
        model = build_for_counting(name, shortcut=option)
        shortcuts = [b.downsample for b in model.blocks() if b.downsample is not None]
        size = input_size(model)
        costs.append(
            ShortcutCost(
                option,
                projections=sum(not isinstance(s, ZeroPadShortcut) for s in shortcuts),
                zero_pads=sum(isinstance(s, ZeroPadShortcut) for s in shortcuts),
                parameters=count_parameters(model),
                macs=count_flops(model, (3, size, size)),
            )
        )
    return costs


def shortcut_cost_table(name: str) -> str:
    """``shortcut_costs`` as a table, with each option's extra cost over option A."""
    costs = shortcut_costs(name)
    base = costs[0]
    rows = [
        (
            c.option,
            c.projections,
            c.zero_pads,
            f"{c.parameters:,}",
            f"+{c.parameters - base.parameters:,}",
            f"{(c.parameters - base.parameters) / base.parameters:+.1%}",
            f"+{(c.macs - base.macs) / 1e6:,.1f}M",
        )
        for c in costs
    ]
    headers = ["option", "1x1 convs", "zero-pads", "parameters", "vs A", "vs A (%)", "mult-adds vs A"]
    title = f"{name}: shortcut options A, B and C (multiply-adds per image, M = 10⁶)"
    return format_table(headers, rows, title=title)


__all__ = [
    "PAPER_IMAGENET_GMACS",
    "PAPER_CIFAR_MPARAMS",
    "PAPER_TABLE3",
    "ModelSummary",
    "ShortcutCost",
    "summarize",
    "cifar_family_table",
    "imagenet_family_table",
    "stage_table",
    "shortcut_costs",
    "shortcut_cost_table",
    "main_path_depth",
    "matches_printed",
    "stage_parameters",
    "Parity",
    "torchvision_parity",
]
