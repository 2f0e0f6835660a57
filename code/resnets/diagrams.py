"""Block diagrams drawn from the modules themselves, so a figure can never drift from the code.

    layers = block_layers(block, (16, 32, 32))   # what the block computes, in order, with shapes
    draw_block(block, (16, 32, 32))              # the diagram, as a cell's last expression
    draw_blocks({"plain": a, "residual": b}, (16, 32, 32))   # several side by side

``block_layers`` traces the block's forward pass with torch.fx and runs a zero input through
the traced graph to read every output shape. Each step is a ``Layer``: the module that ran
(``conv1``, ``bn1``, ``downsample.0``...) or the addition, what it does, its output shape
(channels, height, width), and the path it sits on: ``main`` (the residual function F and what
follows the addition), ``shortcut`` (the option A/B/C path), or ``shared`` (before the paths
split: the pre-activation block's first BN-ReLU, which a projection shortcut reads too). A
block whose shortcut is the identity has no shortcut layers; a plain block has no addition.

``draw_block`` returns a ``Diagram``: an SVG (crisp at any zoom), shown as an image whose
alternative text lists every layer, with a PNG fallback. Its colours are the
course's: the main path in the colour of its kind (``viz.COLORS``), the shortcut in grey, on a
white card that reads the same in a light or a dark page.
"""

from __future__ import annotations

import base64
import copy
import html
import io
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
import torch.fx
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from . import viz
from .blocks import ZeroPadShortcut, is_residual_block
from .errors import ConfigError

PATHS = ("shared", "main", "shortcut")
SHORTCUT_COLOR = "#555555"


@dataclass(frozen=True)
class Layer:
    """One step of a block: ``name`` is the module's path in the block ("conv1",
    "downsample.0") or "add"; ``shape`` the output's (C, H, W); ``path`` one of PATHS."""

    name: str
    label: str
    shape: tuple[int, ...]
    path: str


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
        sub = f"/{module.stride}, " if module.stride > 1 else ""
        return f"option A: {sub}+{module.extra_channels} zeros"
    return type(module).__name__


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
            layers.append(Layer(str(n.target), describe(modules[str(n.target)]), shape, path[n]))
        elif _is_add(n):
            layers.append(Layer("add", "addition: F(x) + shortcut", shape, "main"))
        else:
            layers.append(Layer(str(getattr(n.target, "__name__", n.target)), "function", shape, path[n]))
    order = {p: i for i, p in enumerate(PATHS)}
    return sorted(layers, key=lambda layer: order[layer.path])


def kind_of_block(block: nn.Module) -> str:
    """The course's colour key for a block: plain, residual or preact."""
    if getattr(block, "plain", False):
        return "plain"
    return "preact" if type(block).__name__.startswith("PreAct") else "residual"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape)


HALF = 0.4  # half a box's height; boxes are BOX_WIDTH wide, one STEP apart
BOX_WIDTH, STEP, X_SHORTCUT = 3.5, 1.15, 4.1


def _box(ax: Axes, x: float, y: float, lines: tuple[str, ...], color: str) -> None:
    """A rounded box: a bold first line (the layer's name), then smaller ones."""
    ax.add_patch(
        FancyBboxPatch(
            (x - BOX_WIDTH / 2, y - HALF),
            BOX_WIDTH,
            2 * HALF,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor="white",
            edgecolor=color,
            linewidth=1.6,
        )
    )
    offsets = {1: (0.0,), 2: (0.12, -0.16), 3: (0.2, -0.04, -0.24)}[len(lines)]
    for i, (line, dy) in enumerate(zip(lines, offsets)):
        ax.text(
            x,
            y + dy,
            line,
            ha="center",
            va="center",
            fontsize=9.5 if i == 0 else 8,
            color="#111111" if i == 0 else "#444444",
            fontweight="bold" if i == 0 else "normal",
        )


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], color: str) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.4, "shrinkA": 0, "shrinkB": 0},
    )


