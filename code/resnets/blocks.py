"""The building blocks of every ResNet: residual blocks and the shortcuts that bypass them.

A residual block computes

    y = relu(F(x) + shortcut(x))           (post-activation, He et al. 2015, "v1")
    y = F(x) + shortcut(x)                 (pre-activation, He et al. 2016, "v2")

where F is a small stack of conv/BN/ReLU layers (the *residual function*) and the shortcut
is the identity whenever the shapes allow it. When a block halves the resolution and
doubles the channels the identity no longer fits, and the paper offers three options:

    A  parameter-free: take every other pixel and pad the new channels with zeros
    B  a 1x1 convolution (+ BN) on the blocks whose shape changes, identity elsewhere
    C  a 1x1 convolution (+ BN) on every block

Every block also has a ``plain`` switch: the same layers with the addition removed. That is
the "plain network" of the paper, the control that shows what the shortcut buys.

Names follow torchvision (``conv1``, ``bn1``, ``downsample``...) so that our ImageNet models
load torchvision's state dicts unchanged.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from .errors import ConfigError

Shortcut = Literal["A", "B", "C"]
SHORTCUT_OPTIONS: tuple[str, ...] = ("A", "B", "C")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1. No bias: the BN that follows has its own shift.
    ``groups`` > 1 splits the channels into independent groups (ResNeXt)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution: mixes channels without looking at neighbours."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A: the identity, subsampled and zero-padded to the new shape. No parameters.

    (N, C_in, H, W) -> (N, C_out, H / stride, W / stride), the extra C_out - C_in channels
    all zero. Because nothing is learned, the block still starts as an exact identity on
    the first C_in channels, which is why the paper uses it for the CIFAR nets.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        if out_planes < in_planes:
            raise ConfigError(f"option A can only add channels, not go from {in_planes} to {out_planes}")
        self.extra_channels = out_planes - in_planes
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        # F.pad pads the last dimensions first: (W_left, W_right, H_top, H_bottom, C_front, C_back).
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


def make_shortcut(
    option: Shortcut, in_planes: int, out_planes: int, stride: int, *, with_bn: bool = True
) -> nn.Module | None:
    """The shortcut of one block, or None where it is the plain identity.

    ``with_bn=False`` gives the bare 1x1 projection of the pre-activation nets, whose input
    has already been normalised by the block's first BN.
    """
    if option not in SHORTCUT_OPTIONS:
        raise ConfigError(f"unknown shortcut option {option!r}; choose one of {', '.join(SHORTCUT_OPTIONS)}")
    shape_changes = stride != 1 or in_planes != out_planes
    if option == "A":
        return ZeroPadShortcut(in_planes, out_planes, stride) if shape_changes else None
    if option == "B" and not shape_changes:
        return None
    projection = conv1x1(in_planes, out_planes, stride)
    if not with_bn:
        return projection
    # nn.Sequential with indices 0 and 1: the key names torchvision uses ("downsample.0.weight").
    return nn.Sequential(projection, nn.BatchNorm2d(out_planes))


def check_shortcut(
    block: nn.Module, inplanes: int, out_planes: int, stride: int, downsample: nn.Module | None, plain: bool
) -> None:
    """Refuse a block whose input cannot be added to its output: the classic ResNet bug.

    A block that changes the shape (stride > 1, or new channel count) needs a shortcut that
    changes it too. Without one the addition fails at the first forward pass with a broadcasting
    error, or worse, silently broadcasts when the input has a single channel.
    """
    if plain or downsample is not None or (stride == 1 and inplanes == out_planes):
        return
    bn = ", with_bn=False" if isinstance(block, PreActivationBlock) else ""
    raise ConfigError(
        f"{type(block).__name__}({inplanes} -> {out_planes} channels, stride {stride}) changes the shape of its "
        f"input, so F(x) + x cannot be formed. Give it a shortcut that changes the shape too: "
        f"downsample=make_shortcut('B', {inplanes}, {out_planes}, {stride}{bn}) (a 1x1 projection; 'A' pads "
        f"with zeros instead), or plain=True for a block without the addition."
    )


class PostActivationBlock(nn.Module):
    """y = relu(F(x) + shortcut(x)), or relu(F(x)) when ``plain``. Subclasses define F."""

    expansion: int
    downsample: nn.Module | None
    plain: bool

    def residual(self, x: Tensor) -> Tensor:
        """F(x): the branch the block learns, before the addition."""
        raise NotImplementedError

    def shortcut(self, x: Tensor) -> Tensor:
        """What the block adds to F(x): x itself, or x reshaped by the downsample (unused when plain)."""
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x: Tensor) -> Tensor:
        out = self.residual(x)
        if not self.plain:
            out = out + self.shortcut(x)
        return self.relu(out)


class BasicBlock(PostActivationBlock):
    """Two 3x3 convolutions, the block of ResNet-18/34 and of every CIFAR ResNet.

    x: (N, inplanes, H, W) -> (N, planes, H / stride, W / stride)

        x ─┬─ conv3x3 ─ BN ─ ReLU ─ conv3x3 ─ BN ──(+)── ReLU ── y
           └──────────────── shortcut ─────────────┘
    """

    expansion = 1  # output channels = planes * expansion

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        plain: bool = False,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()  # not in-place: probes hook these activations
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.plain = plain
        self.stride = stride
        check_shortcut(self, inplanes, planes, stride, downsample, plain)

    def residual(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))


class Bottleneck(PostActivationBlock):
    """1x1 reduce, 3x3, 1x1 expand: the block of ResNet-50/101/152.

    x: (N, inplanes, H, W) -> (N, planes * 4, H / stride, W / stride)

        x ─┬─ 1x1 ─ BN ─ ReLU ─ 3x3 ─ BN ─ ReLU ─ 1x1 ─ BN ──(+)── ReLU ── y
           └──────────────────── shortcut ───────────────────┘

    The 3x3 works on ``planes`` channels, four times fewer than the block's output, which is
    what makes a 50-layer net cost about as much as a 34-layer one.

    ``groups`` and ``base_width`` make the 3x3 a grouped or a wider convolution: ResNeXt
    (Xie et al. 2017; ``groups=32, base_width=4`` is 32x4d) and Wide ResNet-50-2
    (``base_width=128``), with torchvision's names and shapes.

    Where the stride goes is a historical detail with a cost: the paper (and Caffe) put it on
    the first 1x1 (``stride_in_1x1=True``); torchvision puts it on the 3x3 ("ResNet v1.5"),
    which is a little more accurate and ~6% more multiply-adds for ResNet-50. The weights
    have the same shapes either way.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        plain: bool = False,
        stride_in_1x1: bool = False,
        groups: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        # The 3x3's width: ``planes`` for ResNet; ResNeXt splits it into ``groups`` groups of
        # ``base_width * planes / 64`` channels, Wide ResNet-50-2 doubles it (torchvision's rule).
        width = int(planes * (base_width / 64.0)) * groups
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, width, stride_1x1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride_3x3, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.plain = plain
        self.stride = stride
        check_shortcut(self, inplanes, planes * self.expansion, stride, downsample, plain)

    def residual(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))


