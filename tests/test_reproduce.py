"""The degradation experiment's bookkeeping: which error the claims read, the gaps, the figure."""

from __future__ import annotations

import math
from typing import Any

import pytest
from matplotlib.figure import Figure

from resnets import build_model, costs, count_flops, profiles, reproduce, results
from resnets.course import degradation, inside, lesions
from resnets.recipe import learning_rate


def result_with(final_errors: dict[str, float], key: str = "train_eval_error") -> dict[str, Any]:
    """A degradation result whose runs end at the given training errors (two epochs each)."""

    def metrics(error: float) -> list[dict[str, float]]:
        return [
            {"epoch": e, "train_error": 0.9, key: error + (0.2 if e == 1 else 0.0), "test_error": 0.7} for e in (1, 2)
        ]

    return {"profile": "quick", "runs": {m: [{"seed": 0, "metrics": metrics(e)}] for m, e in final_errors.items()}}


def test_claims_read_the_eval_mode_training_error_where_the_runs_measured_it() -> None:
    degraded = result_with({"plain20": 0.05, "plain56": 0.71, "resnet20": 0.0, "resnet56": 0.0})
    assert reproduce.training_error_key(degraded) == "train_eval_error"
    assert reproduce.depth_gaps(degraded) == pytest.approx({"plain": 0.66, "residual": 0.0})
    assert reproduce.degradation_holds(degraded) == {
        "plain_degrades": True,
        "residual_does_not": True,
        "shortcuts_help": True,
    }

    paper_style = result_with({"plain20": 0.1, "plain56": 0.05, "resnet20": 0.1, "resnet56": 0.2}, key="train_error")
    assert reproduce.training_error_key(paper_style) == "train_error"
    assert reproduce.degradation_holds(paper_style) == {
        "plain_degrades": False,
        "residual_does_not": False,
        "shortcuts_help": False,
    }


def test_the_figure_draws_train_and_test_curves_for_each_net() -> None:
    fig = reproduce.plot_degradation(result_with({"plain20": 0.05, "plain56": 0.71, "resnet20": 0.0, "resnet56": 0.0}))
    assert isinstance(fig, Figure)
    plain, residual = fig.axes
    assert len(plain.lines) == len(residual.lines) == 4  # 2 depths x (train, test)
    assert [line.get_linewidth() for line in plain.lines] == [1.0, 2.6, 1.0, 2.6]  # thin train, bold test
    assert plain.lines[0].get_color() != residual.lines[0].get_color()


def test_the_quick_profile_fits_a_small_unaugmented_subset() -> None:
    config = reproduce.experiment_config("resnet56", "quick").resolved()
    assert (config.augment, config.eval_train, config.val_size) == (False, True, 0)
    assert config.train_subset // config.batch_size * config.epochs == 320
    full = reproduce.experiment_config("resnet56", "full").resolved()
    assert (full.schedule, full.augment, full.iterations, full.val_size) == ("paper", True, 64_000, 5000)


def test_max_iterations_compresses_the_full_profile_and_leaves_quick_alone() -> None:
    """RESNETS_MAX_ITERATIONS (read by profiles.read_environment): make gpu-check's smoke test of a
    full-profile chapter."""
    full = reproduce.experiment_config("plain56", "full", max_iterations=2000).resolved()
    assert (full.schedule, full.iterations) == ("paper", 2000)
    assert [learning_rate(full, step, 2000) for step in (999, 1000, 1500)] == pytest.approx([0.1, 0.01, 0.001])
    quick = reproduce.experiment_config("plain56", "quick", max_iterations=2000).resolved()
    assert quick.iterations is None and quick.epochs == 16


def test_each_experiment_trains_the_seeds_it_registered_for_the_profile() -> None:
    assert profiles.sizes("degradation", "full").seeds == (0,)
    assert profiles.sizes("table6", "full").seeds == (0, 1, 2, 3, 4)
    assert profiles.sizes("table6", "quick").seeds == (0,)
    assert reproduce.experiment_config("resnet20", "quick", experiment="table6").train_subset == 500


