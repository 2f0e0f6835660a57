"""Probes of a trained net (Part 3, chapter 4): responses, block ratios, lesions, mistakes."""

from __future__ import annotations

import pytest
import torch

from resnets import build_model
from resnets.course.lesions import DELETED_COUNTS, deletion_draws
from resnets.data import normalize
from resnets.models import cifar_resnet
from resnets.probes import (
    bn_after_3x3,
    confident_mistakes,
    confusion_matrix,
    lesion_errors,
    lesioned,
    lesions_errors,
    predict,
    residual_ratios,
    response_stds,
    shape_changing_blocks,
    stage_outputs,
)


def images(n: int = 6, size: int = 8, seed: int = 0) -> torch.Tensor:
    """(n, size, size, 3) uint8 images: the CIFAR nets take any size, small ones are fast."""
    return torch.randint(0, 256, (n, size, size, 3), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def random_bn(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BN random running statistics and affine parameters, as training would."""
    generator = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=generator) + 0.2)
            m.bias.data.copy_(torch.randn(c, generator=generator) * 0.1)
    return model.eval()


def test_bn_after_3x3_finds_the_layers_of_fig7_in_forward_order() -> None:
    names = [n for n, _ in bn_after_3x3(build_model("resnet8"))]
    assert names == [
        "bn1",
        "layer1.0.bn1",
        "layer1.0.bn2",
        "layer2.0.bn1",
        "layer2.0.bn2",
        "layer3.0.bn1",
        "layer3.0.bn2",
    ]
    # a pre-activation block's 3x3 conv1 feeds bn2; its conv2 feeds the addition, no BN
    preact = [n for n, _ in bn_after_3x3(cifar_resnet(8, preact=True))]
    assert preact == ["layer1.0.bn2", "layer2.0.bn2", "layer3.0.bn2"]
    with pytest.raises(ValueError, match="no 3x3 convolution followed by a BatchNorm2d"):
        bn_after_3x3(torch.nn.Linear(2, 2))


def test_response_stds_are_per_channel_stds_accumulated_over_batches() -> None:
    model = random_bn(build_model("resnet8"))
    x = normalize(images(8))
    stds = dict(response_stds(model, [x[:3], x[3:]]))
    with torch.no_grad():
        stem = model.bn1(model.conv1(x))
    expected = stem.transpose(0, 1).flatten(1).std(1, unbiased=False).mean().item()
    assert stds["bn1"] == pytest.approx(expected, rel=1e-5)
    # halving a layer's BN scale and shift halves its response and leaves earlier ones alone
    with torch.no_grad():
        model.layer2[0].bn2.weight.mul_(0.5), model.layer2[0].bn2.bias.mul_(0.5)
    halved = dict(response_stds(model, [x]))
    assert halved["layer2.0.bn2"] == pytest.approx(stds["layer2.0.bn2"] / 2, rel=1e-5)
    assert halved["layer1.0.bn2"] == pytest.approx(stds["layer1.0.bn2"], rel=1e-9)
    assert not model.training


def test_residual_ratios_vanish_for_zero_branches_and_match_a_direct_computation() -> None:
    x = normalize(images(4))
    zero = build_model("resnet8", zero_init_residual=True).eval()
    assert [r for _, r in residual_ratios(zero, x)] == [0.0, 0.0, 0.0]
    model = random_bn(build_model("plain8"))
    ratios = dict(residual_ratios(model, x))
    with torch.no_grad():
        h = model.relu(model.bn1(model.conv1(x)))
        branch = model.layer1[0].residual(h)
    expected = (branch.flatten(1).norm(dim=1) / h.flatten(1).norm(dim=1)).mean().item()
    assert list(ratios) == ["layer1.0", "layer2.0", "layer3.0"]
    assert ratios["layer1.0"] == pytest.approx(expected, rel=1e-5)


def test_a_lesioned_block_passes_its_input_on_and_comes_back_afterwards() -> None:
    x = normalize(images(4))
    zero = build_model("resnet8", zero_init_residual=True).eval()
    with torch.no_grad():
        intact = zero(x)
        for block in zero.blocks():  # F = 0: deleting the block changes nothing
            with lesioned(block):
                assert torch.equal(zero(x), intact)
    model = random_bn(build_model("resnet8"))
    with torch.no_grad():
        before = model(x)
        with lesioned(model.layer2[0]) as block:
            h = torch.randn(2, 16, 8, 8).relu()
            assert torch.equal(block(h), block.shortcut(h))  # subsample and zero-pad to 32 channels
            assert not torch.equal(model(x), before)
        assert torch.equal(model(x), before)
    plain = random_bn(build_model("plain8"))
    with torch.no_grad(), lesioned(plain.layer3[0]) as block:
        h = torch.rand(2, 32, 4, 4)
        out = block(h)
    assert out.shape == (2, 64, 2, 2) and torch.equal(out[:, :32], h[:, :, ::2, ::2]) and not out[:, 32:].any()
    with pytest.raises(TypeError, match="takes a block"):
        with lesioned(plain.fc):
            pass


def test_lesion_errors_has_one_error_per_block() -> None:
    model = random_bn(build_model("resnet8"))
    pictures, labels = images(10), torch.arange(10)
    intact, without = lesion_errors(model, normalize(pictures), labels, batch_size=4)
    assert len(without) == 3 and all(0 <= e <= 1 for e in [intact, *without])
    assert intact == (predict(model, normalize(pictures)).argmax(1) != labels).float().mean().item()


def test_predict_runs_in_eval_mode_and_batches() -> None:
    model = random_bn(build_model("resnet8")).train()
    pictures = images(7)
    logits = predict(model, normalize(pictures), batch_size=3)
    model.eval()
    with torch.no_grad():
        expected = model(normalize(pictures))
    assert torch.allclose(logits, expected, atol=1e-5)


def test_stage_outputs_give_the_stem_and_each_stage() -> None:
    outputs = stage_outputs(random_bn(build_model("resnet8")), normalize(images(2)))
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {
        "stem": (2, 16, 8, 8),
        "layer1": (2, 16, 8, 8),
        "layer2": (2, 32, 4, 4),
        "layer3": (2, 64, 2, 2),
    }
    assert all((v >= 0).all() for v in outputs.values())  # after the ReLUs


def test_confusion_matrix_and_the_most_confident_mistakes() -> None:
    labels = torch.tensor([0, 0, 1, 2, 2])
    logits = torch.tensor([[5.0, 0, 0], [0, 1, 0], [0, 2, 0], [9, 0, 0], [0, 0, 3]])
    matrix = confusion_matrix(logits.argmax(1), labels, classes=3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    mistakes = confident_mistakes(logits, labels, k=5)
    assert [(i, p) for i, p, _ in mistakes] == [(3, 0), (1, 1)]
    assert mistakes[0][2] == pytest.approx(torch.tensor([9.0, 0, 0]).softmax(0)[0].item())


def test_shape_changing_blocks_are_the_first_of_each_later_stage() -> None:
    assert shape_changing_blocks(build_model("resnet20")) == [3, 6]
    assert shape_changing_blocks(build_model("plain56")) == [9, 18]


def test_deleting_a_set_of_blocks_deletes_each_of_them() -> None:
    model = random_bn(build_model("resnet20"))
    pictures, labels = normalize(images(10)), torch.arange(10)
    blocks = model.blocks()
    with lesioned(blocks[1]), lesioned(blocks[4]):
        expected = (predict(model, pictures).argmax(1) != labels).float().mean().item()
    intact, pair = lesions_errors(model, pictures, labels, [(), (1, 4)])
    assert pair == expected and intact == lesion_errors(model, pictures, labels)[0]
    assert all(not hasattr(block, "forward") or "forward" not in vars(block) for block in blocks)  # all restored


def test_deletion_draws_are_distinct_shape_keeping_blocks_and_repeat_with_the_seed() -> None:
    draws = deletion_draws(27, [9, 18], draws=4, seed=3)
    assert set(draws) == {k for k in DELETED_COUNTS if k <= 25}
    for k, sets in draws.items():
        assert len(sets) == 4 and all(len(set(s)) == k and not {9, 18} & set(s) for s in sets)
    assert draws == deletion_draws(27, [9, 18], draws=4, seed=3) != deletion_draws(27, [9, 18], draws=4, seed=4)
