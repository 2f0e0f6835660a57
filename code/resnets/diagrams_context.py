"""The residual idea beyond the ResNet block, drawn from running modules: the orderings of He et
al. 2016 (Fig. 4), a dense block's concatenations, and pre-norm against post-norm Transformer layers.

    draw_preactivation_variants()                   # Fig. 4 (a)-(e), (a) and (e) the package's blocks
    draw_transformer_layers()                       # nn.TransformerEncoderLayer, norm_first False and True
    draw_chain({"dense block": DenseBlock(3, 16, 8)}, (16, 32, 32), join="‖")

``record_steps`` runs a module once and records, in the order they run, every leaf module it calls
and every addition, concatenation or activation its own code computes between them, each with the
steps whose outputs it read (forward hooks for the modules, a ``TorchFunctionMode`` for the
functions). A *chain* is a run of such steps where each addition (or concatenation) joins the
step just before it with an earlier one: the shortcut. ``draw_chain`` draws it as the block
diagrams of ``resnets.diagrams`` are drawn, one residual segment after the other.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from . import viz
from .blocks import BasicBlock, PreActBasicBlock, conv3x3
from .diagrams import (
    COLUMN_GAP,
    ColumnPlan,
    Row,
    branch_lines,
    check_branch,
    column_width,
    column_widths,
    end_row,
    layer_lines,
    place_column,
    shape_note,
)
from .diagrams_trace import Layer, describe, describe_short, kind_of_block
from .drawing import INK, TITLE_PT, Diagram, Sheet, bold, line, muted
from .errors import ConfigError

#: Functions a module's own code calls that a diagram shows, by the name torch gives them.
FUNCTIONS = {
    "add": "add",
    "__add__": "add",
    "__radd__": "add",
    "cat": "cat",
    "relu": "ReLU",
    "gelu": "GELU",
    "sigmoid": "sigmoid",
    "mul": "mul",
    "__mul__": "mul",
    "__rmul__": "mul",
    "sub": "sub",
    "__sub__": "sub",
    "__rsub__": "rsub",
    "interpolate": "upsample",
}
JOINS = {"add": "+", "cat": "‖"}


@dataclass(frozen=True)
class Step:
    """One step of a forward pass: a module (``name`` its path) or a function ("add", "cat",
    "relu"), what it does, the shape of its output less the batch, and the steps whose outputs it
    read (-1: the module's input)."""

    name: str
    label: str
    short: str
    shape: tuple[int, ...]
    inputs: tuple[int, ...]


def record_steps(
    module: nn.Module, input_shape: Sequence[int], leaves: tuple[type[nn.Module], ...] = (nn.MultiheadAttention,)
) -> list[Step]:
    """Run ``module`` once on zeros of ``input_shape`` (less the batch) and record its steps: every
    module without children (or of a class in ``leaves``, whose insides are not looked at) and
    every function of ``FUNCTIONS`` called outside them. The module runs in eval mode on a copy,
    with gradients on so that PyTorch's fused Transformer path stays off."""
    model = copy.deepcopy(module).eval()
    inside_leaf = {
        sub for _, m in model.named_modules() if isinstance(m, leaves) for sub in m.modules() if sub is not m
    }
    chosen = {
        m: name
        for name, m in model.named_modules()
        if name and m not in inside_leaf and (isinstance(m, leaves) or not list(m.children()))
    }
    steps: list[Step] = []
    producer: dict[int, int] = {}
    alive: list[Tensor] = []  # keeps every recorded tensor, so that no id is reused
    depth = [0]

    def read(values) -> tuple[int, ...]:
        flat = []
        for value in values:
            flat += list(value) if isinstance(value, (list, tuple)) else [value]
        return tuple(producer[id(v)] for v in flat if isinstance(v, Tensor) and id(v) in producer)

    def record(name: str, label: str, short: str, inputs: tuple[int, ...], output) -> None:
        output = output[0] if isinstance(output, tuple) else output
        steps.append(Step(name, label, short, tuple(output.shape[1:]), inputs))
        producer[id(output)] = len(steps) - 1
        alive.append(output)

    def before(m: nn.Module, args) -> None:
        depth[0] += 1

    def after(m: nn.Module, args, output) -> None:
        depth[0] -= 1
        if depth[0] == 0:
            record(chosen[m], describe(m), describe_short(m), read(args), output)

    class Functions(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            output = func(*args, **(kwargs or {}))
            name = getattr(func, "__name__", "")
            if depth[0] == 0 and name in FUNCTIONS and isinstance(output, Tensor):
                kind = FUNCTIONS[name]
                record(kind.lower() if kind in ("ReLU", "GELU") else kind, kind, "", read(args), output)
            return output

    handles = [m.register_forward_pre_hook(before) for m in chosen]
    handles += [m.register_forward_hook(after) for m in chosen]
    x = torch.zeros(1, *input_shape)
    producer[id(x)] = -1
    try:
        with torch.enable_grad(), Functions():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return steps


def _layer(step: Step) -> Layer:
    return Layer(step.name, step.label, step.shape, "main", step.short)


def chain_plans(
    steps: Sequence[Step],
    input_shape: Sequence[int],
    title: str,
    color: str,
    compact: bool,
    labels: Sequence[str] = (),
) -> list[ColumnPlan]:
    """``steps`` as residual segments, one per join: the steps after the shortcut's source are
    the branch, those after the join up to the next source the segment's tail. ``labels`` name
    the branches (default: F(x)); the last segment ends in y."""
    joins = [i for i, step in enumerate(steps) if step.name in JOINS]
    if not joins:
        raise ConfigError(f"{title}: no addition or concatenation was recorded; draw it with diagrams.draw_blocks")
    plans: list[ColumnPlan] = []
    start, shape = 0, tuple(input_shape)
    for k, at in enumerate(joins):
        source, end = min(steps[at].inputs), max(steps[at].inputs)
        if source < start - 1 or end != at - 1:
            raise ConfigError(
                f"{title}: the join at step {at} ({steps[at].name}) does not close the segment before it; "
                "a chain whose shortcuts overlap cannot be drawn as one column"
            )
        head = [end_row("x", input_shape)] if k == 0 else []
        for step in steps[start : source + 1]:
            head.append(Row(layer_lines(_layer(step)), color, step.shape[0], shape_note(shape, step.shape)))
            shape = step.shape
        branch = [_layer(step) for step in steps[source + 1 : at]]
        out = branch[-1].shape if branch else shape
        label = labels[k] if k < len(labels) else r"$\mathcal{F}(\mathbf{x})$"
        if compact:
            lines = [line(bold(label, INK, TITLE_PT)), *branch_lines(branch)]
            if steps[at].name == "cat":
                lines.append(line(muted(f"+{out[0]} channels → {steps[at].shape[0]}")))
            branch_rows = [Row(lines, color, out[0])]
        else:
            branch_rows, inner = [], shape
            for layer in branch:
                branch_rows.append(Row(layer_lines(layer), color, layer.shape[0], shape_note(inner, layer.shape)))
                inner = layer.shape
        shape = steps[at].shape
        stop = min(steps[joins[k + 1]].inputs) + 1 if k + 1 < len(joins) else len(steps)
        tail = []
        for step in steps[at + 1 : stop]:
            tail.append(Row(layer_lines(_layer(step)), color, step.shape[0], shape_note(shape, step.shape)))
            shape = step.shape
        if k + 1 == len(joins):
            tail.append(end_row("y", shape))
        plans.append(ColumnPlan(title, color, head, branch_rows, label, tail, [], compact, JOINS[steps[at].name]))
        start = stop
    return plans


def _alt(title: str, steps: Sequence[Step]) -> str:
    names = []
    for step in steps:
        if step.name in JOINS:
            names.append("addition of the shortcut" if step.name == "add" else "concatenation with the shortcut")
        else:
            names.append(f"{step.name} ({step.label})")
    return f"{title}: " + ", ".join(names) + "."


def draw_chain(
    modules: Mapping[str, nn.Module],
    input_shape: Sequence[int],
    branch: str = "box",
    labels: Mapping[str, Sequence[str]] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> Diagram:
    """Modules whose shortcuts follow one another (a Transformer layer's two, a dense block's
    concatenations), side by side, each titled by its key; ``labels[title]`` names its branches,
    ``kinds[title]`` picks its colour (a key of ``viz.COLORS``)."""
    compact = check_branch(branch)
    columns = []
    for title, module in modules.items():
        steps = record_steps(module, input_shape)
        kind = (kinds or {}).get(title) or kind_of_block(module)
        plans = chain_plans(steps, input_shape, title, viz.COLORS[kind], compact, (labels or {}).get(title, ()))
        columns.append((plans, steps))
    size = column_widths([plan for plans, _ in columns for plan in plans], "equal")
    sheet, cursor = Sheet(), 0.0
    for plans, _ in columns:
        parts = [column_width(plan, size) for plan in plans]
        notes, main, lane = (max(p[i] for p in parts) for i in range(3))
        x, bottom = cursor + notes + main / 2, None
        for plan in plans:
            bottom = place_column(sheet, plan, size, x, 0.0, after=bottom)
        cursor += notes + main + lane + COLUMN_GAP
    return sheet.render(" | ".join(_alt(title, steps) for title, (_, steps) in zip(modules, columns)))


def draw_transformer_layers(d_model: int = 64, nhead: int = 4, tokens: int = 16, branch: str = "box") -> Diagram:
    """``nn.TransformerEncoderLayer`` with ``norm_first=False`` (post-norm, the original
    Transformer's: a LayerNorm after each addition, on the path from layer to layer) beside
    ``norm_first=True`` (pre-norm: the LayerNorm opens each branch and the path stays clean),
    each recorded running on ``tokens`` tokens of width ``d_model``."""
    layers = {
        "post-norm\n(norm_first=False)": nn.TransformerEncoderLayer(
            d_model, nhead, 4 * d_model, dropout=0.1, batch_first=True, norm_first=False
        ),
        "pre-norm\n(norm_first=True)": nn.TransformerEncoderLayer(
            d_model, nhead, 4 * d_model, dropout=0.1, batch_first=True, norm_first=True
        ),
    }
    kinds = dict(zip(layers, ("residual", "preact")))  # the two orderings of He et al. 2016, coloured alike
    labels = {title: ("attention", "MLP") for title in layers}
    return draw_chain(layers, (tokens, d_model), branch, labels, kinds)


# ----- He et al. 2016, Fig. 4: where BN and ReLU sit around the addition ----------------------


class OrderedUnit(nn.Module):
    """A unit of width ``channels`` whose layers run in the order ``branch`` and ``after`` give:
    y = after(x + branch(x)), or after(branch(x)) when ``residual`` is False. A step is "conv"
    (3x3), "bn", "relu", "norm" (LayerNorm over the features) or "linear"; layers are named as
    the package's blocks name them (conv1, bn2; "norm" and "linear" alone when there is one).
    It draws what the package has no block for: the variants of He et al. 2016's Fig. 4
    (``fig4_units``) and Part 1's toy block, F(h) = W relu(N(h)) + b."""

    LAYERS = {
        "conv": conv3x3,
        "bn": nn.BatchNorm2d,
        "norm": nn.LayerNorm,
        "linear": lambda width: nn.Linear(width, width),
    }

    def __init__(
        self,
        channels: int,
        branch: Sequence[str],
        after: Sequence[str] = (),
        kind: str = "residual",
        residual: bool = True,
    ) -> None:
        super().__init__()
        steps = (*branch, "add", *after) if residual else (*branch, *after)
        unknown = [step for step in steps if step not in (*self.LAYERS, "relu", "add")]
        if unknown:
            raise ConfigError(f"unknown steps {unknown}: use {', '.join(self.LAYERS)} or 'relu'")
        self.order: list[str] = []
        seen = dict.fromkeys(self.LAYERS, 0)
        for step in steps:
            if step in self.LAYERS:
                seen[step] += 1
                name = f"{step}{seen[step]}" if steps.count(step) > 1 or step in ("conv", "bn") else step
                make = self.LAYERS[step]
                setattr(self, name, make(channels, channels) if step == "conv" else make(channels))
                self.order.append(name)
            else:
                self.order.append(step)
        self.relu = nn.ReLU()
        self.plain = not residual
        self.diagram_kind = kind if residual else "plain"

    def forward(self, x: Tensor) -> Tensor:
        out = x
        for name in self.order:
            out = out + x if name == "add" else getattr(self, name)(out)
        return out


def fig4_units(channels: int = 16) -> dict[str, nn.Module]:
    """He et al. 2016, Fig. 4: (a) the original unit and (e) full pre-activation are the package's
    ``BasicBlock`` and ``PreActBasicBlock``; (b) BN after addition, (c) ReLU before addition and
    (d) ReLU-only pre-activation are ``OrderedUnit``s."""
    return {
        "(a) original": BasicBlock(channels, channels),
        "(b) BN after\naddition": OrderedUnit(channels, ("conv", "bn", "relu", "conv"), ("bn", "relu")),
        "(c) ReLU before\naddition": OrderedUnit(channels, ("conv", "bn", "relu", "conv", "bn", "relu"), ()),
        "(d) ReLU-only\npre-activation": OrderedUnit(
            channels, ("relu", "conv", "bn", "relu", "conv", "bn"), (), kind="preact"
        ),
        "(e) full\npre-activation": PreActBasicBlock(channels, channels),
    }


def draw_preactivation_variants(channels: int = 16, size: int = 32) -> Diagram:
    """The five units of He et al. 2016's Fig. 4 side by side, F as one box: what differs is
    which layers sit after the addition, on the path from unit to unit."""
    from .diagrams import draw_blocks

    return draw_blocks(fig4_units(channels), (channels, size, size), branch="box")


__all__ = [
    "FUNCTIONS",
    "OrderedUnit",
    "Step",
    "chain_plans",
    "draw_chain",
    "draw_preactivation_variants",
    "draw_transformer_layers",
    "fig4_units",
    "record_steps",
]
