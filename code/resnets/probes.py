"""Probes: look inside a network while it runs or trains, without changing it.

Gradient norms first (the gradient highway of Part 1, the training logs of Part 3): point
``GradientNormMonitor`` at any ``nn.Module`` and call ``record()`` after each backward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

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

    def norms(self) -> dict[str, Tensor]:
        """Each watched layer's weight-gradient norm as a 0-d tensor on the model's device (nan
        before any backward). Nothing is copied to the host, so a training loop can sample these
        every few steps without waiting for the GPU; ``current`` reads them as floats."""
        out = {}
        for label, module in self._modules.items():
            grad = module.weight.grad
            out[label] = grad.detach().norm() if grad is not None else torch.tensor(float("nan"))
        return out

    def current(self) -> dict[str, float]:
        """Gradient norm of each watched layer's weight right now (nan before any backward)."""
        return {label: value.item() for label, value in self.norms().items()}

    def record(self) -> dict[str, float]:
        """Append the current norms to ``history`` and return them."""
        norms = self.current()
        for label, value in norms.items():
            self.history[label].append(value)
        return norms
