"""ResNets in context: the ImageNet winners before them (AlexNet, VGG-16, GoogLeNet), the family
widened (ResNeXt, Wide ResNets) and its descendant, the residual stream of a pre-norm Transformer.

    classics_table()                     # parameters, those in fully connected layers, mult-adds
    flattened_head_parameters(2048 * 49) # VGG's three-layer head on ResNet-152's final map
    print(widening_table())              # parameters and multiply-adds from the package's builders
    identity_path_gap(norm_first=True)   # 0.0: a pre-norm stack with silent branches is the identity

The papers' numbers sit beside ours where they state them (``ILSVRC``, ``PAPER_MPARAMS``); the
chapter cites each to its table.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..cache import cached
from ..flops import count_flops
from ..models import build_model, count_parameters, input_size
from ..probes import weight_layers
from ..tables import Table, format_table

#: The ImageNet nets the popular write-ups compare, in order of their year: torchvision's AlexNet,
#: VGG-16 and GoogLeNet, and the package's ResNets.
CLASSICS = ("alexnet", "vgg16", "googlenet", "resnet34", "resnet50", "resnet152")


@dataclass(frozen=True)
class PaperResult:
    """What a net's paper prints: its name and year, its depth in weight layers, its parameters
    in millions (None where no total is printed), its top-5 error in percent on ImageNet of one net
    on the validation set, and of the team's ILSVRC entry on the test set (an ensemble of
    ``entry_nets`` nets; None where the net has no entry of its own)."""

    label: str
    year: int
    depth: int
    mparams: float | None
    top5_one_net: float
    top5_entry: float | None
    entry_nets: int | None


#: The papers' numbers, each from the table named here. AlexNet: Krizhevsky et al. 2012, Sec. 3
#: (eight learned layers), abstract (60 million parameters), Table 2 (one CNN: 18.2% top-5 on the
#: validation set; the entry, seven CNNs of which two were pre-trained on the Fall 2011 release
#: of ImageNet: 15.3% on the test set). VGG-16: Simonyan and Zisserman 2015, Table 1 (configuration
#: D), Table 2 (138M), Table 5 (D, multi-crop and dense: 7.2%), Table 7 (the ILSVRC submission,
#: seven nets: 7.3%). GoogLeNet: Szegedy et al. 2015, Sec. 5 (22 layers with parameters), Table 3
#: (one model, 144 crops: 7.89%), Table 2 (the entry, seven models: 6.67%). ResNets: He et al.
#: 2015, Table 4 (ResNet-34 B, ResNet-50, ResNet-152) and Table 5 (the entry, six nets of
#: different depths: 3.57%); He et al. print no ImageNet parameter totals.
ILSVRC = {
    "alexnet": PaperResult("AlexNet", 2012, 8, 60, 18.2, 15.3, 7),
    "vgg16": PaperResult("VGG-16", 2014, 16, 138, 7.2, 7.3, 7),
    "googlenet": PaperResult("GoogLeNet", 2014, 22, None, 7.89, 6.67, 7),
    "resnet34": PaperResult("ResNet-34", 2015, 34, None, 5.71, None, None),
    "resnet50": PaperResult("ResNet-50", 2015, 50, None, 5.25, None, None),
    "resnet152": PaperResult("ResNet-152", 2015, 152, None, 4.49, 3.57, 6),
}


def build_classic(name: str) -> nn.Module:
    """One of ``CLASSICS``, randomly initialised (nothing is downloaded): torchvision's ``alexnet``
    (the one-GPU variant of Krizhevsky 2014, as torchvision documents), ``vgg16`` and ``googlenet``
    (without its two auxiliary classifiers, which only training uses), or ``build_model(name)``."""
    import torchvision  # only the pre-ResNet nets need it

    if name == "googlenet":
        return torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    if name in ("alexnet", "vgg16"):
        return getattr(torchvision.models, name)(weights=None)
    return build_model(name)


@dataclass(frozen=True)
class ClassicCount:
    """One net's parameters: all of them, those of its fully connected (``nn.Linear``) layers and
    of the first of those; its multiply-adds on one 224x224 image; and the shape (C, H, W) of the
    map its classifier's pooling receives."""

    name: str
    parameters: int
    fully_connected: int
    first_fully_connected: int
    macs: int
    final_map: tuple[int, int, int]

    @property
    def convolutional(self) -> int:
        """Everything else: the convolutions and their BN."""
        return self.parameters - self.fully_connected


@cached
def classic_counts(names: tuple[str, ...] = CLASSICS) -> list[ClassicCount]:
    """``ClassicCount`` of each net, built by ``build_classic``. Cached."""
    counts = []
    for name in names:
        model = build_classic(name)
        linear = [module for module in model.modules() if isinstance(module, nn.Linear)]
        final_map = []
        hook = model.avgpool.register_forward_pre_hook(lambda _, inputs: final_map.append(inputs[0].shape))
        macs = count_flops(model, (3, 224, 224))
        hook.remove()
        counts.append(
            ClassicCount(
                name,
                parameters=count_parameters(model),
                fully_connected=sum(count_parameters(layer) for layer in linear),
                first_fully_connected=count_parameters(linear[0]),
                macs=macs,
                final_map=tuple(final_map[0][1:]),
            )
        )
    return counts


