"""Block diagrams: drawn from the module itself, every layer named, the paths told apart."""

from __future__ import annotations

import html

import pytest
from torch import nn

from resnets import build_model
from resnets.blocks import BasicBlock, Bottleneck, PreActBasicBlock, PreActBottleneck, make_shortcut
from resnets.diagrams import (
    block_layers,
    draw_block,
    draw_blocks,
    draw_unrolled,
    residual_block_names,
    unrolled_paths,
)

SHAPE = (16, 32, 32)


def block_alt(diagram) -> str:
    return html.escape(diagram.alt, quote=True)


def leaf_names(block: nn.Module) -> set[str]:
    return {name for name, m in block.named_modules() if name and not list(m.children())}


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


@pytest.mark.parametrize("title", BLOCKS)
def test_a_diagram_names_every_layer_of_its_module(title: str) -> None:
    block = BLOCKS[title]
    diagram = draw_block(block, SHAPE, title)
    texts = {t.get_text() for ax in diagram.figure.axes for t in ax.texts}
    assert leaf_names(block) <= texts, f"missing from the picture: {leaf_names(block) - texts}"
    svg = diagram._repr_svg_()
    assert svg.count("<title>") >= 1 and 'role="img"' in svg
    page = diagram._repr_html_()
    assert page.startswith('<img src="data:image/svg+xml;base64,') and f'alt="{block_alt(diagram)}"' in page
    assert all(name in diagram.alt for name in leaf_names(block))
    assert diagram._repr_png_().startswith(b"\x89PNG")


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


def test_blocks_side_by_side_share_one_scale() -> None:
    diagram = draw_blocks({"plain": BLOCKS["plain"], "residual": BLOCKS["basic, identity"]}, SHAPE)
    assert len(diagram.figure.axes) == 2
    assert diagram.figure.axes[0].get_ylim() == diagram.figure.axes[1].get_ylim()
    assert diagram.alt.startswith("plain: ") and "shortcut: the identity" in diagram.alt


def test_a_network_layout_is_its_stem_stages_and_head_with_their_shapes() -> None:
    import resnets
    from resnets.diagrams import draw_networks, network_layout

    layout = network_layout(resnets.build_model("resnet50"), (3, 224, 224))
    assert [s.kind for s in layout] == ["stem", "stage", "stage", "stage", "stage", "head"]
    assert layout[0].names == ("conv1", "bn1", "relu", "maxpool") and layout[0].shape == (64, 56, 56)
    assert [s.lines[0] for s in layout[1:5]] == [f"{n} × Bottleneck" for n in (3, 4, 6, 3)]
    assert [s.shape for s in layout[1:5]] == [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
    assert layout[-1].shape == (1000,) and "linear, 2048→1000" in layout[-1].lines
    cifar = network_layout(resnets.build_model("plain20"), (3, 32, 32))
    assert cifar[0].names == ("conv1", "bn1", "relu"), "the CIFAR stem has no max pool (an Identity)"
    assert [s.lines[0] for s in cifar if s.kind == "stage"] == ["3 × BasicBlock (plain)"] * 3
    diagram = draw_networks({"ResNet-20": (resnets.build_model("resnet20"), (3, 32, 32))})
    texts = {t.get_text() for t in diagram.figure.axes[0].texts}
    assert {"stem", "layer1", "layer2", "layer3", "head", "64×8×8"} <= texts


def test_the_unrolled_view_draws_every_path_once_and_names_every_block() -> None:
    paths = unrolled_paths(3)
    assert len(set(paths)) == 8 and [sum(p) for p in paths] == [0, 1, 1, 1, 2, 2, 2, 3]
    model = build_model("resnet8")
    assert residual_block_names(model) == ["layer1.0", "layer2.0", "layer3.0"]
    diagram = draw_unrolled(model)
    assert "8 paths" in diagram.alt and "layer1.0, layer2.0, layer3.0" in diagram.alt
    assert "3 through 1 block," in diagram.alt and "1 through 3 blocks" in diagram.alt
    assert diagram._repr_html_().startswith('<img src="data:image/svg+xml;base64,')
    assert residual_block_names(build_model("plain8")) == []
    with pytest.raises(ValueError, match="draw a smaller net"):
        draw_unrolled(build_model("resnet56"))
