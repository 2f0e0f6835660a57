"""Table 6's reporting: final-epoch errors beside the paper's, shipped runs and their re-measurement."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from resnets import build_model, checkpoints, costs, flops, papers, reproduce, results, shipped, stats
from resnets.checkpoints import CheckpointError
from resnets.course import table6
from resnets.data import CIFAR10, make_splits, normalize
from resnets.probes import predict
from resnets.run_folder import ship

#: The recipe's length in this module's manifests (runs at other lengths are stretched to 60 epochs),
#: pinned for every test here so that these tests keep their meaning whatever length the shipped recipe has.
TEST_RECIPE_EPOCHS = 40


@pytest.fixture(autouse=True)
def _recipe_of_test_recipe_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shipped, "CPU_EPOCHS", TEST_RECIPE_EPOCHS)


def _run(test_errors: list[float], seed: int = 0) -> dict:
    metrics = [
        {"epoch": e + 1, "step": 10 * (e + 1), "train_error": 0.5, "test_error": t} for e, t in enumerate(test_errors)
    ]
    return {"seed": seed, "metrics": metrics, "provenance": {"seed": seed}}


# Final-epoch test errors 0.08 and 0.10 for resnet20 (mean 9 %, std 1.41 %); one plain20 run.
RESULT = {
    "runs": {
        "resnet20": [_run([0.5, 0.05, 0.08], 0), _run([0.4, 0.10], 1)],
        "resnet110": [_run([0.07], 0)],
        "plain20": [_run([0.12], 0)],
    }
}


def test_table6_reports_the_final_epoch_never_the_best() -> None:
    rows = {row["model"]: row for row in reproduce.table6_summary(RESULT)}
    assert rows["resnet20"]["runs"] == 2
    assert rows["resnet20"]["test_error_mean"] == pytest.approx(9.0)  # not the best epoch's 5 %
    assert rows["resnet20"]["test_error_std"] == pytest.approx(math.sqrt(2))
    assert math.isnan(rows["plain20"]["test_error_std"]) and rows["plain20"]["paper"] is None


def test_format_table6_shows_mean_std_and_the_papers_cells() -> None:
    lines = reproduce.format_table6(reproduce.table6_summary(RESULT), title="T").splitlines()
    assert lines[0] == "T" and "final-epoch test error" in lines[1]
    by_model = {line.split()[0]: line for line in lines[3:]}
    assert "9.00 ± 1.41" in by_model["resnet20"] and by_model["resnet20"].endswith("8.75")
    assert by_model["resnet110"].endswith("6.43 (6.61 ± 0.16)")  # best of 5, then mean ± std
    assert "12.00" in by_model["plain20"] and "±" not in by_model["plain20"] and by_model["plain20"].endswith("—")


def test_format_provenance_names_every_fact_and_unknowns() -> None:
    command = "python -m resnets train --model resnet110 " + " ".join(f"--option-{i} {i}" for i in range(12))
    text = results.format_provenance({"command": command, "data_checksum": "ab" * 32, "seed": 3})
    assert all(len(line) <= 80 for line in text.splitlines()), text
    pasted = " ".join(part.strip() for part in text.split("command:")[1].split("git commit:")[0].split("\\\n"))
    assert pasted.strip() == command, "the wrapped command must paste back into a shell unchanged"
    assert "ab" * 32 in text and "git commit:   unknown" in text and "seed:" in text
    assert all(len(line) <= 78 for line in text.splitlines())
    assert "precision:    unknown" in text and "resumed" not in text, "a run of before precision was recorded"
    resumes = [
        {"epoch": 28, "hardware": "1 x CPU (2 threads)", "cpu": "AMD EPYC", "precision": "bf16", "git_commit": "f" * 40}
    ]
    moved = results.format_provenance({"precision": "fp32", "resumes": resumes})
    assert "precision:    fp32" in moved, "the first start's"
    words = " ".join(moved.split())  # the line is wrapped at 78 columns
    assert f"resumed: epoch 28 on 1 x CPU (2 threads), AMD EPYC, bf16, commit {'f' * 12}" in words
    older = results.format_provenance({"resumes": [{**resumes[0], "cpu": None}]})
    assert "epoch 28 on 1 x CPU (2 threads), bf16, commit" in older, "a resume recorded before the CPU was"


def test_binomial_standard_error() -> None:
    assert stats.binomial_standard_error(0.07, 10_000) == pytest.approx(0.002551, rel=1e-3)
    assert stats.binomial_standard_error(0.0, 100) == 0.0


def _ship_random_resnet8(folder: Path, test_error: float) -> Path:
    run = folder / "run"
    run.mkdir()
    torch.manual_seed(0)
    torch.save(build_model("resnet8").state_dict(), run / "model.pt")
    config = {"model": "resnet8", "schedule": "fast", "train_subset": None, "val_size": 5000}
    (run / "run.json").write_text(
        json.dumps({"command": "python -m resnets train --model resnet8", "seed": 0, "config": config})
    )
    (run / "metrics.jsonl").write_text(
        json.dumps({"epoch": 1, "step": 175, "train_error": 0.9, "val_error": 0.9, "test_error": test_error}) + "\n"
    )
    manifest = folder / "shipped" / "manifest.json"
    ship(run, "resnet8-test", manifest)
    return manifest


def test_shipped_runs_are_read_from_the_manifest_and_missing_ones_explained(tmp_path: Path) -> None:
    manifest = _ship_random_resnet8(tmp_path, 0.9)
    entries = shipped.shipped_runs(["resnet8-test"], manifest)
    table = shipped.format_shipped_runs(entries)
    assert "resnet8-test" in table and "45,000" in table and "90.00" in table
    rows = reproduce.table6_summary(shipped.shipped_result(entries))
    assert rows == [
        {
            "model": "resnet8",
            "runs": 1,
            "test_error_mean": pytest.approx(90.0),
            "test_error_std": pytest.approx(float("nan"), nan_ok=True),
            "paper": None,
        }
    ]
    with pytest.raises(
        CheckpointError, match=r"no shipped checkpoint named plain8-cpu .*shipped: resnet8-test.*python -m resnets ship"
    ):
        shipped.shipped_runs(["resnet8-test", "plain8-cpu"], manifest)


def test_a_shipped_checkpoints_test_error_is_measured_again(
    cifar10: CIFAR10, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESNETS_CACHE", raising=False)
    manifest = _ship_random_resnet8(tmp_path, 0.9)
    measured = shipped.shipped_test_error("resnet8-test", test_subset=200, manifest=manifest)
    images, labels = make_splits(cifar10, test_subset=200).test
    torch.manual_seed(0)
    expected = (predict(build_model("resnet8").eval(), normalize(images)).argmax(1) != labels).float().mean().item()
    assert measured["error"] == pytest.approx(expected) and measured["images"] == 200 and measured["recorded"] == 0.9
    assert measured["standard_error"] == pytest.approx(stats.binomial_standard_error(expected, 200))


def test_the_flip_test_error_is_recorded_once_then_read_and_checked_against_the_data(
    cifar10: CIFAR10, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESNETS_CACHE", raising=False)
    manifest = _ship_random_resnet8(tmp_path, 0.9)
    assert shipped.shipped_test_error("resnet8-test", 200, manifest=manifest, flip=True)["recorded"] is None
    record = shipped.record_flip_test_error("resnet8-test", "cpu", manifest, command="python -m resnets ship x")
    measured = shipped.shipped_test_error("resnet8-test", manifest=manifest, flip=True)  # what flips compute:
    assert record["error"] == measured["error"] == measured["recorded"]  # test_flip_tta_... checks the value
    assert record["images"] == len(cifar10.test_labels) and record["data_checksum"] == cifar10.checksum
    assert record["command"] == "python -m resnets ship x" and record["hardware"].startswith("CPU")
    again = shipped.shipped_test_error("resnet8-test", 200, manifest=manifest, flip=True)
    assert again["recorded"] == record["error"] and again["images"] == 200

    def no_measuring(*args: object) -> float:
        raise AssertionError("a recorded flip test error is read, not measured again")

    monkeypatch.setattr(shipped, "_test_error", no_measuring)
    assert shipped.flip_test_error("resnet8-test", manifest=manifest) == record["error"]
    entries = json.loads(manifest.read_text())
    entries["checkpoints"]["resnet8-test"]["evaluations"]["flip_test_error"]["data_checksum"] = "other data"
    manifest.write_text(json.dumps(entries))
    monkeypatch.setattr(shipped, "_test_error", lambda *args: 0.5)  # measured on this data instead
    assert shipped.flip_test_error("resnet8-test", manifest=manifest) == 0.5
    assert shipped.shipped_test_error("resnet8-test", manifest=manifest, flip=True)["recorded"] is None


class _MirrorProbe(torch.nn.Module):
    """A "net" whose answer for an image and for its left-right mirror are known: class 0, weakly
    (logit 0.5), when the left half is the brighter; class 1, strongly (logit 4), when the right is."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))  # predict() reads the device from a parameter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left_brighter = x[..., :16].mean((1, 2, 3)) > x[..., 16:].mean((1, 2, 3))
        logits = torch.zeros(len(x), 10)
        logits[:, 0], logits[:, 1] = 0.5 * left_brighter, 4.0 * ~left_brighter
        return logits


