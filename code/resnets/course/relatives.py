"""The ResNet's relatives: four other ways to give a signal a short path through a deep net.

    DenseNet  (Huang et al. 2017)        y = concat(x, F(x))              keep x, append k new channels
    Highway   (Srivastava et al. 2015)   y = T(x) * H(x) + (1 - T(x)) * x  a learned gate between carry and transform
    U-Net     (Ronneberger et al. 2015)  decoder_l = D(concat(up(decoder_{l+1}), encoder_l))   skips across scales
    FPN       (Lin et al. 2017)          P_l = lateral(C_l) + up(P_{l+1})    additions across scales

Each module takes a (N, C, H, W) feature map, as a residual block does, and has a ``plain``
switch like the blocks in ``blocks.py``: the same layers with the combining operation removed,
the control that shows what the connection buys. ``build_stack`` makes a deep stack of any of
them (or of ResNet blocks) for the side-by-side measurements of ``compare_stacks``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import BasicBlock, conv1x1, conv3x3
from ..cache import cached
from ..errors import ConfigError
from ..models import count_parameters
from ..probes import input_gradient_gain, saved_activation_bytes
from ..tables import format_table


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv, BN, ReLU: the unit the U-Net and FPN below are built from."""
    return nn.Sequential(conv3x3(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels), nn.ReLU())


# ---------------------------------------------------------------------------------------
# DenseNet: concatenate instead of add
# ---------------------------------------------------------------------------------------


class DenseLayer(nn.Module):
    """One layer of a dense block (DenseNet-BC): BN-ReLU-1x1 conv-BN-ReLU-3x3 conv, k new channels.

    x: (N, C, H, W) -> (N, C + k, H, W): the input is passed on untouched and the ``growth_rate``
    k new feature maps are appended. The 1x1 conv first squeezes the C inputs to
    ``bn_size * k`` channels, so the 3x3 conv's cost does not grow with C.
    ``plain=True`` returns only the k new channels: a plain stack of the same layers.
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4, plain: bool = False) -> None:
        super().__init__()
        inner = bn_size * growth_rate
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv1x1(in_channels, inner)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv2 = conv3x3(inner, growth_rate)
        self.relu = nn.ReLU()
        self.plain = plain

    def new_features(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, k, H, W): what this layer adds to the collective knowledge."""
        out = self.conv1(self.relu(self.bn1(x)))
        return self.conv2(self.relu(self.bn2(out)))

    def forward(self, x: Tensor) -> Tensor:
        new = self.new_features(x)
        return new if self.plain else torch.cat([x, new], dim=1)


class DenseBlock(nn.Sequential):
    """``num_layers`` dense layers: (N, C, H, W) -> (N, C + num_layers * k, H, W).

    Layer i sees the block's input and the k maps of every layer before it, C + i * k channels
    in all. With ``plain=True`` each layer sees only its predecessor's k maps, and the block
    returns (N, k, H, W).
    """

    def __init__(
        self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4, plain: bool = False
    ) -> None:
        if num_layers < 1:
            raise ConfigError(f"a dense block needs at least one layer; got num_layers={num_layers}")
        layers = []
        for i in range(num_layers):
            channels = (growth_rate if i else in_channels) if plain else in_channels + i * growth_rate
            layers.append(DenseLayer(channels, growth_rate, bn_size, plain))
        super().__init__(*layers)
        self.out_channels = growth_rate if plain else in_channels + num_layers * growth_rate


# ---------------------------------------------------------------------------------------
# Highway: a gate decides how much to carry and how much to transform
# ---------------------------------------------------------------------------------------


class HighwayLayer(nn.Module):
    """A convolutional highway layer: y = T(x) * H(x) + (1 - T(x)) * x.

    x: (N, C, H, W) -> (N, C, H, W).

    H(x) = ReLU(BN(conv3x3(x))) is the transform; T(x) = sigmoid(conv3x3(x) + b_T) is the
    transform gate, one value per channel and position. Srivastava et al. start b_T negative
    (e.g. -1 or -3) so that T is small and every layer begins by mostly *carrying* its input
    through. A ResNet is the gate-free case: T = 1 on the
    transform and the identity added unconditionally.
    ``plain=True`` drops the gate and the carry: y = H(x).
    """

    def __init__(self, channels: int, gate_bias: float = -2.0, plain: bool = False) -> None:
        super().__init__()
        self.transform = nn.Sequential(conv3x3(channels, channels), nn.BatchNorm2d(channels), nn.ReLU())
        self.gate = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=True)
        nn.init.constant_(self.gate.bias, gate_bias)
        self.plain = plain

    def transform_gate(self, x: Tensor) -> Tensor:
        """T(x) in (0, 1), shaped like x: the share of the transform in the output."""
        return torch.sigmoid(self.gate(x))

    def forward(self, x: Tensor) -> Tensor:
        h = self.transform(x)
        if self.plain:
            return h
        t = self.transform_gate(x)
        return t * h + (1 - t) * x


