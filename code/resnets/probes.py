"""Probes: look inside a network while it runs or trains, without changing it.

Gradient norms (the gradient highway of Part 1, the training logs of Part 3): point
``GradientNormMonitor`` at any ``nn.Module`` and call ``record()`` after each backward pass.
Shapes (``trace_shapes``): what every layer receives and returns. Costs (``saved_activation_bytes``,
``input_gradient_gain``): the memory a training step keeps, and how a gradient survives the trip
from the output back to the input. The identity path (``shortcut_deviations``,
``residual_sum_gap``): how close each shortcut is to the identity, and whether x_L = x_0 + sum F.
Whole-net profiles (``gradient_profile``, ``block_norms``): every layer's gradient after one
backward pass, and the signal, gradient and post-addition gate at every residual block.
Lesions (``lesioned``, ``lesion_errors``, ``lesions_errors``, ``shape_changing_blocks``): blocks
deleted at test time, one at a time or several at once (Veit et al. 2016).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .blocks import PostActivationBlock, ZeroPadShortcut, is_residual_block
from .errors import ConfigError
from .models import evaluating
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
        (name, m.weight.grad.detach().norm().item()) for name, m in weight_layers(model) if m.weight.grad is not None
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
            raise ConfigError("the model has no conv or linear layers to monitor")
        if self.layers is None:
            self.layers = {"early": named[0][0], "late": named[-1][0]}
        modules = dict(self.model.named_modules())
        missing = [n for n in self.layers.values() if n not in modules]
        if missing:
            raise ConfigError(f"no layer named {', '.join(missing)}; choose from {', '.join(n for n, _ in named)}")
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
        raise ConfigError(f"{type(model).__name__} has no submodules {asked}")
    records: list[ShapeRecord] = []

    def hook_for(name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
            parameters = sum(p.numel() for p in module.parameters())
            shape_in = tuple(inputs[0].shape) if inputs and isinstance(inputs[0], Tensor) else ()
            shape_out = tuple(output.shape) if isinstance(output, Tensor) else ()
            records.append(ShapeRecord(name, type(module).__name__, shape_in, shape_out, parameters))

        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in chosen]
    with evaluating(model, handles):
        with torch.no_grad():
            model(x)
    return records


def shape_table(records: list[ShapeRecord], title: str = "") -> str:
    """The records as a table (``tables.Table``): module, type, input and output C×H×W, parameters;
    ``title`` is its caption."""
    rows = [
        (r.name, r.kind, format_shape(r.input_shape), format_shape(r.output_shape), f"{r.parameters:,}")
        for r in records
    ]
    return format_table(["module", "type", "input", "output", "parameters"], rows, title=title)


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
        raise ConfigError(f"{type(model).__name__} has no residual blocks")
    handles = [
        m.register_forward_pre_hook(lambda module, args, name=name: inputs.__setitem__(name, args[0]))
        for name, m in residual_blocks
    ]
    with evaluating(model, handles):
        with torch.no_grad():
            model(x)
            deviations = []
            for name, block in residual_blocks:
                block_input = inputs[name]
                shortcut = block.shortcut(block_input)
                reference = ZeroPadShortcut(block_input.shape[1], shortcut.shape[1], block.stride)(block_input)
                deviations.append((name, ((shortcut - reference).norm() / reference.norm()).item()))
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
                    raise ConfigError(
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
        raise ConfigError("the model has no residual blocks from resnets.blocks to measure")
    signal, gradient, gate_open = [0.0] * len(blocks), [0.0] * len(blocks), [1.0] * len(blocks)

    def watch(index: int, post_activation: bool):
        def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
            signal[index] = output.detach().pow(2).mean().sqrt().item()
            if post_activation:  # output = relu(F(x) + x): the gate is open where it is positive
                gate_open[index] = (output.detach() > 0).float().mean().item()
            output.register_hook(lambda grad: gradient.__setitem__(index, grad.pow(2).mean().sqrt().item()))

        return hook

    handles = [b.register_forward_hook(watch(i, isinstance(b, PostActivationBlock))) for i, b in enumerate(blocks)]
    try:
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(inputs), targets).backward()
    finally:
        for handle in handles:
            handle.remove()
    return BlockNorms(signal, gradient, gate_open)


# ---------------------------------------------------------------------------------------
# Inside a trained net (Part 3): predictions, feature maps, layer responses, lesions
# ---------------------------------------------------------------------------------------


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 500) -> Tensor:
    """Logits of ``model`` for a batch of inputs, in eval mode, ``batch_size`` at a time on the
    model's device.

    x: (N, 3, H, W) float, prepared as the model was trained on them (for CIFAR images
    ``data.normalize``). Returns (N, classes) float logits on the CPU. The model's mode is
    restored afterwards.
    """
    device = next(model.parameters()).device
    with evaluating(model):
        chunks = [model(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(chunks)


def stage_outputs(model: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """The feature maps a ``ResNet`` passes on after its stem and after each stage.

    x: (N, 3, H, W) normalised images. Returns {"stem": (N, C0, H, W), "layer1": ...,
    "layer3": (N, C3, H/4, W/4)} in forward order, computed in eval mode without gradients
    (post-activation nets: after the ReLU, so every value is >= 0).
    """
    taps = {"stem": model.maxpool, **{stage: getattr(model, stage) for stage in model.stages}}
    outputs: dict[str, Tensor] = {}
    handles = [
        module.register_forward_hook(lambda module, args, output, name=name: outputs.__setitem__(name, output.detach()))
        for name, module in taps.items()
    ]
    with evaluating(model, handles):
        with torch.no_grad():
            model(x)
    return {name: outputs[name] for name in taps}


def bn_after_3x3(model: nn.Module) -> list[tuple[str, nn.BatchNorm2d]]:
    """(name, BN) of every BatchNorm that directly follows a 3x3 convolution, in forward order.

    "Directly follows" means registered right after it in the same parent module, which is how
    every net of this package is written (conv1, bn1, relu, conv2, bn2...). For the CIFAR nets
    these are the stem's BN and both BNs of every basic block: the outputs He et al. 2015
    plot in Fig. 7 ("the outputs of each 3x3 layer, after BN and before nonlinearity").
    """
    found = []
    for parent_name, parent in model.named_modules():
        children = list(parent.named_children())
        for (_, first), (name, second) in zip(children, children[1:]):
            if isinstance(first, nn.Conv2d) and first.kernel_size == (3, 3) and isinstance(second, nn.BatchNorm2d):
                found.append((f"{parent_name}.{name}" if parent_name else name, second))
    if not found:
        raise ConfigError(f"{type(model).__name__} has no 3x3 convolution followed by a BatchNorm2d")
    return found


@torch.no_grad()
def response_stds(model: nn.Module, batches: Iterable[Tensor]) -> list[tuple[str, float]]:
    """Standard deviation of every 3x3 layer's response over a data set (He et al. 2015, Fig. 7).

    The response of a layer is its BN's output, before the ReLU and (in a block's second
    layer) before the addition. For each channel the std is taken over all images and
    positions; the layer's number is the mean over its channels. ``batches`` yields
    normalised (N, 3, H, W) images on the model's device. Eval mode (BN's running
    statistics, as at test time). Returns (layer name, std) in forward order.
    """
    layers = bn_after_3x3(model)
    sums: dict[str, Tensor] = {}

    def accumulate(name: str) -> Callable:
        def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
            y = output.detach().double().transpose(0, 1).flatten(1)  # (C, N*H*W)
            moments = torch.stack(
                [
                    torch.full((y.shape[0],), float(y.shape[1]), dtype=torch.float64, device=y.device),
                    y.sum(1),
                    y.pow(2).sum(1),
                ]
            )
            sums[name] = sums[name] + moments if name in sums else moments

        return hook

    handles = [bn.register_forward_hook(accumulate(name)) for name, bn in layers]
    with evaluating(model, handles):
        for x in batches:
            model(x)
    if not sums:
        raise ConfigError("response_stds got no batches")
    stds = []
    for name, _ in layers:
        count, total, squares = sums[name]
        variance = (squares / count - (total / count) ** 2).clamp_min(0)
        stds.append((name, variance.sqrt().mean().item()))
    return stds


@torch.no_grad()
def residual_ratios(model: nn.Module, x: Tensor) -> list[tuple[str, float]]:
    """||F(x)|| / ||x|| at every block: how much each block changes the signal it receives.

    F(x) is the block's residual branch (``block.residual``) and x its input; where the
    block changes the shape, x is taken through the parameter-free identity of option A
    (subsampled, zero-padded), the path F(x) is added to. Per image, then averaged over the
    batch ``x`` (normalised (N, 3, H, W) images). Also defined for plain nets, whose blocks
    are the same layers without the addition: there F(x) must carry the whole signal.
    Eval mode. Returns (block name, ratio) in forward order.
    """
    blocks = [(name, m) for name, m in model.named_modules() if is_residual_block(m)]
    if not blocks:
        raise ConfigError(f"{type(model).__name__} has no residual blocks")
    ratios: dict[str, float] = {}

    def measure(name: str) -> Callable:
        def hook(block: nn.Module, args: tuple) -> None:
            inputs = args[0]
            branch = block.residual(inputs)
            identity = ZeroPadShortcut(inputs.shape[1], branch.shape[1], block.stride)(inputs)
            ratios[name] = (branch.flatten(1).norm(dim=1) / identity.flatten(1).norm(dim=1)).mean().item()

        return hook

    handles = [block.register_forward_pre_hook(measure(name)) for name, block in blocks]
    with evaluating(model, handles):
        model(x)
    return [(name, ratios[name]) for name, _ in blocks]


@contextmanager
def lesioned(block: nn.Module) -> Iterator[nn.Module]:
    """Inside the ``with``, ``block`` is deleted from its net: it passes its input on unchanged.

    A residual block keeps only its shortcut, y = relu(shortcut(x)), as in Veit et al. 2016
    (x >= 0 after the previous ReLU, so that is x itself, or its option-A subsample and
    zero-pad where the block changes the shape). A plain block has no shortcut to keep;
    "deleting" it means the same thing, replacing it by the parameter-free identity
    (subsample and zero-pad where the shape changes), so the two kinds of net lose exactly
    the same layers. Pre-activation blocks keep y = shortcut(x).
    """
    if not is_residual_block(block):
        raise TypeError(f"lesioned() takes a block of resnets.blocks; got {type(block).__name__}")

    def identity_path(x: Tensor) -> Tensor:
        y = ZeroPadShortcut(x.shape[1], _out_channels(block), block.stride)(x) if block.plain else block.shortcut(x)
        return block.relu(y) if isinstance(block, PostActivationBlock) else y

    block.forward = identity_path  # an instance attribute shadows the class's forward
    try:
        yield block
    finally:
        del block.forward


def shape_changing_blocks(model: nn.Module) -> list[int]:
    """Positions in ``model.blocks()`` (forward order, from 0) of the blocks that change their
    input's shape: a stride or a change of channels (the first block of each later stage)."""
    return [
        i
        for i, block in enumerate(model.blocks())
        if block.stride != 1 or block.downsample is not None or _in_channels(block) != _out_channels(block)
    ]