def _line(ax: Axes, xs: list[float], ys: list[float], color: str) -> None:
    ax.plot(xs, ys, color=color, linewidth=1.4, solid_capstyle="round", zorder=0.5)


def plot_block(
    ax: Axes, block: nn.Module, input_shape: tuple[int, int, int], title: str = "", layers: list[Layer] | None = None
) -> list[Layer]:
    """Draw ``block`` into ``ax``, top to bottom as in the papers' figures; returns its layers
    (``layers``: its ``block_layers`` when the caller has them already)."""
    layers = block_layers(block, input_shape) if layers is None else layers
    color = viz.COLORS[kind_of_block(block)]
    main = [layer for layer in layers if layer.path != "shortcut"]
    shortcut = [layer for layer in layers if layer.path == "shortcut"]
    ink = "#111111"
    y = 0.0
    _box(ax, 0.0, y, ("x", _shape_text(input_shape)), ink)
    bottom = y - HALF  # where the next arrow starts
    split_y = add_y = None
    for layer in main:
        y -= STEP
        if layer.name == "add":
            _arrow(ax, (0.0, bottom), (0.0, y + 0.22), color)
            ax.add_patch(Circle((0.0, y), 0.22, facecolor="white", edgecolor=color, linewidth=1.6, zorder=2))
            ax.text(0.0, y, "+", ha="center", va="center", fontsize=13, color=color, fontweight="bold", zorder=3)
            add_y, bottom = y, y - 0.22
            continue
        _arrow(ax, (0.0, bottom), (0.0, y + HALF), color)
        _box(ax, 0.0, y, (layer.name, layer.label, _shape_text(layer.shape)), color)
        bottom = y - HALF
        if layer.path == "shared":
            split_y = bottom
    y -= STEP
    _arrow(ax, (0.0, bottom), (0.0, y + HALF), color)
    _box(ax, 0.0, y, ("y", _shape_text(main[-1].shape)), ink)
    if add_y is not None:
        top = (split_y if split_y is not None else -HALF) - 0.25  # the fork: below x or the shared steps
        _line(ax, [0.0, X_SHORTCUT], [top, top], SHORTCUT_COLOR)
        previous = top
        span = (top - add_y) / (len(shortcut) + 1)
        for j, layer in enumerate(shortcut, start=1):
            y_box = top - j * span
            _line(ax, [X_SHORTCUT, X_SHORTCUT], [previous, y_box + HALF], SHORTCUT_COLOR)
            _box(ax, X_SHORTCUT, y_box, (layer.name, layer.label, _shape_text(layer.shape)), SHORTCUT_COLOR)
            previous = y_box - HALF
        if not shortcut:
            ax.text(
                X_SHORTCUT + 0.12,
                (top + add_y) / 2,
                "identity",
                rotation=90,
                ha="left",
                va="center",
                fontsize=9,
                color=SHORTCUT_COLOR,
            )
        _line(ax, [X_SHORTCUT, X_SHORTCUT], [previous, add_y], SHORTCUT_COLOR)
        _arrow(ax, (X_SHORTCUT, add_y), (0.22, add_y), SHORTCUT_COLOR)
    ax.set_xlim(-BOX_WIDTH / 2 - 0.1, X_SHORTCUT + BOX_WIDTH / 2 + 0.1)
    ax.set_ylim(y - HALF - 0.1, HALF + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11, fontweight="bold", color=color)
    return layers


