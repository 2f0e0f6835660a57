"""Part 2, chapter 9: the first training run on real images.

    RUNS                       the three runs: plain-20, ResNet-20, ResNet-20 with zero_init_residual
    SETTINGS                   what they train on and for how long (the same in both profiles)
    run_config(run, seed, lr)  one run's TrainConfig (``run_settings(lr)``: SETTINGS at another lr)
    first_runs(seed, lr)       train the three (@cached): per-epoch metrics, the blocks' last-BN scales
    branch_scales(model)       mean |gamma| of each block's last BN (0 where zero-init silenced it)
    final(result, run, key)    a run's last-epoch value of a metric
    mean_branch_scale(r, run)  a trained run's branch_scales, averaged over its blocks
    results_table(result)      the last epoch of each run, as a table
    plot_first_runs(result)    the curves: training loss, plain against residual and the two
                               initialisations of ResNet-20; test error of all three
    MEASURED                   the runs over seeds 0-2, measured once (and at lr 0.1): what the
                               chapter's margins (``MARGINS``) stand on; ``measured_table`` shows
                               them, ``measured_gaps`` / ``gaps_table`` the gaps between the runs
    WHY                        why one of the chapter's claims can stop holding
    CHANCE_LOSS                ln 10: the loss of equal probabilities for the ten classes

The runs are small enough to train in about a minute each on one core of a laptop CPU: 1,000
training images (100 a class), no augmentation, 4 epochs of 20 batches of 50 (80 steps), the
fast schedule (5% linear warm-up, then cosine to zero) at a peak learning rate of 0.05 without
label smoothing, test error on 250 test images. They are the same in both profiles: Part 3
trains at full scale.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .. import viz
from ..cache import cached
from ..data import load_cifar10
from ..errors import ConfigError
from ..recipe import TrainConfig
from ..tables import Table, format_table
from ..train import train

#: Each run's name: (model, zero_init_residual, how the chapter labels it).
RUNS: dict[str, tuple[str, bool, str]] = {
    "plain20": ("plain20", False, "plain-20"),
    "resnet20": ("resnet20", False, "ResNet-20"),
    "resnet20_zero": ("resnet20", True, "ResNet-20, zero-init"),
}
#: The runs' settings (``TrainConfig`` fields), the same for all three and in both profiles.
SETTINGS: dict[str, Any] = {
    "schedule": "fast",
    "label_smoothing": 0.0,
    "train_subset": 1000,
    "test_subset": 250,
    "val_size": 0,
    "augment": False,
    "epochs": 4,
    "batch_size": 50,
    "lr": 0.05,
}
#: The loss of a net that gives every class the same probability: ln 10. A fresh net sits near it.
CHANCE_LOSS = math.log(10)

#: The runs over seeds 0-2, measured on 2026-12-07 on a 2-core AMD EPYC in float32 (the engine's
#: precision on a CPU without bf16), one thread: the last epoch's training loss (``loss``) and test
#: error (``test``, on the 250 images), and each run's first-epoch loss (``first``). ``lr 0.05`` is
#: the chapter's setting; ``lr 0.1`` the same runs at twice the peak learning rate (the exercise).
MEASURED: dict[str, dict[str, dict[int, dict[str, float]]]] = {
    "lr 0.05": {
        "plain20": {
            0: {"first": 2.299, "loss": 1.861, "test": 0.720},
            1: {"first": 2.296, "loss": 1.897, "test": 0.720},
            2: {"first": 2.276, "loss": 1.884, "test": 0.740},
        },
        "resnet20": {
            0: {"first": 2.353, "loss": 1.538, "test": 0.596},
            1: {"first": 2.261, "loss": 1.501, "test": 0.632},
            2: {"first": 2.263, "loss": 1.611, "test": 0.644},
        },
        "resnet20_zero": {
            0: {"first": 2.273, "loss": 2.047, "test": 0.740},
            1: {"first": 2.252, "loss": 2.052, "test": 0.744},
            2: {"first": 2.264, "loss": 2.041, "test": 0.740},
        },
    },
    "lr 0.1": {
        "plain20": {
            0: {"first": 2.268, "loss": 1.817, "test": 0.700},
            1: {"first": 2.283, "loss": 1.851, "test": 0.708},
            2: {"first": 2.258, "loss": 1.876, "test": 0.668},
        },
        "resnet20": {
            0: {"first": 3.319, "loss": 2.053, "test": 0.776},
            1: {"first": 3.056, "loss": 2.048, "test": 0.772},
            2: {"first": 2.705, "loss": 1.818, "test": 0.664},
        },
        "resnet20_zero": {
            0: {"first": 2.246, "loss": 1.950, "test": 0.744},
            1: {"first": 2.224, "loss": 1.967, "test": 0.736},
            2: {"first": 2.236, "loss": 1.939, "test": 0.680},
        },
    },
}
#: The key of ``MEASURED`` that holds the chapter's own setting (``SETTINGS``' peak learning rate).
CHAPTER_SETTING = f"lr {SETTINGS['lr']}"
#: How far apart the chapter's claims require two numbers to be (final epoch, one seed), chosen
#: below the smallest gap of ``MEASURED`` at lr 0.05: ResNet-20's training loss below plain-20's
#: by 0.27 to 0.40 (margin 0.1); its test error below plain-20's by 8.8 to 12.4 points (margin 5
#: points, 12 of the 250 images); zero-init's training loss above the default's by 0.43 to 0.55
#: (margin 0.2), and above plain-20's by 0.16 to 0.19 (margin 0.05); after training, the zeroed
#: scales average at most 0.04 (bound 0.1) while the default's stay near 1 (bound 0.5). Seed 0 in
#: bf16 (``amp="bf16"``, emulated on the same CPU) gave 0.29, 10.4 points, 0.50 and 0.21.
MARGINS = {
    "loss": 0.1,
    "test_error": 0.05,
    "zero_init_loss": 0.2,
    "zero_init_over_plain": 0.05,
    "zeroed_scale": 0.1,
    "default_scale": 0.5,
}
WHY = (
    "these runs train on 1,000 images for 80 steps: with another seed, learning rate or length, or in "
    "another precision, a gap can shrink below its margin or flip (the margins stand on seeds 0-2 in float32, "
    "first_run.MEASURED)"
)


def run_config(
    run: str, seed: int = 0, lr: float | None = None, device: str = "auto", progress: bool = True
) -> TrainConfig:
    """The ``TrainConfig`` of one of ``RUNS`` (by its name) with ``SETTINGS``; ``lr`` replaces
    their peak learning rate."""
    if run not in RUNS:
        raise ConfigError(f"unknown run {run!r}; choose one of: {', '.join(RUNS)}")
    model, zero_init, _ = RUNS[run]
    return TrainConfig(
        model=model, zero_init_residual=zero_init, seed=seed, device=device, progress=progress, **run_settings(lr)
    )


def run_settings(lr: float | None = None) -> dict[str, Any]:
    """``SETTINGS``, with ``lr`` as the peak learning rate when given."""
    return {**SETTINGS, **({"lr": lr} if lr is not None else {})}


def branch_scales(model: Any) -> list[float]:
    """Mean |gamma| of the last BN of each block's residual branch (``bn2``), in forward order:
    how loudly each branch speaks. 1 at a default initialisation, 0 with ``zero_init_residual``."""
    return [block.bn2.weight.detach().abs().mean().item() for block in model.blocks()]


@cached
def first_runs(seed: int = 0, lr: float | None = None, device: str = "auto", progress: bool = True) -> dict[str, Any]:
    """Train the three ``RUNS`` with ``SETTINGS`` and ``seed`` (and ``lr`` for their peak learning
    rate, if given).

    Returns {"seed", "settings", "runs": {name: {"metrics": [per-epoch dicts], "branch_scales":
    [per block, after training], "provenance"}}}. Cached under RESNETS_CACHE.
    """
    data = load_cifar10()
    runs = {}
    for run in RUNS:
        result = train(run_config(run, seed, lr, device, progress), data)
        if result.interrupted:
            raise KeyboardInterrupt(f"interrupted while training {run} (seed {seed})")
        runs[run] = {
            "metrics": result.metrics,
            "branch_scales": branch_scales(result.model),
            "provenance": result.provenance,
        }
    return {"seed": seed, "settings": run_settings(lr), "runs": runs}


def final(result: dict[str, Any], run: str, key: str = "train_loss") -> float:
    """``run``'s value of ``key`` in its last epoch (the runs report the final epoch, never the best)."""
    return result["runs"][run]["metrics"][-1][key]


