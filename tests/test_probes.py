"""Probes watch a network without changing it."""

from __future__ import annotations

import pytest
import torch

from resnets import build_model
from resnets.probes import GradientNormMonitor, layer_gradient_norms, weight_layers


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