def lesions_errors(
    model: nn.Module, x: Tensor, labels: Tensor, deletions: Sequence[Sequence[int]], batch_size: int = 500
) -> list[float]:
    """Test error of ``model`` with each set of blocks deleted at once (``lesioned``, positions
    in ``model.blocks()``): ``deletions=[(3,), (3, 7)]`` deletes block 3, then blocks 3 and 7.

    x: (N, 3, H, W) prepared inputs (``predict``); labels: (N,). Returns one error per set, as a
    fraction.
    """
    blocks = model.blocks()
    errors = []
    for deleted in deletions:
        with ExitStack() as stack:
            for i in deleted:
                stack.enter_context(lesioned(blocks[i]))
            errors.append((predict(model, x, batch_size).argmax(1) != labels).float().mean().item())
    return errors


def _in_channels(block: nn.Module) -> int:
    """Channels a block reads: those of the first convolution of its residual branch."""
    shortcut = set(block.downsample.modules()) if block.downsample is not None else set()
    return next(m for m in block.modules() if isinstance(m, nn.Conv2d) and m not in shortcut).in_channels


def _out_channels(block: nn.Module) -> int:
    """Channels a block outputs: those of the last layer of its residual branch."""
    shortcut = set(block.downsample.modules()) if block.downsample is not None else set()
    last = [m for m in block.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)) and m not in shortcut][-1]
    return last.num_features if isinstance(last, nn.BatchNorm2d) else last.out_channels