def mean_branch_scale(result: dict[str, Any], run: str) -> float:
    """``run``'s ``branch_scales`` after training, averaged over its blocks."""
    scales = result["runs"][run]["branch_scales"]
    return sum(scales) / len(scales)


def results_table(result: dict[str, Any]) -> Table:
    """The last epoch of each run: training loss, test error and the branches' mean scale."""
    rows = [
        [
            label,
            f"{final(result, run):.3f}",
            f"{100 * final(result, run, 'test_error'):.1f}",
            f"{mean_branch_scale(result, run):.3f}",
        ]
        for run, (_, _, label) in RUNS.items()
    ]
    images = result["settings"]["test_subset"]
    return format_table(
        ["run", "training loss", f"test error (%, {images} images)", "mean |γ| of the branches' last BN"],
        rows,
        title=f"After {result['settings']['epochs']} epochs (seed {result['seed']})",
    )


def measured_table(setting: str = CHAPTER_SETTING) -> Table:
    """``MEASURED[setting]``: every run's first-epoch and last-epoch training loss and test error, by seed."""
    if setting not in MEASURED:
        raise ConfigError(f"nothing measured at {setting!r}; choose one of: {', '.join(MEASURED)}")
    rows = [
        [RUNS[run][2], seed, f"{m['first']:.3f}", f"{m['loss']:.3f}", f"{100 * m['test']:.1f}"]
        for run, seeds in MEASURED[setting].items()
        for seed, m in seeds.items()
    ]
    return format_table(
        ["run", "seed", "loss, epoch 1", "loss, last epoch", "test error (%)"],
        rows,
        title=f"The runs over three seeds, peak {setting} (measured once, float32)",
    )


