"""Chapter 4 of Part 3: the shipped nets are found (or the fix is named), the experiments
return what the figures need, and every figure draws what it says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from resnets import build_model, run_folder, viz
from resnets.checkpoints import CheckpointError
from resnets.course import inside, inside_features, inside_landscape, inside_mistakes, lesions
from resnets.data import normalize
from resnets.probes import residual_ratios
from resnets.shipped import cpu_run_name


def tiny_images(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 8, 8, 3) uint8 images and labels: the CIFAR nets take any size, small ones are fast."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 8, 8, 3), generator=generator, dtype=torch.uint8)
    return images, torch.arange(n) % 10


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, inside.Trained]:
    """resnet8 and plain8 shipped into a private manifest under the chapter's names, and an
    evaluation set of random images in place of CIFAR-10 (nothing is downloaded)."""
    manifest = tmp_path / "shipped" / "manifest.json"
    for seed, arch in enumerate(("plain8", "resnet8")):
        run = tmp_path / arch
        run.mkdir()
        torch.manual_seed(seed)
        torch.save(build_model(arch).state_dict(), run / "model.pt")
        provenance = {
            "command": f"python -m resnets train --model {arch}",
            "hardware": "1 x CPU",
            "seed": 0,
            "config": {"model": arch, "schedule": "fast", "batch_size": 256},
        }
        (run / "run.json").write_text(json.dumps(provenance))
        metrics = [
            {
                "epoch": e,
                "test_error": 0.5 / e,
                "grad_norm_early": 0.1 * e,
                "grad_norm_late": 0.3,
                "wall_seconds": 60.0 * e,
            }
            for e in (1, 2)
        ]
        (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
        run_folder.ship(run, cpu_run_name(arch), manifest)
    for module in (inside, inside_landscape, inside_mistakes, lesions):
        monkeypatch.setattr(
            module, "evaluation_set", lambda split, images: tiny_images(images, seed=int(split == "train"))
        )
    monkeypatch.delenv("RESNETS_CACHE", raising=False)
    return {arch: inside.trained(arch, manifest) for arch in ("plain8", "resnet8")}


def test_a_missing_net_names_the_commands_that_make_it(tmp_path: Path) -> None:
    name = re.escape(cpu_run_name("resnet56"))
    with pytest.raises(
        CheckpointError,
        match=rf"{name}.*python -m resnets train --model resnet56.*--out runs/cpu/{name}`.*"
        rf"python -m resnets ship runs/cpu/{name} --name {name}",
    ):
        inside.trained("resnet56", tmp_path / "manifest.json")
    with pytest.raises(ValueError, match="choose one of: quick, full"):
        inside.probe_settings("medium")


def test_a_shipped_net_knows_its_kind_its_log_and_its_weights(shipped: dict[str, inside.Trained]) -> None:
    plain, residual = shipped["plain8"], shipped["resnet8"]
    assert (plain.kind, residual.kind, residual.depth) == ("plain", "residual", 8)
    assert "sha256" not in repr(residual) or residual.sha256 in repr(residual)  # the cache key holds the checksum
    assert "manifest" not in repr(residual)
    assert [m["test_error"] for m in residual.metrics] == [0.5, 0.25] and residual.test_error == 0.25
    assert residual.describe() == "  resnet8: 2 epochs (fast), 2 min on 1 x CPU; test error 25.0%"
    model = residual.load()
    assert model.arch == "resnet8" and not model.training
    assert (plain.label, residual.label) == ("plain-8", "ResNet-8")


def test_every_figure_names_and_colours_a_net_from_its_parsed_name() -> None:
    assert [inside.net_label(arch) for arch in ("plain20", "resnet110", "preact_resnet164")] == [
        "plain-20",
        "ResNet-110",
        "ResNet-164",
    ]
    assert inside.net_color("resnet110", deepest=110) == viz.COLORS["residual"].lower()  # the deepest: full colour
    assert inside.net_color("plain110", deepest=110) == viz.COLORS["plain"].lower()
    assert inside.net_color("resnet20", deepest=110) != inside.net_color("resnet56", deepest=110)  # paler


def test_experiments_measure_every_layer_and_block(shipped: dict[str, inside.Trained]) -> None:
    net = shipped["resnet8"]  # 3 blocks: the stem's 3x3 layer and 2 per block
    assert len(inside.response_profile(net, 20)) == 7
    study = lesions.lesion_study(net, 20, draws=2)
    assert 0 <= study["intact"] <= 1 and len(study["single"]) == 3 and study["shape_changing"] == [1, 2]
    assert study["random"] == {}  # resnet8 has one shape-keeping block: no two to delete at once
    assert [std for _, std in inside.response_profile(net, 20)] != [g for _, g in inside.bn_scales(net)]
    assert len(inside.bn_scales(net)) == 7
    logits, labels = inside_mistakes.test_predictions(net, 20)
    assert logits.shape == (20, 10) and labels.shape == (20,)
    # averaged over batches as one batch would be: the mean over images of per-image ratios
    images, _ = tiny_images(20)
    expected = residual_ratios(net.load(), normalize(images))
    assert [r for _, r in inside.block_ratios(net, 20)] == pytest.approx([r for _, r in expected], rel=1e-5)
    maps = inside_features.feature_maps(net, images[:3])
    assert [m.shape[:2] for m in maps.values()] == [(3, 16), (3, 16), (3, 32), (3, 64)]


def test_the_landscape_is_centred_on_the_trained_net(shipped: dict[str, inside.Trained]) -> None:
    net = shipped["resnet8"]
    surface = inside_landscape.landscape(net, 20, line_points=5, grid_points=3)
    assert surface["line"]["loss"].shape == (5,) and surface["grid"]["loss"].shape == (3, 3)
    # alpha = 0 on the line and (0, 0) on the grid are the trained weights themselves
    assert surface["line"]["loss"][2] == pytest.approx(surface["grid"]["loss"][1, 1], rel=1e-6)
    images, labels = tiny_images(20, seed=1)
    logits = net.load()(normalize(images))
    assert surface["line"]["loss"][2] == pytest.approx(
        torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-4
    )


def test_figures_draw_one_line_or_panel_per_net(shipped: dict[str, inside.Trained]) -> None:
    plain, residual = shipped["plain8"], shipped["resnet8"]
    nets = (plain, residual)
    stds = {net: [1.0, 0.5, 0.8] for net in nets}
    fig = inside.plot_response_stds(stds)
    ordered, ranked = fig.axes
    assert len(ordered.lines) == len(ranked.lines) == 2
    assert list(ranked.lines[0].get_ydata()) == [1.0, 0.8, 0.5]  # sorted, largest first
    assert ordered.lines[0].get_color() != ordered.lines[1].get_color()

    fig = inside.plot_block_ratios({net: [0.5, 0.2, 0.1] for net in nets})
    assert len(fig.axes[0].lines) == 3 and fig.axes[0].get_yscale() == "log"  # two nets and the line at 1

    fig = inside.plot_gradient_norms(nets)
    assert len(fig.axes[0].lines) == 4 and fig.axes[0].get_yscale() == "log"  # early and late, per net

    fig = inside.plot_std_against_scale(stds, {net: [0.9, 0.5, 0.7] for net in nets})
    assert [len(c.get_offsets()) for c in fig.axes[0].collections] == [3, 3] and len(fig.axes[0].lines) == 1

    plain_study = {"intact": 0.3, "single": [0.9, 0.8, 0.85], "shape_changing": [1], "random": {}, "images": 20}
    residual_study = {**plain_study, "single": [0.4, 0.3, 0.26], "random": {"2": [0.5, 0.6]}}
    fig = lesions.plot_lesion_study({"plain8": plain_study, "resnet8": residual_study})
    assert len(fig.axes) == 3 and [len(ax.patches) for ax in fig.axes[:2]] == [3, 3]
    assert fig.axes[1].patches[1].get_hatch() == "///"  # the shape-changing block
    assert list(fig.axes[2].lines[0].get_ydata()) == [pytest.approx(0.33), pytest.approx(0.55)]  # median of k=1, 2
    summary = lesions.lesion_summary(residual_study)
    assert summary["shape_changing"] == [0.3] and summary["keeping_median"] == pytest.approx(0.33)
    assert summary["worst_block"] == 1 and summary["median_by_count"] == {2: pytest.approx(0.55)}

    line = {"coordinates": np.linspace(-1, 1, 5), "loss": np.array([5.0, 2, 1, 2, 6]), "error": np.full(5, 0.5)}
    fig = inside_landscape.plot_landscape_1d({plain: line, residual: line})
    assert [len(ax.lines) for ax in fig.axes] == [2, 3]  # loss; error and chance
    grid = {"coordinates": np.linspace(-1, 1, 3), "loss": np.arange(1.0, 10.0).reshape(3, 3), "error": np.zeros((3, 3))}
    fig = inside_landscape.plot_landscape_2d({plain: grid, residual: grid})
    assert len(fig.axes) == 3  # two panels and the colour bar

    matrix = torch.eye(10, dtype=torch.int64) * 90 + 1
    fig = inside_mistakes.plot_confusion(matrix, "test")
    assert fig.axes[0].images[0].get_array()[0, 0] == pytest.approx(100 * 91 / 100)
    images, labels = tiny_images(5)
    fig = inside_mistakes.mistakes_grid(images, labels, [(0, 3, 0.9), (4, 1, 0.8), (2, 0, 0.7)], columns=2)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert fig.axes[0].get_title().startswith("airplane →\ncat 90%")


def test_the_feature_map_explorer_has_a_frame_per_image_and_stage(shipped: dict[str, inside.Trained]) -> None:
    images, labels = tiny_images(2)
    explorer = inside_features.feature_map_explorer(shipped["resnet8"], images, labels, channels=4)
    assert [c.values for c in explorer.controls] == [
        ("1: airplane", "2: automobile"),
        ("stem", "layer1", "layer2", "layer3"),
    ]
    frame = explorer.frame(image="2: automobile", stage="layer3")
    mosaic = frame.axes[1].images[0].get_array()
    assert mosaic.shape == (2, 4 * 3 - 1)  # 4 channels of 2x2 (an 8x8 image after two strides of 2) in a row
    assert len(explorer.keys()) == 8  # the static site gets a frame per (image, stage)


def test_strongest_channels_and_the_mosaic() -> None:
    maps = {"stem": np.zeros((2, 4, 3, 3))}
    maps["stem"][:, 2] = 5.0
    maps["stem"][:, 0] = 1.0
    assert list(inside_features.strongest_channels(maps, 2)["stem"]) == [0, 2]
    mosaic = inside_features.mosaic(np.ones((3, 2, 2)), columns=2)  # two rows of two, one slot empty
    assert mosaic.shape == (5, 5) and np.isnan(mosaic).sum() == 25 - 12


def test_summaries_of_the_measurements() -> None:
    profile = [("bn1", 9.0), ("layer1.0.bn1", 5.0), ("layer1.0.bn2", 1.0), ("layer2.0.bn1", 5.0), ("layer2.0.bn2", 2.0)]
    assert list(inside.branch_output_stds(profile)) == [1.0, 2.0]
    bowl = np.add.outer(np.linspace(-1, 1, 5) ** 2, np.linspace(-1, 1, 5) ** 2)
    assert inside_landscape.local_minima(bowl) == 1 and inside_landscape.local_minima(bowl[2]) == 1
    bumpy = bowl.copy()
    bumpy[0, 0] = bumpy[4, 3] = -1.0  # two more pits, one in a corner
    assert inside_landscape.local_minima(bumpy) == 3
    assert inside_landscape.local_minima(np.array([1.0, 0.0, 0.0, 1.0])) == 0  # a flat bottom is not strictly below
    matrix = torch.eye(10, dtype=torch.int64) * 50
    matrix[3, 5] = 7  # cats taken for dogs
    assert inside_mistakes.most_confused(matrix) == ("cat", "dog", 7)
    matrix[0, 3] = 3  # an airplane taken for a cat
    assert inside_mistakes.same_kind_share(matrix) == pytest.approx(7 / 10)
    assert inside_mistakes.same_kind_share(torch.ones(10, 10)) == pytest.approx((6 * 5 + 4 * 3) / 90)


def test_evaluation_sets_are_class_balanced_and_always_the_same(cifar10) -> None:
    images, labels = inside.evaluation_set("test", 100)
    assert images.shape == (100, 32, 32, 3) and torch.bincount(labels).tolist() == [10] * 10
    assert torch.equal(inside.evaluation_set("test", 100)[0], images)
    assert len(inside.evaluation_set("test", 10000)[1]) == 10000
    train_images, _ = inside.evaluation_set("train", 50)
    assert not any(torch.equal(train_images[0], image) for image in images)  # never a test image
    with pytest.raises(ValueError, match="split must be 'test' or 'train'"):
        inside.evaluation_set("val", 10)


def test_only_nets_that_learned_are_compared(
    shipped: dict[str, inside.Trained], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    nets = list(shipped.values())
    assert inside.comparable_depths(nets) == [8]  # both at 25% test error
    errors = {"plain8": 0.9, "resnet8": 0.25}
    monkeypatch.setattr(inside.Trained, "metrics", property(lambda self: [{"test_error": errors[self.arch]}]))
    assert inside.comparable_depths(nets) == []
    assert "Not compared at depth 8: plain8 (90% test error) has not learned yet" in capsys.readouterr().out


def test_shipped_nets_finds_the_shipped_and_names_how_to_make_the_rest(
    shipped: dict[str, inside.Trained], capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = shipped["resnet8"].manifest
    found = inside.shipped_nets(("plain8", "resnet8", "resnet110"), manifest)
    assert list(found) == ["plain8", "resnet8"]
    assert "resnet110 is not shipped yet: `tools/train_cpu_runs.sh resnet110`" in capsys.readouterr().out


def test_a_stored_lesion_study_of_other_weights_is_refused(shipped: dict[str, inside.Trained], tmp_path: Path) -> None:
    net = shipped["resnet8"]
    study = lesions.lesion_study(net, 10, draws=1)
    stored = tmp_path / "lesions.json"
    stored.write_text(json.dumps({"studies": {"resnet8": study}, "provenance": {}}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lesions, "trained", lambda arch: net)
        assert lesions.stored_studies(stored)["studies"]["resnet8"]["single"] == study["single"]
        stored.write_text(json.dumps({"studies": {"resnet8": {**study, "sha256": "0" * 64}}, "provenance": {}}))
        with pytest.raises(CheckpointError, match="python -m resnets.course.lesions --archs resnet8"):
            lesions.stored_studies(stored)


def test_the_profile_summaries_read_blocks_and_stages_by_name() -> None:
    profile = [("bn1", 0.5), ("layer1.0.bn1", 0.4), ("layer1.0.bn2", 0.2), ("layer1.1.bn1", 0.1),
               ("layer1.1.bn2", 0.3), ("layer2.0.bn1", 0.6), ("layer2.0.bn2", 0.05)]  # fmt: skip
    assert inside.second_layer_share(profile) == pytest.approx(2 / 3)  # layer1.0 and layer2.0
    assert inside.stage_minima(profile) == [("layer1.1.bn1", 0.1, (3, 4)), ("layer2.0.bn2", 0.05, (2, 2))]
    assert inside.stage_medians([1.0, 3.0, 2.0, 5.0, 4.0, 6.0]) == [2.0, 3.5, 5.0]


def test_the_lesion_table_lists_each_study_with_its_counts() -> None:
    study = {"intact": 0.1, "single": [0.2, 0.5, 0.3], "shape_changing": [1], "random": {"2": [0.4, 0.6]}, "images": 20}
    table = lesions.lesion_table({"resnet8": study, "plain8": {**study, "random": {}}})
    assert table.rows[0][:6] == ("ResNet-8 (20)", "10.0%", "25.0%", "30.0%", "50.0%", "50.0%")
    assert table.rows[1][5] == "—" and len(table.headers) == 5 + len(lesions.TABLE_COUNTS)
