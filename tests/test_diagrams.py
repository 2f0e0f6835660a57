"""Block diagrams: drawn from the module itself, every layer named, the paths told apart, and
text that a reader can read: no text over another, none outside its box, none below the code font."""

from __future__ import annotations

import html
import math
import warnings

import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from resnets import build_model, diagrams_context, diagrams_relatives, drawing, viz
from resnets.blocks import BasicBlock, Bottleneck, PreActBasicBlock, PreActBottleneck, make_shortcut
from resnets.course.relatives import FPN, DenseBlock, DenseLayer, HighwayLayer, UNet
from resnets.diagrams import BRANCH, draw_block, draw_block_grid, draw_blocks, shape_change
from resnets.diagrams_networks import (
    draw_networks,
    draw_unrolled,
    network_layout,
    residual_block_names,
    unrolled_paths,
)
from resnets.diagrams_trace import block_layers

SHAPE = (16, 32, 32)


def block_alt(diagram) -> str:
    return html.escape(diagram.alt, quote=True)


def leaf_names(block: nn.Module) -> set[str]:
    return {name for name, m in block.named_modules() if name and not list(m.children())}


def texts_of(diagram) -> list[str]:
    return [t.get_text() for ax in diagram.figure.axes for t in ax.texts]


BLOCKS = {
    "basic, identity": BasicBlock(16, 16),
    "plain": BasicBlock(16, 16, plain=True),
    "basic, option A": BasicBlock(16, 32, 2, make_shortcut("A", 16, 32, 2)),
    "basic, option B": BasicBlock(16, 32, 2, make_shortcut("B", 16, 32, 2)),
    "basic, option C": BasicBlock(16, 16, 1, make_shortcut("C", 16, 16, 1)),
    "bottleneck": Bottleneck(16, 8, 2, make_shortcut("B", 16, 32, 2)),
    "pre-activation": PreActBasicBlock(16, 32, 2, make_shortcut("B", 16, 32, 2, with_bn=False)),
    "pre-activation bottleneck": PreActBottleneck(16, 4),
}


def shortcut_grid():
    """The grid of part 2, chapter 2: options A, B, C on the stage-opening and on an inner block."""
    return draw_block_grid(
        {
            "opens a stage": (
                {f"option {o}": BasicBlock(16, 32, 2, make_shortcut(o, 16, 32, 2)) for o in "ABC"},
                SHAPE,
            ),
            "inside a stage": (
                {f"option {o}": BasicBlock(32, 32, 1, make_shortcut(o, 32, 32, 1)) for o in "ABC"},
                (32, 16, 16),
            ),
        }
    )