def _mirror_data() -> CIFAR10:
    """10 test images bright on the left half and 10 bright on the right (each the other's mirror,
    and the same on every row, so flipping rows changes nothing), all labelled 1; dark training images."""
    halves = torch.zeros(20, 32, 32, 3, dtype=torch.uint8)
    halves[:10, :, :16] = 255
    halves[10:, :, 16:] = 255
    train = torch.zeros(5100, 32, 32, 3, dtype=torch.uint8)  # make_splits holds out 500 a class
    return CIFAR10(train, torch.arange(5100) % 10, halves, torch.ones(20, dtype=torch.int64), "mirror", "test", "PNG")


def test_flip_tta_averages_each_image_with_its_left_right_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Known by construction: alone, each left-bright image is called class 0 (p = 0.16 against 0.09), wrong;
    # its mirror is right-bright, class 1 with p = 0.86. Averaged: class 1 (0.48 against 0.09) for every image.
    # Flipping rows instead of columns, or using the mirror alone, or no mirror, leaves half the images wrong.
    monkeypatch.delenv("RESNETS_CACHE", raising=False)
    manifest = _ship_random_resnet8(tmp_path, 0.9)
    monkeypatch.setattr(shipped, "load_cifar10", _mirror_data)
    monkeypatch.setattr(shipped, "load_pretrained", lambda *args, **kwargs: _MirrorProbe())
    assert shipped.shipped_test_error("resnet8-test", manifest=manifest)["error"] == 0.5
    assert shipped.shipped_test_error("resnet8-test", manifest=manifest, flip=True)["error"] == 0.0
    assert shipped.record_flip_test_error("resnet8-test", "cpu", manifest)["error"] == 0.0


