"""The degradation experiment's bookkeeping: which error the claims read, the gaps, the figure."""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.figure import Figure

from resnets import build_model, count_flops, reproduce
from resnets.course import inside
from resnets.train import learning_rate


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


def test_max_iterations_compresses_the_full_profile_and_leaves_quick_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """RESNETS_MAX_ITERATIONS: make gpu-check's smoke test of a full-profile chapter."""
    monkeypatch.setenv("RESNETS_MAX_ITERATIONS", "2000")
    full = reproduce.experiment_config("plain56", "full").resolved()
    assert (full.schedule, full.iterations) == ("paper", 2000)
    assert [learning_rate(full, step, 2000) for step in (999, 1000, 1500)] == pytest.approx([0.1, 0.01, 0.001])
    quick = reproduce.experiment_config("plain56", "quick").resolved()
    assert quick.iterations is None and quick.epochs == 16
    monkeypatch.setenv("RESNETS_MAX_ITERATIONS", "many")
    with pytest.raises(
        ValueError, match="RESNETS_MAX_ITERATIONS='many' is not a count; set it to a positive integer or unset it"
    ):
        reproduce.experiment_config("plain56", "full")


def test_the_gpu_time_of_a_full_profile_is_an_estimate_from_its_flops() -> None:
    macs = count_flops(build_model("resnet20"), (3, 32, 32))
    assert reproduce.training_flops("resnet20", 100) == 6 * macs * 100  # forward + backward, 2 FLOPs a MAC
    assert reproduce.training_flops("resnet20", 0, evaluated=10) == 2 * macs * 10
    one_seed = reproduce.full_profile_flops("degradation")
    per_image = sum(6 * count_flops(build_model(m), (3, 32, 32)) for m in reproduce.DEGRADATION_MODELS)
    assert one_seed > per_image * 64_000 * 128  # the training, and an evaluation after every epoch
    assert reproduce.full_profile_flops("table6") > 5 * reproduce.full_profile_flops("degradation") / 2
    table = reproduce.gpu_time_estimate(one_seed, "Fig. 6")
    assert "an estimate at 5% to 25% of peak" in table and "T4 (fp16)" in table and "H100" in table
    assert inside.full_profile_flops(inside.SETTINGS["quick"]) < inside.full_profile_flops() / 10
    with pytest.raises(ValueError, match="unknown experiment"):
        reproduce.full_profile_flops("fig7")
