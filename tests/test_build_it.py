"""The build-it-yourself checks pass the package's own blocks and name the mistake in a broken one."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnets.blocks import BasicBlock, Bottleneck, PreActBasicBlock, ZeroPadShortcut, conv3x3, make_shortcut
from resnets.course import build_it
from resnets.models import build_model

ROOT = Path(__file__).resolve().parents[1]


def verdict(check, build, capsys: pytest.CaptureFixture) -> tuple[bool, str]:
    ok = check(build)
    return ok, capsys.readouterr().out


@pytest.mark.parametrize(
    ("check", "package_module"),
    [
        (build_it.check_basic_block, BasicBlock),
        (build_it.check_bottleneck, Bottleneck),
        (build_it.check_zero_pad_shortcut, ZeroPadShortcut),
        (build_it.check_preact_block, PreActBasicBlock),
        (build_it.check_resnet20, lambda: build_model("resnet20")),
    ],
)
def test_the_package_passes_its_own_checks(check, package_module, capsys: pytest.CaptureFixture) -> None:
    ok, out = verdict(check, package_module, capsys)
    assert ok and "✓ Correct" in out


class ReadersBlock(nn.Module):
    """A basic block as a reader writes it: torchvision's names, and a mistake switched on."""

    def __init__(self, inplanes, planes, stride=1, downsample=None, mistake=None):
        super().__init__()
        conv1_stride, conv2_stride = (1, stride) if mistake == "stride on conv2" else (stride, 1)
        self.conv1 = conv3x3(inplanes, planes, conv1_stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, conv2_stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.mistake = mistake

    def forward(self, x: Tensor) -> Tensor:
        inner = self.bn1(self.conv1(x))
        out = self.bn2(self.conv2(inner if self.mistake == "no inner relu" else F.relu(inner)))
        if self.mistake != "no addition":
            out = out + (x if self.downsample is None else self.downsample(x))
        return out if self.mistake == "no final relu" else F.relu(out)


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (None, "✓ Correct"),
        ("no final relu", "no ReLU after the addition"),
        ("no addition", "never adds the shortcut"),
        ("no inner relu", "the ReLU inside F missing"),
        ("stride on conv2", "the stride on conv2 instead of conv1"),
    ],
)
def test_a_broken_basic_block_gets_a_hint_that_names_its_mistake(mistake, hint, capsys) -> None:
    ok, out = verdict(build_it.check_basic_block, lambda *a, **k: ReadersBlock(*a, **k, mistake=mistake), capsys)
    assert ok == (mistake is None) and hint in out, out


def test_a_block_without_its_layers_or_forward_says_what_is_missing(capsys: pytest.CaptureFixture) -> None:
    class Empty(nn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()

        def forward(self, x):
            raise NotImplementedError

    ok, out = verdict(build_it.check_basic_block, Empty, capsys)
    assert not ok and "no layers yet" in out and "conv1.weight (16, 16, 3, 3)" in out

    class NoForward(ReadersBlock):
        def forward(self, x):
            raise NotImplementedError

    ok, out = verdict(build_it.check_basic_block, NoForward, capsys)
    assert not ok and "forward is not written yet" in out


def test_a_wrong_layer_shape_and_a_wrong_output_shape_are_named(capsys: pytest.CaptureFixture) -> None:
    class WideConv2(ReadersBlock):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__(inplanes, planes, stride, downsample)
            self.conv2 = conv3x3(planes, 2 * planes)

    ok, out = verdict(build_it.check_basic_block, WideConv2, capsys)
    assert (
        not ok
        and "your conv2.weight has shape (32, 16, 3, 3) where the package's conv2.weight has (16, 16, 3, 3)" in out
    )

    class NoStride(ReadersBlock):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__(inplanes, planes, 1, downsample)

    ok, out = verdict(build_it.check_basic_block, NoStride, capsys)
    assert not ok and "opening a stage" in out and "F(x) and the shortcut's output differ in shape" in out


def test_a_bottleneck_with_the_paper_s_stride_placement_is_told_where_torchvision_puts_it(capsys) -> None:
    class StrideIn1x1(Bottleneck):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__(inplanes, planes, stride, downsample, stride_in_1x1=True)

    ok, out = verdict(build_it.check_bottleneck, StrideIn1x1, capsys)
    assert not ok and "the stride on conv1, the first 1x1" in out


@pytest.mark.parametrize(
    ("pad", "hint"),
    [
        (lambda x, extra: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, extra, 0)), "in front of x's"),
        (lambda x, extra: F.pad(x[:, :, 1::2, 1::2], (0, 0, 0, 0, 0, extra)), "from the second one"),
        (lambda x, extra: F.pad(F.avg_pool2d(x, 2), (0, 0, 0, 0, 0, extra)), "averaged instead of subsampled"),
        (lambda x, extra: F.pad(x, (0, 0, 0, 0, 0, extra)), "The height and width are off"),
    ],
)
def test_a_broken_option_a_shortcut_gets_a_hint(pad, hint, capsys: pytest.CaptureFixture) -> None:
    class Shortcut(nn.Module):
        def __init__(self, in_planes, out_planes, stride):
            super().__init__()
            self.extra = out_planes - in_planes

        def forward(self, x):
            return pad(x, self.extra)

    ok, out = verdict(build_it.check_zero_pad_shortcut, Shortcut, capsys)
    assert not ok and hint in out, out


