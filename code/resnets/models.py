"""Every network of the two ResNet papers, built from the blocks in ``blocks.py``.

Read this file top to bottom to see how a ResNet is put together:

1. A *stem* turns the image into feature maps: a single 3x3 conv for 32x32 CIFAR images;
   a 7x7 stride-2 conv and a 3x3 stride-2 max-pool for 224x224 ImageNet images.
2. *Stages* of residual blocks. Each stage after the first halves the resolution (its first
   block has stride 2) and doubles the width, so every block costs about the same.
3. Global average pooling and one fully connected layer: no big classifier head, which is
   why a ResNet can take inputs of any size.

The two families differ only in the numbers:

    CIFAR (He et al. 2015, sec. 4.2)   3 stages, widths 16-32-64, n blocks each: depth 6n+2
                                       (9n+2 with bottlenecks: three layers a block)
    ImageNet (He et al. 2015, Table 1) 4 stages, widths 64-128-256-512, depth 18...152

``build_model(name)`` is the one entry point; ``parse_model_name(name)`` reads a name into a
``ModelSpec`` (family, depth, plain, pre-activation, block, widths), checked, without building
anything: every module that needs a name's depth or kind asks it. The ImageNet models' state dicts are
key-for-key and shape-for-shape torchvision's, so ``load_state_dict(strict=True)`` takes
torchvision's weights. Beside it: ``count_parameters``, ``input_size`` (the image size a
model was built for) and ``evaluating`` (eval mode for a ``with`` block, the mode restored).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .blocks import (
    BasicBlock,
    Bottleneck,
    PostActivationBlock,
    PreActBasicBlock,
    PreActBottleneck,
    PreActivationBlock,
    Shortcut,
    make_shortcut,
)
from .errors import ConfigError


@contextmanager
def evaluating(model: nn.Module, hooks: Sequence[torch.utils.hooks.RemovableHandle] = ()) -> Iterator[nn.Module]:
    """Run the block with ``model`` in eval mode (BN uses its running statistics); afterwards
    put back the mode it was in and remove ``hooks``, even if the block raised."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()