# --- the CPU recipe's runs beside the paper ----------------------------------------------------


def _cpu_entry(model: str, test_error: float, schedule: str = "cpu", train_subset: int | None = None) -> dict:
    config = {
        "model": model,
        "schedule": schedule,
        "epochs": TEST_RECIPE_EPOCHS,
        "batch_size": 128,
        "lr": 0.1,
        "weight_decay": 5e-4,
        "label_smoothing": 0.1,
        "nesterov": True,
        "val_size": 5000,
        "train_subset": train_subset,
    }
    metrics = [
        {"epoch": 1, "test_error": 0.5, "wall_seconds": 60.0},
        {"epoch": TEST_RECIPE_EPOCHS, "test_error": test_error, "train_eval_error": 0.05, "wall_seconds": 2400.0},
    ]
    return {
        "file": f"{model}.pt",
        "sha256": "0" * 64,
        "arch": model,
        "provenance": {"config": config, "seed": 0},
        "metrics": metrics,
    }


def test_cpu_recipe_runs_are_only_the_full_data_runs_of_the_cpu_schedule(tmp_path: Path) -> None:
    entries = {
        "resnet56-cifar10-cpu-40ep": _cpu_entry("resnet56", 0.11),
        "resnet20-cifar10-cpu-40ep": _cpu_entry("resnet20", 0.1277),
        "plain20-cifar10-cpu-40ep": _cpu_entry("plain20", 0.14, schedule="fast"),  # another recipe
        "plain56-cifar10-cpu-40ep": _cpu_entry("plain56", 0.2, train_subset=5000),  # not all 45k images
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"checkpoints": entries}))
    runs = shipped.cpu_recipe_runs(manifest)
    assert list(runs) == ["resnet20", "resnet56"], "in the order the runs are trained, other recipes left out"
    entries["plain20-cifar10-cpu-40ep"] = _cpu_entry("plain20", 0.14)
    entries["resnet32-cifar10-cpu-40ep"] = _cpu_entry("resnet32", 0.12)
    manifest.write_text(json.dumps({"checkpoints": entries}))
    every = shipped.cpu_recipe_runs(manifest)
    assert list(every) == ["resnet20", "plain20", "resnet56", "resnet32"], "the order the runs are trained in"
    ordered = [row["model"] for row in table6.paper_comparison(every)]
    assert ordered == ["resnet20", "resnet32", "resnet56", "plain20"], "Table 6's rows in its order, then plain nets"
    assert table6.in_table6_order(["plain56", "resnet56", "plain20", "resnet20"]) == [
        "resnet20",
        "resnet56",
        "plain56",
        "plain20",
    ], "the plain nets keep the order given"

    rows = {row["model"]: row for row in table6.paper_comparison(runs, {"resnet20": 0.1204})}
    assert rows["resnet20"]["ours"] == pytest.approx(12.77) and rows["resnet20"]["difference"] == pytest.approx(
        12.77 - 8.75
    )
    assert rows["resnet20"]["flip"] == pytest.approx(12.04) and rows["resnet56"]["flip"] is None
    assert rows["resnet20"]["train_fit"] == pytest.approx(5.0) and rows["resnet20"]["minutes"] == pytest.approx(40.0)
    table = table6.format_paper_comparison(list(rows.values()))
    assert "+4.02" in table and "12.04" in table and "6.97" in table


