"""ResNets in context: the family widened (ResNeXt, Wide ResNets) and its descendant, the
residual stream of a pre-norm Transformer.

    print(widening_table())              # parameters and multiply-adds from the package's builders
    identity_path_gap(norm_first=True)   # 0.0: a pre-norm stack with silent branches is the identity

The papers' numbers sit beside ours where they state them (``PAPER_MPARAMS``); the chapter cites
each to its table.
"""

from __future__ import annotations

import torch
from torch import nn

from ..cache import cached
from ..flops import count_flops
from ..models import build_model, count_parameters, input_size
from ..probes import weight_layers
from ..tables import format_table

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


__all__ = ["PAPER_MPARAMS", "WIDENED", "identity_path_gap", "widening_rows", "widening_table"]