class ResNet(nn.Module):
    """A residual network: stem, stages of blocks, average pool, linear classifier.

    x: (N, 3, H, W) float images -> (N, num_classes) logits.

    Args:
        block: the block class (``BasicBlock``, ``Bottleneck`` or their pre-activation twins).
        layers: blocks per stage, e.g. (3, 3, 3) for CIFAR ResNet-20, (3, 4, 6, 3) for ResNet-34.
        widths: ``planes`` of each stage (a stage outputs ``planes * block.expansion`` channels).
        num_classes: size of the classifier's output.
        stem: ``"cifar"`` (3x3 conv) or ``"imagenet"`` (7x7/2 conv + 3x3/2 max-pool).
        stem_width: the stem's output channels (default ``widths[0]``; Wide ResNets keep 16).
        shortcut: "A", "B" or "C" (see ``blocks.py``).
        plain: drop every addition: the paper's plain network with the very same layers.
        zero_init_residual: start every residual branch at zero, so each block begins as the
            identity (Goyal et al. 2017); torchvision's option of the same name.
        stride_in_1x1: bottlenecks only: put the stride on the first 1x1 as the paper did.
        groups, base_width: bottlenecks only: a grouped or wider 3x3 (ResNeXt, Wide ResNet-50-2).
        arch: the name ``build_model`` knew it by (kept in checkpoints).
    """

    def __init__(
        self,
        block: type[nn.Module],
        layers: Sequence[int],
        widths: Sequence[int] = (64, 128, 256, 512),
        num_classes: int = 1000,
        *,
        stem: str = "imagenet",
        shortcut: Shortcut = "B",
        plain: bool = False,
        zero_init_residual: bool = False,
        stride_in_1x1: bool = False,
        groups: int = 1,
        base_width: int = 64,
        stem_width: int | None = None,
        arch: str = "resnet",
    ) -> None:
        super().__init__()
        if len(layers) != len(widths):
            raise ConfigError(f"got {len(layers)} stage depths but {len(widths)} stage widths")
        self.arch = arch
        self.preact = issubclass(block, PreActivationBlock)
        self.shortcut = shortcut
        self.plain = plain
        self.inplanes = stem_width or widths[0]

        if stem == "imagenet":
            self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        elif stem == "cifar":
            self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            raise ConfigError(f"unknown stem {stem!r}; choose 'cifar' or 'imagenet'")
        # A pre-activation net leaves the stem un-normalised: the first block's own BN-ReLU
        # does that job. A post-activation net normalises and rectifies right here.
        if not self.preact:
            self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if stem == "imagenet" else nn.Identity()

        block_options: dict[str, Any] = {}
        if stride_in_1x1:
            block_options["stride_in_1x1"] = True
        if (groups, base_width) != (1, 64):
            block_options.update(groups=groups, base_width=base_width)
        if block_options and block is not Bottleneck:
            raise ConfigError(f"{', '.join(block_options)} only apply to the post-activation Bottleneck block")
        self.stages: list[str] = []
        for index, (planes, blocks) in enumerate(zip(widths, layers)):
            stride = 1 if index == 0 else 2  # every stage after the first halves H and W
            name = f"layer{index + 1}"
            setattr(self, name, self._make_layer(block, planes, blocks, stride, **block_options))
            self.stages.append(name)

        out_channels = self.inplanes
        if self.preact:
            # Nothing has normalised the sum of all residuals yet: do it once before pooling.
            self.bn_final = nn.BatchNorm2d(out_channels)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(out_channels, num_classes)

        self._init_weights(zero_init_residual)

    def _make_layer(
        self, block: type[nn.Module], planes: int, blocks: int, stride: int, **block_options: Any
    ) -> nn.Sequential:
        """One stage: a first block that may change the shape, then blocks-1 that keep it."""
        expansion: int = block.expansion  # type: ignore[assignment]
        layers = []
        for i in range(blocks):
            block_stride = stride if i == 0 else 1
            downsample = None
            if not self.plain:
                downsample = make_shortcut(
                    self.shortcut, self.inplanes, planes * expansion, block_stride, with_bn=not self.preact
                )
            layers.append(block(self.inplanes, planes, block_stride, downsample, self.plain, **block_options))
            self.inplanes = planes * expansion
        return nn.Sequential(*layers)

    def _init_weights(self, zero_init_residual: bool) -> None:
        # He et al. 2015 ("Delving deep into rectifiers") initialisation, as both papers use;
        # fan_out as torchvision does. BN starts as the identity transform.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if not zero_init_residual:
            return
        for m in self.modules():
            # Zero the layer that produces F(x): the last BN of a post-activation block, the
            # last conv of a pre-activation one. Each block then starts as y = x (or relu(x)).
            if isinstance(m, PostActivationBlock):
                nn.init.zeros_((m.bn3 if isinstance(m, Bottleneck) else m.bn2).weight)
            elif isinstance(m, PreActivationBlock):
                nn.init.zeros_((m.conv3 if isinstance(m, PreActBottleneck) else m.conv2).weight)

    def blocks(self) -> list[nn.Module]:
        """All residual blocks in forward order (probes and lesion studies walk these)."""
        return [b for stage in self.stages for b in getattr(self, stage)]

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ConfigError(
                f"{self.arch} expects a batch of RGB images shaped (N, 3, H, W); got a tensor of shape "
                f"{tuple(x.shape)}. A single image (3, H, W) needs x.unsqueeze(0); an (N, H, W, 3) "
                f"batch needs x.permute(0, 3, 1, 2)."
            )

    def forward_features(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, C, H', W'): everything before the pooling and classifier."""
        self._check_input(x)
        x = self.conv1(x)
        if not self.preact:
            x = self.relu(self.bn1(x))
        x = self.maxpool(x)
        for stage in self.stages:
            x = getattr(self, stage)(x)
        if self.preact:
            x = self.relu(self.bn_final(x))
        return x

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.forward_features(x))
        return self.fc(torch.flatten(x, 1))


# ---------------------------------------------------------------------------------------
# The two families
# ---------------------------------------------------------------------------------------

CIFAR_WIDTHS = (16, 32, 64)
IMAGENET_WIDTHS = (64, 128, 256, 512)
#: He et al. 2015, Table 1: blocks per stage for each ImageNet depth.
IMAGENET_LAYERS: dict[int, tuple[type[nn.Module], tuple[int, ...]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
#: The depths the papers trained on CIFAR-10 (Table 6 of He et al. 2015; 164 and 1001 from He et al. 2016).
CIFAR_PAPER_DEPTHS = (20, 32, 44, 56, 110, 1202)
PREACT_PAPER_DEPTHS = (110, 164, 1001)
LAYERS_PER_BLOCK = {"basic": 2, "bottleneck": 3}


def cifar_blocks_per_stage(depth: int, block: str = "basic") -> int:
    """n for a CIFAR net of the given depth: depth = 6n + 2 (basic) or 9n + 2 (bottleneck).

    The +2 is the first conv and the classifier; each of the 3 stages has n blocks.
    """
    per_block = LAYERS_PER_BLOCK[block]
    step = 3 * per_block  # one more block in each of the 3 stages
    n, remainder = divmod(depth - 2, step)
    if remainder or n < 1:
        valid = [step * k + 2 for k in range(1, 9)]
        below = max(n, 0) * step + 2
        nearest = [d for d in (below, below + step) if d >= valid[0]]
        rule = f"{step}n+2"
        raise ConfigError(
            f"depth {depth} is impossible for a CIFAR ResNet with {block} blocks: the depth must be {rule} "
            f"(3 stages of n blocks, {per_block} layers each, plus the first conv and the classifier). "
            f"Nearest valid depths: {', '.join(map(str, nearest))}; the valid ones start "
            f"{', '.join(map(str, valid))}, ... The ImageNet ResNets have depths "
            f"{', '.join(map(str, IMAGENET_LAYERS))}."
        )
    return n


def cifar_resnet(
    depth: int,
    num_classes: int = 10,
    *,
    block: str | None = None,
    preact: bool = False,
    plain: bool = False,
    shortcut: Shortcut | None = None,
    zero_init_residual: bool = False,
    arch: str | None = None,
) -> ResNet:
    """The CIFAR-10 family of He et al. 2015 (sec. 4.2) and 2016.

    Defaults follow the papers: basic blocks and parameter-free option-A shortcuts; the
    pre-activation nets of depth 164 and more use bottlenecks with projection (B) shortcuts.
    """
    spec = ModelSpec("cifar", depth, plain=plain, preact=preact, block=block)  # checks block and depth
    block = spec.block
    if shortcut is None:
        shortcut = "A" if block == "basic" else "B"
    n = cifar_blocks_per_stage(depth, block)
    block_class = {
        ("basic", False): BasicBlock,
        ("bottleneck", False): Bottleneck,
        ("basic", True): PreActBasicBlock,
        ("bottleneck", True): PreActBottleneck,
    }[(block, preact)]
    return ResNet(
        block_class,
        (n, n, n),
        CIFAR_WIDTHS,
        num_classes,
        stem="cifar",
        shortcut=shortcut,
        plain=plain,
        zero_init_residual=zero_init_residual,
        arch=arch or spec.name,
    )


def imagenet_resnet(
    depth: int,
    num_classes: int = 1000,
    *,
    plain: bool = False,
    shortcut: Shortcut = "B",
    zero_init_residual: bool = False,
    stride_in_1x1: bool = False,
    groups: int = 1,
    base_width: int = 64,
    arch: str | None = None,
) -> ResNet:
    """ResNet-18/34/50/101/152 (He et al. 2015, Table 1), torchvision-compatible; ``groups`` and
    ``base_width`` widen the bottlenecks' 3x3 (``IMAGENET_WIDENINGS``)."""
    spec = ModelSpec("imagenet", depth, plain=plain, groups=groups, group_width=base_width)  # checks depth
    block, layers = IMAGENET_LAYERS[depth]
    return ResNet(
        block,
        layers,
        IMAGENET_WIDTHS,
        num_classes,
        stem="imagenet",
        shortcut=shortcut,
        plain=plain,
        zero_init_residual=zero_init_residual,
        stride_in_1x1=stride_in_1x1,
        groups=groups,
        base_width=base_width,
        arch=arch or spec.name,
    )