# Every kind of diagram the package draws, as the chapters call it: (drawing, the width it must fit).
DIAGRAMS = {
    "part2/01 plain and basic": (
        lambda: draw_blocks({"plain block": BLOCKS["plain"], "basic block": BLOCKS["basic, identity"]}, SHAPE),
        drawing.PAGE_WIDTH_IN,
    ),
    "part2/02 shortcut grid": (shortcut_grid, drawing.FULL_WIDTH_IN),
    "part2/03 basic and bottleneck": (
        lambda: draw_blocks(
            {"basic block": BasicBlock(256, 256), "bottleneck": Bottleneck(256, 64)}, (256, 56, 56), widths="channels"
        ),
        drawing.PAGE_WIDTH_IN,
    ),
    "part2/03 v1 and v1.5": (
        lambda: draw_blocks(
            {
                "v1: stride in the first 1×1": Bottleneck(
                    256, 128, 2, make_shortcut("B", 256, 512, 2), stride_in_1x1=True
                ),
                "v1.5: stride in the 3×3": Bottleneck(256, 128, 2, make_shortcut("B", 256, 512, 2)),
            },
            (256, 56, 56),
            branch="box",
        ),
        drawing.PAGE_WIDTH_IN,
    ),
    "part2/04 v1 and v2": (
        lambda: draw_blocks({"v1: post-activation": BLOCKS["basic, identity"], "v2": PreActBasicBlock(16, 16)}, SHAPE),
        drawing.PAGE_WIDTH_IN,
    ),
    "part2/04 opening pre-activation": (
        lambda: draw_block(BLOCKS["pre-activation"], SHAPE, "v2, opening a stage"),
        drawing.PAGE_WIDTH_IN,
    ),
    "part1/01 plain and residual": (
        lambda: draw_blocks({"plain": BLOCKS["plain"], "residual": BLOCKS["basic, identity"]}, SHAPE, branch="box"),
        drawing.PAGE_WIDTH_IN,
    ),
    "part1/01 toy blocks": (
        lambda: draw_blocks(
            {
                "plain block": diagrams_context.OrderedUnit(16, ("norm", "relu", "linear"), residual=False),
                "residual block": diagrams_context.OrderedUnit(16, ("norm", "relu", "linear")),
            },
            (16,),
        ),
        drawing.PAGE_WIDTH_IN,
    ),
    "part2/05 family": (
        lambda: draw_networks(
            {
                "ResNet-20 (CIFAR-10)": (build_model("resnet20"), (3, 32, 32)),
                "ResNet-50 (ImageNet)": (build_model("resnet50"), (3, 224, 224)),
            }
        ),
        drawing.FULL_WIDTH_IN,
    ),
    "part1/04 unrolled": (lambda: draw_unrolled(build_model("resnet8"), "ResNet-8 unrolled"), drawing.PAGE_WIDTH_IN),
}
DIAGRAMS.update(
    {
        "part1/05 He et al. 2016 Fig. 4": (diagrams_context.draw_preactivation_variants, drawing.FULL_WIDTH_IN),
        "part2/08 post-norm and pre-norm": (diagrams_context.draw_transformer_layers, drawing.PAGE_WIDTH_IN),
        "part2/08 post-norm and pre-norm, every layer": (
            lambda: diagrams_context.draw_transformer_layers(branch="layers"),
            drawing.PAGE_WIDTH_IN,
        ),
        "part2/06 residual and dense": (
            lambda: diagrams_context.draw_chain(
                {"residual block": BasicBlock(16, 16), "dense block": DenseBlock(2, 16, 8)},
                SHAPE,
                labels={"dense block": ("new features", "new features")},
                kinds={"dense block": "dense"},
            ),
            drawing.PAGE_WIDTH_IN,
        ),
    }
)
DIAGRAMS.update(
    {
        "part2/06 highway": (lambda: diagrams_relatives.draw_highway(HighwayLayer(16), SHAPE), drawing.PAGE_WIDTH_IN),
        "part2/06 U-Net": (lambda: diagrams_relatives.draw_unet(UNet(16, 16, 16, 3), SHAPE), drawing.PAGE_WIDTH_IN),
        "part2/06 FPN": (lambda: diagrams_relatives.draw_fpn(FPN(16, 16, 16, 3), SHAPE), drawing.PAGE_WIDTH_IN),
    }
)
DIAGRAMS.update(
    {
        f"block {title}, {branch}": (
            lambda block=block, title=title, branch=branch: draw_block(block, SHAPE, title, branch=branch),
            drawing.PAGE_WIDTH_IN,
        )
        for title, block in BLOCKS.items()
        for branch in ("layers", "box")
    }
)


@pytest.mark.parametrize("name", DIAGRAMS)
def test_every_diagram_has_clean_text_as_large_as_the_code_and_fits_the_page(name: str) -> None:
    draw, page = DIAGRAMS[name]
    diagram = draw()
    assert diagram.text_faults() == [], f"{name}: {diagram.text_faults()}"
    assert min(drawing.font_sizes(diagram.figure)) >= drawing.FONT_PT
    # On the site the SVG is shown at 96 px an inch unless it is wider than the column: then it
    # shrinks, and its text with it.
    assert diagram.width_px <= page * drawing.PX_PER_IN, f"{name}: {diagram.width_px:.0f} px wide"
    assert diagram.boxes, "the boxes and their texts are known to the check"