class Diagram:
    """A figure shown as SVG (text stays text) with a PNG fallback and alternative text."""

    def __init__(self, figure: Figure, alt: str) -> None:
        self.figure, self.alt = figure, alt
        plt.close(figure)  # shown through this object, not by the inline backend

    def _repr_svg_(self) -> str:
        buffer = io.StringIO()
        # Text as outlines: the picture looks the same in every browser, whatever its fonts.
        with plt.rc_context({"svg.fonttype": "path"}):
            self.figure.savefig(buffer, format="svg", facecolor="white")
        svg = buffer.getvalue()
        start = svg.index("<svg")
        end = svg.index(">", start) + 1
        title = f"<title>{html.escape(self.alt)}</title>"
        return svg[:end].replace("<svg", '<svg role="img"', 1) + title + svg[end:]

    def _repr_html_(self) -> str:
        """The SVG as an image with its alternative text: what the site, Jupyter and Colab show."""
        data = base64.b64encode(self._repr_svg_().encode()).decode()
        alt = html.escape(self.alt, quote=True)
        return f'<img src="data:image/svg+xml;base64,{data}" alt="{alt}" style="max-width:100%;height:auto">'

    def _repr_png_(self) -> bytes:
        return viz.to_png(self.figure, dpi=200)

    def __repr__(self) -> str:
        return f"Diagram({self.alt})"


def _alt(title: str, block: nn.Module, layers: list[Layer]) -> str:
    main = ", ".join(f"{layer.name} ({layer.label})" for layer in layers if layer.path != "shortcut")
    short = ", ".join(f"{layer.name} ({layer.label})" for layer in layers if layer.path == "shortcut")
    if not any(layer.name == "add" for layer in layers):
        shortcut = "no shortcut"
    else:
        shortcut = f"shortcut: {short}" if short else "shortcut: the identity"
    return f"{title or type(block).__name__}: {main}; {shortcut}."


def draw_blocks(blocks: Mapping[str, nn.Module], input_shape: tuple[int, int, int]) -> Diagram:
    """Several blocks side by side, each titled by its key, as one diagram."""
    traced = {title: block_layers(block, input_shape) for title, block in blocks.items()}
    heights = [len([layer for layer in layers if layer.path != "shortcut"]) for layers in traced.values()]
    fig, axes = viz.figure(len(blocks), figsize=(3.6 * len(blocks), 0.62 * (max(heights) + 2) + 0.4))
    axes = [axes] if len(blocks) == 1 else list(axes)
    alts = []
    for ax, (title, block) in zip(axes, blocks.items()):
        ax.grid(False)
        layers = plot_block(ax, block, input_shape, title, traced[title])
        alts.append(_alt(title, block, layers))
    lowest = min(ax.get_ylim()[0] for ax in axes)
    for ax in axes:  # one scale and one top line for all
        ax.set_ylim(lowest, ax.get_ylim()[1])
    return Diagram(fig, " | ".join(alts))


def draw_block(block: nn.Module, input_shape: tuple[int, int, int], title: str = "") -> Diagram:
    """One block's diagram: ``draw_block(BasicBlock(16, 32, 2, make_shortcut("A", 16, 32, 2)), (16, 32, 32))``."""
    return draw_blocks({title or type(block).__name__: block}, input_shape)


# ----- a whole network: stem, stages, head ------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One box of a network's layout: its modules' names, what they do, the output shape."""

    names: tuple[str, ...]
    lines: tuple[str, ...]
    shape: tuple[int, ...]
    kind: str  # "stem", "stage" or "head"


def _stem_or_head_line(module: nn.Module) -> str | None:
    if isinstance(module, nn.Conv2d):
        return describe(module)
    if isinstance(module, nn.MaxPool2d):
        return f"{module.kernel_size}×{module.kernel_size} max pool, /{module.stride}"
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return "global average pool"
    if isinstance(module, nn.Linear):
        return f"linear, {module.in_features}→{module.out_features}"
    return None  # BN and ReLU: named in the box, not described