#: The family's two best-known widenings on ImageNet, as torchvision names them: (depth, groups,
#: base width of a group). ResNeXt (Xie et al. 2017) splits each bottleneck's 3x3 into groups;
#: Wide ResNet-50-2 (Zagoruyko and Komodakis 2016) doubles its width.
IMAGENET_WIDENINGS: dict[str, tuple[int, int, int]] = {
    "resnext50_32x4d": (50, 32, 4),
    "resnext101_32x8d": (101, 32, 8),
    "resnext101_64x4d": (101, 64, 4),
    "wide_resnet50_2": (50, 1, 128),
    "wide_resnet101_2": (101, 1, 128),
}
WIDE_CIFAR_PATTERN = re.compile(r"^wrn(\d+)_(\d+)$")  # wrn28_10: Wide ResNet-28-10


def wide_cifar_resnet(depth: int, widen: int, num_classes: int = 10, *, zero_init_residual: bool = False) -> ResNet:
    """Wide ResNet-``depth``-``widen`` for CIFAR (Zagoruyko and Komodakis 2016): pre-activation
    basic blocks, (depth - 4) / 6 a stage, stages ``widen`` times as wide as ResNet's (16k, 32k,
    64k channels) after a 16-channel stem, and a 1x1 projection wherever the shape changes (the
    "4" counts the stem, the classifier and two of the three projections)."""
    spec = ModelSpec("wide_cifar", depth, preact=True, widen=widen)  # checks depth and widen
    n = (depth - 4) // 6
    return ResNet(
        PreActBasicBlock,
        (n, n, n),
        tuple(widen * width for width in CIFAR_WIDTHS),
        num_classes,
        stem="cifar",
        stem_width=CIFAR_WIDTHS[0],
        shortcut="B",
        zero_init_residual=zero_init_residual,
        arch=spec.name,
    )


