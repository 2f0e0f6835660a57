"""Block diagrams: drawn from the module itself, every layer named, the paths told apart."""

from __future__ import annotations

import pytest
from torch import nn

from resnets.blocks import BasicBlock, Bottleneck, PreActBasicBlock, PreActBottleneck, make_shortcut
from resnets.diagrams import block_layers, draw_block, draw_blocks

SHAPE = (16, 32, 32)


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
    assert svg.count("<title>") >= 1 and "role=\"img\"" in svg
    assert all(name in diagram.alt for name in leaf_names(block))
    assert diagram._repr_png_().startswith(b"\x89PNG")


def test_the_layers_follow_the_forward_pass_with_their_paths_and_shapes() -> None:
    layers = block_layers(BLOCKS["basic, option B"], SHAPE)
    assert [(l.name, l.path) for l in layers] == [
        ("conv1", "main"), ("bn1", "main"), ("relu", "main"), ("conv2", "main"), ("bn2", "main"),
        ("add", "main"), ("relu", "main"), ("downsample.0", "shortcut"), ("downsample.1", "shortcut"),
    ]
    assert layers[0].shape == (32, 16, 16) and layers[0].label == "3×3 conv, 16→32, /2"
    assert [l.path for l in block_layers(BLOCKS["basic, identity"], SHAPE)].count("shortcut") == 0
    assert "add" not in [l.name for l in block_layers(BLOCKS["plain"], SHAPE)]
    pre = block_layers(BLOCKS["pre-activation"], SHAPE)
    assert [l.name for l in pre if l.path == "shared"] == ["bn1", "relu"], "the projection reads the normalised input"
    option_a = block_layers(BLOCKS["basic, option A"], SHAPE)
    assert [(l.label, l.shape) for l in option_a if l.path == "shortcut"] == [("option A: /2, +16 zeros", (32, 16, 16))]


def test_blocks_side_by_side_share_one_scale() -> None:
    diagram = draw_blocks({"plain": BLOCKS["plain"], "residual": BLOCKS["basic, identity"]}, SHAPE)
    assert len(diagram.figure.axes) == 2
    assert diagram.figure.axes[0].get_ylim() == diagram.figure.axes[1].get_ylim()
    assert diagram.alt.startswith("plain: ") and "shortcut: the identity" in diagram.alt
