"""Toy networks in numpy, with every gradient written out by hand: Part 1's laboratory.

Everything the papers say about depth can be seen on a 2-D problem in a second of CPU time,
and without autograd nothing is hidden: each layer has a ``forward`` that remembers what it
needs and a ``backward`` that turns the gradient of its output into the gradient of its input
(and of its weights). Read it like micrograd, top to bottom:

    two_spirals              the data: two interleaved spirals, a classic hard 2-D problem
    Linear, ReLU, LayerNorm  the layers, each with forward and backward
    Block                    one hidden layer of our nets, with or without the skip connection
    Stack                    blocks one after the other (Chapter 2 trains a bare stack)
    Net                      input layer, a stack of blocks, a classifier head
    Adam, fit                full-batch training
    to_torch, fit_torch      the same nets in PyTorch, to check our gradients against autograd
                             and to use the package's torch probes on them

A block is one layer deep (one weight matrix), in the pre-activation order of He et al. 2016:

    plain     y = W relu(N(x)) + b            N = LayerNorm (or nothing, ``norm=False``)
    residual  y = x + W relu(N(x)) + b        = x + F(x): the same layer plus the identity

so a plain net and a residual net of the same depth have exactly the same parameters, and
differ by one addition per layer. ``order="post"`` gives the original ordering of He et al.
2015 instead: y = relu(x + N(W x + b)) (and relu(N(W x + b)) without the skip).

Arrays: a batch of N points of width D is an (N, D) array, weights are (D_in, D_out) so a
layer computes x @ W + b.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError

Route = Literal["both", "skip", "branch"]
Order = Literal["pre", "post"]
BranchInit = Literal["scaled", "he"]


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


def two_spirals(n: int = 256, turns: float = 2.0, noise: float = 0.04, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals in the plane, one per class.

    Returns X: (n, 2) float points inside the unit disc (plus noise), y: (n,) labels 0/1,
    the first n//2 points class 0. Points are spread evenly along each arm's length, so the
    outer turns, which are the hard part, are not starved of points.
    """
    if n < 2 or n % 2:
        raise ConfigError(f"n must be a positive even number (half the points go to each spiral); got {n}")
    rng = np.random.default_rng(seed)
    half = n // 2
    angle = np.sqrt(rng.uniform(0.0, 1.0, half)) * turns * 2 * np.pi  # sqrt: uniform along the arm
    radius = angle / (turns * 2 * np.pi)
    arm = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    X = np.concatenate([arm, -arm]) + noise * rng.standard_normal((n, 2))  # class 1 is class 0 turned 180°
    y = np.concatenate([np.zeros(half), np.ones(half)])
    return X, y


# Sums over one axis of small arrays, as matrix products: numpy runs these about 4x faster
# than .sum() on arrays this small, and the nets below spend most of their time in them.