def test_the_check_fails_on_a_crowded_diagram() -> None:
    diagram = DIAGRAMS["part2/02 shortcut grid"][0]()
    for ax in diagram.figure.axes:
        for text in ax.texts:
            text.set_fontsize(text.get_fontsize() * 1.8)
    faults = diagram.text_faults()
    assert any("overlaps" in f for f in faults) and any("leaves its box" in f for f in faults)
    # And one drawn by hand, as the old diagrams were: three lines in a box too small for them.
    figure = Figure(figsize=(2, 1), dpi=100)
    ax = figure.add_axes((0, 0, 1, 1))
    box = ax.add_patch(Rectangle((0.3, 0.35), 0.4, 0.3))
    inside = [ax.text(0.5, 0.5 + dy, text, ha="center", va="center", fontsize=10) for dy, text in
              ((0.12, "conv1"), (0.0, "3×3 conv, 256→256"), (-0.1, "256×56×56"))]  # fmt: skip
    faults = drawing.text_faults(figure, [(box, inside)])
    assert "'3×3 conv, 256→256' leaves its box" in faults and "'3×3 conv, 256→256' overlaps '256×56×56'" in faults


def test_a_diagram_shown_in_the_course_style_warns_nothing_and_keeps_its_size() -> None:
    # The chapters call viz.use_style(), whose constrained layout a hand-placed sheet must ignore:
    # a warning printed under a diagram is ugly, and the site's build treats it as an error.
    with viz.style(), warnings.catch_warnings():
        warnings.simplefilter("error")
        diagram = draw_unrolled(build_model("resnet8"), "ResNet-8 unrolled")
        width = diagram.figure.get_figwidth()
        for _ in range(2):  # a second display must not find a layout engine the first one left behind
            diagram._repr_html_()
            diagram._repr_png_()
        assert diagram.figure.get_figwidth() == width and diagram.text_faults() == []


def test_text_reads_on_the_light_card_and_on_the_dimmed_one_of_dark_mode() -> None:
    def luminance(color: str, dim: bool) -> float:
        channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        if dim:  # the theme's filter in dark mode: brightness(0.8) contrast(1.2)
            channels = [min(1.0, max(0.0, (0.8 * c - 0.5) * 1.2 + 0.5)) for c in channels]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for dim in (False, True):
        card = luminance("#ffffff", dim)
        for ink in (drawing.INK, drawing.MUTED):
            assert (card + 0.05) / (luminance(ink, dim) + 0.05) >= 7, (ink, dim)
    page = DIAGRAMS["part2/01 plain and basic"][0]()._repr_html_()
    assert 'class="dark-light"' not in page and "only-dark" not in page, "the theme's white card must apply"


@pytest.mark.parametrize("title", BLOCKS)
def test_a_diagram_names_every_layer_of_its_module(title: str) -> None:
    block = BLOCKS[title]
    diagram = draw_block(block, SHAPE, title)
    assert leaf_names(block) <= set(texts_of(diagram)), f"missing: {leaf_names(block) - set(texts_of(diagram))}"
    svg = diagram._repr_svg_()
    assert svg.count("<title>") >= 1 and 'role="img"' in svg
    page = diagram._repr_html_()
    assert page.startswith('<img src="data:image/svg+xml;base64,') and f'alt="{block_alt(diagram)}"' in page
    assert all(name in diagram.alt for name in leaf_names(block))
    assert diagram._repr_png_().startswith(b"\x89PNG")


def test_the_branch_is_marked_and_the_shape_changes_are_written_where_they_happen() -> None:
    texts = texts_of(draw_block(BLOCKS["basic, option B"], SHAPE))
    assert BRANCH in texts, "F(x) is marked"
    assert texts.index("/2, ×2 channels") < texts.index("bn1"), "the note sits at conv1, before bn1"
    assert "/2, ×2 channels" in texts_of(draw_block(BLOCKS["basic, option B"], SHAPE, branch="box"))
    plain = texts_of(draw_block(BLOCKS["plain"], SHAPE))
    assert BRANCH in plain and "identity" not in plain and "+" not in plain, "the same F, without the addition"
    assert shape_change((16, 32, 32), (32, 16, 16)) == "/2, ×2 channels"
    assert shape_change((256, 56, 56), (64, 56, 56)) == "÷4 channels"
    assert shape_change((64, 56, 56), (64, 56, 56)) == ""


