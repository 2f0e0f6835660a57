"""The family tables, the plain-text table format and the shortcut cost arithmetic."""

from __future__ import annotations

import pytest

from resnets import build_model, count_flops, count_parameters
from resnets.course.family import (
    cifar_family_table,
    imagenet_family_table,
    main_path_depth,
    matches_printed,
    shortcut_cost_table,
    shortcut_costs,
    stage_parameters,
    stage_table,
    summarize,
)
from resnets.tables import format_shape, format_table


def test_format_table_aligns_numbers_right_and_text_left() -> None:
    table = format_table(["model", "params"], [["resnet20", "269,722"], ["resnet1202", "19,421,274"], ["x", None]])
    lines = table.splitlines()
    assert lines[0] == "model           params"
    assert lines[2] == "resnet20       269,722"
    assert lines[4] == "x                    —"
    with pytest.raises(ValueError, match="a row has 1 cells but there are 2 headers"):
        format_table(["a", "b"], [["only one"]])
    assert format_shape((1, 64, 56, 56)) == "64×56×56"


@pytest.mark.parametrize(
    "name, depth", [("resnet20", 20), ("resnet110", 110), ("preact_resnet164", 164), ("resnet50", 50)]
)
def test_the_depth_is_the_count_of_weight_layers_on_the_main_path(name: str, depth: int) -> None:
    assert main_path_depth(build_model(name)) == depth


def test_summarize_counts_the_built_model() -> None:
    s = summarize("resnet32")
    model = build_model("resnet32")
    assert (s.depth, s.blocks_per_stage, s.block, s.image_size) == (32, (5, 5, 5), "BasicBlock", 32)
    assert (s.parameters, s.macs) == (count_parameters(model), count_flops(model, (3, 32, 32)))


def test_family_tables_list_every_model_beside_the_paper() -> None:
    cifar = cifar_family_table(("resnet20", "resnet56"))
    assert "269,722" in cifar and "853,018" in cifar and "0.85M" in cifar
    imagenet = imagenet_family_table(("resnet18", "resnet50"))
    assert "resnet50" in imagenet and "3-4-6-3" in imagenet and "4.09G" in imagenet and "3.86G" in imagenet


def test_stage_table_goes_from_56_to_7_pixels_and_64_to_2048_channels() -> None:
    rows = {line.split()[0]: line.split() for line in stage_table("resnet50").splitlines()[3:]}
    assert rows["maxpool"][2:4] == ["56×56", "64"]
    assert rows["layer1"][2:4] == ["56×56", "256"]
    assert rows["layer4"][2:5] == ["7×7", "2048", "3"]


def test_shortcut_costs_of_resnet20_by_formula() -> None:
    a, b, c = shortcut_costs("resnet20")
    assert (a.projections, a.zero_pads, b.projections, c.projections) == (0, 2, 2, 9)

    def projection(cin: int, cout: int) -> int:
        return cin * cout + 2 * cout  # 1x1 conv, no bias, then BN

    assert b.parameters - a.parameters == projection(16, 32) + projection(32, 64)
    same_shape = 3 * projection(16, 16) + 2 * projection(32, 32) + 2 * projection(64, 64)
    assert c.parameters - a.parameters == projection(16, 32) + projection(32, 64) + same_shape
    assert "+2,752" in shortcut_cost_table("resnet20")


def test_imagenet_nets_are_counted_without_weights() -> None:
    # meta device: shapes only, so the big nets cost nothing to build; the counts are the same
    from resnets.course.family import build_for_counting

    for name in ("resnet50", "plain34"):
        model = build_for_counting(name)
        assert next(model.parameters()).device.type == "meta"
        assert count_parameters(model) == count_parameters(build_model(name))
    assert next(build_for_counting("resnet20").parameters()).device.type == "cpu"
    assert count_flops(build_for_counting("resnet18"), (3, 64, 64)) == count_flops(build_model("resnet18"), (3, 64, 64))


def test_torchvision_parity_loads_their_weights_into_ours() -> None:
    from resnets.course.family import torchvision_parity

    parity = torchvision_parity("resnet18", image_size=32)
    assert parity.same_keys and parity.tensors == len(build_model("resnet18").state_dict())
    assert parity.max_difference < 1e-5 < parity.max_logit


def test_matches_printed_rounds_to_the_decimals_the_paper_prints() -> None:
    assert matches_printed(0.269722, 0.27) and matches_printed(19.421274, 19.4)
    assert not matches_printed(10.327706, 10.2)  # ResNet-1001: 10.3M against the paper's 10.2M
    assert matches_printed(25.4, 25) and not matches_printed(25.6, 25)
    assert matches_printed(25.557032, 25.5, truncated=True) and not matches_printed(25.557032, 25.5)
    assert matches_printed(0.29, 0.29, truncated=True)  # 0.29 * 100 is 28.999999999999996
    assert not matches_printed(10.327706, 10.2, truncated=True)


def test_stage_parameters_of_resnet20_by_hand() -> None:
    # Counted by hand (chapter 5's exercise): stage 1 three 16-channel blocks, stages 2 and 3 a
    # widening block (option A: no shortcut weights) and two more; the rest is the stem and the head.
    stage1 = 3 * (18 * 16**2 + 4 * 16)
    stage2 = (9 * 16 * 32 + 9 * 32 * 32 + 4 * 32) + 2 * (18 * 32**2 + 4 * 32)
    stage3 = (9 * 32 * 64 + 9 * 64 * 64 + 4 * 64) + 2 * (18 * 64**2 + 4 * 64)
    stem, head = 9 * 3 * 16 + 2 * 16, 64 * 10 + 10
    assert stage_parameters("resnet20") == {
        "layer1": stage1,
        "layer2": stage2,
        "layer3": stage3,
        "total": stem + stage1 + stage2 + stage3 + head,
    }