def network_layout(model: nn.Module, input_shape: tuple[int, int, int]) -> list[Stage]:
    """``model``'s top-level layout for an input of ``input_shape`` (C, H, W): the stem (every
    layer before the first stage), each stage (an ``nn.Sequential`` of blocks) and the head."""
    from .probes import trace_shapes  # a probe of its own; probes never draws

    children = dict(model.named_children())
    records = [
        r
        for r in trace_shapes(model, torch.zeros(1, *input_shape), depth=1)
        if not isinstance(children[r.name], nn.Identity)
    ]
    stages: list[Stage] = []
    pending: list = []

    def flush(kind: str) -> None:
        if pending:
            lines = [" · ".join(r.name for r in pending)]
            lines += [line for r in pending if (line := _stem_or_head_line(children[r.name]))]
            stages.append(Stage(tuple(r.name for r in pending), tuple(lines), pending[-1].output_shape[1:], kind))
            pending.clear()

    for record in records:
        module = children[record.name]
        if isinstance(module, nn.Sequential):
            flush("stem")
            block = type(module[0]).__name__
            plain = " (plain)" if getattr(module[0], "plain", False) else ""
            stages.append(Stage((record.name,), (f"{len(module)} × {block}{plain}",), record.output_shape[1:], "stage"))
        else:
            pending.append(record)
    flush("head")
    return stages


def plot_network(ax: Axes, model: nn.Module, input_shape: tuple[int, int, int], title: str = "") -> list[Stage]:
    """Draw ``model``'s layout into ``ax``, left to right, its stages in the colour of its
    blocks' kind; each box's height grows with the resolution of its output (a tall box: a
    large feature map)."""
    stages = network_layout(model, input_shape)
    color = viz.COLORS[kind_of_block(next(m for m in model.modules() if is_residual_block(m)))]
    width, gap, x = 2.9, 0.45, 0.0
    boxes = [("input", ("image",), input_shape, "#111111")] + [
        (s.names[0] if s.kind == "stage" else s.kind, s.lines, s.shape, color if s.kind == "stage" else "#555555")
        for s in stages
    ]
    for i, (name, lines, shape, edge) in enumerate(boxes):
        size = shape[-1] if len(shape) == 3 else 1
        height = max(0.3 * (len(lines) + 2) + 0.25, 1.0 + 0.32 * math.log2(size))
        ax.add_patch(
            FancyBboxPatch(
                (x, -height / 2),
                width,
                height,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor="white",
                edgecolor=edge,
                linewidth=1.6,
            )
        )
        texts = (name, *lines, _shape_text(shape))
        for j, text in enumerate(texts):
            dy = (len(texts) - 1) / 2 * 0.3 - j * 0.3
            ax.text(
                x + width / 2,
                dy,
                text,
                ha="center",
                va="center",
                fontsize=8.5 if j == 0 else 7.5,
                color="#111111" if j == 0 else "#444444",
                fontweight="bold" if j == 0 else "normal",
            )
        if i:
            _arrow(ax, (x - gap, 0.0), (x, 0.0), "#111111")
        x += width + gap
    ax.set_xlim(-0.1, x - gap + 0.1)
    ax.set_ylim(-1.9, 1.9)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11, fontweight="bold", color=color, loc="left")
    return stages


# ----- the unrolled view: 2^n paths ------------------------------------------------------


def residual_block_names(model: nn.Module) -> list[str]:
    """The names of ``model``'s residual blocks, input side first ("layer1.0", ...)."""
    return [name for name, module in model.named_modules() if is_residual_block(module) and not module.plain]


def unrolled_paths(blocks: int) -> list[tuple[bool, ...]]:
    """Every path through ``blocks`` residual blocks: for each block, True where the path goes
    through its branch F, False where it takes the shortcut. Shortest paths first, then in the
    order of the blocks they use: 2**blocks tuples."""
    paths = [tuple(bool(index >> (blocks - 1 - i) & 1) for i in range(blocks)) for index in range(2**blocks)]
    return sorted(paths, key=lambda path: (sum(path), [not used for used in path]))


