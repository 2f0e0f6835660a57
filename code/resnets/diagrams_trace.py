"""What a block computes, read from the module itself: the layers a block diagram draws.

    layers = block_layers(block, (16, 32, 32))   # every step, in order, with its output shape

``block_layers`` traces the block's forward pass with torch.fx and runs a zero input through
the traced graph to read every output shape. Each step is a ``Layer``: the module that ran
(``conv1``, ``bn1``, ``downsample.0``...) or the addition, what it does, its output shape
(channels, height, width), and the path it sits on: ``main`` (the residual function F and what
follows the addition), ``shortcut`` (the option A/B/C path), or ``shared`` (before the paths
split: the pre-activation block's first BN-ReLU, which a projection shortcut reads too). A
block whose shortcut is the identity has no shortcut layers; a plain block has no addition.

Map: ``PATHS``, ``Layer``, ``describe`` and ``describe_short`` (a layer in the words of the
papers' figures, long and short), ``block_layers``, ``kind_of_block`` (the colour key of a
block). ``diagrams.py`` and its ``diagrams_*`` siblings draw what this module reads.
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass

import torch
import torch.fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from .blocks import ZeroPadShortcut

PATHS = ("shared", "main", "shortcut")


@dataclass(frozen=True)
class Layer:
    """One step of a block: ``name`` is the module's path in the block ("conv1",
    "downsample.0") or "add"; ``label`` what it does; ``shape`` the output's (C, H, W); ``path``
    one of PATHS; ``short`` the label in a few characters ("3×3, /2"), empty where the name says it."""

    name: str
    label: str
    shape: tuple[int, ...]
    path: str
    short: str = ""


class _BlockTracer(torch.fx.Tracer):
    """Keeps option A's shortcut whole: one box, not its slicing and padding."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, ZeroPadShortcut) or super().is_leaf_module(m, qualname)


def describe(module: nn.Module) -> str:
    """What one layer does, in the words of the papers' figures."""
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0]
        stride = f", /{module.stride[0]}" if module.stride[0] > 1 else ""
        return f"{k}×{k} conv, {module.in_channels}→{module.out_channels}{stride}"
    if isinstance(module, nn.BatchNorm2d):
        return "batch norm"
    if isinstance(module, nn.ReLU):
        return "ReLU"
    if isinstance(module, ZeroPadShortcut):
        return f"option A: {_zero_pad(module)}"
    if isinstance(module, nn.LayerNorm):
        return "layer norm"
    if isinstance(module, nn.MultiheadAttention):
        return f"{module.num_heads}-head self-attention"
    if isinstance(module, nn.Linear):
        return f"linear, {module.in_features}→{module.out_features}"
    if isinstance(module, nn.Dropout):
        return f"dropout, p={module.p:g}"
    return type(module).__name__


def _zero_pad(module: ZeroPadShortcut) -> str:
    sub = f"/{module.stride}, " if module.stride > 1 else ""
    return f"{sub}+{module.extra_channels} zeros"


def describe_short(module: nn.Module) -> str:
    """``describe`` in a few characters, for a box that lists several layers: "3×3, /2"."""
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0]
        return f"{k}×{k}" + (f", /{module.stride[0]}" if module.stride[0] > 1 else "")
    if isinstance(module, ZeroPadShortcut):
        return _zero_pad(module)
    if isinstance(module, nn.Linear):
        return f"{module.in_features}→{module.out_features}"
    if isinstance(module, nn.MultiheadAttention):
        return f"{module.num_heads} heads"
    return ""


def _is_add(node: torch.fx.Node) -> bool:
    return (node.op == "call_function" and node.target in (operator.add, torch.add)) or (
        node.op == "call_method" and node.target == "add"
    )


def _ancestors(node: torch.fx.Node) -> set[torch.fx.Node]:
    seen: set[torch.fx.Node] = set()
    stack = [a for a in node.all_input_nodes]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(current.all_input_nodes)
    return seen


def block_layers(block: nn.Module, input_shape: tuple[int, int, int]) -> list[Layer]:
    """Every step of ``block``'s forward pass on an input of ``input_shape`` (C, H, W), in the
    order it runs: ``shared`` steps first, then ``main``, with the ``shortcut`` steps last."""
    module = copy.deepcopy(block).eval()
    graph = _BlockTracer().trace(module)
    traced = torch.fx.GraphModule(module, graph)
    with torch.no_grad():
        ShapeProp(traced).propagate(torch.zeros(1, *input_shape))
    steps = [n for n in graph.nodes if n.op in ("call_module", "call_function", "call_method")]
    add = next((n for n in steps if _is_add(n)), None)
    path = {n: "main" for n in steps}
    if add is not None:
        before_left, before_right = (_ancestors(side) | {side} for side in add.args[:2])
        shared = before_left & before_right
        # The shortcut is the side with fewer steps of its own: the identity has none.
        short_side = min((before_left, before_right), key=lambda side: len([n for n in side - shared if n in path]))
        for n in steps:
            if n in shared:
                path[n] = "shared"
            elif n in short_side:
                path[n] = "shortcut"
    modules = dict(module.named_modules())
    layers = []
    for n in steps:
        shape = tuple(n.meta["tensor_meta"].shape[1:])
        if n.op == "call_module":
            leaf = modules[str(n.target)]
            layers.append(Layer(str(n.target), describe(leaf), shape, path[n], describe_short(leaf)))
        elif _is_add(n):
            layers.append(Layer("add", "addition: F(x) + shortcut", shape, "main"))
        else:
            layers.append(Layer(str(getattr(n.target, "__name__", n.target)), "function", shape, path[n]))
    order = {p: i for i, p in enumerate(PATHS)}
    return sorted(layers, key=lambda layer: order[layer.path])


def kind_of_block(block: nn.Module) -> str:
    """The course's colour key for a block: plain, residual or preact (or its ``diagram_kind``)."""
    if kind := getattr(block, "diagram_kind", None):
        return kind
    if getattr(block, "plain", False):
        return "plain"
    return "preact" if type(block).__name__.startswith("PreAct") else "residual"


__all__ = ["PATHS", "Layer", "block_layers", "describe", "describe_short", "kind_of_block"]