# ---------------------------------------------------------------------------------------
# U-Net: encoder-decoder, skips by concatenation across scales
# ---------------------------------------------------------------------------------------


class DoubleConv(nn.Sequential):
    """Two conv-BN-ReLU: the unit of every U-Net level. (N, C_in, H, W) -> (N, C_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(conv_bn_relu(in_channels, out_channels), conv_bn_relu(out_channels, out_channels))


class UNet(nn.Module):
    """A small U-Net: (N, C_in, H, W) -> (N, C_out, H, W), H and W divisible by 2**levels.

    Encoder: at each level a DoubleConv, then a 2x2 max-pool (width doubles, resolution halves).
    Decoder: a 2x2 transposed conv upsamples, the encoder's map of the same level is
    *concatenated* to it, and a DoubleConv mixes the two. The skips hand the decoder the
    fine detail the encoder had to throw away to see the whole image.

    Two departures from Ronneberger et al.: padded convolutions (no cropping; the output has
    the input's size) and BN after every conv. ``plain=True`` removes the skips: an
    encoder-decoder whose fine detail must survive the trip through the bottleneck.
    """

    def __init__(
        self, in_channels: int, out_channels: int, width: int = 16, levels: int = 3, plain: bool = False
    ) -> None:
        super().__init__()
        if levels < 1:
            raise ConfigError(f"a U-Net needs at least one level; got levels={levels}")
        self.levels = levels
        self.plain = plain
        widths = [width * 2**i for i in range(levels + 1)]
        self.encoders = nn.ModuleList(
            DoubleConv(in_channels if i == 0 else widths[i - 1], widths[i]) for i in range(levels)
        )
        self.pool = nn.MaxPool2d(2)
        self.bottom = DoubleConv(widths[levels - 1], widths[levels])
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], kernel_size=2, stride=2) for i in reversed(range(levels))
        )
        self.decoders = nn.ModuleList(
            DoubleConv(widths[i] * (1 if plain else 2), widths[i]) for i in reversed(range(levels))
        )
        self.head = nn.Conv2d(width, out_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        factor = 2**self.levels
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ConfigError(
                f"a {self.levels}-level U-Net halves the resolution {self.levels} times, so H and W must be "
                f"multiples of {factor}; got {tuple(x.shape[-2:])}. Pad or crop the input, or use fewer levels."
            )
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = up(x)
            x = decoder(x if self.plain else torch.cat([skip, x], dim=1))
        return self.head(x)


# ---------------------------------------------------------------------------------------
# FPN: top-down pathway, lateral additions across scales
# ---------------------------------------------------------------------------------------


class FPN(nn.Module):
    """A small feature pyramid network: (N, C_in, H, W) -> a list of (N, C_out, H / 2**l, W / 2**l).

    Bottom-up: one conv-BN-ReLU stage per level, each after the first halving the resolution
    and doubling the width (in Lin et al. these are a ResNet's stages). Top-down: start from the
    coarsest map, and at each finer level upsample (nearest) and *add* a 1x1 lateral projection
    of the bottom-up map of that level; a 3x3 conv then smooths each sum. Every output level has
    ``out_channels`` channels and mixes coarse semantics with fine localisation.

    ``plain=True`` drops the lateral additions (except at the top): the fine outputs are
    upsampled coarse maps, with no short path from the input.
    """

    def __init__(
        self, in_channels: int, out_channels: int, width: int = 16, levels: int = 3, plain: bool = False
    ) -> None:
        super().__init__()
        if levels < 2:
            raise ConfigError(f"a pyramid needs at least two levels; got levels={levels}")
        self.plain = plain
        widths = [width * 2**i for i in range(levels)]
        self.bottom_up = nn.ModuleList(
            conv_bn_relu(in_channels if i == 0 else widths[i - 1], widths[i], stride=1 if i == 0 else 2)
            for i in range(levels)
        )
        # The plain variant keeps only the top lateral: the others are the connections it removes.
        self.lateral = nn.ModuleList(
            nn.Conv2d(w, out_channels, kernel_size=1) for w in (widths[-1:] if plain else widths)
        )
        self.smooth = nn.ModuleList(nn.Conv2d(out_channels, out_channels, 3, padding=1) for _ in widths)

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for stage in self.bottom_up:
            x = stage(x)
            features.append(x)
        top = self.lateral[-1](features[-1])
        outputs = [self.smooth[-1](top)]
        for level in reversed(range(len(features) - 1)):
            top = F.interpolate(top, size=features[level].shape[-2:], mode="nearest")
            if not self.plain:
                top = top + self.lateral[level](features[level])
            outputs.insert(0, self.smooth[level](top))
        return outputs


# ---------------------------------------------------------------------------------------
# Side by side: the same input through a deep stack of each kind
# ---------------------------------------------------------------------------------------

#: How each kind combines its short path with the computed one.
COMBINE_OPS = {
    "residual": "add",  # F(x) + x
    "highway": "gated add",  # T·H(x) + (1 - T)·x
    "dense": "concat",  # [x, F(x)]
    "unet": "concat, scales",  # encoder map into the decoder of the same scale
    "fpn": "add, scales",  # lateral map into the upsampled coarser one
}
KINDS = tuple(COMBINE_OPS)


def build_stack(kind: str, depth: int, channels: int = 16, plain: bool = False) -> nn.Module:
    """A deep stack of one kind, taking (N, channels, H, W).

    ``depth`` counts units of two weight layers each for "residual" (basic blocks), "highway"
    (transform and gate) and "dense" (1x1 and 3x3; growth rate channels / 2); for "unet" and
    "fpn" it is the number of scales (levels). ``plain`` removes the combining operation.
    """
    if kind == "residual":
        return nn.Sequential(*(BasicBlock(channels, channels, plain=plain) for _ in range(depth)))
    if kind == "highway":
        return nn.Sequential(*(HighwayLayer(channels, plain=plain) for _ in range(depth)))
    if kind == "dense":
        return DenseBlock(depth, channels, growth_rate=channels // 2, plain=plain)
    if kind == "unet":
        return UNet(channels, channels, width=channels, levels=depth, plain=plain)
    if kind == "fpn":
        return FPN(channels, channels, width=channels, levels=depth, plain=plain)
    raise ConfigError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")


@dataclass(frozen=True)
class StackMeasurement:
    """One stack, measured on one input at initialisation (train mode, as training starts)."""

    kind: str
    depth: int
    plain: bool
    parameters: int
    activation_bytes: int  # saved for the backward pass
    gradient_gain: float  # RMS gradient at the input for a unit-RMS gradient at the output


def measure_stack(
    kind: str, depth: int, plain: bool = False, channels: int = 16, size: int = 32, batch: int = 4, seed: int = 0
) -> StackMeasurement:
    """Build ``build_stack(kind, depth, channels, plain)`` with seed ``seed`` and measure it on a
    (batch, channels, size, size) standard-normal input, the same for every stack of a seed."""
    x = torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    stack = build_stack(kind, depth, channels, plain).train()
    return StackMeasurement(
        kind,
        depth,
        plain,
        count_parameters(stack),
        saved_activation_bytes(stack, x),
        input_gradient_gain(stack, x, seed=seed),
    )


@cached
def compare_stacks(
    depth: int = 16, levels: int = 4, channels: int = 16, size: int = 32, batch: int = 4
) -> list[tuple[StackMeasurement, StackMeasurement]]:
    """Every kind measured on the same input, with and without its connection.

    Residual, highway and dense stacks get ``depth`` units (2 * depth weight layers); the
    U-Net and the FPN ``levels`` scales. Returns (connected, plain) pairs in ``KINDS`` order.
    """
    pairs = []
    for kind in KINDS:
        d = levels if kind in ("unet", "fpn") else depth
        pairs.append(tuple(measure_stack(kind, d, plain, channels, size, batch) for plain in (False, True)))
    return pairs  # type: ignore[return-value]


def comparison_table(pairs: list[tuple[StackMeasurement, StackMeasurement]]) -> str:
    """``compare_stacks``'s measurements side by side: what each connection costs and what it buys."""
    mib = 2**20
    rows = [
        (
            c.kind,
            COMBINE_OPS[c.kind],
            c.depth,
            f"{c.parameters:,}",
            f"{c.activation_bytes / mib:.1f}",
            f"{p.activation_bytes / mib:.1f}",
            f"{c.gradient_gain:.3g}",
            f"{p.gradient_gain:.3g}",
        )
        for c, p in pairs
    ]
    headers = ["kind", "combine", "depth", "parameters", "MiB", "plain MiB", "gain", "plain gain"]
    title = (
        "Stacks at initialisation, with their connection and without (plain): activations kept for "
        "backward (MiB) and gradient gain (the gradient's rms at the input over its rms at the output)"
    )
    return format_table(headers, rows, title=title)


@cached
def gain_vs_depth(
    kinds: tuple[str, ...] = ("residual", "highway", "dense"),
    depths: tuple[int, ...] = (2, 4, 8, 16, 32),
    channels: int = 16,
    size: int = 16,
    batch: int = 8,
    seed: int = 0,
) -> dict[tuple[str, bool], list[float]]:
    """``input_gradient_gain`` of each kind's stack, with and without its connection, at each depth.

    Keyed by (kind, plain); each stack freshly built with seed ``seed`` and measured in train mode
    on the same (batch, channels, size, size) standard-normal input.
    """
    x = torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(seed))
    gains: dict[tuple[str, bool], list[float]] = {}
    for kind in kinds:
        for plain in (False, True):
            gains[kind, plain] = []
            for depth in depths:
                torch.manual_seed(seed)
                stack = build_stack(kind, depth, channels, plain).train()
                gains[kind, plain].append(input_gradient_gain(stack, x, seed))
    return gains