def test_recipe_differences_name_every_setting_that_is_not_the_papers() -> None:
    lines = table6.recipe_differences(_cpu_entry("resnet20", 0.1)["provenance"]["config"])
    text = "\n".join(lines)
    assert "40 epochs" in text and "about 182 epochs" in text and all(len(line) <= 76 for line in lines)
    assert "weight decay: 0.0005 instead of 0.0001" in text and "label smoothing: 0.1 instead of 0.0" in text
    assert "Nesterov momentum: True instead of False" in text and "one run per depth" in text
    assert "batch size" not in text and "learning rate" not in text, "the same as the paper's: not a difference"


def _cpu_run(seed: int, test_error: float, epochs: int = TEST_RECIPE_EPOCHS, **kwargs) -> dict:
    entry = _cpu_entry("resnet20", test_error, **kwargs)
    entry["provenance"]["seed"] = seed
    entry["provenance"]["config"]["epochs"] = entry["metrics"][-1]["epoch"] = epochs
    return entry


def test_cpu_recipe_seeds_gather_one_models_seeds_and_report_their_spread(tmp_path: Path) -> None:
    entries = {
        shipped.cpu_run_name("resnet20", 2): _cpu_run(2, 0.13),
        shipped.cpu_run_name("resnet20", 0): _cpu_run(0, 0.12),
        shipped.cpu_run_name("resnet20", 1): _cpu_run(1, 0.14),
        "resnet20-cifar10-cpu-40ep-seed3": _cpu_run(3, 0.2, schedule="fast"),  # another recipe
        "resnet20-other": _cpu_run(4, 0.2),  # not a name the cpu recipe ships under
        shipped.cpu_run_name("resnet20", 0, epochs=60): _cpu_run(0, 0.115, epochs=60),  # another length
        "resnet56-cifar10-cpu-40ep": _cpu_entry("resnet56", 0.11),
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"checkpoints": entries}))
    seeds = shipped.cpu_recipe_seeds("resnet20", manifest)
    assert list(seeds) == [shipped.cpu_run_name("resnet20", seed, 40) for seed in (0, 1, 2)]
    assert list(shipped.cpu_recipe_runs(manifest)) == ["resnet20", "resnet56"], "seed 0 alone stands for a depth"
    table = table6.format_cpu_runs(seeds)
    assert [row[0] for row in table.rows] == list(seeds) and table.rows[0][3] == "12.00", "a row per run, in %"
    text = table6.cpu_runs_summary(seeds)
    assert "40 epochs, test error over 3 seeds: 13.00 ± 1.00 % (mean ± std)" in text
    assert "on 10,000 images: 0.34 points" in text, "sqrt(0.13 * 0.87 / 10,000)"
    assert "against" not in text, "one length: nothing to compare"
    [row] = reproduce.table6_summary(shipped.shipped_result(seeds))
    assert row["runs"] == 3 and row["test_error_std"] == pytest.approx(1.0)


