"""Probes watch a network without changing it."""

from __future__ import annotations

import pytest
import torch

from resnets import build_model
from resnets.probes import GradientNormMonitor, block_norms, gradient_profile, layer_gradient_norms, weight_layers


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