def lesion_errors(model: nn.Module, x: Tensor, labels: Tensor, batch_size: int = 500) -> tuple[float, list[float]]:
    """Test error of ``model`` intact, and with each of its blocks deleted in turn (``lesioned``).

    x: (N, 3, H, W) prepared inputs (``predict``); labels: (N,). Returns (intact error, [error
    without block i for each block in forward order]), as fractions.
    """

    intact, *without = lesions_errors(model, x, labels, [()] + [(i,) for i in range(len(model.blocks()))], batch_size)
    return intact, without


def confusion_matrix(predictions: Tensor, labels: Tensor, classes: int = 10) -> Tensor:
    """(classes, classes) int64 counts: row = true class, column = predicted class."""
    return torch.bincount(labels * classes + predictions, minlength=classes * classes).reshape(classes, classes)


def confident_mistakes(logits: Tensor, labels: Tensor, k: int = 8) -> list[tuple[int, int, float]]:
    """The ``k`` wrong predictions made with the highest softmax probability.

    logits: (N, classes); labels: (N,). Returns [(index, predicted class, probability)],
    most confident first.
    """
    probabilities = logits.softmax(1)
    confidence, predicted = probabilities.max(1)
    wrong = (predicted != labels).nonzero().squeeze(1)
    order = confidence[wrong].argsort(descending=True)[:k]
    return [(int(i), int(predicted[i]), float(confidence[i])) for i in wrong[order]]