def test_a_longer_cpu_schedule_is_measured_against_the_recipes_seeds(tmp_path: Path) -> None:
    longer = shipped.cpu_run_name("resnet20", 0, epochs=60)
    assert longer == "resnet20-cifar10-cpu-60ep" and shipped.cpu_run_name("resnet20", 1, 60).endswith("-60ep-seed1")
    entries = {
        longer: _cpu_run(0, 0.115, epochs=60),
        "resnet20-cifar10-cpu-40ep-seed1": _cpu_run(1, 0.14),
        "resnet20-cifar10-cpu-40ep": _cpu_run(0, 0.12),
        "resnet20-cifar10-cpu-80ep": _cpu_run(0, 0.11, epochs=60),  # named for another length than it has
    }
    entries[longer]["metrics"][-1]["train_eval_error"] = 0.03
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"checkpoints": entries}))
    runs = shipped.cpu_schedule_runs("resnet20", manifest)
    assert list(runs) == ["resnet20-cifar10-cpu-40ep", "resnet20-cifar10-cpu-40ep-seed1", longer], "shortest first"
    assert shipped.cpu_recipe_runs(manifest)["resnet20"]["metrics"][-1]["epoch"] == 40, "the recipe stands"
    assert list(shipped.cpu_recipe_seeds("resnet20", manifest)) == list(runs)[:2]
    lengths = table6.cpu_run_lengths(runs)
    assert list(lengths) == [40, 60] and [lengths[e]["runs"] for e in lengths] == [2, 1]
    assert (lengths[40]["test_error_mean"], lengths[40]["test_error_std"]) == pytest.approx((13.0, 2**0.5))
    assert lengths[60]["test_error_mean"] == pytest.approx(11.5) and math.isnan(lengths[60]["test_error_std"])
    assert (lengths[40]["train_fit_mean"], lengths[60]["train_fit_mean"]) == pytest.approx((5.0, 3.0))
    text = table6.cpu_runs_summary(runs)
    assert "40 epochs, test error over 2 seeds: 13.00 ± 1.41 % (mean ± std)" in text
    assert "60 epochs, test error over 1 seed: 11.50 %\n  -1.50 points against 40 epochs" in text
    fig = table6.plot_cpu_runs(runs)
    [ax] = fig.axes
    assert len(ax.lines) == 6, "test error and training fit of each of the three runs"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "40 epochs, test",
        "40 epochs, train fit",
        "60 epochs, test",
        "60 epochs, train fit",
    ]


def test_difference_standard_error_adds_each_means_error_in_quadrature() -> None:
    first = {"test_error_std": 0.3, "runs": 3}
    second = {"test_error_std": 0.4, "runs": 2}
    expected = math.sqrt(0.3**2 / 3 + 0.4**2 / 2)
    assert stats.difference_standard_error(first, second) == pytest.approx(expected)
    assert math.isnan(stats.difference_standard_error(first, {"test_error_std": math.nan, "runs": 1}))


