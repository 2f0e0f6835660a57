"""Probes: look inside a network while it runs or trains, without changing it.

Gradient norms (the gradient highway of Part 1, the training logs of Part 3): point
``GradientNormMonitor`` at any ``nn.Module`` and call ``record()`` after each backward pass.
Shapes (``trace_shapes``): what every layer receives and returns. Costs (``saved_activation_bytes``,
``input_gradient_gain``): the memory a training step keeps, and how a gradient survives the trip
from the output back to the input. The identity path (``shortcut_deviations``,
``residual_sum_gap``): how close each shortcut is to the identity, and whether x_L = x_0 + sum F.
Whole-net profiles (``gradient_profile``, ``block_norms``): every layer's gradient after one
backward pass, and the signal, gradient and post-addition gate at every residual block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .blocks import ZeroPadShortcut, _PostActivationBlock, is_residual_block
from .tables import format_shape, format_table

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


# ---------------------------------------------------------------------------------------
# Shapes: what each layer receives and returns
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShapeRecord:
    """One call of one module during a forward pass."""

    name: str  # its path in the model, e.g. "layer2.0.conv1"
    kind: str  # its class, e.g. "Conv2d"
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    parameters: int  # of the module and its children


def trace_shapes(
    model: nn.Module, x: Tensor, depth: int | None = None, kinds: tuple[type[nn.Module], ...] | None = None
) -> list[ShapeRecord]:
    """Run ``model(x)`` once and record the shapes every submodule saw, in the order they ran.

    Args:
        model: any module; it runs in eval mode (BN uses its running statistics, so a batch of
            one works and nothing is updated), then gets its mode back.
        x: its input, e.g. ``torch.zeros(1, 3, 224, 224)``.
        depth: ``None`` records the leaves (conv, BN, ReLU...); 1 the model's children (stem
            layers, stages, head); 2 their children (the blocks of each stage), and so on.
        kinds: instead of a depth, record every submodule of these classes, at any depth.

    A module called twice (a block's ReLU runs before and after the addition) gives two records.
    """

    def chosen_one(name: str, m: nn.Module) -> bool:
        if kinds is not None:
            return isinstance(m, kinds)
        return len(list(m.children())) == 0 if depth is None else name.count(".") + 1 == depth

    chosen = [(name, m) for name, m in model.named_modules() if name and chosen_one(name, m)]
    if not chosen:
        asked = f"of kinds {[k.__name__ for k in kinds]}" if kinds is not None else f"at depth {depth}"
        raise ValueError(f"{type(model).__name__} has no submodules {asked}")
    records: list[ShapeRecord] = []

    def hook_for(name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
            parameters = sum(p.numel() for p in module.parameters())
            shape_in = tuple(inputs[0].shape) if inputs and isinstance(inputs[0], Tensor) else ()
            shape_out = tuple(output.shape) if isinstance(output, Tensor) else ()
            records.append(ShapeRecord(name, type(module).__name__, shape_in, shape_out, parameters))

        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in chosen]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return records


def shape_table(records: list[ShapeRecord]) -> str:
    """The records as a plain-text table: module, type, input and output C×H×W, parameters."""
    rows = [
        (r.name, r.kind, format_shape(r.input_shape), format_shape(r.output_shape), f"{r.parameters:,}")
        for r in records
    ]
    return format_table(["module", "type", "input", "output", "parameters"], rows)


# ---------------------------------------------------------------------------------------
# What training costs and how gradients flow: activation memory, input-gradient gain
# ---------------------------------------------------------------------------------------


def saved_activation_bytes(model: nn.Module, x: Tensor) -> int:
    """Bytes the autograd graph of ``model(x)`` keeps for the backward pass.

    That is the activation memory of training: every tensor an operation saves for its
    backward (a conv's input, a ReLU's output, BN's input and batch statistics...), counted
    once per storage, however many operations save it. Parameters are not counted; the input
    ``x`` is, when an operation saves it. Runs the model in its current mode.
    """
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = model(x.detach().requires_grad_(True))
    del output  # only the bytes were wanted; the graph goes with it
    return sum(saved.values())


def input_gradient_gain(model: nn.Module, x: Tensor, seed: int = 0) -> float:
    """How much a gradient grows (> 1) or shrinks (< 1) flowing back from output to input.

    The output (or each output, for a model returning a list) receives a random gradient
    with unit root-mean-square; the result is the root-mean-square of the gradient that
    arrives at ``x``. The identity map has gain 1; a plain deep net's gain drifts away from 1
    exponentially in depth. Runs the model in its current mode (train mode at initialisation
    is what training sees first); parameter gradients are not touched.
    """
    x = x.detach().requires_grad_(True)
    output = model(x)
    outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    generator = torch.Generator().manual_seed(seed)
    upstream = [torch.randn(o.shape, generator=generator).to(o.device, o.dtype) for o in outputs]
    (grad,) = torch.autograd.grad(outputs, x, upstream)
    return grad.float().pow(2).mean().sqrt().item()


# ---------------------------------------------------------------------------------------
# The identity path: how close each shortcut is to the identity, and whether it stays clean
# ---------------------------------------------------------------------------------------


def shortcut_deviations(model: nn.Module, x: Tensor) -> list[tuple[str, float]]:
    """How far each residual block's shortcut is from the identity, on the input it really gets.

    For each block, ||s(x) - P(x)|| / ||P(x)||, where s is the block's shortcut and P is the
    identity, or, where the block changes the shape, option A's parameter-free subsample and
    zero-pad (the closest thing to an identity that fits). 0 for identity and option-A
    shortcuts; about 1 or more for a 1x1 projection, which mixes and rescales the channels.
    Runs in eval mode, without gradients.
    """
    inputs: dict[str, Tensor] = {}
    residual_blocks = [(name, m) for name, m in model.named_modules() if is_residual_block(m)]
    if not residual_blocks:
        raise ValueError(f"{type(model).__name__} has no residual blocks")
    handles = [
        m.register_forward_pre_hook(lambda module, args, name=name: inputs.__setitem__(name, args[0]))
        for name, m in residual_blocks
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
            deviations = []
            for name, block in residual_blocks:
                block_input = inputs[name]
                shortcut = block.shortcut(block_input)
                reference = ZeroPadShortcut(block_input.shape[1], shortcut.shape[1], block.stride)(block_input)
                deviations.append((name, ((shortcut - reference).norm() / reference.norm()).item()))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return deviations


def residual_sum_gap(blocks: Sequence[nn.Module], x: Tensor) -> float:
    """How far a run of same-shape blocks is from x_L = x_0 + sum_i F(x_i).

    Returns ||x_L - x_0 - sum_i F(x_i)|| / ||x_L||, with x_{i+1} = block_i(x_i). Exactly 0 (up to
    rounding) for pre-activation blocks, whose identity path has nothing on it; not 0 for the
    original blocks, whose ReLU after each addition sits on the path. Eval mode, no gradients.
    """
    modes = [b.training for b in blocks]
    h = x
    total = torch.zeros_like(x)
    try:
        with torch.no_grad():
            for block in blocks:
                block.eval()
                residual = block.residual(h)
                if residual.shape != h.shape:
                    raise ValueError(
                        f"residual_sum_gap needs blocks that keep the shape; {type(block).__name__} maps "
                        f"{tuple(h.shape)} to {tuple(residual.shape)}. Pass the blocks after a stage's first one."
                    )
                total += residual
                h = block(h)
    finally:
        for block, mode in zip(blocks, modes):
            block.train(mode)
    return ((h - x - total).norm() / h.norm()).item()


# ---------------------------------------------------------------------------------------
# Whole-net profiles: every layer's gradient, every block's signal and gradient (Part 1)
# ---------------------------------------------------------------------------------------


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