# ---------------------------------------------------------------------------------------
# Model names: parsed once into a ModelSpec, which build_model builds
# ---------------------------------------------------------------------------------------

#: Named models, in the order a reader meets them.
MODEL_NAMES: tuple[str, ...] = (
    *(f"resnet{d}" for d in CIFAR_PAPER_DEPTHS),
    *(f"plain{d}" for d in CIFAR_PAPER_DEPTHS[:-1]),
    *(f"preact_resnet{d}" for d in PREACT_PAPER_DEPTHS),
    *(f"resnet{d}" for d in IMAGENET_LAYERS),
    *(f"plain{d}" for d in (18, 34)),
    *IMAGENET_WIDENINGS,
    "wrn28_10",
    "wrn40_4",
)
NAME_PATTERN = re.compile(r"^(cifar_)?(resnet|plain|preact_resnet)(\d+)$")
NAME_RULES = (
    "Any CIFAR depth works as resnet{d}, plain{d} or preact_resnet{d} (d = 6n+2, or 9n+2 with "
    "block='bottleneck'); depths 18, 34, 50, 101 and 152 are the ImageNet nets "
    "(cifar_resnet50 forces the CIFAR one); wrn{d}_{k} is a CIFAR Wide ResNet-d-k (d = 6n+4)."
)
#: Which function builds each family of ``ModelSpec``.
FAMILIES = ("cifar", "imagenet", "wide_cifar")