def test_lengths_by_model_lists_the_depths_trained_at_two_lengths(tmp_path: Path) -> None:
    def plain20(seed: int, error: float, epochs: int = TEST_RECIPE_EPOCHS) -> dict:
        entry = _cpu_run(seed, error, epochs=epochs)
        entry["arch"] = "plain20"
        return entry

    entries = {
        "resnet20-cifar10-cpu-40ep": _cpu_run(0, 0.13),
        "resnet20-cifar10-cpu-40ep-seed1": _cpu_run(1, 0.12),
        "resnet20-cifar10-cpu-60ep": _cpu_run(0, 0.12, epochs=60),
        "resnet20-cifar10-cpu-60ep-seed1": _cpu_run(1, 0.11, epochs=60),
        "plain20-cifar10-cpu-40ep": plain20(0, 0.14),
        "plain20-cifar10-cpu-60ep": plain20(0, 0.135, epochs=60),
        "resnet56-cifar10-cpu-40ep": _cpu_entry("resnet56", 0.11),  # one length only: left out
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"checkpoints": entries}))
    by_model = table6.cpu_lengths_by_model(manifest)
    assert list(by_model) == ["resnet20", "plain20"] and list(by_model["resnet20"]) == [40, 60]
    table = table6.format_lengths_by_model(by_model)
    rows = {(row[0], row[1]): row for row in table.rows}
    assert rows["resnet20", "40"][3] == "12.50 ± 0.71" and rows["resnet20", "60"][3] == "11.50 ± 0.71"
    assert rows["resnet20", "40"][4:7] == ("+1.00", "0.71", "seeds"), "sqrt(0.71**2 / 2 + 0.71**2 / 2)"
    binomial = 100 * math.hypot(math.sqrt(0.14 * 0.86 / 10_000), math.sqrt(0.135 * 0.865 / 10_000))
    assert rows["plain20", "40"][4:7] == ("+0.50", f"{binomial:.2f}", "test images"), "one run at each length"
    assert rows["plain20", "60"][4:7] == ("—", "—", "—") and rows["plain20", "60"][7] == "5.00"
    runs = shipped.cpu_schedule_runs("resnet20", manifest)
    assert "-1.00 points against 40 epochs (standard error 0.71)" in table6.cpu_runs_summary(runs)
    evidence = table6.length_move_evidence(by_model)
    assert evidence["resnet20"] == pytest.approx({"move": -1.0, "se": 0.5**0.5, "z": -(2**0.5), "from": "seeds"})
    assert evidence["plain20"]["move"] == pytest.approx(-0.5) and evidence["plain20"]["se"] == pytest.approx(binomial)
    assert table6.plain_gaps(by_model) == pytest.approx({("plain20", 40): 1.5, ("plain20", 60): 2.0})
    gaps = table6.format_gaps_by_length(by_model)
    assert gaps.rows == (("test: plain20 - resnet20", "+1.50", "+2.00"),), "no plain56 or resnet56: no fit gaps"


def test_shipped_names_keep_their_meaning_when_the_recipes_length_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = {
        "resnet20-cifar10-cpu-40ep": _cpu_run(0, 0.13),
        "resnet20-cifar10-cpu-60ep": _cpu_run(0, 0.12, epochs=60),
        "resnet20-cifar10-cpu-60ep-seed1": _cpu_run(1, 0.125, epochs=60),
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"checkpoints": entries}))
    monkeypatch.setattr(shipped, "CPU_EPOCHS", 60)  # the recipe grows to 60 epochs
    assert shipped.cpu_run_name("resnet20") == "resnet20-cifar10-cpu-60ep", "the recipe's run, by its length"
    assert shipped.cpu_run_name("resnet20", epochs=40) == "resnet20-cifar10-cpu-40ep", "every name says its length"
    assert shipped.cpu_recipe_runs(manifest)["resnet20"]["provenance"]["config"]["epochs"] == 60
    assert list(shipped.cpu_recipe_seeds("resnet20", manifest)) == [
        "resnet20-cifar10-cpu-60ep",
        "resnet20-cifar10-cpu-60ep-seed1",
    ]
    runs = shipped.cpu_schedule_runs("resnet20", manifest)
    assert list(runs) == list(entries), "the 40-epoch run is still found, under its own name"
    assert "+0.75 points against 60 epochs" in table6.cpu_runs_summary(runs), "13.00 against 12.25"


def test_depth_fit_gaps_are_the_deeper_nets_fit_minus_the_shallower_at_each_length() -> None:
    def fits(**by_length: float) -> dict:
        return {int(e.removeprefix("e")): {"train_fit_mean": fit} for e, fit in by_length.items()}

    by_model = {
        "plain20": fits(e40=6.0, e60=4.5),
        "plain56": fits(e40=16.0, e60=9.5),
        "resnet20": fits(e40=5.0),
        "resnet56": fits(e60=1.0),  # no length with both ResNets: no ResNet gap
    }
    assert table6.depth_fit_gaps(by_model) == pytest.approx({("plain", 40): 10.0, ("plain", 60): 5.0})


def _timed_run(model: str, final: float, epochs: int, hours: float, best: tuple[int, float] | None = None) -> dict:
    """A seed-0 run of the cpu schedule at ``epochs``: 100 images a step, 450 steps an epoch (45,000 images)."""
    entry = _cpu_entry(model, final)
    entry["provenance"]["config"].update(epochs=epochs, batch_size=100)
    metrics = [{"epoch": 1, "step": 450, "test_error": 0.5, "wall_seconds": 60.0}]
    if best:
        metrics.append({"epoch": best[0], "step": 450 * best[0], "test_error": best[1], "wall_seconds": 600.0})
    metrics.append(
        {
            "epoch": epochs,
            "step": 450 * epochs,
            "test_error": final,
            "train_eval_error": 0.05,
            "wall_seconds": 3600 * hours,
        }
    )
    entry["metrics"] = metrics
    return entry


