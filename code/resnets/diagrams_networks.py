"""Whole networks drawn from the built model, and the unrolled view of Veit et al. (2016).

    draw_networks({"ResNet-50": (build_model("resnet50"), (3, 224, 224))})   # stem, stages, head
    draw_unrolled(build_model("resnet8"))                                     # its 2^n paths

A network is drawn as a column of boxes, one per child of the model (the stem's layers together, each
stage, the head), with the shape each returns; beside a box, what it did to the shape ("/2, ×2
channels"), and in a stage's box which block halves the resolution and what its shortcuts are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from . import viz
from .blocks import ZeroPadShortcut, is_residual_block
from .diagrams import (
    COLUMN_GAP,
    GAP,
    NOTE_GAP,
    SHORTCUT_COLOR,
    ColumnPlan,
    ColumnWidths,
    Row,
    column_width,
    column_widths,
    main_width,
    shape_note,
    shape_text,
)
from .diagrams_trace import describe, kind_of_block
from .drawing import INK, MUTED, TITLE_PT, Diagram, Sheet, bold, box_size, line, muted
from .errors import ConfigError

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


def _shortcut_kind(block: nn.Module) -> str:
    downsample = getattr(block, "downsample", None)
    if downsample is None:
        return "identity"
    if isinstance(downsample, ZeroPadShortcut):
        return f"option A (+{downsample.extra_channels} zeros)"
    return "projection"


def _stage_lines(name: str, stage: nn.Sequential) -> tuple[str, ...]:
    """A stage in words: how many blocks of which kind, what its first block's shortcut does
    and where it halves the resolution, then the shortcut of the others."""
    first = stage[0]
    plain = " (plain)" if getattr(first, "plain", False) else ""
    lines = [f"{len(stage)} × {type(first).__name__}{plain}"]
    if plain:
        return tuple(lines)
    stride = getattr(first, "stride", 1)
    halves = f"/{stride}, " if stride > 1 else ""
    lines.append(f"{name}.0: {halves}{_shortcut_kind(first)}")
    rest = {_shortcut_kind(block) for block in list(stage)[1:]}
    if rest:
        span = f"{name}.1" if len(stage) == 2 else f"{name}.1–{len(stage) - 1}"
        lines.append(f"{span}: {' / '.join(sorted(rest))}")
    return tuple(lines)


def network_layout(model: nn.Module, input_shape: tuple[int, int, int]) -> list[Stage]:
    """``model``'s top-level layout for an input of ``input_shape`` (C, H, W): the stem (every
    layer before the first stage), each stage (an ``nn.Sequential`` of blocks) and the head.
    A stage's lines: its blocks, then where it halves the resolution and what its shortcuts are."""
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
            stages.append(Stage((record.name,), _stage_lines(record.name, module), record.output_shape[1:], "stage"))
        else:
            pending.append(record)
    flush("head")
    return stages


def _network_plan(model: nn.Module, input_shape: tuple[int, int, int], title: str) -> tuple[ColumnPlan, list[Stage]]:
    stages = network_layout(model, input_shape)
    color = viz.COLORS[kind_of_block(next(m for m in model.modules() if is_residual_block(m)))]
    rows = [Row([line(bold("input"), muted(f"  {shape_text(input_shape)}"))], INK, input_shape[0])]
    shape: tuple[int, ...] = tuple(input_shape)
    for stage in stages:
        if stage.kind == "stage":
            lines = [line(bold(stage.names[0]), f"  {stage.lines[0]}")]
            for text in stage.lines[1:]:  # "layer2.0: /2, projection": the block's name in bold
                blocks, _, what = text.partition(": ")
                lines.append(line(bold(f"{blocks}:"), f" {what}"))
        else:
            lines = [line(bold(stage.kind))] + [line(text) for text in stage.lines]
        lines.append(line(muted(f"→ {shape_text(stage.shape)}")))
        edge = color if stage.kind == "stage" else MUTED
        rows.append(Row(lines, edge, stage.shape[0], shape_note(shape, stage.shape, shape=False)))
        shape = stage.shape
    return ColumnPlan(title, color, rows, [], "", [], None, compact=True), stages