def draw_unrolled(model: nn.Module, title: str = "", max_blocks: int = 5) -> Diagram:
    """The unrolled view of ``model`` (Veit et al. 2016): each of its n residual blocks either
    passes the signal through its branch F or around it, so input and output are joined by
    2^n paths, one row each, the blocks a path goes through drawn as boxes. Shortest first."""
    names = residual_block_names(model)
    if not 0 < len(names) <= max_blocks:
        raise ConfigError(
            f"the unrolled view draws 1 to {max_blocks} residual blocks ({2**max_blocks} paths); "
            f"{type(model).__name__} has {len(names)}: draw a smaller net, e.g. build_model('resnet8')"
        )
    paths = unrolled_paths(len(names))
    color = viz.COLORS["residual"]
    column = 1.6  # horizontal distance between two blocks
    x_in, x_out = 0.0, column * (len(names) + 1)
    rows = len(paths)
    fig, ax = viz.figure(figsize=(0.55 * (x_out + 1.8), 0.55 * (rows + 2.3) + 0.3))
    ax.grid(False)
    centre = (rows - 1) / 2
    for row, path in enumerate(paths):
        y = centre - row
        fan = 0.55  # where the row leaves the input's fan and joins the output's
        ax.plot([x_in, x_in + fan, x_out - fan, x_out], [0, y, y, 0], color=SHORTCUT_COLOR, linewidth=1.0, zorder=0.5)
        for i, used in enumerate(path):
            if used:
                x = column * (i + 1)
                ax.add_patch(
                    FancyBboxPatch(
                        (x - 0.42, y - 0.28),
                        0.84,
                        0.56,
                        boxstyle="round,pad=0.02,rounding_size=0.1",
                        facecolor="white",
                        edgecolor=color,
                        linewidth=1.4,
                        zorder=2,
                    )
                )
                ax.text(x, y, f"F{i + 1}", ha="center", va="center", fontsize=9, color="#111111", zorder=3)
        ax.text(x_out + 0.55, y, f"{sum(path)}", ha="left", va="center", fontsize=8.5, color="#444444")
    for x, label in ((x_in, "x"), (x_out, "Σ")):
        ax.add_patch(Circle((x, 0), 0.3, facecolor="white", edgecolor="#111111", linewidth=1.4, zorder=2))
        ax.text(x, 0, label, ha="center", va="center", fontsize=11, fontweight="bold", zorder=3)
    for i, name in enumerate(names):
        ax.text(column * (i + 1), centre + 0.8, f"F{i + 1}\n{name}", ha="center", va="bottom", fontsize=8, color=color)
    ax.text(x_out + 0.55, centre + 0.8, "blocks\nused", ha="left", va="bottom", fontsize=8, color="#444444")
    ax.set_xlim(x_in - 0.4, x_out + 1.4)
    ax.set_ylim(-centre - 0.6, centre + 1.7)
    ax.set_aspect("equal")
    ax.axis("off")
    title = title or f"{type(model).__name__} unrolled"
    ax.set_title(title, fontsize=11, fontweight="bold", color=color)
    counts = [sum(1 for p in paths if sum(p) == k) for k in range(len(names) + 1)]
    lengths = ", ".join(f"{count} through {k} block{'s' * (k != 1)}" for k, count in enumerate(counts))
    alt = (
        f"{title}: {len(names)} residual blocks ({', '.join(names)}) join the input x to the output by "
        f"{len(paths)} paths, each through some of the branches F and around the others: {lengths}."
    )
    return Diagram(fig, alt)


def draw_networks(models: Mapping[str, tuple[nn.Module, tuple[int, int, int]]]) -> Diagram:
    """Networks one above the other: ``{title: (model, input_shape)}``."""
    fig, axes = viz.figure(1, len(models), figsize=(11.5, 2.3 * len(models)))
    axes = [axes] if len(models) == 1 else list(axes)
    alts = []
    for ax, (title, (model, shape)) in zip(axes, models.items()):
        ax.grid(False)
        stages = plot_network(ax, model, shape, title)
        alts.append(f"{title}: " + "; ".join(f"{' '.join(s.lines)} to {_shape_text(s.shape)}" for s in stages))
    return Diagram(fig, " | ".join(alts))