def row_mean(x: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, 1): the mean of each row."""
    return x @ _averager(x.shape[-1])


def column_sum(x: np.ndarray) -> np.ndarray:
    """(N, D) -> (D,): the sum of each column."""
    return _ones(x.shape[0]) @ x


@functools.cache
def _averager(d: int) -> np.ndarray:
    return np.full((d, 1), 1.0 / d)


@functools.cache
def _ones(n: int) -> np.ndarray:
    return np.ones(n)


# ---------------------------------------------------------------------------------------
# Layers. forward(x) caches what backward needs; backward(g) takes dLoss/dOutput and returns
# dLoss/dInput, writing dLoss/dParameter into the layer's gradient arrays.
# ---------------------------------------------------------------------------------------


class Linear:
    """x @ W + b.  (N, D_in) -> (N, D_out).  He initialisation: W ~ N(0, gain / D_in)."""

    param_names = ("W", "b")

    def __init__(self, d_in: int, d_out: int, rng: np.random.Generator, gain: float = 2.0) -> None:
        self.W = rng.standard_normal((d_in, d_out)) * np.sqrt(gain / d_in)
        self.b = np.zeros(d_out)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W + self.b

    def backward(self, g: np.ndarray) -> np.ndarray:
        self.dW[...] = self.x.T @ g  # every point's contribution, summed
        self.db[...] = column_sum(g)
        return g @ self.W.T


class ReLU:
    """max(x, 0), elementwise. Its gradient is a gate: 1 where x > 0, else 0."""

    param_names = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.on = x > 0
        return x * self.on

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * self.on


class LayerNorm:
    """Normalise each point's features to mean 0, variance 1 (no learned scale or shift).

    (N, D) -> (N, D). Per point, so a net behaves the same on one point as on a batch. It
    plays the role batch normalisation plays in the papers' networks: it keeps every layer's
    input at unit scale however deep the net is.
    """

    param_names = ()

    def __init__(self, eps: float = 1e-5) -> None:
        self.eps = eps

    def forward(self, x: np.ndarray) -> np.ndarray:
        centred = x - row_mean(x)
        self.inv_std = 1.0 / np.sqrt(row_mean(centred * centred) + self.eps)
        self.out = centred * self.inv_std
        return self.out

    def backward(self, g: np.ndarray) -> np.ndarray:
        # out = (x - mean) / std: remove from g its mean and its component along out, then rescale.
        return (g - row_mean(g) - self.out * row_mean(g * self.out)) * self.inv_std


class Identity:
    """Stands in for LayerNorm when a net has none."""

    param_names = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g


class Block:
    """One hidden layer, width D -> D, plain or residual (see the module docstring).

    The residual branch F is the very same layer as the plain one; ``residual`` adds x.
    ``backward(g, route)`` can send the gradient through both paths (the true gradient),
    only the skip, or only the branch: Chapter 4 uses that to follow single paths.
    """

    def __init__(
        self,
        width: int,
        rng: np.random.Generator,
        *,
        residual: bool,
        norm: bool = True,
        order: Order = "pre",
        branch_gain: float = 2.0,
    ) -> None:
        if order not in ("pre", "post"):
            raise ConfigError(f"order must be 'pre' (He et al. 2016) or 'post' (He et al. 2015); got {order!r}")
        self.residual, self.order = residual, order
        self.norm = LayerNorm() if norm else Identity()
        self.relu = ReLU()
        self.linear = Linear(width, width, rng, gain=branch_gain)
        self.out_relu = ReLU()  # the ReLU after the addition, post-activation order only

    def branch(self, x: np.ndarray) -> np.ndarray:
        """F(x): the layer without its skip connection."""
        if self.order == "pre":
            return self.linear.forward(self.relu.forward(self.norm.forward(x)))
        return self.norm.forward(self.linear.forward(x))

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = self.branch(x) + x if self.residual else self.branch(x)
        return out if self.order == "pre" else self.out_relu.forward(out)

    def backward(self, g: np.ndarray, route: Route = "both") -> np.ndarray:
        if route != "both" and not self.residual:
            raise ConfigError(f"route={route!r} needs a residual block")
        if self.order == "post":
            g = self.out_relu.backward(g)
        if route == "skip":  # the identity path alone: dy/dx = I
            return g
        if self.order == "pre":
            g_relu = self.relu.backward(self.linear.backward(g))
            g_branch = self.norm.backward(g_relu)
        else:
            g_branch = self.linear.backward(self.norm.backward(g))
        if route == "branch" or not self.residual:
            return g_branch
        return g + g_branch  # dH/dx = I + dF/dx


class Stack:
    """``depth`` blocks of width D: (N, D) -> (N, D). The part of a net that depth is about.

    ``forward(x, skip_blocks)`` deletes the listed blocks (the lesion study of Chapter 4);
    ``backward(g, routes)`` can follow one chosen path (a route per block, see ``Block``).
    All its weights live in one flat array ``theta``, their gradients in ``grad``.
    ``branch_init`` matters only for residual blocks without normalisation: "scaled" (the
    default) divides the He variance of each branch by ``depth``, "he" keeps it.
    """

    def __init__(
        self,
        depth: int,
        width: int,
        *,
        residual: bool,
        norm: bool = True,
        order: Order = "pre",
        rng: np.random.Generator | None = None,
        seed: int = 0,
        branch_init: BranchInit = "scaled",
    ) -> None:
        if depth < 0 or width < 1:
            raise ConfigError(f"need depth >= 0 and width >= 1; got depth={depth}, width={width}")
        if branch_init not in ("scaled", "he"):
            raise ConfigError(
                f"branch_init must be 'scaled' (He variance / depth) or 'he' (plain He); got {branch_init!r}"
            )
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.depth, self.width, self.residual = depth, width, residual
        # Without normalisation, He-initialised branches roughly double the signal's variance
        # at every residual block. branch_init="scaled" divides each branch's weight variance by
        # the depth (its weights by sqrt(depth)), so the sum of all the branches starts at the
        # scale of the input: Fixup's idea (Zhang et al. 2019), which rescales the branches by a
        # power of the depth, not what He et al. did (plain He initialisation, with batch norm).
        # branch_init="he" keeps plain He initialisation: the control for that choice.
        scaled = residual and not norm and branch_init == "scaled"
        gain = 2.0 / depth if scaled else 2.0
        self.blocks = [
            Block(width, rng, residual=residual, norm=norm, order=order, branch_gain=gain) for _ in range(depth)
        ]
        self.theta, self.grad, self.is_weight = _flatten(self.linears())

    def linears(self) -> list[Linear]:
        return [b.linear for b in self.blocks]

    def forward(self, x: np.ndarray, skip_blocks: Iterable[int] = ()) -> np.ndarray:
        deleted = set(skip_blocks)
        for i, block in enumerate(self.blocks):
            if i not in deleted:
                x = block.forward(x)
        return x

    def backward(self, g: np.ndarray, routes: list[Route] | None = None) -> np.ndarray:
        """dLoss/dOutput -> dLoss/dInput, filling ``grad``. ``routes``: one per block."""
        routes = routes or ["both"] * self.depth
        for block, route in zip(reversed(self.blocks), reversed(routes)):
            g = block.backward(g, route)
        return g

    def weight_grad_norms(self) -> np.ndarray:
        """(depth,) L2 norm of each block's weight gradient, input side first."""
        return np.array([np.linalg.norm(b.linear.dW) for b in self.blocks])


