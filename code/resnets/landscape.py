"""Loss-landscape slices with filter-normalised random directions (Li et al. 2018).

A trained net is a point theta in a space of a million dimensions; the loss around it can only
be looked at along a few directions. Li et al. pick random ones and make them comparable
across nets by *filter normalisation*: every filter of the direction is rescaled to the norm
of the same filter of theta,

    d[i, j] <- d[i, j] / ||d[i, j]|| * ||theta[i, j]||      (layer i, filter j)

so that a step of alpha = 1 changes every filter by about its own size, whatever the scale of
the weights (which BN makes arbitrary). Then

    1-D:  f(alpha)       = L(theta + alpha d)
    2-D:  f(alpha, beta) = L(theta + alpha d1 + beta d2)

As Li et al. do, parameters with one dimension (BN scales and shifts, the classifier's bias)
are not moved: their direction is zero. Every evaluation runs in eval mode, so BN uses the
running statistics of the trained net. A filter is one output channel of a conv, or one row
(output unit) of a linear layer.

    directions = random_directions(model, count=2, seed=0)
    surface = loss_surface(model, images, labels, directions, coordinates=np.linspace(-1, 1, 9))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import ConfigError
from .models import evaluating

Direction = dict[str, Tensor]


def filter_normalized(direction: Tensor, weight: Tensor) -> Tensor:
    """``direction`` rescaled filter by filter to the norms of ``weight``'s filters.

    Both are shaped like the weight, (out, ...): filter j is ``[j]``. Parameters with one
    dimension get a zero direction (Li et al. leave BN and biases where they are).
    """
    if direction.shape != weight.shape:
        raise ConfigError(f"direction {tuple(direction.shape)} and weight {tuple(weight.shape)} differ in shape")
    if weight.dim() <= 1:
        return torch.zeros_like(weight)
    dims = tuple(range(1, weight.dim()))
    scale = torch.linalg.vector_norm(weight, dim=dims, keepdim=True) / torch.linalg.vector_norm(
        direction, dim=dims, keepdim=True
    ).clamp_min(1e-12)
    return direction * scale


def random_directions(model: nn.Module, count: int = 1, seed: int = 0) -> list[Direction]:
    """``count`` filter-normalised Gaussian directions {parameter name: tensor} for ``model``.

    Drawn on the CPU from ``seed`` (the same directions on every device), then moved to
    the parameters' device.
    """
    generator = torch.Generator().manual_seed(seed)
    directions = []
    for _ in range(count):
        direction = {}
        for name, weight in model.named_parameters():
            noise = torch.randn(weight.shape, generator=generator).to(weight.device, weight.dtype)
            direction[name] = filter_normalized(noise, weight.detach())
        directions.append(direction)
    return directions


@contextmanager
def displaced(model: nn.Module, directions: Sequence[Direction]) -> Iterator[Callable[[Sequence[float]], None]]:
    """Inside the ``with``, ``move(coefficients)`` sets theta + sum_k c_k d_k; theta is restored after."""
    parameters = dict(model.named_parameters())
    origin = {name: p.detach().clone() for name, p in parameters.items()}

    @torch.no_grad()
    def move(coefficients: Sequence[float]) -> None:
        if len(coefficients) != len(directions):
            raise ConfigError(f"{len(coefficients)} coefficients for {len(directions)} directions")
        for name, p in parameters.items():
            p.copy_(origin[name])
            for c, d in zip(coefficients, directions):
                p.add_(d[name], alpha=float(c))

    try:
        yield move
    finally:
        with torch.no_grad():
            for name, p in parameters.items():
                p.copy_(origin[name])


@torch.no_grad()
def _loss_and_error(model: nn.Module, x: Tensor, y: Tensor, batch_size: int) -> tuple[float, float]:
    loss = correct = 0.0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size]).float()
        loss += F.cross_entropy(logits, y[i : i + batch_size], reduction="sum").item()
        correct += (logits.argmax(1) == y[i : i + batch_size]).sum().item()
    return loss / len(x), 1 - correct / len(x)


def loss_surface(
    model: nn.Module,
    x: Tensor,
    labels: Tensor,
    directions: Sequence[Direction],
    coordinates: Sequence[float],
    batch_size: int = 500,
) -> dict[str, np.ndarray]:
    """Loss and error of ``model`` on a grid around its weights, along 1 or 2 directions.

    x: (N, 3, H, W) inputs prepared as in training (for CIFAR ``data.normalize``); labels: (N,).
    ``coordinates`` are the values of
    alpha (and of beta: the grid is square). Returns {"coordinates": (P,), "loss": (P,) or
    (P, P), "error": same}; with two directions ``loss[i, j]`` is at (alpha_i, beta_j). The
    centre is the trained net itself when 0 is among the coordinates. Eval mode; the model
    gets its weights and mode back.
    """
    if len(directions) not in (1, 2):
        raise ConfigError(f"a slice has 1 or 2 directions; got {len(directions)}")
    device = next(model.parameters()).device
    x, y = x.to(device), labels.to(device)
    points = list(np.ndindex(*(len(coordinates),) * len(directions)))
    loss = np.zeros((len(coordinates),) * len(directions))
    error = np.zeros_like(loss)
    with evaluating(model), displaced(model, directions) as move:
        for index in points:
            move([coordinates[i] for i in index])
            loss[index], error[index] = _loss_and_error(model, x, y, batch_size)
    return {"coordinates": np.asarray(coordinates, dtype=float), "loss": loss, "error": error}


__all__ = ["displaced", "filter_normalized", "loss_surface", "random_directions"]
