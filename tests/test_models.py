"""The networks: parameter counts and FLOPs against the papers, parity with torchvision,
every block's shape and gradient, every block's and CIFAR net's forward against one written out
by hand from the papers, the errors build_model gives for bad requests, and parse_model_name (a
name read into a ModelSpec without building a network)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import resnets
from resnets import blocks, build_model, count_flops, count_parameters
from resnets.errors import ConfigError
from resnets.models import ModelSpec, cifar_blocks_per_stage, input_size, parse_model_name

# He et al. 2015 Table 6 prints these rounded (0.27M ... 19.4M); exact counts with option A.
CIFAR_PARAMS = {
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "resnet1202": 19_421_274,
    "preact_resnet164": 1_703_258,
    "preact_resnet1001": 10_327_706,
}
IMAGENET_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}
# Multiply-adds at 224x224 as the paper counts them (Table 1): x 1e9.
PAPER_IMAGENET_MACS = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3}
PAPER_CIFAR_MACS = {"resnet20": 40.6e6, "resnet56": 125.5e6, "resnet110": 252.9e6}


@pytest.mark.parametrize("name, expected", {**CIFAR_PARAMS, **IMAGENET_PARAMS}.items())
def test_parameter_counts_match_the_papers_and_torchvision(name: str, expected: int) -> None:
    assert count_parameters(build_model(name)) == expected


@pytest.mark.parametrize("name", IMAGENET_PARAMS)
def test_imagenet_flops_match_the_paper_with_its_stride_placement(name: str) -> None:
    # The paper's bottlenecks stride in the first 1x1; torchvision's (v1.5) in the 3x3.
    options = {"stride_in_1x1": True} if name in ("resnet50", "resnet101", "resnet152") else {}
    macs = count_flops(build_model(name, **options), (3, 224, 224))
    assert macs == pytest.approx(PAPER_IMAGENET_MACS[name] * 1e9, rel=0.05)


def test_torchvision_stride_placement_costs_more_than_the_papers() -> None:
    v15 = count_flops(build_model("resnet50"), (3, 224, 224))
    v1 = count_flops(build_model("resnet50", stride_in_1x1=True), (3, 224, 224))
    assert v15 / v1 == pytest.approx(4.09 / 3.86, rel=0.01)


@pytest.mark.parametrize("name, expected", PAPER_CIFAR_MACS.items())
def test_cifar_flops(name: str, expected: float) -> None:
    assert count_flops(build_model(name), (3, 32, 32)) == pytest.approx(expected, rel=0.005)


def test_count_flops_divides_out_the_batch_and_restores_training_mode() -> None:
    model = build_model("resnet20")
    assert count_flops(model, (4, 3, 32, 32)) == count_flops(model, (3, 32, 32))
    assert model.training
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        count_flops(model, (32, 32))


@pytest.mark.parametrize("name", IMAGENET_PARAMS)
def test_torchvision_parity(name: str) -> None:
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None)
    # Random BN statistics and affine parameters, so eval-mode BN is not the identity.
    with torch.no_grad():
        for m in reference.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    ours = build_model(name)
    assert list(ours.state_dict()) == list(reference.state_dict())
    ours.load_state_dict(reference.state_dict(), strict=True)
    reference.eval(), ours.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max().item() < 1e-5
    # ...and back: torchvision loads ours.
    reference.load_state_dict(ours.state_dict(), strict=True)


@pytest.mark.parametrize("name", resnets.list_models())
def test_every_named_model_runs_forward_and_backward(name: str) -> None:
    model = build_model(name)
    size = 64 if input_size(model) == 224 else 32  # ImageNet nets take any size; 64 keeps it quick
    x = torch.randn(2, 3, size, size, requires_grad=True)
    out = model(x)
    assert out.shape == (2, 1000 if size == 64 else 10)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_plain_nets_have_the_same_layers_without_the_addition() -> None:
    resnet, plain = build_model("resnet20"), build_model("plain20")
    assert count_parameters(plain) == count_parameters(resnet)  # option A has no parameters
    assert list(plain.state_dict()) == list(resnet.state_dict())
    plain.load_state_dict(resnet.state_dict())
    plain.eval(), resnet.eval()
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(plain(x), resnet(x))
    assert all(b.downsample is None and b.plain for b in plain.blocks())


@pytest.mark.parametrize("shortcut, projections", [("A", 0), ("B", 2), ("C", 9)])
def test_shortcut_options_on_resnet20(shortcut: str, projections: int) -> None:
    model = build_model("resnet20", shortcut=shortcut)
    convs = [b.downsample for b in model.blocks() if isinstance(b.downsample, nn.Sequential)]
    assert len(convs) == projections
    zero_pads = [b for b in model.blocks() if isinstance(b.downsample, blocks.ZeroPadShortcut)]
    assert len(zero_pads) == (2 if shortcut == "A" else 0)


def test_option_a_is_the_identity_on_existing_channels_and_zero_on_new_ones() -> None:
    shortcut = blocks.ZeroPadShortcut(16, 32, stride=2)
    x = torch.randn(2, 16, 8, 8)
    y = shortcut(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 16:]) == 0
    assert not list(shortcut.parameters())


BLOCK_CASES = [
    (blocks.BasicBlock, 16, 16, 1),
    (blocks.BasicBlock, 16, 32, 2),
    (blocks.Bottleneck, 64, 16, 1),
    (blocks.Bottleneck, 64, 32, 2),
    (blocks.PreActBasicBlock, 16, 32, 2),
    (blocks.PreActBottleneck, 16, 16, 1),
]


@pytest.mark.parametrize("block, inplanes, planes, stride", BLOCK_CASES)
@pytest.mark.parametrize("option", ["A", "B", "C"])
def test_blocks_shape_gradient_and_parameters(block, inplanes: int, planes: int, stride: int, option: str) -> None:
    out_planes = planes * block.expansion
    preact = issubclass(block, (blocks.PreActBasicBlock, blocks.PreActBottleneck))
    downsample = blocks.make_shortcut(option, inplanes, out_planes, stride, with_bn=not preact)
    module = block(inplanes, planes, stride, downsample)
    x = torch.randn(2, inplanes, 8, 8, requires_grad=True)
    y = module(x)
    assert y.shape == (2, out_planes, 8 // stride, 8 // stride)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert module.residual(x).shape == y.shape
    # Parameters: the residual branch's convs and BNs plus the shortcut's, nothing else.
    branch = sum(p.numel() for n, p in module.named_parameters() if not n.startswith("downsample"))
    shortcut = sum(p.numel() for p in downsample.parameters()) if downsample is not None else 0
    assert count_parameters(module) == branch + shortcut
    if option == "A":
        assert shortcut == 0
    if option == "C":
        assert shortcut == inplanes * out_planes + (0 if preact else 2 * out_planes)


@pytest.mark.parametrize("name", ["resnet20", "preact_resnet110", "resnet50"])
def test_zero_init_residual_makes_every_block_start_as_identity(name: str) -> None:
    model = build_model(name, zero_init_residual=True).eval()
    size = 64 if name == "resnet50" else 32
    x = torch.randn(1, 3, size, size)
    seen = []
    hooks = [b.register_forward_hook(lambda m, i, o: seen.append(m.residual(i[0]))) for b in model.blocks()]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    assert seen and all(torch.count_nonzero(r) == 0 for r in seen)


def test_stride_in_1x1_moves_the_stride_but_not_the_weights() -> None:
    a, b = build_model("resnet50"), build_model("resnet50", stride_in_1x1=True)
    assert a.layer2[0].conv2.stride == (2, 2) and a.layer2[0].conv1.stride == (1, 1)
    assert b.layer2[0].conv1.stride == (2, 2) and b.layer2[0].conv2.stride == (1, 1)
    b.load_state_dict(a.state_dict(), strict=True)


def test_preact_depths_pick_the_papers_blocks() -> None:
    assert isinstance(build_model("preact_resnet110").layer1[0], blocks.PreActBasicBlock)
    assert isinstance(build_model("preact_resnet164").layer1[0], blocks.PreActBottleneck)
    assert build_model("preact_resnet164").fc.in_features == 256


def test_cifar_depth_rule() -> None:
    assert cifar_blocks_per_stage(56) == 9
    assert cifar_blocks_per_stage(164, "bottleneck") == 18
    assert build_model("resnet8").layer1.__len__() == 1
    assert count_parameters(build_model("cifar_resnet50")) < 1_000_000  # CIFAR, not ImageNet


# --- errors that name the fix ---------------------------------------------------------------


def test_unknown_name_lists_the_valid_ones_and_suggests_a_close_one() -> None:
    with pytest.raises(ValueError) as err:
        build_model("resnt56")
    message = str(err.value)
    assert "Did you mean resnet56" in message
    for name in resnets.list_models():
        assert name in message


def test_impossible_depth_says_which_depths_are_valid() -> None:
    with pytest.raises(ValueError, match=r"depth 22 is impossible.*6n\+2.*Nearest valid depths: 20, 26"):
        build_model("resnet22")
    with pytest.raises(ValueError, match=r"9n\+2.*Nearest valid depths: 164, 173"):
        build_model("preact_resnet165")


@pytest.mark.parametrize("num_classes", [1, 0, -3, 2.5, True])
def test_num_classes_must_be_at_least_two(num_classes) -> None:
    with pytest.raises(ValueError, match="num_classes must be an integer of at least 2"):
        build_model("resnet20", num_classes=num_classes)


def test_unknown_option_and_shortcut_are_named() -> None:
    with pytest.raises(TypeError, match="unknown option.*shortcutt.*valid options"):
        build_model("resnet20", shortcutt="B")
    with pytest.raises(ValueError, match="unknown shortcut option 'D'; choose 'A', 'B' or 'C'"):
        build_model("resnet20", shortcut="D")


def test_wrong_input_shape_says_what_was_expected_and_what_came() -> None:
    model = build_model("resnet20")
    with pytest.raises(
        ValueError, match=r"expects a batch of RGB images shaped \(N, 3, H, W\); got .*\(3, 32, 32\).*unsqueeze"
    ):
        model(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match=r"\(2, 32, 32, 3\).*permute"):
        model(torch.randn(2, 32, 32, 3))


def test_num_classes_sets_the_classifier() -> None:
    assert build_model("resnet56", num_classes=100).fc.out_features == 100
    assert build_model("resnet18", num_classes=10).fc.out_features == 10


@pytest.mark.parametrize(
    "block", [blocks.BasicBlock, blocks.Bottleneck, blocks.PreActBasicBlock, blocks.PreActBottleneck]
)
def test_a_shape_changing_block_without_a_shortcut_is_refused_with_the_fix(block) -> None:
    # The classic bug: stride 2 and new channels, but nothing on the shortcut to match them.
    with pytest.raises(ValueError, match=r"changes the shape of its input.*downsample=make_shortcut\('B', 16, "):
        block(16, 32, stride=2)
    block(16, 32, stride=2, plain=True)  # no addition, nothing to match
    out = 32 * block.expansion
    preact = block in (blocks.PreActBasicBlock, blocks.PreActBottleneck)
    fixed = block(16, 32, stride=2, downsample=blocks.make_shortcut("B", 16, out, 2, with_bn=not preact))
    assert fixed(torch.randn(1, 16, 8, 8)).shape == (1, out, 4, 4)


# --- the forward pass, against one written out by hand from the papers ---------------------
#
# Each block's and net's output is recomputed here from its parameters alone, with conv2d from
# torch.nn.functional, BN written out as arithmetic, and the papers' orders of operations, strides
# and paddings stated in this file: nothing is read from the modules but their weights and BN
# statistics. Eval mode with random BN statistics and affine parameters, so no BN is the identity.


def randomize_batch_norms(module: nn.Module) -> nn.Module:
    """Random running statistics and affine parameters in every BN; returns the module in eval mode."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return module.eval()