class Net:
    """The classifier: input Linear (d_in -> D), a ``Stack`` of blocks, head N-ReLU-Linear.

    x: (N, d_in) -> (N, d_out) logits. ``Net(0, ...)`` is a one-hidden-layer net.
    """

    def __init__(
        self,
        depth: int,
        width: int = 16,
        *,
        residual: bool,
        norm: bool = True,
        order: Order = "pre",
        d_in: int = 2,
        d_out: int = 1,
        seed: int = 0,
    ) -> None:
        rng = np.random.default_rng(seed)
        self.embed = Linear(d_in, width, rng, gain=1.0)  # the raw input is not the output of a ReLU
        self.stack = Stack(depth, width, residual=residual, norm=norm, order=order, rng=rng)
        self.head_norm = LayerNorm() if norm else Identity()
        self.head_relu = ReLU()
        self.head = Linear(width, d_out, rng, gain=1.0)
        self.depth, self.residual = depth, residual
        self.theta, self.grad, self.is_weight = _flatten([self.embed, *self.stack.linears(), self.head])
        # The stack's weights now live in the net's arrays, right after the input layer's:
        # point the stack's own arrays there too, so that both stay in step.
        start = self.embed.W.size + self.embed.b.size
        stop = start + self.stack.theta.size
        self.stack.theta, self.stack.grad = self.theta[start:stop], self.grad[start:stop]
        self.stack.is_weight = self.is_weight[start:stop]

    @property
    def blocks(self) -> list[Block]:
        return self.stack.blocks

    def forward(self, x: np.ndarray, skip_blocks: Iterable[int] = ()) -> np.ndarray:
        h = self.stack.forward(self.embed.forward(x), skip_blocks)
        return self.head.forward(self.head_relu.forward(self.head_norm.forward(h)))

    def backward(self, g: np.ndarray, routes: list[Route] | None = None) -> np.ndarray:
        """dLoss/dLogits -> dLoss/dh_0 (the gradient at the first block's input); fills ``grad``."""
        g = self.head_norm.backward(self.head_relu.backward(self.head.backward(g)))
        g = self.stack.backward(g, routes)
        self.embed.backward(g)
        return g

    def weight_grad_norms(self) -> np.ndarray:
        return self.stack.weight_grad_norms()

    def error_rate(self, X: np.ndarray, y: np.ndarray, skip_blocks: Iterable[int] = ()) -> float:
        """Fraction of points of (X, y) the net classifies wrongly (logit > 0 means class 1)."""
        return float(np.mean((self.forward(X, skip_blocks)[:, 0] > 0) != (y > 0.5)))