@dataclass(frozen=True)
class ModelSpec:
    """What a model name says, checked on construction, without building a network.

    ``family`` is "cifar" (``cifar_resnet``), "imagenet" (``imagenet_resnet``) or "wide_cifar"
    (``wide_cifar_resnet``); ``depth`` counts the main path's weight layers as the papers do.
    ``block`` left None takes the papers' choice (bottlenecks for pre-activation CIFAR nets of
    depth 164 and more; the ImageNet depth decides its own). ``widen`` is a Wide ResNet's k;
    ``groups`` and ``group_width`` widen an ImageNet bottleneck's 3x3 (ResNeXt, Wide ResNet-50-2).
    """

    family: str
    depth: int
    plain: bool = False  # no shortcuts: the paper's plain net with the very same layers
    preact: bool = False  # pre-activation blocks (He et al. 2016; every Wide ResNet)
    block: str | None = None  # "basic" or "bottleneck"
    widen: int = 1
    groups: int = 1
    group_width: int = 64

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ConfigError(f"unknown model family {self.family!r}; choose one of {', '.join(FAMILIES)}")
        if self.family == "imagenet":
            if self.depth not in IMAGENET_LAYERS:
                raise ConfigError(
                    f"no ImageNet ResNet of depth {self.depth}; choose one of {', '.join(map(str, IMAGENET_LAYERS))}"
                )
            # frozen: the block is filled in once, here, from the depth (He et al. 2015, Table 1)
            object.__setattr__(self, "block", "bottleneck" if IMAGENET_LAYERS[self.depth][0] is Bottleneck else "basic")
        elif self.family == "wide_cifar":
            if self.depth < 10 or (self.depth - 4) % 6 or self.widen < 1:
                raise ConfigError(
                    "a Wide ResNet has depth 6n + 4 (10, 16, 22, 28, 40...) and widen >= 1; "
                    f"got {self.depth}, {self.widen}"
                )
            object.__setattr__(self, "block", "basic")
        else:
            block = self.block or ("bottleneck" if self.preact and self.depth >= 164 else "basic")
            if block not in LAYERS_PER_BLOCK:
                raise ConfigError(f"unknown block {block!r}; choose 'basic' or 'bottleneck'")
            cifar_blocks_per_stage(self.depth, block)  # raises with the nearest valid depths
            object.__setattr__(self, "block", block)

    @property
    def name(self) -> str:
        """The name ``parse_model_name`` reads back into this spec."""
        if self.family == "wide_cifar":
            return f"wrn{self.depth}_{self.widen}"
        widening = (self.depth, self.groups, self.group_width)
        for name, numbers in IMAGENET_WIDENINGS.items():
            if self.family == "imagenet" and numbers == widening:
                return name
        kind = "plain" if self.plain else ("preact_resnet" if self.preact else "resnet")
        if self.family == "cifar" and self.depth in IMAGENET_LAYERS and not self.preact:
            return f"cifar_{kind}{self.depth}"  # resnet50 means the ImageNet net; say which this is
        return f"{kind}{self.depth}"

    @property
    def residual_twin(self) -> ModelSpec:
        """The same net with its shortcuts: plain20 -> resnet20 (a residual net is its own twin)."""
        return dataclasses.replace(self, plain=False)

    @property
    def default_classes(self) -> int:
        """Classifier outputs when none are asked for: 1000 for ImageNet nets, 10 for CIFAR ones."""
        return 1000 if self.family == "imagenet" else 10


def parse_model_name(name: str, block: str | None = None) -> ModelSpec:
    """Read a model name into its ``ModelSpec``, checked (an impossible depth raises here, naming
    the nearest valid ones); builds no network. ``block`` is ``build_model``'s option of that name.

    Names: ``resnet{d}``, ``plain{d}``, ``preact_resnet{d}`` (``cifar_`` before them forces the
    CIFAR net at an ImageNet depth), ``wrn{d}_{k}``, and torchvision's ResNeXt and Wide ResNet
    names (``IMAGENET_WIDENINGS``); ``list_models()`` lists the named ones.
    """
    text = name.strip().lower() if isinstance(name, str) else ""
    wide = WIDE_CIFAR_PATTERN.match(text)
    match = NAME_PATTERN.match(text)
    if text in IMAGENET_WIDENINGS:
        depth, groups, group_width = IMAGENET_WIDENINGS[text]
        spec = ModelSpec("imagenet", depth, groups=groups, group_width=group_width)
    elif wide:
        spec = ModelSpec("wide_cifar", int(wide.group(1)), preact=True, widen=int(wide.group(2)))
    elif match is None:
        close = difflib.get_close_matches(str(name), MODEL_NAMES, n=3)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError(f"unknown model {name!r}.{hint} Valid names: {', '.join(MODEL_NAMES)}. {NAME_RULES}")
    else:
        force_cifar, kind, depth_text = match.groups()
        depth = int(depth_text)
        if not (depth in IMAGENET_LAYERS and not force_cifar and kind != "preact_resnet"):
            return ModelSpec("cifar", depth, plain=kind == "plain", preact=kind == "preact_resnet", block=block)
        spec = ModelSpec("imagenet", depth, plain=kind == "plain")
    if block is not None:
        raise ConfigError(
            f"{name} has {spec.block} blocks, fixed by its depth; the block option applies to the CIFAR ResNets only"
        )
    return spec


