"""The ResNet's relatives: every module's shape, gradient and parameter count (by formula)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from resnets import count_parameters
from resnets.course.relatives import FPN, KINDS, DenseBlock, DenseLayer, HighwayLayer, UNet, build_stack, measure_stack


def conv(cin: int, cout: int, k: int, bias: bool = False) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def bn(c: int) -> int:
    return 2 * c


def double_conv(cin: int, cout: int) -> int:
    return conv(cin, cout, 3) + bn(cout) + conv(cout, cout, 3) + bn(cout)


def check_gradient_reaches_input(module: nn.Module, x: torch.Tensor) -> None:
    x = x.clone().requires_grad_(True)
    out = module(x)
    outs = out if isinstance(out, list) else [out]
    sum(o.square().sum() for o in outs).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("plain", [False, True])
def test_dense_layer(plain: bool) -> None:
    c, k = 12, 8
    layer = DenseLayer(c, k, bn_size=4, plain=plain)
    x = torch.randn(2, c, 6, 6)
    y = layer(x)
    assert y.shape == (2, k if plain else c + k, 6, 6)
    if not plain:
        assert torch.equal(y[:, :c], x)  # the input is passed on untouched
    check_gradient_reaches_input(layer, x)
    assert count_parameters(layer) == bn(c) + conv(c, 4 * k, 1) + bn(4 * k) + conv(4 * k, k, 3)


@pytest.mark.parametrize("plain", [False, True])
def test_dense_block(plain: bool) -> None:
    c, k, n = 16, 8, 4
    block = DenseBlock(n, c, k, plain=plain)
    y = block(torch.randn(2, c, 8, 8))
    assert y.shape[1] == block.out_channels == (k if plain else c + n * k)
    check_gradient_reaches_input(block, torch.randn(2, c, 8, 8))
    inputs = [(k if i else c) if plain else c + i * k for i in range(n)]
    expected = sum(bn(ci) + conv(ci, 4 * k, 1) + bn(4 * k) + conv(4 * k, k, 3) for ci in inputs)
    assert count_parameters(block) == expected
    with pytest.raises(ValueError, match="at least one layer"):
        DenseBlock(0, c, k)


def test_highway_layer_shape_gradient_parameters_and_gate() -> None:
    c = 16
    layer = HighwayLayer(c, gate_bias=-2.0)
    x = torch.randn(2, c, 8, 8)
    assert layer(x).shape == x.shape
    check_gradient_reaches_input(layer, x)
    assert count_parameters(layer) == conv(c, c, 3) + bn(c) + conv(c, c, 3, bias=True)
    # The gate starts at sigmoid(bias) where the gate conv sees nothing: mostly carry.
    gate = layer.transform_gate(torch.zeros(1, c, 4, 4))
    assert torch.allclose(gate, torch.full_like(gate, 1 / (1 + math.exp(2.0))))
    # A closed gate carries x through unchanged; the plain layer is the transform alone.
    closed = HighwayLayer(c, gate_bias=-100.0).eval()
    assert torch.allclose(closed(x), x, atol=1e-6)
    plain = HighwayLayer(c, plain=True).eval()
    assert torch.equal(plain(x), plain.transform(x))


@pytest.mark.parametrize("plain", [False, True])
def test_unet(plain: bool) -> None:
    cin, cout, w, levels = 3, 5, 8, 2
    net = UNet(cin, cout, width=w, levels=levels, plain=plain)
    x = torch.randn(2, cin, 16, 16)
    assert net(x).shape == (2, cout, 16, 16)
    check_gradient_reaches_input(net, x)
    widths = [w * 2**i for i in range(levels + 1)]
    encoders = sum(double_conv(cin if i == 0 else widths[i - 1], widths[i]) for i in range(levels))
    bottom = double_conv(widths[levels - 1], widths[levels])
    ups = sum(conv(widths[i + 1], widths[i], 2, bias=True) for i in range(levels))
    decoders = sum(double_conv(widths[i] * (1 if plain else 2), widths[i]) for i in range(levels))
    head = conv(w, cout, 1, bias=True)
    assert count_parameters(net) == encoders + bottom + ups + decoders + head
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.randn(1, cin, 18, 16))


@pytest.mark.parametrize("plain", [False, True])
def test_fpn(plain: bool) -> None:
    cin, cout, w, levels = 3, 8, 8, 3
    net = FPN(cin, cout, width=w, levels=levels, plain=plain)
    x = torch.randn(2, cin, 16, 16)
    outs = net(x)
    assert [tuple(o.shape) for o in outs] == [(2, cout, 16 >> i, 16 >> i) for i in range(levels)]
    check_gradient_reaches_input(net, x)
    widths = [w * 2**i for i in range(levels)]
    bottom_up = sum(conv(cin if i == 0 else widths[i - 1], widths[i], 3) + bn(widths[i]) for i in range(levels))
    lateral = sum(conv(wi, cout, 1, bias=True) for wi in (widths[-1:] if plain else widths))
    smooth = levels * conv(cout, cout, 3, bias=True)
    assert count_parameters(net) == bottom_up + lateral + smooth


def test_build_stack_and_measure_every_kind() -> None:
    for kind in KINDS:
        depth = 2
        stack = build_stack(kind, depth, channels=8)
        out = stack(torch.randn(2, 8, 16, 16))
        assert (out[0] if isinstance(out, list) else out).shape[0] == 2
        m = measure_stack(kind, depth, channels=8, size=16, batch=2)
        assert m.parameters == count_parameters(stack) and m.activation_bytes > 0 and m.gradient_gain > 0
    with pytest.raises(ValueError, match="unknown kind 'vgg'"):
        build_stack("vgg", 2)
