"""Counting the cost of a forward pass the way the papers do: multiply-adds.

He et al. report "FLOPs" as multiply-adds of the convolutions and the classifier (BN, ReLU
and the additions are comparatively free and left out). PyTorch's ``FlopCounterMode``
counts the same operations but calls one multiply-add two FLOPs, so we halve it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


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
        raise ValueError(f"input_shape must be (C, H, W) or (N, C, H, W); got {tuple(input_shape)}")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    model.eval()  # BN in eval mode: no batch statistics, so a batch of one is fine
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(shape, device=device))
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2 // shape[0]