def test_table6_beside_runs_puts_each_depth_beside_the_paper_with_its_cost_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shipped, "CPU_EPOCHS", 60)  # the recipe; its first runs, 40 epochs, are the shorter one
    resumed = _timed_run("resnet32", 0.115, 60, hours=9.0)
    resumed["provenance"]["resumes"] = [{"epoch": 4}]  # its wall time may span two machines: not a rate
    entries = {
        "resnet20-cifar10-cpu-60ep": _timed_run("resnet20", 0.12, 60, hours=1.0, best=(30, 0.115)),
        "resnet20-cifar10-cpu-40ep": _timed_run("resnet20", 0.13, 40, hours=0.7),
        "resnet56-cifar10-cpu-40ep": _timed_run("resnet56", 0.11, 40, hours=2.0),  # the shorter recipe only
        "resnet32-cifar10-cpu-60ep": resumed,
        "plain20-cifar10-cpu-60ep": _timed_run("plain20", 0.14, 60, hours=0.1),  # no Table 6 row, no rate
    }
    entries["plain20-cifar10-cpu-60ep"]["arch"] = "plain20"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"checkpoints": entries}))
    assert table6.best_epoch(entries["resnet20-cifar10-cpu-60ep"]) == (30, 0.115)
    rates = costs.recipe_flop_rates(manifest)
    assert list(rates) == ["resnet20-cifar10-cpu-60ep"], "ResNets of the recipe's length, trained in one session"
    # A run's own rate gives back its own time: 60 epochs of 45,000 images in one hour.
    assert costs.recipe_seconds_estimate("resnet20", rates.values()) == pytest.approx((3600.0, 3600.0))

    rows = {row["model"]: row for row in table6.table6_beside_runs(manifest)}
    assert list(rows) == list(papers.PAPER_TABLE6), "Table 6's rows, ResNet-1202 included"
    resnet20, resnet56 = rows["resnet20"], rows["resnet56"]
    assert resnet20["recipe"] == pytest.approx({"final": 12.0, "best": 11.5, "best_epoch": 30, "hours": 1.0})
    assert resnet20["short"]["final"] == pytest.approx(13.0) and not resnet20["estimated"]
    assert (resnet20["paper"], resnet20["published"]) == (8.75, 8.27)
    assert resnet56["recipe"] is None and resnet56["short"]["final"] == pytest.approx(11.0) and resnet56["estimated"]
    ratio = flops.forward_flops(build_model("resnet56")) / flops.forward_flops(build_model("resnet20"))
    assert resnet56["hours"] == pytest.approx((ratio, ratio)), "resnet20's hour, scaled by the FLOPs"
    assert rows["resnet32"]["recipe"]["hours"] == pytest.approx(9.0), "measured, even where it is not a rate"
    assert rows["resnet1202"]["hours"][0] > 60, "ResNet-1202: about 70 times ResNet-20's FLOPs"

    table = table6.format_table6_beside_runs(list(rows.values()))
    cells = {row[0]: row for row in table.rows}
    assert cells["resnet20"][1:] == ("8.75", "8.27", "12.00", "11.50 (30)", "13.00", "13.00 (40)", "1.0")
    assert cells["resnet56"][3:6] == ("—", "—", "11.00") and cells["resnet56"][-1] == f"{ratio:.1f} est."
    assert cells["resnet110"][3:7] == ("—",) * 4 and cells["resnet110"][-1].endswith(" est.")


def test_every_shipped_run_of_the_cpu_schedule_is_named_for_its_length_and_seed() -> None:
    entries = checkpoints.read_manifest()
    runs = {name: entry for name, entry in entries.items() if shipped.is_cpu_schedule_run(entry)}
    assert {shipped.run_seed_and_epochs(entry)[1] for entry in runs.values()} >= {40, 60}, "both lengths shipped"
    for name, entry in runs.items():
        assert name == shipped.cpu_run_name(entry["arch"], *shipped.run_seed_and_epochs(entry))
        assert entry["file"] == f"{name}.pt"