class PreActivationBlock(nn.Module):
    """y = F(x) + shortcut(x) with F starting in BN-ReLU (He et al. 2016). Subclasses define
    ``branch``: F after that first BN-ReLU, which a projection shortcut shares.

    Nothing sits on the shortcut path after the addition, so from any block l to any deeper
    block L the signal is exactly x_L = x_l + (sum of the residuals in between).
    """

    downsample: nn.Module | None
    plain: bool

    def branch(self, pre: Tensor) -> Tensor:
        raise NotImplementedError

    def residual(self, x: Tensor) -> Tensor:
        """F(x): the branch the block learns, before the addition."""
        return self.branch(self.relu(self.bn1(x)))

    def shortcut(self, x: Tensor) -> Tensor:
        """What the block adds to F(x): x itself, or x reshaped by the downsample (unused when plain)."""
        return self._shortcut(x, self.relu(self.bn1(x)))

    def _shortcut(self, x: Tensor, pre: Tensor) -> Tensor:
        if self.downsample is None:
            return x
        # Option A pads the raw input; a projection reads the normalised one, as in the
        # authors' code, so it needs no BN of its own.
        return self.downsample(x if isinstance(self.downsample, ZeroPadShortcut) else pre)

    def forward(self, x: Tensor) -> Tensor:
        pre = self.relu(self.bn1(x))
        out = self.branch(pre)
        return out if self.plain else out + self._shortcut(x, pre)


class PreActBasicBlock(PreActivationBlock):
    """The pre-activation basic block ("Identity mappings in deep residual networks").

    x: (N, inplanes, H, W) -> (N, planes, H / stride, W / stride)

        x ─┬─ BN ─ ReLU ─ conv3x3 ─ BN ─ ReLU ─ conv3x3 ──(+)── y
           └───────────────── shortcut ───────────────────┘
    """

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        plain: bool = False,
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.plain = plain
        self.stride = stride
        check_shortcut(self, inplanes, planes, stride, downsample, plain)

    def branch(self, pre: Tensor) -> Tensor:
        return self.conv2(self.relu(self.bn2(self.conv1(pre))))


class PreActBottleneck(PreActivationBlock):
    """Pre-activation bottleneck (ResNet-164 and ResNet-1001 in He et al. 2016).

    x: (N, inplanes, H, W) -> (N, planes * 4, H / stride, W / stride)

        x ─┬─ BN ─ ReLU ─ 1x1 ─ BN ─ ReLU ─ 3x3 ─ BN ─ ReLU ─ 1x1 ──(+)── y
           └───────────────────────── shortcut ─────────────────────┘
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        plain: bool = False,
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv1x1(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.plain = plain
        self.stride = stride
        check_shortcut(self, inplanes, planes * self.expansion, stride, downsample, plain)

    def branch(self, pre: Tensor) -> Tensor:
        out = self.relu(self.bn2(self.conv1(pre)))
        out = self.relu(self.bn3(self.conv2(out)))
        return self.conv3(out)


BlockType = type[BasicBlock] | type[Bottleneck] | type[PreActBasicBlock] | type[PreActBottleneck]


def is_residual_block(module: nn.Module) -> bool:
    """True for the four block classes above (probes use it to walk a model's blocks)."""
    return isinstance(module, (PostActivationBlock, PreActivationBlock))


__all__ = [
    "BasicBlock",
    "Bottleneck",
    "PreActBasicBlock",
    "PreActBottleneck",
    "ZeroPadShortcut",
    "make_shortcut",
    "check_shortcut",
    "conv1x1",
    "conv3x3",
    "is_residual_block",
    "SHORTCUT_OPTIONS",
]
