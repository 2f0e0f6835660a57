"""Build it yourself: the reader writes a block in the notebook, and the package's own block checks it.

    check_basic_block(MyBasicBlock)            # __init__(inplanes, planes, stride=1, downsample=None)
    check_bottleneck(MyBottleneck)             # the same signature; outputs planes * 4 channels
    check_zero_pad_shortcut(MyZeroPadShortcut)  # __init__(in_planes, out_planes, stride): option A
    check_preact_block(MyPreActBlock)          # the basic block's signature, pre-activation order
    check_resnet20(MyResNet20)                 # __init__() with defaults: the whole CIFAR ResNet-20

Each check builds the reader's module and the package's with the same arguments, for a case
that keeps the shape and one that opens a stage (stride 2, more channels). It gives the
package's batch norms random statistics, copies every weight into the reader's module (by name
when the names are torchvision's, else in the order the layers were registered), runs both on
one random batch in eval mode and compares. A mismatch gets a hint naming the first difference:
a layer missing or of the wrong shape, an output of the wrong shape, or values that match the
package's block computed with a known mistake (no final ReLU, no addition, the stride on the
wrong convolution...).

The whole network is checked another way (``build_it_network``): it must load
``build_model("resnet20")``'s state dict strictly, and the hint names the first layer whose input
or output differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import BasicBlock, Bottleneck, PreActBasicBlock, ZeroPadShortcut, make_shortcut
from ..models import build_model
from .build_it_network import diagnose_network

#: A known mistake: a name for it and the package's module computed with it, (module, x) -> y.
Mistake = tuple[str, Callable[[nn.Module, Tensor], Tensor]]


@dataclass(frozen=True)
class Case:
    """One set of constructor arguments to check a module with."""

    description: str
    args: tuple[int, int, int]  # (in channels, planes or out channels, stride)
    input_shape: tuple[int, int, int, int]
    shortcut: str | None = None  # the shortcut option the block gets as ``downsample``: "B", or None
    expansion: int = 1  # output channels per plane of the block
    shortcut_bn: bool = True  # False: a bare 1x1 projection, as a pre-activation block has

    def kwargs(self) -> dict[str, nn.Module]:
        """The constructor's keyword arguments: a fresh shortcut module, if the case has one."""
        if self.shortcut is None:
            return {}
        inplanes, planes, stride = self.args
        downsample = make_shortcut(self.shortcut, inplanes, planes * self.expansion, stride, with_bn=self.shortcut_bn)
        return {"downsample": downsample}


def _bn_random(module: nn.Module, seed: int) -> None:
    """Random BN scales, shifts and running statistics: an untrained BN is close to the identity
    and would hide mistakes (a missing BN, BN and ReLU swapped)."""
    generator = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=generator) * 0.5)
                m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)


def _copy_weights(reference: nn.Module, mine: nn.Module) -> str | None:
    """Copy ``reference``'s tensors into ``mine``; None, or a hint why they do not fit."""
    theirs, ours = reference.state_dict(), mine.state_dict()
    expected = ", ".join(f"{name} {tuple(t.shape)}" for name, t in theirs.items() if "num_batches" not in name)
    if not theirs and not ours:
        return None  # nothing learned on either side (option A)
    if not ours:
        return f"your module has no layers yet. The package's holds: {expected}."
    if set(ours) == set(theirs):
        pairs = [(name, name) for name in theirs]
    elif len(ours) == len(theirs):
        pairs = list(zip(ours, theirs))  # other names: match the layers in the order they were registered
    else:
        return (
            f"your module holds {len(ours)} tensors, the package's {len(theirs)}: {expected}. "
            "Look for a layer missing or one too many (a BN has weight, bias, running_mean, running_var "
            "and num_batches_tracked)."
        )
    for mine_name, their_name in pairs:
        if ours[mine_name].shape != theirs[their_name].shape:
            return (
                f"your {mine_name} has shape {tuple(ours[mine_name].shape)} where the package's {their_name} has "
                f"{tuple(theirs[their_name].shape)}."
            )
    mine.load_state_dict({mine_name: theirs[their_name] for mine_name, their_name in pairs})
    return None


