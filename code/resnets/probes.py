"""Probes: look inside a network while it runs or trains, without changing it.

Gradient norms first (the gradient highway of Part 1, the training logs of Part 3): point
``GradientNormMonitor`` at any ``nn.Module`` and call ``record()`` after each backward pass.
``gradient_profile`` measures every layer after one backward pass, and ``block_norms`` the
signal and gradient at the output of every residual block (Part 1, chapters 3 and 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from .blocks import _PostActivationBlock, is_residual_block

WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every conv and linear layer, in the order they were registered,
    which for the networks in this package is the order the input meets them."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)]


def layer_gradient_norms(model: nn.Module) -> list[tuple[str, float]]:
    """L2 norm of each conv/linear layer's weight gradient, input side first.

    Call it after ``loss.backward()``. Layers without a gradient yet are left out.
    """
    return [
        (name, m.weight.grad.detach().norm().item())
        for name, m in weight_layers(model)
        if m.weight.grad is not None
    ]


@dataclass
class GradientNormMonitor:
    """Watch the gradient norms of a model's early and late layers during training.

        monitor = GradientNormMonitor(model)           # first and last conv/linear by default
        loss.backward(); monitor.record()              # after each backward
        monitor.history["early"]                       # one float per recorded step

    ``layers`` maps a label to a layer name of ``model.named_modules()``, to watch others.
    A vanishing gradient shows up as ``early`` falling orders of magnitude below ``late``.
    """

    model: nn.Module
    layers: dict[str, str] | None = None
    history: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        named = weight_layers(self.model)
        if not named:
            raise ValueError("the model has no conv or linear layers to monitor")
        if self.layers is None:
            self.layers = {"early": named[0][0], "late": named[-1][0]}
        modules = dict(self.model.named_modules())
        missing = [n for n in self.layers.values() if n not in modules]
        if missing:
            raise ValueError(f"no layer named {', '.join(missing)}; choose from {', '.join(n for n, _ in named)}")
        self._modules = {label: modules[name] for label, name in self.layers.items()}
        self.history = {label: [] for label in self.layers}

    def current(self) -> dict[str, float]:
        """Gradient norm of each watched layer's weight right now (nan before any backward)."""
        out = {}
        for label, module in self._modules.items():
            grad = module.weight.grad
            out[label] = grad.detach().norm().item() if grad is not None else float("nan")
        return out

    def record(self) -> dict[str, float]:
        """Append the current norms to ``history`` and return them."""
        norms = self.current()
        for label, value in norms.items():
            self.history[label].append(value)
        return norms


def gradient_profile(model: nn.Module, inputs: Tensor, targets: Tensor) -> list[tuple[str, float]]:
    """One forward and backward pass of a classifier (cross-entropy on ``targets``), then
    ``layer_gradient_norms``: every conv/linear weight's gradient norm, input side first.

    inputs: (N, ...) on the model's device; targets: (N,) class indices. Gradients the
    model already held are discarded. Use it at initialisation to see how a gradient
    survives the trip from the loss back to the first layer.
    """
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(inputs), targets).backward()
    return layer_gradient_norms(model)


@dataclass
class BlockNorms:
    """What ``block_norms`` measured at the output of each residual block, input side first."""

    signal: list[float]  # root-mean-square of the block's output
    gradient: list[float]  # root-mean-square of dLoss/d(block output)
    gate_open: list[float]  # fraction of units a ReLU after the addition lets through (1.0: no such ReLU)

    def skip_path_survival(self) -> list[float]:
        """Running product of ``gate_open`` from the last block down: roughly the share of
        units whose gradient could cross every block from there to the top by the skips alone."""
        out, running = [], 1.0
        for fraction in reversed(self.gate_open):
            running *= fraction
            out.append(running)
        return out[::-1]


def block_norms(model: nn.Module, inputs: Tensor, targets: Tensor) -> BlockNorms:
    """Signal and gradient size at every residual block of ``model`` for one batch.

    Works on any model whose residual blocks are this package's blocks (``ResNet``,
    or anything containing them). One forward and backward pass, cross-entropy loss;
    parameter gradients are left in the model.
    """
    blocks = [m for m in model.modules() if is_residual_block(m)]
    if not blocks:
        raise ValueError("the model has no residual blocks from resnets.blocks to measure")
    signal, gradient, gate_open = [0.0] * len(blocks), [0.0] * len(blocks), [1.0] * len(blocks)

    def watch(index: int, post_activation: bool):
        def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
            signal[index] = output.detach().pow(2).mean().sqrt().item()
            if post_activation:  # output = relu(F(x) + x): the gate is open where it is positive
                gate_open[index] = (output.detach() > 0).float().mean().item()
            output.register_hook(lambda grad: gradient.__setitem__(index, grad.pow(2).mean().sqrt().item()))

        return hook

    handles = [b.register_forward_hook(watch(i, isinstance(b, _PostActivationBlock))) for i, b in enumerate(blocks)]
    try:
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(inputs), targets).backward()
    finally:
        for handle in handles:
            handle.remove()
    return BlockNorms(signal, gradient, gate_open)