def test_options_b_and_c_differ_on_the_inner_block() -> None:
    diagram = shortcut_grid()
    texts = texts_of(diagram)
    assert texts.count("identity") == 2, "A and B add x itself inside a stage"
    assert texts.count("downsample.0") == 3, "B and C project where the stage opens, C inside it too"
    assert "/2, +16 zeros" in texts
    assert diagram.alt.count("shortcut: the identity") == 2


def test_a_bottleneck_narrows_in_the_middle_when_widths_follow_the_channels() -> None:
    diagram = draw_block(Bottleneck(256, 64), (256, 56, 56), widths="channels")
    width = {}
    for patch, texts in diagram.boxes:
        if texts and texts[0].get_text().startswith("conv"):
            width[texts[0].get_text()] = patch.get_width()
    assert width["conv1"] == pytest.approx(width["conv2"])
    assert width["conv3"] == pytest.approx(2 * width["conv2"]), "sqrt(256 / 64) = 2"
    assert "square root" in diagram.alt


def test_the_layers_follow_the_forward_pass_with_their_paths_and_shapes() -> None:
    layers = block_layers(BLOCKS["basic, option B"], SHAPE)
    assert [(layer.name, layer.path) for layer in layers] == [
        ("conv1", "main"),
        ("bn1", "main"),
        ("relu", "main"),
        ("conv2", "main"),
        ("bn2", "main"),
        ("add", "main"),
        ("relu", "main"),
        ("downsample.0", "shortcut"),
        ("downsample.1", "shortcut"),
    ]
    assert layers[0].shape == (32, 16, 16) and layers[0].label == "3×3 conv, 16→32, /2"
    assert layers[0].short == "3×3, /2"
    assert [layer.path for layer in block_layers(BLOCKS["basic, identity"], SHAPE)].count("shortcut") == 0
    assert "add" not in [layer.name for layer in block_layers(BLOCKS["plain"], SHAPE)]
    pre = block_layers(BLOCKS["pre-activation"], SHAPE)
    assert [layer.name for layer in pre if layer.path == "shared"] == ["bn1", "relu"], (
        "the projection reads the normalised input"
    )
    option_a = block_layers(BLOCKS["basic, option A"], SHAPE)
    assert [(layer.label, layer.shape) for layer in option_a if layer.path == "shortcut"] == [
        ("option A: /2, +16 zeros", (32, 16, 16))
    ]


def test_blocks_side_by_side_share_one_box_width_and_top() -> None:
    diagram = draw_blocks({"plain": BLOCKS["plain"], "residual": BLOCKS["basic, identity"]}, SHAPE)
    x_boxes = [patch for patch, texts in diagram.boxes if texts and texts[0].get_text() == "x"]
    assert len(x_boxes) == 2 and x_boxes[0].get_width() == x_boxes[1].get_width()
    assert x_boxes[0].get_y() == x_boxes[1].get_y()
    assert diagram.alt.startswith("plain: ") and "shortcut: the identity" in diagram.alt


def test_titles_are_centred_over_their_boxes() -> None:
    diagram = DIAGRAMS["part2/02 shortcut grid"][0]()
    renderer = diagram.figure.canvas.get_renderer()
    texts = diagram.figure.axes[0].texts
    x_boxes = sorted(
        (patch.get_window_extent(renderer) for patch, t in diagram.boxes if t and t[0].get_text() == "x"),
        key=lambda e: (round(e.y0), e.x0),
    )[-3:]  # the first row's
    for title, box in zip((t for t in texts if t.get_text().startswith("option")), x_boxes):
        extent = title.get_window_extent(renderer)
        assert math.isclose((extent.x0 + extent.x1) / 2, (box.x0 + box.x1) / 2, abs_tol=1.5)