def _diagnose(name: str, case: Case, build: Callable, reference_type: type, mistakes: list[Mistake]) -> str | None:
    """None if the reader's module computes what the package's does in ``case``, else a hint."""
    torch.manual_seed(0)
    reference = reference_type(*case.args, **case.kwargs())
    try:
        mine = build(*case.args, **case.kwargs())
    except Exception as err:  # whatever the reader's constructor raised is the hint
        return f"building {name}{case.args} raised {type(err).__name__}: {err}"
    _bn_random(reference, seed=1)
    problem = _copy_weights(reference, mine)
    if problem:
        return f"{case.description}: {problem}"
    x = torch.randn(case.input_shape, generator=torch.Generator().manual_seed(2))
    reference.eval(), mine.eval()
    with torch.no_grad():
        expected = reference(x)
        try:
            got = mine(x)
        except NotImplementedError:
            return "forward is not written yet."
        except Exception as err:  # the reader's code: any error is the hint
            raised = f"{case.description}: the forward pass raised {type(err).__name__}: {err}."
            if "must match the size of tensor" in str(err):
                raised += (
                    " F(x) and the shortcut's output differ in shape: the branch must change the shape "
                    "exactly as the shortcut does (the stride on its first 3x3, planes output channels)."
                )
            return raised
        if not isinstance(got, Tensor) or got.shape != expected.shape:
            shape = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
            return (
                f"{case.description}: your output is {shape}, the package's {tuple(expected.shape)} "
                f"(for an input {tuple(x.shape)}). {_shape_hint(got, expected)}"
            )
        if torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
            return None
        for mistake, compute in mistakes:
            if torch.allclose(got, compute(reference, x), rtol=1e-4, atol=1e-5):
                return f"{case.description}: your output is the package's block with {mistake}."
    difference = (got - expected).abs().max().item()
    return (
        f"{case.description}: the outputs differ (by up to {difference:.3g}) in a way none of the common "
        "mistakes explains. Compare your forward with the equation, layer by layer."
    )


def _shape_hint(got: object, expected: Tensor) -> str:
    if not isinstance(got, Tensor) or got.dim() != expected.dim():
        return "Return one tensor (N, C, H, W)."
    if got.shape[1] != expected.shape[1]:
        return "The number of channels is off: check the out_channels of the last convolution."
    return "The height and width are off: the stride belongs on one convolution of the branch, and on the shortcut."


def _report(key: str, what: str, hint: str | None) -> bool:
    if hint is None:
        print(f"[{key}] ✓ Correct: your module computes what {what} computes, in every case checked.")
        return True
    print(f"[{key}] ✗ Not yet: {hint}")
    return False


# ---------------------------------------------------------------------------------------
# The basic block
# ---------------------------------------------------------------------------------------


def _conv(x: Tensor, conv: nn.Conv2d, stride: int) -> Tensor:
    """``conv`` applied with another stride (the same weights)."""
    return F.conv2d(x, conv.weight, stride=stride, padding=conv.padding)


BASIC_MISTAKES: list[Mistake] = [
    ("no ReLU after the addition", lambda b, x: b.residual(x) + b.shortcut(x)),
    ("no addition: it never adds the shortcut (a plain block)", lambda b, x: b.relu(b.residual(x))),
    (
        "the ReLU inside F missing (between bn1 and conv2)",
        lambda b, x: b.relu(b.bn2(b.conv2(b.bn1(b.conv1(x)))) + b.shortcut(x)),
    ),
    ("the last ReLU before the addition instead of after it", lambda b, x: b.relu(b.residual(x)) + b.shortcut(x)),
    (
        "ReLU before BN (conv, ReLU, BN) in the first layer",
        lambda b, x: b.relu(b.bn2(b.conv2(b.bn1(b.relu(b.conv1(x))))) + b.shortcut(x)),
    ),
    (
        "the stride on conv2 instead of conv1",
        lambda b, x: b.relu(b.bn2(_conv(b.relu(b.bn1(_conv(x, b.conv1, 1))), b.conv2, b.stride)) + b.shortcut(x)),
    ),
]


def check_basic_block(build: Callable[..., nn.Module], key: str = "part2.build_basic_block") -> bool:
    """Check a basic block the reader wrote against ``blocks.BasicBlock``; print and return the verdict.

    ``build(inplanes, planes, stride, downsample=...)`` makes the reader's block (usually the class).
    """
    cases = [
        Case("a block inside a stage (16 -> 16 channels, stride 1)", (16, 16, 1), (2, 16, 8, 8)),
        Case(
            "a block opening a stage (16 -> 32 channels, stride 2, a projection shortcut)",
            (16, 32, 2),
            (2, 16, 8, 8),
            shortcut="B",
        ),
    ]
    hint = next((h for c in cases if (h := _diagnose("the block", c, build, BasicBlock, BASIC_MISTAKES))), None)
    return _report(key, "resnets.blocks.BasicBlock", hint)