def test_a_projection_named_differently_is_matched_in_order(capsys: pytest.CaptureFixture) -> None:
    class OtherNames(nn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.first = conv3x3(inplanes, planes, stride)
            self.first_bn = nn.BatchNorm2d(planes)
            self.second = conv3x3(planes, planes)
            self.second_bn = nn.BatchNorm2d(planes)
            self.skip = downsample if downsample is not None else None

        def forward(self, x):
            out = self.second_bn(self.second(F.relu(self.first_bn(self.first(x)))))
            return F.relu(out + (x if self.skip is None else self.skip(x)))

    ok, out = verdict(build_it.check_basic_block, OtherNames, capsys)
    assert ok, out


class ReadersPreActBlock(nn.Module):
    """A pre-activation basic block as a reader writes it, with a mistake switched on."""

    def __init__(self, inplanes, planes, stride=1, downsample=None, mistake=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample
        self.mistake = mistake

    def forward(self, x: Tensor) -> Tensor:
        pre = F.relu(self.bn1(x))
        inner = self.bn2(self.conv1(pre))
        out = self.conv2(inner if self.mistake == "no inner relu" else F.relu(inner))
        if self.downsample is not None:
            shortcut = self.downsample(x if self.mistake == "projection reads x" else pre)
        else:
            shortcut = pre if self.mistake == "identity adds pre" else x
        if self.mistake == "no addition":
            return out
        return F.relu(out + shortcut) if self.mistake == "relu after the addition" else out + shortcut


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (None, "✓ Correct"),
        ("relu after the addition", "a ReLU after the addition, the post-activation habit"),
        ("projection reads x", "the projection reading the raw input x instead of the BN-ReLU output"),
        ("identity adds pre", "the identity shortcut adding BN-ReLU(x) instead of x itself"),
        ("no addition", "never adds the shortcut"),
        ("no inner relu", "the ReLU inside F missing (between bn2 and conv2)"),
    ],
)
def test_a_broken_preact_block_gets_a_hint_that_names_its_mistake(mistake, hint, capsys) -> None:
    build = lambda *a, **k: ReadersPreActBlock(*a, **k, mistake=mistake)  # noqa: E731
    ok, out = verdict(build_it.check_preact_block, build, capsys)
    assert ok == (mistake is None) and hint in out, out


def test_the_preact_projection_reading_x_is_caught_where_the_stage_opens(capsys) -> None:
    build = lambda *a, **k: ReadersPreActBlock(*a, **k, mistake="projection reads x")  # noqa: E731
    ok, out = verdict(build_it.check_preact_block, build, capsys)
    assert not ok and "a block opening a stage" in out, out


