"""Part 2's first training run: its settings, the three runs, the numbers its claims read."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from resnets import build_model
from resnets.course import first_run
from resnets.errors import ConfigError


def synthetic_result(losses: dict[str, float]) -> dict[str, object]:
    """A result whose runs end at the given training losses (two epochs each)."""

    def metrics(loss: float) -> list[dict[str, float]]:
        return [{"epoch": e, "train_loss": loss + (0.3 if e == 1 else 0.0), "test_error": 0.7} for e in (1, 2)]

    return {
        "seed": 0,
        "settings": dict(first_run.SETTINGS),
        "runs": {run: {"metrics": metrics(loss), "branch_scales": [1.0, 0.5]} for run, loss in losses.items()},
    }


def test_the_runs_share_one_small_recipe_and_differ_in_model_and_initialisation() -> None:
    configs = {run: first_run.run_config(run).resolved() for run in first_run.RUNS}
    assert [(c.model, c.zero_init_residual) for c in configs.values()] == [
        ("plain20", False),
        ("resnet20", False),
        ("resnet20", True),
    ]
    config = configs["resnet20"]
    assert config.train_subset // config.batch_size * config.epochs == 80  # steps
    assert (config.augment, config.val_size, config.label_smoothing, config.lr) == (False, 0, 0.0, 0.05)
    different = {k for c in configs.values() for k, v in c.identity().items() if v != config.identity()[k]}
    assert different == {"model", "zero_init_residual"}


def test_an_unknown_run_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="plain20, resnet20, resnet20_zero"):
        first_run.run_config("resnet56")


def test_zero_init_silences_every_branch_s_last_bn() -> None:
    assert first_run.branch_scales(build_model("resnet20")) == [1.0] * 9
    assert first_run.branch_scales(build_model("resnet20", zero_init_residual=True)) == [0.0] * 9


def test_the_three_runs_train_and_report_each_epoch(monkeypatch: pytest.MonkeyPatch, cifar10: object) -> None:
    monkeypatch.delenv("RESNETS_CACHE", raising=False)
    tiny = {**first_run.SETTINGS, "train_subset": 100, "test_subset": 50, "epochs": 2}
    monkeypatch.setattr(first_run, "SETTINGS", tiny)
    result = first_run.first_runs(seed=0, device="cpu", progress=False)
    assert set(result["runs"]) == set(first_run.RUNS)
    for run in first_run.RUNS:
        assert [m["epoch"] for m in result["runs"][run]["metrics"]] == [1, 2]
        assert 0 < first_run.final(result, run) < 10 and 0 <= first_run.final(result, run, "test_error") <= 1
        assert len(result["runs"][run]["branch_scales"]) == 9
    # Two steps move a zeroed scale a little, not to where the default starts.
    assert first_run.mean_branch_scale(result, "resnet20_zero") < 0.1 < first_run.mean_branch_scale(result, "resnet20")


def test_the_table_and_the_figure_show_every_run() -> None:
    result = synthetic_result({"plain20": 1.9, "resnet20": 1.5, "resnet20_zero": 2.0})
    table = first_run.results_table(result)
    assert [row[0] for row in table.rows] == [label for _, _, label in first_run.RUNS.values()]
    assert table.rows[1][1:] == ("1.500", "70.0", "0.750")
    fig = first_run.plot_first_runs(result)
    assert isinstance(fig, Figure)
    plain_vs_residual, zero_vs_default, test = fig.axes
    assert len(plain_vs_residual.lines) == len(zero_vs_default.lines) == 3  # two runs and ln 10
    assert len(test.lines) == 3
    assert zero_vs_default.lines[1].get_linestyle() == "--"
    assert zero_vs_default.get_ylim() == plain_vs_residual.get_ylim()  # one scale for the losses


def test_the_margins_sit_below_every_measured_gap() -> None:
    gaps = first_run.measured_gaps()
    assert min(gaps["loss"]) > first_run.MARGINS["loss"]
    assert min(gaps["test_error"]) > first_run.MARGINS["test_error"]
    assert min(gaps["zero_init_loss"]) > first_run.MARGINS["zero_init_loss"]
    assert min(gaps["zero_init_over_plain"]) > first_run.MARGINS["zero_init_over_plain"]
    assert [row[-1] for row in first_run.gaps_table().rows] == ["0.10", "5.0", "0.20", "0.05"]
    with pytest.raises(ConfigError, match="lr 0.05"):
        first_run.measured_table("lr 1")


def test_part2_first_run_solution_names_the_lowest_run_of_each_seed_at_twice_the_rate() -> None:
    # "the default ResNet-20's first epoch averaged above ln 10 in all three seeds and the
    # zero-init one's below; plain-20 ended lowest in seeds 0 and 1, the default ResNet-20 in seed 2"
    twice = first_run.MEASURED["lr 0.1"]
    assert all(m["first"] > first_run.CHANCE_LOSS for m in twice["resnet20"].values())
    assert all(m["first"] < first_run.CHANCE_LOSS for m in twice["resnet20_zero"].values())
    lowest = [min(twice, key=lambda run: twice[run][seed]["loss"]) for seed in (0, 1, 2)]
    assert lowest == ["plain20", "plain20", "resnet20"]