def test_the_gpu_time_of_a_full_profile_is_an_estimate_from_its_flops() -> None:
    macs = count_flops(build_model("resnet20"), (3, 32, 32))
    assert costs.training_flops("resnet20", 100) == 6 * macs * 100  # forward + backward, 2 FLOPs a MAC
    assert costs.training_flops("resnet20", 0, evaluated=10) == 2 * macs * 10
    one_seed = costs.full_profile_flops(reproduce.full_profile_work("degradation"))
    per_image = sum(6 * count_flops(build_model(m), (3, 32, 32)) for m in reproduce.DEGRADATION_MODELS)
    assert one_seed > per_image * 64_000 * 128  # the training, and an evaluation after every epoch
    assert costs.full_profile_flops(reproduce.full_profile_work("table6")) > 5 * one_seed / 2
    table = costs.gpu_time_estimate(one_seed, "Fig. 6")
    assert "an estimate at 5% to 25% of peak" in table and "T4 (fp16)" in table and "H100" in table
    quick = inside.probe_settings("quick")
    chapter4 = inside.probe_work() + lesions.lesion_work()  # forward passes only: no launch floor
    assert costs.full_profile_flops(inside.probe_work(quick) + lesions.lesion_work(quick)) < (
        costs.full_profile_flops(chapter4) / 10
    )
    assert "never less than" not in costs.full_profile_estimate(chapter4, "Fig. 7")
    with pytest.raises(ValueError, match="unknown experiment"):
        reproduce.full_profile_work("fig7")


def test_gpu_estimates_have_a_floor_from_the_kernel_launches_of_every_step() -> None:
    launches = {m: costs.kernel_launches_per_step(m) for m in reproduce.DEGRADATION_MODELS}
    assert 100 < launches["plain20"] < launches["resnet20"] < launches["plain56"] < launches["resnet56"]
    assert launches["resnet56"] > 2 * launches["resnet20"]  # about one set of kernels per layer
    low, high = costs.launch_floor_seconds(reproduce.full_profile_work("degradation"))
    assert low == pytest.approx(64_000 * sum(launches.values()) * 5e-6)
    assert high == pytest.approx(4 * low)
    assert low > 256_000 * 100 * 5e-6  # 4 x 64k steps of at least 100 launches: not "a minute"
    # A small computation whose launches take longer: the estimate is the launches' time at both ends.
    table = costs.gpu_time_estimate(1e15, "small", floor=(600.0, 2400.0))
    h100 = next(line for line in table.splitlines() if line.startswith("H100"))
    assert h100.endswith("10 min to 40 min") and "never less than the kernel launches take" in table
    assert "estimate" not in costs.gpu_time_estimate(1e15, "small").splitlines()[1]  # no floor: as before
    h100_full = costs.full_profile_estimate(reproduce.full_profile_work("degradation"), "Fig. 6")
    assert _minutes(h100_full) >= low / 60 - 1  # the H100's lower end is the launches' (printed in minutes)


def _minutes(table: str) -> float:
    """The lower end of the H100 row's estimate, in minutes."""
    row = next(line for line in table.splitlines() if line.startswith("H100"))
    value, unit = row.split()[-5:-3]
    return float(value) * {"s": 1 / 60, "min": 1, "h": 60}[unit]


def fake_run(model: str, profile: str = "full") -> dict[str, Any]:
    """What ``degradation_run`` returns, for a run that ends at fixed errors."""
    errors = {"plain20": 0.05, "plain56": 0.3, "resnet20": 0.02, "resnet56": 0.01}
    metrics = [{"epoch": 1, "step": 10, "wall_seconds": 3.0, "train_error": errors[model], "test_error": 0.5}]
    return {"seed": 0, "metrics": metrics, "provenance": {"hardware": "test", "config": {"test_subset": None}}}


