"""Probes watch a network without changing it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resnets import build_model
from resnets.probes import (
    GradientNormMonitor,
    block_norms,
    gradient_profile,
    input_gradient_gain,
    layer_gradient_norms,
    residual_sum_gap,
    saved_activation_bytes,
    shape_table,
    shortcut_deviations,
    trace_shapes,
    weight_layers,
)


def test_weight_layers_run_input_side_first() -> None:
    names = [n for n, _ in weight_layers(build_model("resnet20"))]
    assert names[0] == "conv1" and names[-1] == "fc"
    assert len(names) == 20  # 19 convs + the classifier: that is what "20 layers" counts


def test_gradient_norms_after_backward() -> None:
    model = build_model("resnet20")
    assert layer_gradient_norms(model) == []
    model(torch.randn(4, 3, 32, 32)).logsumexp(1).sum().backward()
    norms = layer_gradient_norms(model)
    assert len(norms) == 20 and all(v > 0 for _, v in norms)


def test_monitor_records_early_and_late_layers() -> None:
    model = build_model("plain20")
    monitor = GradientNormMonitor(model)
    assert monitor.layers == {"early": "conv1", "late": "fc"}
    for _ in range(3):
        model.zero_grad()
        model(torch.randn(4, 3, 32, 32)).logsumexp(1).sum().backward()
        monitor.record()
    assert len(monitor.history["early"]) == 3 and all(v > 0 for v in monitor.history["late"])
    assert monitor.current()["early"] == monitor.history["early"][-1]


def test_monitor_names_valid_layers_when_given_a_wrong_one() -> None:
    with pytest.raises(ValueError, match="no layer named conv99; choose from conv1, layer1.0.conv1"):
        GradientNormMonitor(build_model("resnet20"), layers={"x": "conv99"})


# --- shapes, activation memory, input-gradient gain ------------------------------------------


def test_trace_shapes_follows_a_block_in_call_order() -> None:
    from resnets.blocks import BasicBlock, make_shortcut

    block = BasicBlock(16, 32, stride=2, downsample=make_shortcut("B", 16, 32, 2))
    records = trace_shapes(block, torch.randn(1, 16, 8, 8))
    assert [r.name for r in records] == ["conv1", "bn1", "relu", "conv2", "bn2", "downsample.0", "downsample.1", "relu"]
    assert records[0].input_shape == (1, 16, 8, 8) and records[0].output_shape == (1, 32, 4, 4)
    assert records[0].parameters == 9 * 16 * 32
    assert block.training  # the mode comes back
    assert "downsample.0" in shape_table(records) and "32×4×4" in shape_table(records)


def test_trace_shapes_at_depth_one_gives_the_stages() -> None:
    records = trace_shapes(build_model("resnet20"), torch.zeros(1, 3, 32, 32), depth=1)
    stages = {r.name: r.output_shape for r in records if r.name.startswith("layer")}
    assert stages == {"layer1": (1, 16, 32, 32), "layer2": (1, 32, 16, 16), "layer3": (1, 64, 8, 8)}
    with pytest.raises(ValueError, match="no submodules at depth 9"):
        trace_shapes(build_model("resnet20"), torch.zeros(1, 3, 32, 32), depth=9)


def test_trace_shapes_by_kind() -> None:
    from resnets.blocks import BasicBlock

    records = trace_shapes(build_model("resnet20"), torch.zeros(1, 3, 32, 32), kinds=(BasicBlock, nn.Linear))
    assert len(records) == 10 and records[-1].name == "fc" and records[3].output_shape == (1, 32, 16, 16)
    with pytest.raises(ValueError, match=r"no submodules of kinds \['LSTM'\]"):
        trace_shapes(build_model("resnet20"), torch.zeros(1, 3, 32, 32), kinds=(nn.LSTM,))


def test_saved_activation_bytes_counts_what_backward_keeps_and_not_the_weights() -> None:
    x = torch.randn(2, 3, 8, 8)
    conv = nn.Conv2d(3, 4, 3, bias=False)  # saves its input (and its weight, not counted)
    assert saved_activation_bytes(conv, x) == x.numel() * 4
    relu = nn.ReLU()  # saves its output
    assert saved_activation_bytes(relu, x) == x.numel() * 4
    # conv then ReLU: the conv's input and the ReLU's output, each once.
    assert saved_activation_bytes(nn.Sequential(conv, relu), x) == (x.numel() + 2 * 4 * 6 * 6) * 4


def test_input_gradient_gain_of_linear_maps() -> None:
    x = torch.randn(4, 8, 5, 5)
    scale = nn.Conv2d(8, 8, 1, bias=False)
    with torch.no_grad():
        scale.weight.copy_(3 * torch.eye(8).view(8, 8, 1, 1))
    identity_gain = input_gradient_gain(nn.Identity(), x)
    assert identity_gain == pytest.approx(1.0, rel=0.1)  # a random unit-RMS gradient, passed through
    assert input_gradient_gain(scale, x) == pytest.approx(3 * identity_gain, rel=1e-5)
    assert input_gradient_gain(nn.AvgPool2d(5), x) < 0.5  # averaging 25 values divides the gradient


@pytest.mark.parametrize("option, projections", [("A", 0), ("B", 2), ("C", 9)])
def test_shortcut_deviations_are_zero_exactly_where_the_shortcut_is_an_identity(option: str, projections: int) -> None:
    model = build_model("resnet20", shortcut=option)
    deviations = shortcut_deviations(model, torch.randn(2, 3, 32, 32))
    assert [name for name, _ in deviations][:2] == ["layer1.0", "layer1.1"] and len(deviations) == 9
    assert sum(d > 0.1 for _, d in deviations) == projections
    assert sum(d == 0 for _, d in deviations) == 9 - projections
    assert model.training


def test_residual_sum_gap_is_zero_only_for_pre_activation_blocks() -> None:
    x = torch.randn(2, 16, 16, 16)
    assert residual_sum_gap(build_model("preact_resnet20").layer1, x) < 1e-5
    assert residual_sum_gap(build_model("resnet20").layer1, x) > 0.1
    with pytest.raises(ValueError, match="blocks that keep the shape"):
        residual_sum_gap(build_model("preact_resnet20").layer2, x)


def test_gradient_profile_runs_one_backward_pass() -> None:
    model = build_model("plain20")
    x, y = torch.randn(2, 3, 16, 16), torch.randint(0, 10, (2,))  # small images: any size works
    profile = gradient_profile(model, x, y)
    assert [n for n, _ in profile] == [n for n, _ in weight_layers(model)]
    again = gradient_profile(model, x, y)  # old gradients are discarded, not accumulated
    assert [v for _, v in again] == pytest.approx([v for _, v in profile])


def test_block_norms_see_the_gate_of_post_activation_blocks_only() -> None:
    x, y = torch.randn(2, 3, 16, 16), torch.randint(0, 10, (2,))
    post = block_norms(build_model("resnet20"), x, y)
    pre = block_norms(build_model("preact_resnet20"), x, y)
    for norms in (post, pre):
        assert len(norms.signal) == len(norms.gradient) == 9
        assert all(v > 0 for v in norms.signal + norms.gradient)
    assert all(0 < g < 1 for g in post.gate_open) and pre.gate_open == [1.0] * 9
    survival = post.skip_path_survival()
    assert survival[-1] == post.gate_open[-1] and all(a <= b for a, b in zip(survival, survival[1:]))
    assert pre.skip_path_survival() == [1.0] * 9
    with pytest.raises(ValueError, match="no residual blocks"):
        block_norms(torch.nn.Linear(3, 2), torch.randn(1, 3), torch.tensor([0]))