def bn(x: torch.Tensor, p: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    """Batch norm in eval mode: (x - running mean) / sqrt(running var + 1e-5) * weight + bias."""
    mean, var = p[f"{name}.running_mean"], p[f"{name}.running_var"]
    scale = p[f"{name}.weight"] / torch.sqrt(var + 1e-5)
    return (x - mean[:, None, None]) * scale[:, None, None] + p[f"{name}.bias"][:, None, None]


def conv(x: torch.Tensor, p: dict[str, torch.Tensor], name: str, stride: int = 1, groups: int = 1) -> torch.Tensor:
    """A bias-free convolution, padded to keep the size: 1 pixel for a 3x3, none for a 1x1."""
    weight = p[f"{name}.weight"]
    return F.conv2d(x, weight, stride=stride, padding=weight.shape[-1] // 2, groups=groups)


def zero_pad_shortcut(x: torch.Tensor, out_channels: int, stride: int) -> torch.Tensor:
    """Option A (He et al. 2015, Sec. 4.2): every stride-th pixel, new channels all zero."""
    kept = F.max_pool2d(x, kernel_size=1, stride=stride)  # a 1x1 window: picks pixels, computes nothing
    zeros = kept.new_zeros(kept.shape[0], out_channels - kept.shape[1], *kept.shape[2:])
    return torch.cat([kept, zeros], dim=1)


def post_activation_by_hand(
    x: torch.Tensor,
    p: dict[str, torch.Tensor],
    kind: str,
    stride: int,
    shortcut: str | None,
    *,
    plain: bool = False,
    stride_in_1x1: bool = False,
    groups: int = 1,
    out_channels: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """He et al. 2015, Fig. 2 and Fig. 5: (F(x), shortcut(x), block output).

    basic:      conv3x3 (stride) - BN - ReLU - conv3x3 - BN, add, ReLU
    bottleneck: conv1x1 - BN - ReLU - conv3x3 - BN - ReLU - conv1x1 - BN, add, ReLU; the stride on
                the 3x3 (torchvision's v1.5), or on the first 1x1 as in the paper (``stride_in_1x1``)
    shortcut:   None (identity), "A" (zero padding) or "projection" (conv1x1 with the stride, BN)
    """
    if kind == "basic":
        h = torch.relu(bn(conv(x, p, "conv1", stride), p, "bn1"))
        branch = bn(conv(h, p, "conv2"), p, "bn2")
    else:
        first, middle = (stride, 1) if stride_in_1x1 else (1, stride)
        h = torch.relu(bn(conv(x, p, "conv1", first), p, "bn1"))
        h = torch.relu(bn(conv(h, p, "conv2", middle, groups), p, "bn2"))
        branch = bn(conv(h, p, "conv3"), p, "bn3")
    if shortcut is None:
        skip = x
    elif shortcut == "A":
        skip = zero_pad_shortcut(x, branch.shape[1], stride)
    else:
        skip = bn(conv(x, p, "downsample.0", stride), p, "downsample.1")
    return branch, skip, torch.relu(branch if plain else branch + skip)


def pre_activation_by_hand(
    x: torch.Tensor,
    p: dict[str, torch.Tensor],
    kind: str,
    stride: int,
    shortcut: str | None,
    *,
    plain: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """He et al. 2016, Fig. 1(b) and Fig. 4(e), full pre-activation: (F(x), shortcut(x), block output).

    basic:      BN - ReLU - conv3x3 (stride) - BN - ReLU - conv3x3, add; nothing after the addition
    bottleneck: BN - ReLU - conv1x1 - BN - ReLU - conv3x3 (stride) - BN - ReLU - conv1x1, add
    shortcut:   None (identity), "A" (zero padding of the raw x) or "projection": a conv1x1 with the
                stride on the first BN-ReLU's output, which the authors' code shares with the branch
    """
    pre = torch.relu(bn(x, p, "bn1"))
    if kind == "basic":
        h = torch.relu(bn(conv(pre, p, "conv1", stride), p, "bn2"))
        branch = conv(h, p, "conv2")
    else:
        h = torch.relu(bn(conv(pre, p, "conv1"), p, "bn2"))
        h = torch.relu(bn(conv(h, p, "conv2", stride), p, "bn3"))
        branch = conv(h, p, "conv3")
    if shortcut is None:
        skip = x
    elif shortcut == "A":
        skip = zero_pad_shortcut(x, branch.shape[1], stride)
    else:
        skip = conv(pre, p, "downsample", stride)
    return branch, skip, branch if plain else branch + skip


HAND_BLOCK_CASES = [
    # block, inplanes, planes, stride, shortcut option, options
    (blocks.BasicBlock, 16, 16, 1, None, {}),
    (blocks.BasicBlock, 16, 32, 2, "A", {}),
    (blocks.BasicBlock, 16, 32, 2, "B", {}),
    (blocks.BasicBlock, 16, 16, 1, "C", {}),
    (blocks.BasicBlock, 16, 32, 2, None, {"plain": True}),
    (blocks.Bottleneck, 64, 16, 1, None, {}),
    (blocks.Bottleneck, 64, 32, 2, "B", {}),
    (blocks.Bottleneck, 64, 32, 2, "B", {"stride_in_1x1": True}),
    (blocks.Bottleneck, 64, 32, 2, "B", {"groups": 4, "base_width": 32}),
    (blocks.Bottleneck, 16, 16, 1, "C", {}),
    (blocks.PreActBasicBlock, 16, 16, 1, None, {}),
    (blocks.PreActBasicBlock, 16, 32, 2, "A", {}),
    (blocks.PreActBasicBlock, 16, 32, 2, "B", {}),
    (blocks.PreActBasicBlock, 16, 32, 2, None, {"plain": True}),
    (blocks.PreActBottleneck, 64, 16, 1, None, {}),
    (blocks.PreActBottleneck, 16, 16, 1, "C", {}),
    (blocks.PreActBottleneck, 64, 32, 2, "B", {}),
]


@pytest.mark.parametrize("block, inplanes, planes, stride, option, options", HAND_BLOCK_CASES)
def test_every_block_computes_the_papers_forward(block, inplanes, planes, stride, option, options) -> None:
    torch.manual_seed(0)
    preact = block in (blocks.PreActBasicBlock, blocks.PreActBottleneck)
    out = planes * block.expansion
    downsample = None if option is None else blocks.make_shortcut(option, inplanes, out, stride, with_bn=not preact)
    module = randomize_batch_norms(block(inplanes, planes, stride, downsample, **options))
    x = torch.randn(2, inplanes, 8, 8)
    p = dict(module.state_dict())
    kind = "basic" if block in (blocks.BasicBlock, blocks.PreActBasicBlock) else "bottleneck"
    shortcut = {None: None, "A": "A", "B": "projection", "C": "projection"}[option]
    plain = options.get("plain", False)
    if preact:
        branch, skip, y = pre_activation_by_hand(x, p, kind, stride, shortcut, plain=plain)
    else:
        extra = {k: v for k, v in options.items() if k in ("stride_in_1x1", "groups")}
        branch, skip, y = post_activation_by_hand(x, p, kind, stride, shortcut, plain=plain, **extra)
    assert y.shape == (2, out, 8 // stride, 8 // stride)
    with torch.no_grad():
        torch.testing.assert_close(module(x), y, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(module.residual(x), branch, rtol=1e-5, atol=1e-5)
        if not plain:
            torch.testing.assert_close(module.shortcut(x), skip, rtol=1e-5, atol=1e-5)
    # The check can fail: the ReLU after the addition, which the two papers place differently,
    # moves the output by far more than the tolerance.
    if not plain:
        assert (y - (torch.relu(y) if preact else branch + skip)).abs().max() > 0.1


def cifar_net_by_hand(x: torch.Tensor, model: nn.Module, blocks_per_stage: int, shortcut: str | None) -> torch.Tensor:
    """He et al. 2015, Sec. 4.2 (post-activation) and He et al. 2016 (pre-activation) CIFAR nets:
    a 3x3 conv with 16 filters, three stages of ``blocks_per_stage`` basic blocks on 16, 32 and 64
    channels whose first block halves H and W (stages 2 and 3), global average pooling, a 10-way
    fully connected layer. Post-activation: BN-ReLU after the first conv. Pre-activation: BN-ReLU
    after the last block instead. ``shortcut``: how the two shape-changing blocks match shapes
    ("A", "projection"), or None for a plain net (no addition)."""
    state = model.state_dict()
    preact = model.preact
    h = F.conv2d(x, state["conv1.weight"], padding=1)
    if not preact:
        h = torch.relu(bn(h, state, "bn1"))
    for stage in (1, 2, 3):
        for index in range(blocks_per_stage):
            prefix = f"layer{stage}.{index}."
            p = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            stride = 2 if stage > 1 and index == 0 else 1
            skip = shortcut if stride == 2 else None
            by_hand = pre_activation_by_hand if preact else post_activation_by_hand
            h = by_hand(h, p, "basic", stride, skip, plain=shortcut is None)[2]
    if preact:
        h = torch.relu(bn(h, state, "bn_final"))
    return F.linear(h.mean(dim=(2, 3)), state["fc.weight"], state["fc.bias"])


@pytest.mark.parametrize(
    "name, options, shortcut",
    [
        ("resnet20", {}, "A"),
        ("resnet20", {"shortcut": "B"}, "projection"),
        ("plain20", {}, None),
        ("preact_resnet20", {"shortcut": "A"}, "A"),
        ("preact_resnet20", {"shortcut": "B"}, "projection"),
    ],
)
def test_cifar_nets_compute_the_papers_forward(name: str, options: dict, shortcut: str | None) -> None:
    torch.manual_seed(0)
    model = randomize_batch_norms(build_model(name, **options))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), cifar_net_by_hand(x, model, 3, shortcut), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------
# ResNeXt and Wide ResNets: the family widened, from the same blocks
# ---------------------------------------------------------------------------------------

#: Parameters, in millions, as the papers print them: Xie et al. 2017 (ResNeXt), Table 1;
#: Zagoruyko and Komodakis 2016 (Wide ResNets), Tables 1 and 4. torchvision's counts for the two
#: ImageNet nets.
WIDENED_PARAMS = {"resnext50_32x4d": 25_028_904, "wide_resnet50_2": 68_883_240}
PAPER_WIDE_CIFAR_MPARAMS = {"wrn28_10": 36.5, "wrn40_4": 8.9}


@pytest.mark.parametrize("name, expected", WIDENED_PARAMS.items())
def test_widened_imagenet_nets_are_torchvision_s(name: str, expected: int) -> None:
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None)
    ours = build_model(name)
    assert count_parameters(ours) == count_parameters(reference) == expected
    assert list(ours.state_dict()) == list(reference.state_dict())
    ours.load_state_dict(reference.state_dict(), strict=True)
    reference.eval(), ours.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max().item() < 1e-5


@pytest.mark.parametrize("name, mparams", PAPER_WIDE_CIFAR_MPARAMS.items())
def test_wide_cifar_resnets_have_the_papers_parameter_counts(name: str, mparams: float) -> None:
    model = build_model(name)
    assert count_parameters(model) / 1e6 == pytest.approx(mparams, abs=0.05)
    assert model.conv1.out_channels == 16 and model.preact
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_resnext_groups_its_3x3_and_keeps_the_resnet_s_cost() -> None:
    block = build_model("resnext50_32x4d").layer1[0]
    assert block.conv2.groups == 32 and block.conv2.in_channels == 128  # 32 groups of 4
    resnext = count_flops(build_model("resnext50_32x4d"), (3, 224, 224))
    resnet = count_flops(build_model("resnet50"), (3, 224, 224))
    assert resnext / resnet == pytest.approx(1.03, abs=0.02)  # Xie et al.: "similar complexity"


def test_bad_wide_names_and_options_say_what_is_valid() -> None:
    with pytest.raises(ValueError, match="depth 6n \\+ 4"):
        build_model("wrn27_10")
    with pytest.raises(TypeError, match="valid options are num_classes, zero_init_residual"):
        build_model("resnext50_32x4d", shortcut="A")
    with pytest.raises(ValueError, match="only apply to the post-activation Bottleneck"):
        resnets.models.ResNet(blocks.BasicBlock, (2, 2), (64, 128), groups=32, base_width=4)


# --- parse_model_name: a name read once into a ModelSpec ------------------------------------


@pytest.mark.parametrize("name", resnets.list_models())
def test_every_named_model_parses_and_reads_back(name: str) -> None:
    spec = parse_model_name(name)
    assert spec.name == name and parse_model_name(spec.name) == spec


@pytest.mark.parametrize(
    "name, spec",
    [
        ("resnet56", ModelSpec("cifar", 56, block="basic")),
        ("plain20", ModelSpec("cifar", 20, plain=True)),
        ("preact_resnet164", ModelSpec("cifar", 164, preact=True, block="bottleneck")),
        ("cifar_resnet50", ModelSpec("cifar", 50)),
        ("resnet50", ModelSpec("imagenet", 50, block="bottleneck")),
        ("plain34", ModelSpec("imagenet", 34, plain=True)),
        ("resnext50_32x4d", ModelSpec("imagenet", 50, groups=32, group_width=4)),
        ("wide_resnet50_2", ModelSpec("imagenet", 50, group_width=128)),
        ("wrn28_10", ModelSpec("wide_cifar", 28, preact=True, widen=10)),
        (" ResNet20 ", ModelSpec("cifar", 20)),
    ],
)
def test_a_name_says_family_depth_kind_and_widths(name: str, spec: ModelSpec) -> None:
    assert parse_model_name(name) == spec


def test_the_parsed_spec_is_what_build_model_builds() -> None:
    for name in ("resnet20", "plain20", "preact_resnet110", "cifar_resnet50", "wrn16_2"):
        spec, model = parse_model_name(name), build_model(name)
        assert model.plain == spec.plain and model.preact == spec.preact and model.arch == name
        assert input_size(model) == 32 and model.fc.out_features == spec.default_classes
    assert parse_model_name("resnet164", block="bottleneck").block == "bottleneck"
    assert parse_model_name("resnext101_64x4d").default_classes == 1000


def test_a_plain_net_s_residual_twin_is_the_resnet_of_its_depth() -> None:
    assert parse_model_name("plain56").residual_twin.name == "resnet56"
    assert parse_model_name("plain18").residual_twin.name == "resnet18"
    assert parse_model_name("resnet110").residual_twin == parse_model_name("resnet110")


@pytest.mark.parametrize(
    "name, options, fix",
    [
        ("resnt56", {}, r"Did you mean resnet56.*Valid names: resnet20.*resnet\{d\}, plain\{d\}"),
        ("vgg16", {}, r"Valid names: .*wrn\{d\}_\{k\} is a CIFAR Wide ResNet"),
        ("resnet22", {}, r"depth 22 is impossible.*Nearest valid depths: 20, 26"),
        ("resnet29", {}, r"Nearest valid depths: 26, 32"),
        ("preact_resnet165", {}, r"9n\+2.*Nearest valid depths: 164, 173"),
        ("wrn27_10", {}, r"depth 6n \+ 4 \(10, 16"),
        ("resnet29", {"block": "wide"}, r"unknown block 'wide'; choose 'basic' or 'bottleneck'"),
        ("resnet50", {"block": "basic"}, r"bottleneck blocks, fixed by its depth.*CIFAR ResNets only"),
        ("wrn28_10", {"block": "basic"}, r"CIFAR ResNets only"),
    ],
)
def test_a_bad_name_is_refused_with_the_fix(name: str, options: dict, fix: str) -> None:
    with pytest.raises(ConfigError, match=fix):
        parse_model_name(name, **options)


def test_parsing_builds_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parse_model_name built a module")

    monkeypatch.setattr(nn.Module, "__init__", refuse)
    for name in [*resnets.list_models(), "resnet1004", "cifar_plain50", "wrn10_1"]:
        parse_model_name(name)
    assert parse_model_name("resnet29", block="bottleneck").depth == 29