def classics_table(names: tuple[str, ...] = CLASSICS) -> Table:
    """``classic_counts`` beside ``ILSVRC``: the papers' depths, parameters and top-5 errors."""
    body = []
    for count in classic_counts(names):
        paper = ILSVRC[count.name]
        share = count.fully_connected / count.parameters
        body.append(
            (
                paper.label,
                f"{paper.year}",
                f"{paper.depth}",
                f"{count.parameters / 1e6:.2f}M",
                f"{count.fully_connected / 1e6:.2f}M ({share:.0%})",
                f"{paper.mparams}M" if paper.mparams else "–",
                f"{count.macs / 1e9:.2f}G",
                f"{paper.top5_one_net}%",
                f"{paper.top5_entry}% ({paper.entry_nets} nets)" if paper.top5_entry else "–",
            )
        )
    headers = [
        "model",
        "year",
        "layers",
        "parameters",
        "in FC layers",
        "paper",
        "mult-adds",
        "top-5, one net",
        "top-5, ILSVRC entry",
    ]
    title = (
        "AlexNet, VGG-16, GoogLeNet, ResNets: parameters and multiply-adds (one 224×224 image) counted from "
        "torchvision's and the package's builders; layers and top-5 errors (%) as each paper "
        "prints them, one net on the validation set, the entry on the test set"
    )
    return format_table(headers, body, title=title)


def flattened_head_parameters(features: int, hidden: tuple[int, ...] = (4096, 4096), classes: int = 1000) -> int:
    """Parameters (weights and biases) of VGG's classifier head, fully connected layers of
    ``hidden`` widths then ``classes`` outputs, reading ``features`` numbers: the flattened map
    (512 x 7 x 7 in VGG-16), where a ResNet's single layer reads one average per channel."""
    widths = (features, *hidden, classes)
    return sum(inputs * outputs + outputs for inputs, outputs in zip(widths, widths[1:]))


#: The nets the chapter compares: ResNet-50 and its two widenings on ImageNet; ResNet-110, the
#: pre-activation ResNet-1001 and two Wide ResNets on CIFAR.
WIDENED = ("resnet50", "resnext50_32x4d", "wide_resnet50_2", "resnet110", "preact_resnet1001", "wrn40_4", "wrn28_10")
#: Parameters (millions) as the papers print them: He et al. 2015, Table 6 (ResNet-110); He et
#: al. 2016, Table 3 (ResNet-1001); Xie et al. 2017, Table 1 (ResNet-50, ResNeXt-50 32x4d);
#: Zagoruyko and Komodakis 2016, their CIFAR results (WRN-40-4, WRN-28-10). Wide ResNet-50-2 is
#: torchvision's name for a net of the Wide ResNet paper's ImageNet section; no count quoted.
PAPER_MPARAMS = {
    "resnet50": 25.5,
    "resnext50_32x4d": 25.0,
    "resnet110": 1.7,
    "preact_resnet1001": 10.2,
    "wrn40_4": 8.9,
    "wrn28_10": 36.5,
}


@cached
def widening_rows(names: tuple[str, ...] = WIDENED) -> list[tuple[str, int, int, int, int]]:
    """(name, depth in weight layers, parameters, multiply-adds, input size) of each net, built
    by ``build_model`` and counted by ``count_parameters`` and ``count_flops``."""
    rows = []
    for name in names:
        model = build_model(name)
        size = input_size(model)
        depth = len(weight_layers(model))
        rows.append((name, depth, count_parameters(model), count_flops(model, (3, size, size)), size))
    return rows


def widening_table(names: tuple[str, ...] = WIDENED) -> str:
    """``widening_rows`` as a table, with the papers' parameter counts beside ours."""
    body = [
        (
            name,
            f"{size}²",
            f"{layers}",
            f"{parameters / 1e6:.2f}M",
            f"{PAPER_MPARAMS[name]}M" if name in PAPER_MPARAMS else "–",
            f"{macs / 1e9:.2f}G",
        )
        for name, layers, parameters, macs, size in widening_rows(names)
    ]
    headers = ["model", "input", "conv + linear", "parameters", "paper", "mult-adds"]
    title = (
        "Deeper, wider, grouped: counted from the package's builders (parameters: M = 10⁶; "
        "multiply-adds of one image: G = 10⁹)"
    )
    return format_table(headers, body, title=title)


def identity_path_gap(norm_first: bool, layers: int = 6, width: int = 64, seed: int = 0) -> float:
    """How far a stack of Transformer encoder layers is from the identity when every branch is
    silenced (the attention's and the MLP's output projections set to zero): 0 when the input
    reaches the output untouched, as in a pre-norm (``norm_first=True``) stack, the pre-activation
    ordering; not 0 when a LayerNorm sits on the path after each addition (post-norm, the original
    Transformer's and the post-activation ordering). Max |stack(x) - x| over a random batch (4, 16,
    ``width``)."""
    torch.manual_seed(seed)
    stack = nn.Sequential(
        *(
            nn.TransformerEncoderLayer(
                width, nhead=4, dim_feedforward=4 * width, dropout=0.0, batch_first=True, norm_first=norm_first
            )
            for _ in range(layers)
        )
    ).eval()
    with torch.no_grad():
        for layer in stack:
            for output in (layer.self_attn.out_proj, layer.linear2):  # what each branch adds
                output.weight.zero_(), output.bias.zero_()
        x = torch.randn(4, 16, width) * 3 + 1  # not already normalised
        return (stack(x) - x).abs().max().item()


__all__ = [
    "CLASSICS",
    "ILSVRC",
    "PAPER_MPARAMS",
    "WIDENED",
    "ClassicCount",
    "PaperResult",
    "build_classic",
    "classic_counts",
    "classics_table",
    "flattened_head_parameters",
    "identity_path_gap",
    "widening_rows",
    "widening_table",
]