class ReadersResNet20(nn.Module):
    """ResNet-20 as a reader writes it, from the blocks above, with one mistake switched on."""

    def __init__(self, mistake=None):
        super().__init__()
        self.mistake = mistake
        blocks = {"4 blocks in layer1": (4, 3, 3), "2 blocks in layer3": (3, 3, 2)}.get(mistake, (3, 3, 3))
        strides = {"stride 1 in layer2": (1, 1, 2), "stride 2 in layer1": (2, 2, 2)}.get(mistake, (1, 2, 2))
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self.stage(16, 16, strides[0], blocks[0])
        self.layer2 = self.stage(16, 32, strides[1], blocks[1])
        self.layer3 = self.stage(32, 64, strides[2], blocks[2])
        self.fc = nn.Linear(64 * 8 * 8 if mistake == "fc on the flattened map" else 64, 10)

    def stage(self, inplanes, planes, stride, blocks):
        option = "B" if self.mistake == "option B shortcuts" else "A"
        block_mistake = self.mistake if self.mistake in ("no final relu", "no inner relu") else None
        layers = [
            ReadersBlock(inplanes, planes, stride, make_shortcut(option, inplanes, planes, stride), block_mistake)
        ]
        layers += [ReadersBlock(planes, planes, mistake=block_mistake) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn1(self.conv1(x))
        x = x if self.mistake == "no ReLU after the stem" else F.relu(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        if self.mistake in ("fc on the flattened map", "no pooling"):
            x = torch.flatten(x, 1)
        elif self.mistake == "max pooling":
            x = x.amax(dim=(2, 3))
        elif self.mistake == "no flatten":
            x = F.adaptive_avg_pool2d(x, 1)
        else:
            x = x.mean(dim=(2, 3))
        x = self.fc(x)
        return x.softmax(dim=1) if self.mistake == "softmax" else x


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (None, "✓ Correct"),
        ("no ReLU after the stem", "hands bn1's output to layer1 as it is, where the package applies a ReLU"),
        ("stride 1 in layer2", "Your layer2.0.conv1 has stride 1, the package's 2: the first block of layer2"),
        ("stride 2 in layer1", "Your layer1.0.conv1 has stride 2, the package's 1: only the first block"),
        ("4 blocks in layer1", "your layer1 has 4 blocks, the package's 3: ResNet-20 has 3 stages of n = 3"),
        ("2 blocks in layer3", "your layer3 has 2 blocks, the package's 3"),
        ("fc on the flattened map", "your fc takes 4096 inputs, the package's 64"),
        ("no pooling", "fc receives (2, 4096) where the package's receives (2, 64)"),
        ("max pooling", "avgpool: the mean, not the maximum"),
        ("no flatten", "flatten the pooled map to (N, channels) first"),
        ("softmax", "your network returns probabilities"),
        ("option B shortcuts", "ResNet-20's shortcuts are option A, which learns nothing"),
        ("no final relu", "your layer1.0 computes the package's block with no ReLU after the addition"),
        ("no inner relu", "hands layer1.0.bn1's output to layer1.0.conv2 as it is"),
    ],
)
def test_a_broken_resnet20_gets_a_hint_that_names_its_first_mistake(mistake, hint, capsys) -> None:
    ok, out = verdict(build_it.check_resnet20, lambda: ReadersResNet20(mistake), capsys)
    assert ok == (mistake is None) and hint in out, out


def test_a_resnet20_without_layers_forward_or_a_stem_bn_says_what_is_missing(capsys) -> None:
    class Empty(nn.Module):
        def forward(self, x):
            raise NotImplementedError

    ok, out = verdict(build_it.check_resnet20, Empty, capsys)
    assert not ok and "no layers yet" in out and "layer1 (3 blocks)" in out and "fc (10, 64)" in out, out

    class NoForward(ReadersResNet20):
        def forward(self, x):
            raise NotImplementedError

    ok, out = verdict(build_it.check_resnet20, NoForward, capsys)
    assert not ok and "forward is not written yet" in out, out

    class NoStemBN(ReadersResNet20):
        def __init__(self):
            super().__init__()
            del self.bn1

    ok, out = verdict(build_it.check_resnet20, NoStemBN, capsys)
    assert not ok and "your network lacks bn1.weight" in out, out


def test_a_resnet20_whose_shortcut_keeps_the_size_is_told_where_the_addition_failed(capsys) -> None:
    class ShortcutWithoutStride(ReadersResNet20):
        def stage(self, inplanes, planes, stride, blocks):
            layers = super().stage(inplanes, planes, stride, blocks)
            if stride > 1:
                layers[0].downsample = ZeroPadShortcut(inplanes, planes, 1)
            return layers

    ok, out = verdict(build_it.check_resnet20, ShortcutWithoutStride, capsys)
    assert not ok and "raised RuntimeError after layer2.0.bn2" in out and "ZeroPadShortcut with the block's" in out


SOLUTIONS = {
    "chapters/part2/01_basic_block.ipynb": ("p2c1-build-md", build_it.check_basic_block),
    "chapters/part2/02_shortcuts.ipynb": ("p2c2-build-md", build_it.check_zero_pad_shortcut),
    "chapters/part2/03_bottleneck.ipynb": ("p2c3-build-md", build_it.check_bottleneck),
    "chapters/part2/04_preactivation_blocks.ipynb": ("p2c4-build-md", build_it.check_preact_block),
    "chapters/part2/05_family.ipynb": ("p2c5-build-md", build_it.check_resnet20),
}


@pytest.mark.parametrize("notebook", sorted(SOLUTIONS))
def test_the_chapters_solutions_pass_their_checks(notebook: str, capsys: pytest.CaptureFixture) -> None:
    cell_id, check = SOLUTIONS[notebook]
    cell = next(c for c in nbformat.read(ROOT / notebook, as_version=4).cells if c.id == cell_id)
    solution = re.search(r"```python\n(.*?)\n```", cell.source, re.S).group(1)
    # what the skeleton cells import: the ResNet-20 solution builds on the package's blocks
    namespace = {"nn": nn, "torch": torch, "BasicBlock": BasicBlock, "ZeroPadShortcut": ZeroPadShortcut}
    exec(solution, namespace)  # the dropdown's code, as a reader would paste it
    (readers_class,) = [v for k, v in namespace.items() if k.startswith("My")]
    ok, out = verdict(check, readers_class, capsys)
    assert ok, out
