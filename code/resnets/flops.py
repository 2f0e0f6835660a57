"""Counting the cost of a forward pass the way the papers do: multiply-adds.

He et al. report "FLOPs" as multiply-adds of the convolutions and the classifier (BN, ReLU
and the additions are comparatively free and left out). PyTorch's flop formulas
(``torch.utils.flop_counter``) count the same operations but call one multiply-add two FLOPs,
so we halve them. We apply those formulas in a dispatch mode of our own rather than through
``FlopCounterMode``: that one also tracks which module each operation belongs to, which makes
counting ResNet-1202 (thousands of modules) ten times slower than running it.

    count_flops(model, (3, 32, 32))   multiply-adds of one forward pass for one image
    forward_flops(model)              FLOPs of one forward pass on a 32x32 image (2 a multiply-add)
    forward_flops_of("resnet56")      ... of a model by name, counted once and remembered
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from .errors import ConfigError
from .models import build_model, evaluating


class _FlopTotal(TorchDispatchMode):
    """Adds up the FLOPs of every operation that runs inside it (one total, no per-module split)."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        return out


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of one forward pass for ONE image, as the ResNet papers count them.

    Args:
        model: any module taking a (N, C, H, W) batch.
        input_shape: (C, H, W), e.g. (3, 224, 224) or (3, 32, 32); a leading batch size is
            allowed and divided out.

    Returns:
        Multiply-adds per image (ResNet-50 at 224x224: about 4.1e9 as torchvision builds it,
        3.9e9 with the paper's stride placement).
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3:
        shape = (1, *shape)
    if len(shape) != 4:
        raise ConfigError(f"input_shape must be (C, H, W) or (N, C, H, W); got {tuple(input_shape)}")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    # BN in eval mode: no batch statistics, so a batch of one is fine
    with evaluating(model), torch.no_grad(), _FlopTotal() as counter:
        model(torch.zeros(shape, device=device))
    return counter.flops // 2 // shape[0]


def forward_flops(model: nn.Module) -> float:
    """Floating-point operations of one forward pass on a 32x32 image: 2 per multiply-add
    (``count_flops``)."""
    return 2 * count_flops(model, (3, 32, 32))


@functools.cache
def forward_flops_of(model: str) -> float:
    """``forward_flops`` of ``build_model(model)``, counted once per name: the cost estimates ask
    for the same few nets many times."""
    return forward_flops(build_model(model))