def test_a_network_layout_is_its_stem_stages_and_head_with_their_shapes() -> None:
    layout = network_layout(build_model("resnet50"), (3, 224, 224))
    assert [s.kind for s in layout] == ["stem", "stage", "stage", "stage", "stage", "head"]
    assert layout[0].names == ("conv1", "bn1", "relu", "maxpool") and layout[0].shape == (64, 56, 56)
    assert [s.lines[0] for s in layout[1:5]] == [f"{n} × Bottleneck" for n in (3, 4, 6, 3)]
    assert layout[1].lines[1:] == ("layer1.0: projection", "layer1.1–2: identity"), "64 -> 256 channels"
    assert layout[2].lines[1] == "layer2.0: /2, projection"
    assert [s.shape for s in layout[1:5]] == [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
    assert layout[-1].shape == (1000,) and "linear, 2048→1000" in layout[-1].lines
    cifar = network_layout(build_model("plain20"), (3, 32, 32))
    assert cifar[0].names == ("conv1", "bn1", "relu"), "the CIFAR stem has no max pool (an Identity)"
    assert [s.lines for s in cifar if s.kind == "stage"] == [("3 × BasicBlock (plain)",)] * 3
    resnet20 = network_layout(build_model("resnet20"), (3, 32, 32))
    assert resnet20[2].lines[1] == "layer2.0: /2, option A (+16 zeros)"
    diagram = DIAGRAMS["part2/05 family"][0]()
    texts = texts_of(diagram)
    assert {"stem", "layer1", "layer2", "layer3", "layer4", "head", "→ 64×8×8"} <= set(texts)
    assert texts.count("/2, ×2 channels") == 5 and "/4, 3→64 channels" in texts, "where the resolution halves"


def test_the_unrolled_view_draws_every_path_once_and_names_every_block() -> None:
    paths = unrolled_paths(3)
    assert len(set(paths)) == 8 and [sum(p) for p in paths] == [0, 1, 1, 1, 2, 2, 2, 3]
    model = build_model("resnet8")
    assert residual_block_names(model) == ["layer1.0", "layer2.0", "layer3.0"]
    diagram = draw_unrolled(model)
    assert "8 paths" in diagram.alt and "layer1.0, layer2.0, layer3.0" in diagram.alt
    assert "3 through 1 block," in diagram.alt and "1 through 3 blocks" in diagram.alt
    assert diagram._repr_html_().startswith('<img src="data:image/svg+xml;base64,')
    assert texts_of(diagram).count("F2") == 1 + 4, "the header and the four paths through block 2"
    assert residual_block_names(build_model("plain8")) == []
    with pytest.raises(ValueError, match="draw a smaller net"):
        draw_unrolled(build_model("resnet56"))


def test_transformer_layers_are_recorded_from_torch_in_the_order_they_run() -> None:
    orders = {}
    for norm_first in (False, True):
        layer = nn.TransformerEncoderLayer(64, 4, 256, batch_first=True, norm_first=norm_first)
        orders[norm_first] = [s.name for s in diagrams_context.record_steps(layer, (16, 64))]
    branch_2 = ["linear1", "relu", "dropout", "linear2", "dropout2", "add"]
    assert orders[False] == ["self_attn", "dropout1", "add", "norm1", *branch_2, "norm2"], "LN after each add"
    assert orders[True] == ["norm1", "self_attn", "dropout1", "add", "norm2", *branch_2], "LN opens each branch"
    diagram = diagrams_context.draw_transformer_layers()
    texts = texts_of(diagram)
    assert texts.count("attention") == 2 and texts.count("MLP") == 2 and texts.count("+") == 4
    post, pre = diagram.alt.split(" | ")
    assert post.index("addition") < post.index("norm1") and pre.index("norm1") < pre.index("addition")


def test_a_chain_splits_at_each_join_and_a_concatenation_is_drawn_as_one() -> None:
    layer = nn.TransformerEncoderLayer(64, 4, 256, batch_first=True, norm_first=False)
    steps = diagrams_context.record_steps(layer, (16, 64))
    first, second = diagrams_context.chain_plans(steps, (16, 64), "post-norm", "#0072B2", compact=True)
    assert [row.lines[0][0].text for row in first.tail] == ["norm1"], "the LN sits on the path, after the add"
    assert [row.lines[0][0].text for row in second.tail] == ["norm2", "y"] and not second.head
    steps = diagrams_context.record_steps(DenseLayer(16, 8), SHAPE)
    assert steps[-1].name == "cat" and steps[-1].inputs == (-1, 5) and steps[-1].shape == (24, 32, 32)
    texts = texts_of(DIAGRAMS["part2/06 residual and dense"][0]())
    assert texts.count("‖") == 2 and "+8 channels → 24" in texts and "+8 channels → 32" in texts
    with pytest.raises(ValueError, match="draw_blocks"):
        diagrams_context.chain_plans(steps[:-1], SHAPE, "no join", "#000000", compact=True)


def test_the_fig4_units_put_bn_and_relu_where_the_paper_does() -> None:
    units = diagrams_context.fig4_units(16)
    around_add = {}
    for title, unit in units.items():
        names = [layer.name for layer in block_layers(unit, SHAPE) if layer.path != "shortcut"]
        at = names.index("add")
        around_add[title.split(")")[0] + ")"] = (names[at - 1], names[at + 1 :])
    assert around_add == {
        "(a)": ("bn2", ["relu"]),
        "(b)": ("conv2", ["bn2", "relu"]),
        "(c)": ("relu", []),
        "(d)": ("bn2", []),
        "(e)": ("conv2", []),
    }
    import torch

    unit = units["(c) ReLU before\naddition"].eval()
    x = torch.randn(2, 16, 8, 8)
    branch = unit.relu(unit.bn2(unit.conv2(unit.relu(unit.bn1(unit.conv1(x))))))
    assert torch.allclose(unit(x), x + branch), "y = x + relu(F(x))"


def test_the_relatives_are_drawn_from_what_their_modules_run() -> None:
    highway = texts_of(DIAGRAMS["part2/06 highway"][0]())
    assert {"H(x)", "T(x)", "1 − T", "gate", "transform.0"} <= set(highway) and highway.count("×") == 2
    assert "bias −2, then sigmoid" in highway, "the gate's bias read from the module"
    unet = DIAGRAMS["part2/06 U-Net"][0]()
    texts = texts_of(unet)
    assert texts.count("‖") == 3 and texts.count("pool /2") == 3 and "128×4×4" in texts
    assert "concatenated" in unet.alt
    fpn = texts_of(DIAGRAMS["part2/06 FPN"][0]())
    assert fpn.count("+") == 2 and fpn.count("upsample ×2") == 2 and "P2: 16×8×8" in fpn
    with pytest.raises(ValueError, match="expected the steps"):
        diagrams_relatives.draw_highway(HighwayLayer(16, plain=True), SHAPE)  # no gate: not a highway
    with pytest.raises(ValueError, match="expected the steps"):
        diagrams_relatives.draw_fpn(FPN(16, 16, 16, 3, plain=True), SHAPE)


def test_an_ordered_unit_computes_the_order_it_is_given() -> None:
    import torch

    residual = diagrams_context.OrderedUnit(16, ("norm", "relu", "linear"))
    plain = diagrams_context.OrderedUnit(16, ("norm", "relu", "linear"), residual=False)
    plain.load_state_dict(residual.state_dict())
    h = torch.randn(5, 16)
    branch = residual.linear(torch.relu(residual.norm(h)))  # Part 1's F(h) = W relu(N(h)) + b
    assert torch.allclose(residual(h), h + branch) and torch.allclose(plain(h), branch)
    assert [layer.name for layer in block_layers(residual, (16,))] == ["norm", "relu", "linear", "add"]
    with pytest.raises(ValueError, match="unknown steps"):
        diagrams_context.OrderedUnit(16, ("conv", "gelu"))
