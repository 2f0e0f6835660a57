"""Block diagrams drawn from the modules themselves, so a figure can never drift from the code.

    draw_block(block, (16, 32, 32))              # the diagram, as a cell's last expression
    draw_blocks({"plain": a, "residual": b}, (16, 32, 32))   # several side by side
    draw_block_grid({"opens a stage": ({"A": a, "B": b}, (16, 32, 32)), ...})   # rows of them

What a block computes (its ``Layer``s, in order, with their shapes and the path each sits on:
shared, main or shortcut) is read from the module by ``diagrams_trace.block_layers``.

A block is drawn top to bottom as in the papers' figures: the residual branch 𝓕(x) on a tinted
ground (or, with ``branch="box"``, as one box listing its layers), the shortcut to its right, and
beside the layer where it happens, what changes the shape ("/2", "×2 channels"). With
``widths="channels"`` a box is as wide as the square root of its channels, so a bottleneck
narrows in the middle. Everything is laid out on a ``drawing.Sheet`` (boxes sized to their text,
text at least ``drawing.FONT_PT``) and returned as a ``drawing.Diagram``: an SVG shown as an
image with alternative text listing every layer. Whole nets (``draw_networks``: stem, stages,
head) and the 2^n paths of Veit et al. (``draw_unrolled``) are in ``diagrams_networks``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from torch import nn

from . import viz
from .diagrams_trace import Layer, block_layers, kind_of_block
from .drawing import GREY, INK, TITLE_PT, Diagram, Line, Rect, Sheet, bold, box_size, line, muted
from .errors import ConfigError

SHORTCUT_COLOR = GREY
BRANCH = r"$\mathcal{F}(\mathbf{x})$"  # the residual function, as the papers write it


# ----- one block, drawn top to bottom ----------------------------------------------------

GAP = 0.3  # the vertical gap between two boxes: the arrow's length
LANE_GAP = 0.25  # between the branch and the shortcut lane
IDENTITY_GAP = 0.2  # between the branch and an identity shortcut
NOTE_GAP = 0.1  # between a note and the box it is about
COLUMN_GAP = 0.3
REGION_PAD = 0.08  # the tinted ground of F around its boxes
ADD_R = 0.13  # the radius of the addition's circle
SHORTCUT_STEP = 0.22  # the least gap around a box on the shortcut lane
ONE_LINE = ("batch norm", "layer norm")  # labels set on the name's line


def shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(s) for s in shape)


def shape_change(before: Sequence[int], after: Sequence[int]) -> str:
    """What a layer did to the shape, as the papers' figures write it: "/2, ×2 channels",
    "÷4 channels", "" when nothing changed. Shapes are (C, H, W) or (C,)."""
    parts = []
    if len(before) == 3 and len(after) == 3 and before[1] != after[1]:
        ratio = before[1] / after[1]
        parts.append(f"/{ratio:g}" if ratio > 1 else f"×{1 / ratio:g} size")
    elif len(before) == 3 and len(after) == 1:
        parts.append("pooled")
    if before[0] != after[0]:
        ratio = after[0] / before[0]
        if ratio > 1 and ratio == int(ratio):
            parts.append(f"×{int(ratio)} channels")
        elif ratio < 1 and 1 / ratio == int(1 / ratio):
            parts.append(f"÷{int(1 / ratio)} channels")
        else:
            parts.append(f"{before[0]}→{after[0]} channels")
    return ", ".join(parts)


def shape_note(before: Sequence[int], after: Sequence[int], shape: bool = True) -> list[Line]:
    """What a layer did to the shape, for the margin beside it; with the new shape (``shape``)."""
    if len(before) != 3 or len(after) != 3 or not (change := shape_change(before, after)):
        return []
    return [line(change), line(muted(shape_text(after)))] if shape else [line(change)]


@dataclass
class Row:
    """One box of a column: its lines, edge colour, channels (for widths="channels") and the
    note written beside it."""

    lines: list[Line]
    edge: str
    channels: int
    note: list[Line] = field(default_factory=list)
    face: str = "white"


@dataclass
class ColumnPlan:
    """What one column shows: ``head`` (x and the shared steps) down to the fork, the branch
    (one row per layer, or one row for all), the ``shortcut`` (None: no addition, a plain
    block), and ``tail``, from the addition down to y."""

    title: str
    color: str
    head: list[Row]
    branch: list[Row]
    branch_label: str
    tail: list[Row]
    shortcut: list[Row] | None
    compact: bool
    symbol: str = "+"  # what joins the branch and the shortcut: "+", or "‖" for a concatenation


def _is_conv(layer: Layer) -> bool:
    return "conv" in layer.label


def layer_lines(layer: Layer, narrow: bool = False) -> list[Line]:
    """A layer's box in full: its name in bold, then what it does (on the same line for a BN,
    unless the box must be ``narrow``)."""
    if layer.label in ONE_LINE or layer.label.startswith("dropout"):
        if narrow:
            return [line(bold(layer.name)), line(layer.label)]
        return [line(bold(layer.name), f"  {layer.label}")]
    if layer.label == "ReLU":
        return [line(bold(layer.name))]
    if layer.label.startswith("option A"):
        return [line(bold(layer.name)), line(layer.short)]
    if _is_conv(layer) and "conv" in layer.name:  # conv1: "3×3, 16→32, /2", as in the papers' figures
        return [line(bold(layer.name)), line(layer.label.replace(" conv", ""))]
    if layer.label.startswith("linear, ") and "linear" in layer.name:  # linear1: "64→256"
        return [line(bold(layer.name)), line(layer.label.removeprefix("linear, "))]
    return [line(bold(layer.name)), line(layer.label)]


def _short_lines(layer: Layer) -> list[Line]:
    """A shortcut layer in two short lines: its name, then what it does, without the channels."""
    if _is_conv(layer):
        return [line(bold(layer.name)), line(layer.label.split(",")[0] + layer.short[3:])]  # "1×1 conv, /2"
    if layer.label == "batch norm":
        return [line(bold(layer.name)), line("batch norm")]
    return layer_lines(layer)


def branch_lines(layers: Sequence[Layer]) -> list[Line]:
    """The layers of a branch drawn as one box: a layer with weights (conv, linear, attention)
    and its size on a line of its own, the layers that follow it (BN, ReLU) on the next."""
    lines: list[Line] = []
    others: list[str] = []
    for layer in layers:
        if layer.short:
            if others:
                lines.append(line(" · ".join(others)))
                others = []
            lines.append(line(bold(layer.name), f"  {layer.short}"))
        else:
            others.append(layer.name)
    if others:
        lines.append(line(" · ".join(others)))
    return lines


def end_row(name: str, shape: Sequence[int]) -> Row:
    return Row([line(bold(name), muted(f"  {shape_text(shape)}"))], INK, shape[0])


def _plan(
    block: nn.Module,
    input_shape: tuple[int, int, int],
    title: str,
    compact: bool,
    layers: list[Layer],
    narrow: bool = False,
) -> ColumnPlan:
    color = viz.COLORS[kind_of_block(block)]
    main = [layer for layer in layers if layer.path != "shortcut"]
    has_add = any(layer.name == "add" for layer in main)
    head, shape = [end_row("x", input_shape)], tuple(input_shape)
    for layer in (layer for layer in main if layer.path == "shared"):
        head.append(Row(layer_lines(layer, narrow or compact), color, layer.shape[0], shape_note(shape, layer.shape)))
        shape = layer.shape
    fork_shape = shape
    rest = [layer for layer in main if layer.path != "shared"]
    if has_add:
        at = next(i for i, layer in enumerate(rest) if layer.name == "add")
        branch, tail = rest[:at], rest[at + 1 :]
    else:  # a plain block: the same layers, less the addition (and the ReLU that followed it)
        at = len(rest) - 1 if rest and rest[-1].label == "ReLU" else len(rest)
        branch, tail = rest[:at], rest[at:]
    label = BRANCH  # a plain block: the same layers, the addition removed
    if compact:
        out = branch[-1].shape if branch else fork_shape
        lines = [line(bold(label, INK, TITLE_PT)), *branch_lines(branch)]
        if change := shape_change(fork_shape, out):  # said inside the box: a compact drawing has no margin
            lines.append(line(muted(change)))
        branch_rows = [Row(lines, color, out[0])]
        shape = out
    else:
        branch_rows = []
        for layer in branch:
            branch_rows.append(Row(layer_lines(layer, narrow), color, layer.shape[0], shape_note(shape, layer.shape)))
            shape = layer.shape
    tail_rows = []
    for layer in tail:
        lines = layer_lines(layer, narrow or compact)
        tail_rows.append(Row(lines, color, layer.shape[0], shape_note(shape, layer.shape)))
        shape = layer.shape
    tail_rows.append(end_row("y", shape))
    shortcut = None
    if has_add:
        lines_of = _short_lines if compact else layer_lines
        shortcut = [
            Row(lines_of(layer), SHORTCUT_COLOR, layer.shape[0]) for layer in layers if layer.path == "shortcut"
        ]
    return ColumnPlan(title, color, head, branch_rows, label, tail_rows, shortcut, compact)


@dataclass
class ColumnWidths:
    """Box widths shared by every column of a figure, so that the columns look alike."""

    main: float  # the widest main-path box; with channels, the width at ``channels``
    shortcut: float
    channels: int | None = None  # set: widths grow with the square root of the channels

    def of(self, row: Row) -> float:
        if self.channels is None:
            return self.main
        return self.main * math.sqrt(row.channels / self.channels)


def _main_rows(plan: ColumnPlan) -> list[Row]:
    return plan.head + plan.branch + plan.tail


def column_widths(plans: Sequence[ColumnPlan], widths: str) -> ColumnWidths:
    if widths not in ("equal", "channels"):
        raise ConfigError(f"widths={widths!r}: choose 'equal' (every box alike) or 'channels' (width grows with them)")
    rows = [row for plan in plans for row in _main_rows(plan)]
    shortcut = [box_size(row.lines)[0] for plan in plans for row in plan.shortcut or []]
    need = [box_size(row.lines)[0] for row in rows]
    if widths == "equal" or any(plan.compact for plan in plans):
        return ColumnWidths(max(need), max(shortcut, default=0.0))
    top = max(row.channels for row in rows)
    scale = max(n / math.sqrt(row.channels / top) for n, row in zip(need, rows))
    return ColumnWidths(scale, max(shortcut, default=0.0), top)


def _lane_width(plan: ColumnPlan, widths: ColumnWidths) -> float:
    if plan.shortcut is None:
        return 0.0
    if not plan.shortcut:
        return IDENTITY_GAP + 0.2  # the rotated word "identity"
    return LANE_GAP + widths.shortcut


def _notes_width(plan: ColumnPlan) -> float:
    notes = [box_size(row.note, 0, 0)[0] for row in _main_rows(plan) if row.note]
    return max(notes) + NOTE_GAP if notes else 0.0


def main_width(plan: ColumnPlan, widths: ColumnWidths) -> float:
    return max(widths.of(row) for row in _main_rows(plan)) + (0.0 if plan.compact else 2 * REGION_PAD)


def _title_height(plan: ColumnPlan) -> float:
    return box_size(_title_lines(plan.title), 0, 0)[1] if plan.title else 0.0


def _title_lines(title: str) -> list[Line]:
    return [line(bold(text, INK, TITLE_PT)) for text in title.split("\n")]


def place_column(
    sheet: Sheet,
    plan: ColumnPlan,
    widths: ColumnWidths,
    x: float,
    top: float,
    title: bool = True,
    after: float | None = None,
) -> float:
    """Draw ``plan`` with its main path on the vertical x, from ``top`` down; returns the bottom.
    ``after``: the plan continues a column whose last box ends there (its head is empty)."""
    color, y = plan.color, top if after is None else after
    half = main_width(plan, widths) / 2
    bottom = after
    if after is None and title and plan.title:
        height = box_size(_title_lines(plan.title), 0, 0)[1]
        sheet.lines(x, y + height / 2, _title_lines(plan.title))
        y += height + 0.14

    def row_box(row: Row, top_y: float, height: float | None = None) -> Rect:
        rect = sheet.box(x, top_y, row.lines, row.edge, width=widths.of(row), height=height, face=row.face)
        if row.note:
            sheet.lines(x - half - NOTE_GAP, rect.cy, row.note, ha="right")
        return rect

    def down(to: float) -> None:
        sheet.arrow([(x, bottom), (x, to)], color)

    for i, row in enumerate(plan.head):
        if i:
            down(y + GAP)
            y += GAP
        bottom = row_box(row, y).bottom
        y = bottom
    fork = y + GAP * 0.45
    # The branch: its height first, so the shortcut lane can claim more room if it needs it.
    heights = [box_size(row.lines)[1] for row in plan.branch]
    label_line = line(bold(plan.branch_label, INK, TITLE_PT))
    label_h = box_size([label_line], 0, 0)[1]
    if plan.compact:
        strip = 0.0
        span = sum(heights)
    else:
        strip = 0.06 + label_h + 0.04
        span = strip + sum(heights) + GAP * (len(heights) - 1) + REGION_PAD
    branch_top = y + GAP
    add_y = branch_top + span + GAP + ADD_R
    stretch = 0.0
    if plan.shortcut is not None:
        sc_heights = [box_size(row.lines)[1] for row in plan.shortcut]
        need = sum(sc_heights) + SHORTCUT_STEP * (len(sc_heights) + 1) if sc_heights else 0.9
        stretch = max(0.0, need - (add_y - fork))
        add_y += stretch
    if plan.compact:
        rect = row_box(plan.branch[0], branch_top, heights[0] + stretch)
        down(rect.top)
        bottom = rect.bottom
    else:
        region = Rect(x - half, branch_top, x + half, branch_top + span)
        sheet.region(region, color)
        label_w = box_size([label_line], 0, 0)[0]
        sheet.text(region.left + 0.07 + label_w / 2, branch_top + 0.06 + label_h / 2, label_line)
        yb = branch_top + strip
        for i, row in enumerate(plan.branch):
            down(yb)
            bottom = row_box(row, yb).bottom
            yb = bottom + GAP
    if plan.shortcut is not None:
        down(add_y - ADD_R)
        sheet.circle(x, add_y, ADD_R, color, plan.symbol)
        bottom, y = add_y + ADD_R, add_y + ADD_R
        _place_shortcut(sheet, plan, widths, x, half, fork, add_y)
    else:
        y = bottom if plan.compact else branch_top + span
    for row in plan.tail:
        down(y + GAP)
        bottom = row_box(row, y + GAP).bottom
        y = bottom
    return y


def _place_shortcut(
    sheet: Sheet, plan: ColumnPlan, widths: ColumnWidths, x: float, half: float, fork: float, add_y: float
) -> None:
    lane = x + half + (LANE_GAP + widths.shortcut / 2 if plan.shortcut else IDENTITY_GAP)
    sheet.dot(x, fork, SHORTCUT_COLOR)
    points = [(x, fork), (lane, fork)]
    if not plan.shortcut:
        sheet.text(lane + 0.05, (fork + add_y) / 2, line(muted("identity")), rotation=90)
    else:
        heights = [box_size(row.lines)[1] for row in plan.shortcut]
        step = (add_y - fork - sum(heights)) / (len(heights) + 1)
        y = fork
        for row, height in zip(plan.shortcut, heights):
            y += step
            sheet.polyline([*points, (lane, y)], SHORTCUT_COLOR)
            rect = sheet.box(lane, y, row.lines, row.edge, width=widths.shortcut)
            y = rect.bottom
            points = [(lane, y)]
    sheet.arrow([*points, (lane, add_y), (x + ADD_R, add_y)], SHORTCUT_COLOR)


def column_width(plan: ColumnPlan, widths: ColumnWidths) -> tuple[float, float, float]:
    return _notes_width(plan), main_width(plan, widths), _lane_width(plan, widths)


def _alt(title: str, block: nn.Module, layers: list[Layer]) -> str:
    main = ", ".join(f"{layer.name} ({layer.label})" for layer in layers if layer.path != "shortcut")
    short = ", ".join(f"{layer.name} ({layer.label})" for layer in layers if layer.path == "shortcut")
    if not any(layer.name == "add" for layer in layers):
        shortcut = "no shortcut"
    else:
        shortcut = f"shortcut: {short}" if short else "shortcut: the identity"
    return f"{title or type(block).__name__}: {main}; {shortcut}."


def check_branch(branch: str) -> bool:
    if branch not in ("layers", "box"):
        raise ConfigError(f"branch={branch!r}: choose 'layers' (a box per layer) or 'box' (F as one box)")
    return branch == "box"


def draw_block_grid(
    rows: Mapping[str, tuple[Mapping[str, nn.Module], tuple[int, int, int]]],
    branch: str = "box",
    widths: str = "equal",
) -> Diagram:
    """Blocks in a grid: ``{row title: ({column title: block}, input_shape)}``, every row with
    the same column titles, written once above the first. With ``branch="box"`` (the default
    here) F is one box and the shortcuts, which the grid compares, are drawn layer by layer."""
    compact = check_branch(branch)
    traced = {
        (r, c): (block, shape, block_layers(block, shape))
        for r, (columns, shape) in rows.items()
        for c, block in columns.items()
    }
    plans = {
        key: _plan(block, shape, key[1], compact, layers, widths == "channels")
        for key, (block, shape, layers) in traced.items()
    }
    size = column_widths(list(plans.values()), widths)
    titles = list(dict.fromkeys(c for _, c in plans))
    parts = [[column_width(plans[r, c], size) for r in rows if (r, c) in plans] for c in titles]
    notes = [max(p[0] for p in column) for column in parts]
    mains = [max(p[1] for p in column) for column in parts]
    lanes = [max(p[2] for p in column) for column in parts]
    sheet = Sheet()
    header = len(rows) > 1 or any(r for r in rows)
    left = 0.3 if header else 0.0
    xs, cursor = [], left
    for n, m, lane in zip(notes, mains, lanes):
        xs.append(cursor + n + m / 2)
        cursor += n + m + lane + COLUMN_GAP
    y = 0.0
    title_h = box_size([line(bold("Xg", INK, TITLE_PT))], 0, 0)[1]
    for x, title in zip(xs, titles):
        sheet.text(x, title_h / 2, line(bold(title, INK, TITLE_PT)))
    y = title_h + 0.14
    alts = []
    for r in rows:
        cells = [(x, plans[r, c]) for x, c in zip(xs, titles) if (r, c) in plans]
        bottoms = [place_column(sheet, plan, size, x, y, title=False) for x, plan in cells]
        if header and r:
            sheet.text(0.0, (y + max(bottoms)) / 2, line(bold(r)), rotation=90)
        alts += [f"{r}, {_alt(c, *traced[r, c][::2])}" for c in titles if (r, c) in traced]
        y = max(bottoms) + 0.35
    return sheet.render(" | ".join(alts))


def draw_blocks(
    blocks: Mapping[str, nn.Module],
    input_shape: tuple[int, int, int],
    branch: str = "layers",
    widths: str = "equal",
) -> Diagram:
    """Several blocks side by side, each titled by its key, as one diagram.

    ``branch="box"`` draws the residual branch F as one box listing its layers (the shape of the
    idea, as in He et al.'s Fig. 2); ``widths="channels"`` makes each box as wide as the square
    root of its output channels (a bottleneck's waist shows)."""
    compact = check_branch(branch)
    traced = {title: block_layers(block, input_shape) for title, block in blocks.items()}
    plans = [
        _plan(block, input_shape, title, compact, traced[title], widths == "channels")
        for title, block in blocks.items()
    ]
    size = column_widths(plans, widths)
    sheet = Sheet()
    cursor, top = 0.0, max(_title_height(plan) for plan in plans)  # titles end, and boxes start, level
    for plan in plans:
        notes, main, lane = column_width(plan, size)
        place_column(sheet, plan, size, cursor + notes + main / 2, top - _title_height(plan))
        cursor += notes + main + lane + COLUMN_GAP
    note = " Box widths grow with the square root of the channels." if size.channels else ""
    alts = " | ".join(_alt(title, block, traced[title]) for title, block in blocks.items())
    return sheet.render(alts + note)


def draw_block(
    block: nn.Module, input_shape: tuple[int, int, int], title: str = "", branch: str = "layers", widths: str = "equal"
) -> Diagram:
    """One block's diagram: ``draw_block(BasicBlock(16, 32, 2, make_shortcut("A", 16, 32, 2)), (16, 32, 32))``."""
    return draw_blocks({title or type(block).__name__: block}, input_shape, branch, widths)