def list_models() -> list[str]:
    """The names ``build_model`` knows by heart (any valid CIFAR depth also works)."""
    return list(MODEL_NAMES)


#: The keyword options ``build_model`` passes on, by what it builds.
BUILD_OPTIONS = {
    "cifar": ("block", "shortcut", "zero_init_residual"),
    "imagenet": ("shortcut", "stride_in_1x1", "zero_init_residual"),
    "widened": ("zero_init_residual",),
}


def build_model(name: str, num_classes: int | None = None, **options: Any) -> ResNet:
    """Build a model by name: ``build_model("resnet56")``, ``build_model("resnet50")``...

    Args:
        name: ``resnet{d}``, ``plain{d}``, ``preact_resnet{d}`` or ``cifar_...``; ResNeXt and Wide
            ResNet by torchvision's names (``resnext50_32x4d``, ``wide_resnet50_2``); ``wrn{d}_{k}``
            for a CIFAR Wide ResNet; see ``list_models()`` and ``parse_model_name``.
        num_classes: classifier outputs; default 10 for CIFAR nets, 1000 for ImageNet nets.
        **options: passed on to ``cifar_resnet`` (block, shortcut, zero_init_residual) or
            ``imagenet_resnet`` (shortcut, zero_init_residual, stride_in_1x1); the widened nets
            take zero_init_residual only.

    Returns:
        The model, in training mode, on the CPU; ``model.arch`` holds ``name``.
    """
    spec = parse_model_name(name, block=options.pop("block", None))
    widened = spec.family == "wide_cifar" or (spec.groups, spec.group_width) != (1, 64)
    allowed = BUILD_OPTIONS["widened" if widened else spec.family]
    unknown = set(options) - set(allowed)
    if unknown:
        raise TypeError(
            f"{name}: unknown option(s) {', '.join(sorted(unknown))}; valid options are "
            f"num_classes, {', '.join(allowed)}"
        )
    if num_classes is None:
        num_classes = spec.default_classes
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ConfigError(
            f"num_classes must be an integer of at least 2 (a classifier needs two classes); got {num_classes!r}"
        )
    if "shortcut" in options and options["shortcut"] not in ("A", "B", "C"):
        raise ConfigError(f"unknown shortcut option {options['shortcut']!r}; choose 'A', 'B' or 'C'")
    if spec.family == "wide_cifar":
        return wide_cifar_resnet(spec.depth, spec.widen, num_classes, **options)
    if spec.family == "imagenet":
        return imagenet_resnet(
            spec.depth,
            num_classes,
            plain=spec.plain,
            groups=spec.groups,
            base_width=spec.group_width,
            arch=name,
            **options,
        )
    return cifar_resnet(
        spec.depth, num_classes, block=spec.block, preact=spec.preact, plain=spec.plain, arch=name, **options
    )


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (BN's scale and shift included, running statistics not)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def input_size(model: ResNet) -> int:
    """The image size a model was designed for: 224 with the ImageNet stem, 32 otherwise."""
    return 224 if isinstance(model.maxpool, nn.MaxPool2d) else 32


__all__ = [
    "ResNet",
    "evaluating",
    "input_size",
    "build_model",
    "cifar_resnet",
    "imagenet_resnet",
    "wide_cifar_resnet",
    "ModelSpec",
    "parse_model_name",
    "IMAGENET_WIDENINGS",
    "list_models",
    "count_parameters",
    "cifar_blocks_per_stage",
    "MODEL_NAMES",
    "IMAGENET_LAYERS",
    "CIFAR_PAPER_DEPTHS",
]