@pytest.fixture
def nothing_stored(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Any:
    """A working folder without results/, no results shipped, no cap, no cache, not in Colab, and
    an engine that refuses to train."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("something trained")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(results, "SHIPPED_RESULTS", tmp_path / "shipped")
    monkeypatch.setattr(reproduce, "train", refuse)
    for variable in ("RESNETS_MAX_ITERATIONS", "RESNETS_CACHE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delitem(__import__("sys").modules, "google.colab", raising=False)
    return tmp_path


def test_the_degradation_chapter_trains_the_full_profile_only_when_asked(
    nothing_stored: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    quick = degradation.degradation_plan("quick", "cpu")
    assert quick.mode == "quick" and "Profile quick" in capsys.readouterr().out

    shipped = degradation.degradation_plan("full", "cpu")  # no opt-in, nothing stored
    assert shipped.mode == "shipped" and "nothing trains" in capsys.readouterr().out
    for model in reproduce.DEGRADATION_MODELS:
        shipped.train(model)  # the engine refuses: nothing may train
    assert "plain20: not trained here" in capsys.readouterr().out
    result = shipped.result()
    assert result["profile"] == "shipped" and set(result["runs"]) == set(reproduce.DEGRADATION_MODELS)
    assert reproduce.degradation_holds(result, reproduce.degradation_margin(result))["plain_degrades"]

    trained: list[tuple[Any, ...]] = []

    def train_one(*args: Any) -> dict[str, Any]:
        trained.append(args)
        return fake_run(args[1])

    monkeypatch.setattr(reproduce, "_train_one", train_one)
    opted_in = degradation.degradation_plan("full", "cpu", train_full=True)
    printed = capsys.readouterr().out
    assert opted_in.mode == "train" and "TRAIN_FULL is True" in printed
    assert printed.index("Estimated time, before it starts") < printed.index("T4")
    assert opted_in.runs_dir == "runs" and (nothing_stored / "runs").is_dir()
    for model in reproduce.DEGRADATION_MODELS:
        opted_in.train(model)
    assert [args[1:3] for args in trained] == [(m, "full") for m in reproduce.DEGRADATION_MODELS]
    assert {args[5] for args in trained} == {"runs"}  # checkpoints there, so a rerun resumes
    assert "plain56: 10 steps in 3 s; training error 30.0%" in capsys.readouterr().out
    assert opted_in.result()["profile"] == "full"

    monkeypatch.setenv("RESNETS_MAX_ITERATIONS", "100")  # make gpu-check's smoke test: capped, so trained
    capped = degradation.degradation_plan("full", "cpu")
    printed = capsys.readouterr().out
    assert capped.mode == "train" and "RESNETS_MAX_ITERATIONS=100 caps every run" in printed
    assert "Estimated time" not in printed

    monkeypatch.delenv("RESNETS_MAX_ITERATIONS")
    stored = reproduce.degradation_result({m: fake_run(m) for m in reproduce.DEGRADATION_MODELS}, "full")
    results.write_results(stored, "results", command="python -m resnets reproduce degradation --full")
    found = degradation.degradation_plan("full", "cpu")
    assert found.mode == "stored" and "using the stored result" in capsys.readouterr().out
    assert found.result()["runs"].keys() == stored["runs"].keys()
    assert degradation.degradation_plan("full", "cpu", train_full=True).mode == "train"  # asked: trains anyway

    with pytest.raises(ValueError, match="not a net of the degradation experiment"):
        found.train("resnet110")
    with pytest.raises(ValueError, match="no run of plain56, resnet20, resnet56 yet"):
        reproduce.degradation_result({"plain20": fake_run("plain20")}, "full")


def test_a_colab_run_on_the_vm_is_told_to_use_drive(
    nothing_stored: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import sys
    import types

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    degradation.degradation_plan("full", "cpu", train_full=True)
    assert 'Set RUNS_DIR = "drive"' in capsys.readouterr().out.replace("\n", " ")
    degradation.degradation_plan("full", "cpu", train_full=True, runs_dir=str(nothing_stored / "kept"))
    assert "RUNS_DIR" not in capsys.readouterr().out


def test_the_claims_keep_a_margin_and_the_test_gap_its_standard_error() -> None:
    close = result_with({"plain20": 0.30, "plain56": 0.31, "resnet20": 0.0, "resnet56": 0.005})
    assert reproduce.degradation_holds(close) == {
        "plain_degrades": True,
        "residual_does_not": False,
        "shortcuts_help": True,
    }
    assert reproduce.degradation_holds(close, margin=0.02) == {
        "plain_degrades": False,  # one point is inside the margin
        "residual_does_not": True,
        "shortcuts_help": False,
    }
    assert reproduce.degradation_margin(close) == 0.05 and reproduce.degradation_margin({"profile": "shipped"}) == 0.01
    # The quick margin stands clear of every measured seed and precision, on both sides.
    residual = [gaps["residual"] for gaps in reproduce.QUICK_SEED_GAPS.values()]
    plain = [gaps["plain"] for gaps in reproduce.QUICK_SEED_GAPS.values()]
    assert max(residual) + 1.5 < 100 * reproduce.DEGRADATION_MARGIN["quick"] < min(plain) / 5
    assert "residual -0.4 to +3.0 points" in degradation.degradation_margin_note(close).replace("\n", " ")
    assert "60 epochs plain +5.2, residual -2.2" in degradation.degradation_margin_note({"profile": "shipped"})
    for runs in close["runs"].values():
        runs[0]["provenance"] = {"config": {"test_subset": 250}}
    gap, se = reproduce.depth_test_gap(close)
    assert gap == 0.0 and se == pytest.approx(math.sqrt(2 * 0.7 * 0.3 / 250))
    assert reproduce.evaluated_test_images(close) == 250


def test_run_records_say_how_each_shipped_run_was_computed() -> None:
    def entry(arch: str, **provenance: Any) -> dict[str, Any]:
        return {"arch": arch, "provenance": provenance, "metrics": [{"images_per_second": r} for r in (90, 100, 300)]}

    table = results.format_run_records(
        {
            "a": entry("plain56", precision="fp32", resumes=[{"cpu": "Zen 2", "precision": "fp32"}] * 4),
            "b": entry("resnet20"),
        }
    )
    plain, residual = table.splitlines()[2:]
    assert plain.split()[:2] == ["plain56", "fp32"] and "Zen 2" in plain and plain.split()[-2:] == ["4", "100"]
    assert residual.count("not recorded") == 2 and residual.split()[-2:] == ["0", "100"]


def test_a_run_is_read_back_from_the_cache_only_for_the_recipe_it_trained(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    trained: list[Any] = []

    def fake_train(config: Any, data: Any) -> Any:
        trained.append(config)
        return type("Result", (), {"interrupted": False, "metrics": [{"step": len(trained)}], "provenance": {}})()

    monkeypatch.setattr(reproduce, "train", fake_train)
    monkeypatch.setattr(reproduce, "load_cifar10", lambda: None)
    monkeypatch.setenv("RESNETS_CACHE", str(tmp_path))
    monkeypatch.delenv("RESNETS_MAX_ITERATIONS", raising=False)

    def run(profile: str = "quick") -> int:
        return reproduce.degradation_run("plain20", profile, 0, "cpu", progress=False)["metrics"][0]["step"]

    assert run() == run() == 1  # the second execution reads the first run back

    before = profiles.adjust(
        "degradation", "quick", recipe={**profiles.sizes("degradation", "quick").recipe, "epochs": 2}
    )
    try:
        assert run() == 2 and trained[-1].epochs == 2  # other sizes: trained afresh
    finally:
        profiles.register("degradation", {**profiles.REGISTRY["degradation"], "quick": before})
    assert run() == 1  # the registered sizes again: read back

    assert run("full") == 3
    monkeypatch.setenv("RESNETS_MAX_ITERATIONS", "10")  # a smoke test's cap is another recipe
    assert run("full") == 4 and trained[-1].iterations == 10
    monkeypatch.delenv("RESNETS_MAX_ITERATIONS")
    assert run("full") == 3 and len(trained) == 4
