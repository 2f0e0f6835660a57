"""The ResNet's relatives drawn from running modules: the highway gate, U-Net's skips across
scales, FPN's top-down path (DenseNet's concatenation is a chain: ``diagrams_context.draw_chain``).

    draw_highway(relatives.HighwayLayer(16), (16, 32, 32))
    draw_unet(relatives.UNet(16, 16, width=16, levels=3), (16, 32, 32))
    draw_fpn(relatives.FPN(16, 16, width=16, levels=3), (16, 32, 32))

Each runs the module once (``diagrams_context.record_steps``), checks that what ran is the
structure it is about to draw (a ``ConfigError`` names the difference otherwise), and takes every
name, layer and shape from that record. The modules come from the caller: the library never
imports the course's ``relatives``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from . import viz
from .diagrams import ADD_R, SHORTCUT_COLOR, shape_text
from .diagrams_context import Step, record_steps
from .diagrams_trace import describe
from .drawing import INK, TITLE_PT, Diagram, Line, Sheet, bold, box_size, line, muted
from .errors import ConfigError

ARROW = 0.3


def _unit(module: nn.Module) -> str:
    """A layer or a small stack of them in words: "2 × (3×3 conv, BN, ReLU)", "3×3 conv, BN, ReLU, /2"."""
    if isinstance(module, nn.ConvTranspose2d):
        return f"{module.kernel_size[0]}×{module.kernel_size[1]} up-conv, ×{module.stride[0]}"
    if isinstance(module, nn.MaxPool2d):
        return f"{module.kernel_size}×{module.kernel_size} max pool, /{module.stride}"
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if isinstance(module, nn.Sequential) and convs:
        k = convs[0].kernel_size[0]
        unit = f"{k}×{k} conv, BN, ReLU"
        stride = convs[0].stride[0]
        return (f"{len(convs)} × ({unit})" if len(convs) > 1 else unit) + (f", /{stride}" if stride > 1 else "")
    return describe(module)


def _expect(title: str, steps: Sequence[Step], names: Sequence[str]) -> None:
    ran = [step.name for step in steps]
    if ran != list(names):
        raise ConfigError(f"{title}: expected the steps {list(names)}, but the module ran {ran}")


def _title(sheet: Sheet, x: float, title: str) -> float:
    text = line(bold(title, INK, TITLE_PT))
    height = box_size([text], 0, 0)[1]
    sheet.text(x, height / 2, text)
    return height + 0.15


def _box(sheet: Sheet, cx: float, top: float, lines: Sequence[Line], edge: str, width: float | None = None):
    return sheet.box(cx, top, lines, edge, width=width)


def draw_highway(layer: nn.Module, input_shape: tuple[int, int, int], title: str = "highway layer") -> Diagram:
    """y = T(x)·H(x) + (1 − T(x))·x (Srivastava et al. 2015): the transform H and the gate T read
    x side by side; T weighs H, 1 − T weighs the carried x, and the two are added."""
    steps = record_steps(layer, input_shape)
    _expect(title, steps, [
        *(s.name for s in steps if s.name.startswith("transform.")),
        "gate", "sigmoid", "mul", "rsub", "mul", "add",
    ])  # fmt: skip
    color = viz.COLORS["highway"]
    modules = dict(layer.named_modules())
    transform = [s for s in steps if s.name.startswith("transform.")]
    h_lines = [line(bold("H(x)", INK, TITLE_PT))]
    h_lines += [line(bold(s.name), f"  {s.label}") for s in transform]
    bias = modules["gate"].bias.detach().mean().item()
    t_lines = [
        line(bold("T(x)", INK, TITLE_PT)),
        line(bold("gate"), f"  {describe(modules['gate'])}"),
        line(f"bias {bias:g}, then sigmoid".replace("-", "−")),
    ]
    wh, hh = box_size(h_lines)
    wt, ht = box_size(t_lines)
    x_h = 0.0
    x_t = x_h + wh / 2 + 0.45 + wt / 2
    x_c = x_t + wt / 2 + 0.45
    sheet = Sheet()
    top = _title(sheet, (x_h + x_c) / 2, title)
    x_box = _box(sheet, x_h, top, [line(bold("x"), muted(f"  {shape_text(input_shape)}"))], INK)
    fork = x_box.bottom + 0.15
    sheet.dot(x_h, fork, SHORTCUT_COLOR)
    sheet.polyline([(x_h, fork), (x_c, fork)], SHORTCUT_COLOR)
    boxes_top = fork + 0.25
    sheet.arrow([(x_h, x_box.bottom), (x_h, boxes_top)], color)
    sheet.arrow([(x_t, fork), (x_t, boxes_top)], color)
    height = max(hh, ht)
    h_box = sheet.box(x_h, boxes_top, h_lines, color, height=height)
    t_box = sheet.box(x_t, boxes_top, t_lines, color, height=height)
    mul_h = h_box.bottom + 0.5
    sheet.arrow([(x_h, h_box.bottom), (x_h, mul_h - ADD_R)], color)
    sheet.circle(x_h, mul_h, ADD_R, color, "×")
    sheet.dot(x_t, mul_h, color)
    sheet.arrow([(x_t, t_box.bottom), (x_t, mul_h), (x_h + ADD_R, mul_h)], color)
    sheet.text((x_h + x_t) / 2, mul_h - 0.15, line(muted("T")))
    one_minus = sheet.box(x_t, mul_h + 0.3, [line("1 − T")], color)
    sheet.polyline([(x_t, mul_h), (x_t, one_minus.top)], color)
    mul_c = one_minus.bottom + 0.4
    sheet.arrow([(x_t, one_minus.bottom), (x_t, mul_c), (x_c - ADD_R, mul_c)], color)
    sheet.arrow([(x_c, fork), (x_c, mul_c - ADD_R)], SHORTCUT_COLOR)
    sheet.text(x_c + 0.05, (fork + mul_c) / 2, line(muted("carry: x")), rotation=90)
    sheet.circle(x_c, mul_c, ADD_R, SHORTCUT_COLOR, "×")
    add = mul_c + 0.5
    sheet.arrow([(x_h, mul_h + ADD_R), (x_h, add - ADD_R)], color)
    sheet.arrow([(x_c, mul_c + ADD_R), (x_c, add), (x_h + ADD_R, add)], SHORTCUT_COLOR)
    sheet.circle(x_h, add, ADD_R, color, "+")
    sheet.arrow([(x_h, add + ADD_R), (x_h, add + ADD_R + ARROW)], color)
    _box(sheet, x_h, add + ADD_R + ARROW, [line(bold("y"), muted(f"  {shape_text(steps[-1].shape)}"))], INK)
    alt = (
        f"{title}: x goes to the transform H ({', '.join(f'{s.name} ({s.label})' for s in transform)}) and to the "
        f"gate T (gate, a {describe(modules['gate'])} with bias {bias:g}, then a sigmoid); y = T·H(x) + (1 − T)·x, "
        "the carried input x weighed by 1 − T."
    )
    return sheet.render(alt)


def draw_unet(unet: nn.Module, input_shape: tuple[int, int, int], title: str = "U-Net") -> Diagram:
    """The U: encoders down the left (each level pooled to half the resolution), the bottom, and
    decoders up the right, each reading the upsampled map below it concatenated (‖) with the
    encoder map of its own level: the skip across the U."""
    leaves = tuple({type(m) for name, m in unet.named_children() if name == "bottom"})
    steps = record_steps(unet, input_shape, leaves=leaves)
    levels = sum(1 for s in steps if s.name.startswith("encoders."))
    expected = []
    for i in range(levels):
        expected += [f"encoders.{i}", "pool"]
    expected.append("bottom")
    for i in range(levels):
        expected += [f"ups.{i}", "cat", f"decoders.{i}"]
    _expect(title, steps, [*expected, "head"])
    by_name = {s.name: s for s in steps}
    modules = dict(unet.named_modules())
    color = viz.COLORS["residual"]

    def lines(name: str) -> list[Line]:
        return [line(bold(name)), line(muted(shape_text(by_name[name].shape)))]

    names = [s.name for s in steps if s.name.split(".")[0] in ("encoders", "decoders", "bottom", "head")]
    width = max(box_size(lines(name))[0] for name in names)
    height = box_size(lines("bottom"))[1]
    row = height + 2 * ADD_R + 0.75
    pool = f"pool /{modules['pool'].stride}"
    skip_w = max(box_size([line(muted(shape_text(by_name[f"encoders.{i}"].shape)))], 0, 0)[0] for i in range(levels))
    x_e = width / 2
    x_c = x_e + width / 2 + skip_w + 0.35
    x_d = x_c
    x_b = (x_e + x_d) / 2
    sheet = Sheet()
    top = _title(sheet, x_b, title)
    first = top + 2 * height + 0.65 + ADD_R  # room above level 0's circle for its decoder and the head
    ys = [first + i * row for i in range(levels + 1)]  # each level's row: its circle's y
    x_in = sheet.box(x_e, top, [line(bold("x"), muted(f"  {shape_text(input_shape)}"))], INK)
    prev = x_in.bottom
    for i in range(levels):
        rect = sheet.box(x_e, ys[i] - height / 2, lines(f"encoders.{i}"), color, width=width)
        sheet.arrow([(x_e, prev), (x_e, rect.top)], color)
        prev = rect.bottom
        sheet.text(x_e - 0.1, (ys[i] + ys[i + 1]) / 2, line(muted(pool)), ha="right")
        # the skip: this level's encoder map, concatenated in the decoder of the same level
        sheet.arrow([(rect.right, ys[i]), (x_c - ADD_R, ys[i])], SHORTCUT_COLOR)
        sheet.text(
            (rect.right + x_c - ADD_R) / 2, ys[i] - 0.14, line(muted(shape_text(by_name[f"encoders.{i}"].shape)))
        )
    bottom = sheet.box(x_b, ys[levels] - height / 2, lines("bottom"), color, width=width)
    sheet.arrow([(x_e, prev), (x_e, bottom.cy), (bottom.left, bottom.cy)], color)
    below = (bottom.right, bottom.cy)
    for k in range(levels):  # the decoders, from the bottom up: level levels-1-k
        i = levels - 1 - k
        circle_y = ys[i]
        if k == 0:
            sheet.arrow([below, (x_d, below[1]), (x_d, circle_y + ADD_R)], color)
        else:
            sheet.arrow([below, (x_d, circle_y + ADD_R)], color)
        ups = f"ups.{k}: {_unit(modules[f'ups.{k}'])}"
        sheet.text(x_d + 0.1, (circle_y + ADD_R + (below[1] if k else bottom.cy)) / 2, line(muted(ups)), ha="left")
        sheet.circle(x_d, circle_y, ADD_R, color, "‖")
        rect = sheet.box(x_d, circle_y - ADD_R - 0.3 - height, lines(f"decoders.{k}"), color, width=width)
        sheet.arrow([(x_d, circle_y - ADD_R), (x_d, rect.bottom)], color)
        below = (x_d, rect.top)
    head = sheet.box(x_d, top, lines("head"), INK, width=width)
    sheet.arrow([below, (x_d, head.bottom)], color)
    unit = _unit(modules["encoders.0"])
    caption = [
        line(muted(f"each encoder, decoder and the bottom: {unit}")),
        line(muted(f"pool: {_unit(modules['pool'])}")),
    ]
    sheet.lines(x_b, ys[levels] + height / 2 + 0.45, caption)
    alt = (
        f"{title}: {', '.join(f'{s.name} to {shape_text(s.shape)}' for s in steps if s.name != 'cat')}; "
        f"each decoder reads the upsampled map below it concatenated with the encoder map of its level."
    )
    return sheet.render(alt)


def draw_fpn(fpn: nn.Module, input_shape: tuple[int, int, int], title: str = "feature pyramid network") -> Diagram:
    """Bottom-up stages down the left, each halving the resolution; a 1×1 lateral conv from each
    to the top-down path, which starts at the coarsest map and climbs, upsampling ×2 and adding
    the lateral of each finer level; a 3×3 conv smooths each level into an output."""
    steps = record_steps(fpn, input_shape, leaves=(nn.Sequential,))
    levels = sum(1 for s in steps if s.name.startswith("bottom_up."))
    expected = [f"bottom_up.{i}" for i in range(levels)] + [f"lateral.{levels - 1}", f"smooth.{levels - 1}"]
    for i in reversed(range(levels - 1)):
        expected += ["upsample", f"lateral.{i}", "add", f"smooth.{i}"]
    _expect(title, steps, expected)
    by_name = {s.name: s for s in steps}
    modules = dict(fpn.named_modules())
    color = viz.COLORS["residual"]

    def stage_lines(i: int) -> list[Line]:
        name = f"bottom_up.{i}"
        return [line(bold(name)), line(_unit(modules[name])), line(muted(shape_text(by_name[name].shape)))]

    def side_lines(name: str) -> list[Line]:
        return [line(bold(name)), line(describe(modules[name]).split(",")[0])]

    w_b = max(box_size(stage_lines(i))[0] for i in range(levels))
    w_l = max(box_size(side_lines(f"lateral.{i}"))[0] for i in range(levels))
    outputs = [[line(bold(f"smooth.{i}")), line(muted(f"P{i}: {shape_text(by_name[f'smooth.{i}'].shape)}"))]
               for i in range(levels)]  # fmt: skip
    w_s = max(box_size(o)[0] for o in outputs)
    first_up = next(s for s in steps if s.name == "upsample")  # from the coarsest level to the next
    up = f"upsample ×{first_up.shape[-1] // by_name[f'lateral.{levels - 1}'].shape[-1]}"
    w_up = box_size([line(muted(up))], 0, 0)[0]
    x_b = w_b / 2
    x_l = x_b + w_b / 2 + 0.3 + w_l / 2
    x_t = x_l + w_l / 2 + 0.3
    x_s = x_t + 0.2 + w_up + 0.15 + w_s / 2
    sheet = Sheet()
    top = _title(sheet, (x_b + x_s) / 2, title)
    x_in = sheet.box(x_b, top, [line(bold("x"), muted(f"  {shape_text(input_shape)}"))], INK)
    prev = x_in.bottom
    ys = []
    for i in range(levels):
        rect = sheet.box(x_b, prev + 0.45, stage_lines(i), color, width=w_b)
        sheet.arrow([(x_b, prev), (x_b, rect.top)], color)
        prev = rect.bottom
        ys.append(rect.cy)
        lateral = sheet.box(x_l, rect.cy - box_size(side_lines(f"lateral.{i}"))[1] / 2, side_lines(f"lateral.{i}"),
                            SHORTCUT_COLOR, width=w_l)  # fmt: skip
        sheet.polyline([(rect.right, rect.cy), (lateral.left, rect.cy)], SHORTCUT_COLOR)
        end = x_t - (ADD_R if i < levels - 1 else 0.0)
        sheet.arrow([(lateral.right, rect.cy), (end, rect.cy)], SHORTCUT_COLOR)
        smooth = sheet.box(x_s, rect.cy - box_size(outputs[i])[1] / 2, outputs[i], color, width=w_s)
        sheet.arrow([(x_t + (ADD_R if i < levels - 1 else 0.0), rect.cy), (smooth.left, rect.cy)], color)
    for i in range(levels - 1):
        sheet.circle(x_t, ys[i], ADD_R, color, "+")
        start = ys[i + 1] - (ADD_R if i + 1 < levels - 1 else 0.0)
        sheet.arrow([(x_t, start), (x_t, ys[i] + ADD_R)], color)
        sheet.text(x_t + 0.1, (ys[i] + ys[i + 1]) / 2, line(muted(up)), ha="left")
    sheet.dot(x_t, ys[-1], color)
    stages = [f"bottom_up.{i}" for i in range(levels)]
    alt = (
        f"{title}: bottom-up {', '.join(f'{name} to {shape_text(by_name[name].shape)}' for name in stages)}; "
        f"a 1×1 lateral conv from each to the top-down path, which starts at the coarsest level and, level by "
        f"level, is upsampled ×2 and added to the next lateral; smooth.i turns each level into output Pi."
    )
    return sheet.render(alt)


__all__ = ["draw_fpn", "draw_highway", "draw_unet"]