def measured_gaps(setting: str = CHAPTER_SETTING) -> dict[str, list[float]]:
    """The gaps of ``MEASURED[setting]`` that ``MARGINS`` stand on, one per seed: ResNet-20's
    training loss and test error below plain-20's ("loss", "test_error"), and zero-init's training
    loss above the default's ("zero_init_loss") and plain-20's ("zero_init_over_plain")."""
    runs = MEASURED[setting]
    seeds = sorted(runs["resnet20"])
    return {
        "loss": [runs["plain20"][s]["loss"] - runs["resnet20"][s]["loss"] for s in seeds],
        "test_error": [runs["plain20"][s]["test"] - runs["resnet20"][s]["test"] for s in seeds],
        "zero_init_loss": [runs["resnet20_zero"][s]["loss"] - runs["resnet20"][s]["loss"] for s in seeds],
        "zero_init_over_plain": [runs["resnet20_zero"][s]["loss"] - runs["plain20"][s]["loss"] for s in seeds],
    }


#: What each of ``measured_gaps`` measures, as the table of the gaps names it.
GAP_LABELS = {
    "loss": "training loss: plain-20 minus ResNet-20",
    "test_error": "test error (points): plain-20 minus ResNet-20",
    "zero_init_loss": "training loss: zero-init minus default",
    "zero_init_over_plain": "training loss: zero-init minus plain-20",
}


def gaps_table() -> Table:
    """``measured_gaps()`` at the chapter's learning rate, seed by seed, beside the margin of
    ``MARGINS`` that each one guards."""
    gaps = measured_gaps(CHAPTER_SETTING)
    seeds = sorted(MEASURED[CHAPTER_SETTING]["resnet20"])

    def shown(name: str, value: float) -> str:
        return f"{100 * value:.1f}" if name == "test_error" else f"{value:.2f}"

    rows = [
        [GAP_LABELS[name], *(shown(name, v) for v in values), shown(name, MARGINS[name])]
        for name, values in gaps.items()
    ]
    return format_table(
        ["gap", *(f"seed {s}" for s in seeds), "margin"],
        rows,
        title=f"The last epoch's gaps at peak {CHAPTER_SETTING}, and the margins the page's claims keep",
    )


def plot_first_runs(result: dict[str, Any]) -> Figure:
    """Three panels, one line per run, epochs along x: the training loss of plain-20 and ResNet-20
    (left), of ResNet-20 with and without zero-init (middle), and the test error of all three
    (right). Plain nets vermilion, residual nets blue, zero-init dashed; ln 10 dotted; the
    two loss panels share their y axis."""
    styles = {
        "plain20": dict(color=viz.COLORS["plain"]),
        "resnet20": dict(color=viz.COLORS["residual"]),
        "resnet20_zero": dict(color=viz.COLORS["residual"], linestyle="--"),
    }
    panels = [
        ("Plain against residual", ("plain20", "resnet20"), "train_loss"),
        ("Zero-init against default", ("resnet20", "resnet20_zero"), "train_loss"),
        ("Test error", tuple(RUNS), "test_error"),
    ]
    fig, axes = viz.figure(3, figsize=(12, 3.8))
    axes[1].sharey(axes[0])  # the two loss panels on one scale
    with viz.style():
        for ax, (title, runs, key) in zip(axes, panels):
            scale = 100 if key == "test_error" else 1
            for run in runs:
                metrics = result["runs"][run]["metrics"]
                ax.plot(
                    [m["epoch"] for m in metrics],
                    [scale * m[key] for m in metrics],
                    marker="o",
                    label=RUNS[run][2],
                    **styles[run],
                )
            if key == "train_loss":
                ax.axhline(CHANCE_LOSS, color=viz.COLORS["reference"], linestyle=":", lw=1.2, label="ln 10 (chance)")
                ax.set_ylabel("training loss")
            else:
                ax.set_ylabel("test error (%)")
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=9)
        fig.suptitle(f"A first run on CIFAR-10: {result['settings']['train_subset']:,} images, seed {result['seed']}")
    return fig


__all__ = [
    "CHANCE_LOSS",
    "CHAPTER_SETTING",
    "GAP_LABELS",
    "MARGINS",
    "MEASURED",
    "RUNS",
    "SETTINGS",
    "WHY",
    "branch_scales",
    "final",
    "first_runs",
    "gaps_table",
    "mean_branch_scale",
    "measured_gaps",
    "measured_table",
    "plot_first_runs",
    "results_table",
    "run_config",
    "run_settings",
]