# ---------------------------------------------------------------------------------------
# The bottleneck block
# ---------------------------------------------------------------------------------------


def _bottleneck_with_strides(b: nn.Module, x: Tensor, stride_1x1: int, stride_3x3: int) -> Tensor:
    out = b.relu(b.bn1(_conv(x, b.conv1, stride_1x1)))
    out = b.relu(b.bn2(_conv(out, b.conv2, stride_3x3)))
    return b.relu(b.bn3(b.conv3(out)) + b.shortcut(x))


BOTTLENECK_MISTAKES: list[Mistake] = [
    ("no ReLU after the addition", lambda b, x: b.residual(x) + b.shortcut(x)),
    ("no addition: it never adds the shortcut (a plain block)", lambda b, x: b.relu(b.residual(x))),
    ("the last ReLU before the addition instead of after it", lambda b, x: b.relu(b.residual(x)) + b.shortcut(x)),
    (
        "the stride on conv1, the first 1x1, as the paper's original had it (stride_in_1x1=True); the package and "
        "torchvision put it on conv2, the 3x3, which sees every input pixel",
        lambda b, x: _bottleneck_with_strides(b, x, b.stride, 1),
    ),
    (
        "a ReLU missing inside F (after bn1 or bn2)",
        lambda b, x: b.relu(b.bn3(b.conv3(b.relu(b.bn2(b.conv2(b.bn1(b.conv1(x))))))) + b.shortcut(x)),
    ),
]


def check_bottleneck(build: Callable[..., nn.Module], key: str = "part2.build_bottleneck") -> bool:
    """Check a bottleneck block the reader wrote against ``blocks.Bottleneck`` (stride on the 3x3)."""
    cases = [
        Case("a block inside a stage (64 -> 16 -> 64 channels, stride 1)", (64, 16, 1), (2, 64, 8, 8), expansion=4),
        Case(
            "a block opening a stage (64 -> 32 -> 128 channels, stride 2, a projection shortcut)",
            (64, 32, 2),
            (2, 64, 8, 8),
            shortcut="B",
            expansion=4,
        ),
    ]
    hint = next((h for c in cases if (h := _diagnose("the block", c, build, Bottleneck, BOTTLENECK_MISTAKES))), None)
    return _report(key, "resnets.blocks.Bottleneck", hint)


# ---------------------------------------------------------------------------------------
# Option A: the zero-padding shortcut
# ---------------------------------------------------------------------------------------


def _padded(x: Tensor, extra: int, front: int = 0) -> Tensor:
    return F.pad(x, (0, 0, 0, 0, front, extra - front))