def draw_networks(models: Mapping[str, tuple[nn.Module, tuple[int, int, int]]]) -> Diagram:
    """Networks side by side, each from the input down: ``{title: (model, input_shape)}``.
    Beside each box, what it did to the shape ("/2, ×2 channels"); in each stage, which block
    halves the resolution and which shortcuts are projections."""
    plans = {title: _network_plan(model, shape, title) for title, (model, shape) in models.items()}
    size = column_widths([plan for plan, _ in plans.values()], "equal")
    sheet = Sheet()
    cursor = 0.0
    alts = []
    for title, (plan, stages) in plans.items():
        notes, main, _ = column_width(plan, size)
        _place_stack(sheet, plan, size, cursor + notes + main / 2, 0.0)
        cursor += notes + main + COLUMN_GAP
        alts.append(f"{title}: " + "; ".join(f"{' '.join(s.lines)} to {shape_text(s.shape)}" for s in stages))
    return sheet.render(" | ".join(alts))


def _place_stack(sheet: Sheet, plan: ColumnPlan, widths: ColumnWidths, x: float, top: float) -> float:
    """A plain stack of boxes, titled, joined by arrows: a network's layout."""
    y = top
    if plan.title:
        title_line = line(bold(plan.title, INK, TITLE_PT))
        height = box_size([title_line], 0, 0)[1]
        sheet.text(x, y + height / 2, title_line)
        y += height + 0.14
    half = main_width(plan, widths) / 2
    bottom = None
    for row in plan.head:
        if bottom is not None:
            sheet.arrow([(x, bottom), (x, y + GAP)], INK)
            y += GAP
        rect = sheet.box(x, y, row.lines, row.edge, width=widths.of(row))
        if row.note:
            sheet.lines(x - half - NOTE_GAP, rect.cy, row.note, ha="right")
        bottom = y = rect.bottom
    return y


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
    sheet = Sheet()
    title = title or f"{type(model).__name__} unrolled"
    title_line = line(bold(title, INK, TITLE_PT))
    title_h = box_size([title_line], 0, 0)[1]
    headers = [[line(bold(f"F{i + 1}")), line(muted(name))] for i, name in enumerate(names)]
    column = max(max(box_size(h, 0, 0)[0] for h in headers) + 0.25, 1.0)
    head_h = max(box_size(h, 0, 0)[1] for h in headers)
    row_h, box_h = 0.42, 0.3
    x_in, x_out = 0.0, column * (len(names) + 1)
    first = title_h + 0.15 + head_h + 0.2 + row_h / 2  # the first row's y
    centre = first + (len(paths) - 1) * row_h / 2
    sheet.text((x_in + x_out) / 2, title_h / 2, title_line)
    for i, header in enumerate(headers):
        sheet.lines(column * (i + 1), title_h + 0.15 + head_h / 2, header)
    count_x = x_out + 0.45
    used_header = [line(muted("blocks")), line(muted("used"))]
    sheet.lines(count_x, title_h + 0.15 + head_h / 2, used_header, ha="left")
    fan = 0.5  # where a row leaves the input's fan and joins the output's
    for row, path in enumerate(paths):
        y = first + row * row_h
        sheet.polyline([(x_in, centre), (x_in + fan, y), (x_out - fan, y), (x_out, centre)], SHORTCUT_COLOR, 1.0)
        for i, used in enumerate(path):
            if used:
                sheet.box(column * (i + 1), y - box_h / 2, [line(f"F{i + 1}")], color, width=0.62, height=box_h,
                          linewidth=1.3)  # fmt: skip
        sheet.text(count_x, y, line(muted(f"{sum(path)}")), ha="left")
    sheet.circle(x_in, centre, 0.2, INK, "x")
    sheet.circle(x_out, centre, 0.2, INK, "Σ")
    counts = [sum(1 for p in paths if sum(p) == k) for k in range(len(names) + 1)]
    lengths = ", ".join(f"{count} through {k} block{'s' * (k != 1)}" for k, count in enumerate(counts))
    alt = (
        f"{title}: {len(names)} residual blocks ({', '.join(names)}) join the input x to the output by "
        f"{len(paths)} paths, each through some of the branches F and around the others: {lengths}."
    )
    return sheet.render(alt)