def _flatten(layers: list[Linear]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move every parameter of ``layers`` into one flat array and rebind the layers' W, b
    (and dW, db) to views of it. Returns (theta, grad, is_weight): is_weight marks the
    entries that belong to a W (weight decay leaves biases alone)."""
    arrays = [(layer, name) for layer in layers for name in layer.param_names]
    total = sum(getattr(layer, name).size for layer, name in arrays)
    theta, grad, is_weight = np.empty(total), np.zeros(total), np.zeros(total, dtype=bool)
    start = 0
    for layer, name in arrays:
        value = getattr(layer, name)
        stop = start + value.size
        theta[start:stop] = value.ravel()
        is_weight[start:stop] = name == "W"
        setattr(layer, name, theta[start:stop].reshape(value.shape))
        setattr(layer, "d" + name, grad[start:stop].reshape(value.shape))
        start = stop
    return theta, grad, is_weight


# ---------------------------------------------------------------------------------------
# Losses: each returns (loss, dLoss/dPrediction)
# ---------------------------------------------------------------------------------------


def bce_with_logits(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Binary cross-entropy of (N, 1) logits against (N,) 0/1 labels, averaged over points."""
    z = logits[:, 0]
    loss = np.mean(np.logaddexp(0.0, z) - y * z)  # log(1 + e^z) - y z, computed without overflow
    prob = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid(z), stable for large |z|
    return float(loss), ((prob - y) / len(y))[:, None]


def mse(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over points of the squared error ||pred - target||², (N, D) arrays."""
    diff = pred - target
    return float((diff * diff).sum() / len(pred)), 2.0 * diff / len(pred)


# ---------------------------------------------------------------------------------------
# Training: full batch (the data sets are tiny), Adam
# ---------------------------------------------------------------------------------------

Model = Stack | Net


@dataclass
class Adam:
    """Adam (Kingma & Ba 2015) on a model's flat parameter array, with decoupled weight
    decay (AdamW): every step also shrinks each weight by a factor (1 - lr * weight_decay)."""

    model: Model
    lr: float = 1e-2
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    t: int = 0
    m: np.ndarray = field(init=False, repr=False)
    v: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.m = np.zeros_like(self.model.theta)
        self.v = np.zeros_like(self.model.theta)

    def step(self) -> None:
        theta, grad = self.model.theta, self.model.grad
        b1, b2 = self.betas
        self.t += 1
        self.m = b1 * self.m + (1 - b1) * grad
        self.v = b2 * self.v + (1 - b2) * grad * grad
        m_hat, v_hat = self.m / (1 - b1**self.t), self.v / (1 - b2**self.t)
        if self.weight_decay:
            theta -= self.lr * self.weight_decay * theta * self.model.is_weight
        theta -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)  # in place: the layers see it


LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


def fit(
    model: Model,
    X: np.ndarray,
    Y: np.ndarray,
    loss_fn: LossFn,
    steps: int,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    callback: Callable[[int, float], None] | None = None,
) -> np.ndarray:
    """Full-batch Adam for ``steps`` steps, the learning rate decaying from ``lr`` to 0 along
    a half cosine. Returns (steps,) the training loss at each step (before its update).
    ``callback(step, loss)`` is called after every step."""
    optimiser = Adam(model, lr=lr, weight_decay=weight_decay)
    losses = np.empty(steps)
    for step in range(steps):
        # Decaying the step size lets the loss settle instead of bouncing at the end.
        optimiser.lr = lr * 0.5 * (1 + np.cos(np.pi * step / steps))
        loss, g = loss_fn(model.forward(X), Y)
        model.backward(g)
        optimiser.step()
        losses[step] = loss
        if callback is not None:
            callback(step, loss)
    return losses


# ---------------------------------------------------------------------------------------
# The same nets in PyTorch: autograd checks our hand-written backward, and the package's
# probes (written for nn.Modules) can watch a toy net train.
# ---------------------------------------------------------------------------------------


class TorchBlock(nn.Module):
    """``Block`` in PyTorch: the same parameters, the same arithmetic, autograd for backward."""

    def __init__(self, width: int, *, residual: bool, norm: bool = True, order: Order = "pre") -> None:
        super().__init__()
        self.residual, self.order = residual, order
        self.norm = nn.LayerNorm(width, eps=1e-5, elementwise_affine=False) if norm else nn.Identity()
        self.linear = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.order == "pre":
            branch = self.linear(torch.relu(self.norm(x)))
            return x + branch if self.residual else branch
        out = self.norm(self.linear(x))
        return torch.relu(x + out if self.residual else out)


def to_torch(net: Net) -> nn.Sequential:
    """A PyTorch copy of ``net`` (float64, same weights): (N, d_in) -> (N, d_out) logits."""
    first = net.blocks[0] if net.blocks else None
    norm = not isinstance(net.head_norm, Identity)
    order = first.order if first else "pre"
    layers: list[nn.Module] = [nn.Linear(*net.embed.W.shape)]
    layers += [TorchBlock(net.embed.W.shape[1], residual=net.residual, norm=norm, order=order) for _ in net.blocks]
    layers += [
        nn.LayerNorm(net.head.W.shape[0], eps=1e-5, elementwise_affine=False) if norm else nn.Identity(),
        nn.ReLU(),
        nn.Linear(*net.head.W.shape),
    ]
    model = nn.Sequential(*layers).double()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for ours, theirs in zip([net.embed, *net.stack.linears(), net.head], linears):
            theirs.weight.copy_(torch.from_numpy(ours.W.T))  # torch stores (D_out, D_in)
            theirs.bias.copy_(torch.from_numpy(ours.b))
    return model


def fit_torch(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    steps: int,
    lr: float = 1e-2,
    callback: Callable[[int, float], None] | None = None,
) -> np.ndarray:
    """``fit`` for a PyTorch toy net on a 0/1-labelled set: full-batch Adam, the same
    half-cosine learning rate. Tiny nets like these run fastest on the CPU, where they stay."""
    inputs = torch.as_tensor(X, dtype=torch.float64)
    targets = torch.as_tensor(y, dtype=torch.float64)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses = np.empty(steps)
    with _one_thread():
        for step in range(steps):
            lr_now = lr * 0.5 * (1 + np.cos(np.pi * step / steps))
            losses[step] = _torch_step(model, optimiser, inputs, targets, lr_now)
            if callback is not None:
                callback(step, losses[step])
    return losses


def _torch_step(
    model: nn.Module, optimiser: torch.optim.Optimizer, inputs: torch.Tensor, targets: torch.Tensor, lr: float
) -> float:
    for group in optimiser.param_groups:
        group["lr"] = lr
    loss = nn.functional.binary_cross_entropy_with_logits(model(inputs)[:, 0], targets)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss.item()


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one CPU thread: on tensors this small, waking and synchronising a second
    thread costs far more than the arithmetic (100x slower on a busy 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