ZERO_PAD_MISTAKES: list[Mistake] = [
    (
        "the zero channels in front of x's instead of after them",
        lambda s, x: _padded(x[:, :, :: s.stride, :: s.stride], s.extra_channels, s.extra_channels),
    ),
    (
        "half the zero channels on each side of x's",
        lambda s, x: _padded(x[:, :, :: s.stride, :: s.stride], s.extra_channels, s.extra_channels // 2),
    ),
    (
        "every other pixel taken from the second one (x[..., 1::2, 1::2]) instead of the first",
        lambda s, x: _padded(x[:, :, 1 :: s.stride, 1 :: s.stride], s.extra_channels),
    ),
    (
        "each 2x2 patch averaged instead of subsampled (the paper keeps every other pixel)",
        lambda s, x: _padded(F.avg_pool2d(x, s.stride), s.extra_channels),
    ),
]


def check_zero_pad_shortcut(build: Callable[..., nn.Module], key: str = "part2.build_zero_pad_shortcut") -> bool:
    """Check an option-A shortcut the reader wrote against ``blocks.ZeroPadShortcut``.

    ``build(in_planes, out_planes, stride)``; the shortcut has no parameters, so nothing is copied.
    """
    cases = [
        Case("from 16 to 32 channels at stride 2", (16, 32, 2), (2, 16, 8, 8)),
        Case("from 32 to 64 channels at stride 2", (32, 64, 2), (2, 32, 6, 6)),
    ]
    hint = next(
        (h for c in cases if (h := _diagnose("the shortcut", c, build, ZeroPadShortcut, ZERO_PAD_MISTAKES))), None
    )
    return _report(key, "resnets.blocks.ZeroPadShortcut", hint)


# ---------------------------------------------------------------------------------------
# The pre-activation block
# ---------------------------------------------------------------------------------------


def _projection_of_raw_input(b: nn.Module, x: Tensor) -> Tensor:
    """The shortcut as a block computes it when its projection reads x instead of BN-ReLU(x)."""
    return x if b.downsample is None else b.downsample(x)


PREACT_MISTAKES: list[Mistake] = [
    (
        "a ReLU after the addition, the post-activation habit: a pre-activation block ends at the sum, "
        "so that x reaches the next block unchanged",
        lambda b, x: b.relu(b.residual(x) + b.shortcut(x)),
    ),
    (
        "the projection reading the raw input x instead of the BN-ReLU output it shares with F "
        "(downsample(pre), where pre = relu(bn1(x)))",
        lambda b, x: b.residual(x) + _projection_of_raw_input(b, x),
    ),
    (
        "the identity shortcut adding BN-ReLU(x) instead of x itself: only a projection reads the "
        "normalised input, the identity carries x untouched",
        lambda b, x: b.residual(x) + (b.relu(b.bn1(x)) if b.downsample is None else b.shortcut(x)),
    ),
    ("no addition: it never adds the shortcut (a plain block)", lambda b, x: b.residual(x)),
    (
        "the ReLU inside F missing (between bn2 and conv2)",
        lambda b, x: b.conv2(b.bn2(b.conv1(b.relu(b.bn1(x))))) + b.shortcut(x),
    ),
    ("no BN-ReLU before conv1: F starts from x itself", lambda b, x: b.branch(x) + b.shortcut(x)),
    (
        "the stride on conv2 instead of conv1",
        lambda b, x: _conv(b.relu(b.bn2(_conv(b.relu(b.bn1(x)), b.conv1, 1))), b.conv2, b.stride) + b.shortcut(x),
    ),
]


def check_preact_block(build: Callable[..., nn.Module], key: str = "part2.build_preact_block") -> bool:
    """Check a pre-activation basic block the reader wrote against ``blocks.PreActBasicBlock``.

    ``build(inplanes, planes, stride, downsample=...)``; the stage-opening case hands it a bare 1x1
    projection (no BN), which must read the block's first BN-ReLU output, as the package's does.
    """
    cases = [
        Case("a block inside a stage (16 -> 16 channels, stride 1)", (16, 16, 1), (2, 16, 8, 8)),
        Case(
            "a block opening a stage (16 -> 32 channels, stride 2, a 1x1 projection shortcut)",
            (16, 32, 2),
            (2, 16, 8, 8),
            shortcut="B",
            shortcut_bn=False,
        ),
    ]
    hint = next((h for c in cases if (h := _diagnose("the block", c, build, PreActBasicBlock, PREACT_MISTAKES))), None)
    return _report(key, "resnets.blocks.PreActBasicBlock", hint)


# ---------------------------------------------------------------------------------------
# The whole network: CIFAR ResNet-20
# ---------------------------------------------------------------------------------------


def check_resnet20(build: Callable[[], nn.Module], key: str = "part2.build_resnet20") -> bool:
    """Check a whole CIFAR ResNet-20 the reader wrote against ``build_model("resnet20")``.

    ``build()`` makes the reader's network (usually the class). It must take the package's state dict
    with ``strict=True``: conv1, bn1, layer1 to layer3 of three blocks each (conv1, bn1, conv2, bn2;
    option A shortcuts, which hold nothing), fc. Then both run one random batch of 32x32 images and
    ``build_it_network`` names the first layer whose input or output differs.
    """
    torch.manual_seed(0)
    reference = build_model("resnet20")
    _bn_random(reference, seed=1)
    x = torch.randn((2, 3, 32, 32), generator=torch.Generator().manual_seed(2))
    try:
        mine = build()
    except Exception as err:  # whatever the reader's constructor raised is the hint
        hint = f"building your network raised {type(err).__name__}: {err}"
    else:
        hint = diagnose_network(reference, mine, x, BASIC_MISTAKES)
    return _report(key, 'build_model("resnet20")', hint)


__all__ = [
    "BASIC_MISTAKES",
    "BOTTLENECK_MISTAKES",
    "PREACT_MISTAKES",
    "ZERO_PAD_MISTAKES",
    "check_basic_block",
    "check_bottleneck",
    "check_preact_block",
    "check_resnet20",
    "check_zero_pad_shortcut",
]
