"""The build-it-yourself checks pass the package's own blocks and name the mistake in a broken one."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnets.blocks import BasicBlock, Bottleneck, ZeroPadShortcut, conv3x3
from resnets.course import build_it

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


SOLUTIONS = {
    "chapters/part2/01_basic_block.ipynb": ("p2c1-build-md", build_it.check_basic_block),
    "chapters/part2/02_shortcuts.ipynb": ("p2c2-build-md", build_it.check_zero_pad_shortcut),
    "chapters/part2/03_bottleneck.ipynb": ("p2c3-build-md", build_it.check_bottleneck),
}


@pytest.mark.parametrize("notebook", sorted(SOLUTIONS))
def test_the_chapters_solutions_pass_their_checks(notebook: str, capsys: pytest.CaptureFixture) -> None:
    cell_id, check = SOLUTIONS[notebook]
    cell = next(c for c in nbformat.read(ROOT / notebook, as_version=4).cells if c.id == cell_id)
    solution = re.search(r"```python\n(.*?)\n```", cell.source, re.S).group(1)
    namespace = {"nn": nn, "torch": torch}
    exec(solution, namespace)  # the dropdown's code, as a reader would paste it
    (readers_class,) = [v for k, v in namespace.items() if k.startswith("My")]
    ok, out = verdict(check, readers_class, capsys)
    assert ok, out
