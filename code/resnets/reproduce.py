"""The paper's CIFAR-10 experiments, as functions the chapters call and the CLI runs.

    degradation(profile)     plain-20/56 against ResNet-20/56 (He et al. 2015, Fig. 6), its claims
                             (``degradation_holds``, beyond ``degradation_margin``) and ``plot_degradation``
    degradation_run(model)   one of its four nets, so a chapter trains them a cell each
                             (``degradation_result`` puts them together)
    table6(profile)          ResNet-20...110 test error, beside the paper's Table 6 (``table6_summary``)
    trained_run(config)      one run of any of them, cached under its whole TrainConfig
    full_profile_work(e)     what an experiment's full profile computes (for ``costs``' estimates)

Each returns plain data (per-epoch metrics of every run, with provenance); every run is cached
under its whole recipe (``trained_run``), so a chapter executed twice trains once; ``results``
stores a result with its provenance. Profiles: ``full`` is the paper's recipe (45k/5k split,
batch 128, augmentation, 64k iterations; a GPU's job). ``quick`` (its ``CifarSizes``, registered
with ``profiles``) asks the degradation question in the purest form a 2-core CPU answers in
minutes: can the net *fit* 500 real training images? No augmentation, 320 steps, the training
error measured afterwards in eval mode on those images (``train_eval_error``). A 56-layer net can
represent everything a 20-layer one can, so failing to fit is an optimization failure: plain-56
stays far above plain-20, while both ResNets fit every image. The paper's 45k/5k split read here:
train on 45k, hold out 5k for validation, report the *test* error at the final epoch (never the best).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import profiles
from .cache import cached
from .costs import Workload
from .data import CLASSES, IMAGES_PER_CLASS, load_cifar10
from .errors import ConfigError
from .papers import PAPER_RESNET110_MEAN_STD, PAPER_TABLE6
from .recipe import SCHEDULE_DEFAULTS, TrainConfig
from .stats import binomial_difference_standard_error, format_mean_std
from .tables import Table, format_table
from .train import train

DEGRADATION_MODELS = ("plain20", "plain56", "resnet20", "resnet56")
TABLE6_MODELS = ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110")
#: The experiments of this module, each registered with ``profiles``.
CIFAR_EXPERIMENTS = ("degradation", "table6")


@dataclass(frozen=True)
class CifarSizes:
    """How big one of the paper's CIFAR-10 experiments is in one profile (``profiles.register``)."""

    seeds: tuple[int, ...]  # the seeds every model trains with (``python -m resnets reproduce`` without --seeds)
    recipe: dict[str, Any]  # the TrainConfig fields it sets; the others keep the paper's recipe


#: Quick profile: 500 real training images (50 a class), no augmentation, 16 epochs of 20
#: batches of 25 (320 steps), the fast schedule (5% linear warm-up, then cosine) at a peak lr of
#: 0.02 without label smoothing. Every run also records ``train_eval_error``: the error on those
#: 500 images in eval mode after each epoch. Test error on 250 test images (25 a class).
#: Why these numbers: at lr 0.1 the 56-layer nets (plain and residual) spend a few hundred steps
#: recovering from their first updates, which is why the paper warms ResNet-110 up at 0.01; at
#: 0.02 the ResNets fit the 500 images in about 200 steps while plain-56 ends near 80% error.
_QUICK_RECIPE = {
    "schedule": "fast",
    "label_smoothing": 0.0,
    "train_subset": 500,
    "test_subset": 250,
    "val_size": 0,
    "epochs": 16,
    "batch_size": 25,
    "lr": 0.02,
    "augment": False,
    "eval_train": True,
}
#: Full profile: the paper's recipe, one seed for Fig. 6 and five for Table 6 (its ResNet-110 row
#: is the best of 5 runs).
profiles.register(
    "degradation",
    {"quick": CifarSizes((0,), _QUICK_RECIPE), "full": CifarSizes((0,), {"schedule": "paper"})},
)
profiles.register(
    "table6",
    {"quick": CifarSizes((0,), _QUICK_RECIPE), "full": CifarSizes((0, 1, 2, 3, 4), {"schedule": "paper"})},
)


def experiment_config(
    model: str,
    profile: str,
    seed: int = 0,
    *,
    experiment: str = "degradation",
    max_iterations: int | None = None,
    device: str = "auto",
    progress: bool = True,
    out: str | None = None,
) -> TrainConfig:
    """The TrainConfig of one run of ``experiment`` in ``profile`` ("quick" or "full"): the recipe
    registered for it. ``max_iterations`` (RESNETS_MAX_ITERATIONS, which the callers that train read)
    compresses the full profile's schedule to that many iterations for a smoke test; quick ignores it."""
    settings = dict(profiles.sizes(experiment, profile).recipe)
    if max_iterations is not None and profile == "full":
        settings["iterations"] = min(max_iterations, SCHEDULE_DEFAULTS["paper"]["iterations"])
    return TrainConfig(
        model=model, seed=seed, device=device, progress=progress, out=out, resume=out is not None, **settings
    )


def _train_one(
    experiment: str, model: str, profile: str, seed: int, device: str, runs_dir: str | None, progress: bool
) -> dict[str, Any]:
    """One run of an experiment: {"seed", "metrics", "provenance"}; with ``runs_dir`` it checkpoints
    in ``runs_dir/<experiment>/<profile>/<model>-s<seed>`` and resumes from there."""
    out = str(Path(runs_dir) / experiment / profile / f"{model}-s{seed}") if runs_dir else None
    cap = profiles.read_environment().max_iterations
    config = experiment_config(
        model, profile, seed, experiment=experiment, max_iterations=cap, device=device, progress=progress, out=out
    )
    return trained_run(config)


@cached
def trained_run(config: TrainConfig) -> dict[str, Any]:
    """``config`` trained on CIFAR-10: {"seed", "metrics", "provenance"}. Cached under the whole
    config, so a run is read back only for the recipe it trained: sizes changed with
    ``profiles.adjust`` or an iteration cap (RESNETS_MAX_ITERATIONS) train afresh."""
    result = train(config, load_cifar10())
    if result.interrupted:
        raise KeyboardInterrupt(f"interrupted while training {config.model} (seed {config.seed})")
    return {"seed": config.seed, "metrics": result.metrics, "provenance": result.provenance}


def _run_all(
    experiment: str,
    models: tuple[str, ...],
    profile: str,
    seeds: tuple[int, ...],
    device: str,
    runs_dir: str | None,
    progress: bool,
) -> dict[str, Any]:
    runs = {
        model: [_train_one(experiment, model, profile, seed, device, runs_dir, progress) for seed in seeds]
        for model in models
    }
    return _experiment_result(experiment, profile, seeds, runs)


def _experiment_result(
    experiment: str, profile: str, seeds: Sequence[int], runs: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """An experiment's result from its runs ({model: [run per seed]}), with the first run's provenance."""
    first = next(iter(runs.values()))[0]["provenance"]
    quick = profiles.sizes(experiment, "quick").recipe
    return {
        "experiment": experiment,
        "profile": profile,
        "seeds": list(seeds),
        "split": "train on 45k, validate on the held-out 5k, test error at the final epoch"
        if profile == "full"
        else f"quick: {quick['train_subset']} training images (class-balanced, no augmentation), "
        f"{quick['test_subset']} test images",
        "provenance": {k: v for k, v in first.items() if k not in ("command", "seed", "config")},
        "runs": runs,
    }


def degradation(
    profile: str = "quick",
    seeds: tuple[int, ...] = (0,),
    device: str = "auto",
    runs_dir: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train plain-20/56 and ResNet-20/56 (He et al. 2015, Fig. 6); their metrics per epoch.

    Returns {"runs": {model: [{"seed", "metrics": [per-epoch dicts], "provenance"}]}, ...}.
    With ``runs_dir`` every run checkpoints there and an interrupted call resumes.
    """
    return _run_all("degradation", DEGRADATION_MODELS, profile, tuple(seeds), device, runs_dir, progress)


def degradation_run(
    model: str,
    profile: str = "quick",
    seed: int = 0,
    device: str = "auto",
    runs_dir: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """One net of ``degradation``: {"seed", "metrics", "provenance"}, so that a chapter trains the
    four in four cells (each shorter than a notebook test's timeout); ``degradation_result`` puts
    them together. Cached (``trained_run``); with ``runs_dir`` it checkpoints and resumes."""
    check_degradation_net(model)
    return _train_one("degradation", model, profile, seed, device, runs_dir, progress)


def check_degradation_net(model: str) -> None:
    """A ConfigError naming the four nets unless ``model`` is one of them."""
    if model not in DEGRADATION_MODELS:
        raise ConfigError(f"{model!r} is not a net of the degradation experiment; choose one of {DEGRADATION_MODELS}")


def degradation_result(runs: dict[str, dict[str, Any]], profile: str) -> dict[str, Any]:
    """``degradation``'s result from one ``degradation_run`` of each of its four nets."""
    missing = [model for model in DEGRADATION_MODELS if model not in runs]
    if missing:
        raise ConfigError(f"no run of {', '.join(missing)} yet: train each of {DEGRADATION_MODELS} first")
    by_model = {model: [runs[model]] for model in DEGRADATION_MODELS}
    return _experiment_result("degradation", profile, [runs[DEGRADATION_MODELS[0]]["seed"]], by_model)


def table6(
    profile: str = "quick",
    seeds: tuple[int, ...] = (0,),
    device: str = "auto",
    runs_dir: str | None = None,
    progress: bool = True,
    models: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Train ResNet-20...110 (or ``models``) for each seed (He et al. 2015, Table 6); see ``table6_summary``."""
    return _run_all("table6", tuple(models or TABLE6_MODELS), profile, tuple(seeds), device, runs_dir, progress)


def final(result: dict[str, Any], model: str, key: str = "test_error") -> list[float]:
    """``key`` at the final epoch of each seed's run of ``model``."""
    return [run["metrics"][-1][key] for run in result["runs"][model]]


def table6_summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per model: final-epoch test error (%) mean ± std over seeds, beside the paper's."""
    rows = []
    for model in result["runs"]:
        errors = [100 * e for e in final(result, model)]
        rows.append(
            {
                "model": model,
                "runs": len(errors),
                "test_error_mean": statistics.fmean(errors),
                "test_error_std": statistics.stdev(errors) if len(errors) > 1 else float("nan"),
                "paper": PAPER_TABLE6.get(model),
            }
        )
    return rows


def format_table6(rows: Sequence[dict[str, Any]], title: str = "") -> Table:
    """``table6_summary`` rows as a table: final-epoch test error (%) beside the paper's.

    The paper's ResNet-110 cell reads "6.43 (6.61 ± 0.16)": the best of its 5 runs, then their
    mean ± std, as Table 6 gives it. Models the paper has no number for show "—".
    """
    body = []
    for row in rows:
        paper = row.get("paper")
        if row["model"] == "resnet110" and paper is not None:
            paper = f"{paper:.2f} ({format_mean_std(*PAPER_RESNET110_MEAN_STD)})"
        elif paper is not None:
            paper = f"{paper:.2f}"
        body.append((row["model"], row["runs"], format_mean_std(row["test_error_mean"], row["test_error_std"]), paper))
    headers = ["model", "runs", "final-epoch test error %", "paper %"]
    return format_table(headers, body, title=title)


def training_error_key(result: dict[str, Any]) -> str:
    """Which training error a result's claims are read from: the eval-mode error on the training
    images (``train_eval_error``) where the runs measured it, else the running error during the
    epoch (``train_error``, the paper's thin curves: augmented images, train-mode BN)."""
    first = next(iter(result["runs"].values()))[0]["metrics"][-1]
    return "train_eval_error" if "train_eval_error" in first else "train_error"


def depth_gaps(result: dict[str, Any], key: str | None = None) -> dict[str, float]:
    """How much worse the 56-layer net ends than the 20-layer one (final epoch, mean over seeds).

    {"plain": plain56 - plain20, "residual": resnet56 - resnet20}, as fractions (0.05 = 5 points),
    of ``key`` (default: ``training_error_key(result)``).
    Degradation is a positive "plain" gap that the shortcuts remove.
    """
    key = key or training_error_key(result)
    mean = {m: statistics.fmean(final(result, m, key)) for m in DEGRADATION_MODELS}
    return {"plain": mean["plain56"] - mean["plain20"], "residual": mean["resnet56"] - mean["resnet20"]}


#: The quick profile's depth gaps (points: the 56-layer net's final training error, in eval mode
#: on the 500 images, minus the 20-layer one's) over seeds 0-2, in bf16 (``--amp auto`` on the
#: 2-core Zen 4 this was measured on) and in float32 (``--amp off``), measured on 2026-12-02 for
#: ``DEGRADATION_MARGIN``: the ResNets end within 3 points of each other, the plain nets 42 or more apart.
QUICK_SEED_GAPS = {
    ("bf16", 0): {"plain": 51.6, "residual": 0.0},
    ("bf16", 1): {"plain": 44.2, "residual": 3.0},
    ("bf16", 2): {"plain": 43.4, "residual": -0.2},
    ("fp32", 0): {"plain": 45.2, "residual": -0.4},
    ("fp32", 1): {"plain": 61.0, "residual": 0.0},
    ("fp32", 2): {"plain": 42.6, "residual": -0.4},
}
#: How far apart two training errors must be for the degradation claims to call one higher, by the
#: result's profile. quick: 5 points, 25 of the 500 training images: above the largest ResNet gap of
#: ``QUICK_SEED_GAPS`` (3.0, 15 images) and far below the smallest plain gap (42.6). Full scale (the
#: shipped nets, or the paper's recipe): 1 point, 450 of the 45,000 images: the shipped nets' gaps
#: are 2.2 points or more from zero at 40 and at 60 epochs (the manifest's ``cpu`` runs).
DEGRADATION_MARGIN = {"quick": 0.05, "full": 0.01}


def degradation_margin(result: dict[str, Any]) -> float:
    """``DEGRADATION_MARGIN`` for a result: the quick profile's, else the full-scale one."""
    return DEGRADATION_MARGIN["quick" if result.get("profile") == "quick" else "full"]


def degradation_holds(result: dict[str, Any], margin: float = 0.0) -> dict[str, bool]:
    """The claims of the degradation experiment, read from the final-epoch training error, each by
    more than ``margin`` (a fraction: 0.02 = 2 points; ``degradation_margin`` gives the chapter's).

    "plain_degrades": plain-56 ends with a training error more than ``margin`` above plain-20's.
    "residual_does_not": ResNet-56 ends no more than ``margin`` above ResNet-20.
    "shortcuts_help": going from 20 to 56 layers costs the residual nets more than ``margin`` less
    than the plain ones.
    """
    gaps = depth_gaps(result)
    return {
        "plain_degrades": gaps["plain"] > margin,
        "residual_does_not": gaps["residual"] <= margin,
        "shortcuts_help": gaps["residual"] < gaps["plain"] - margin,
    }


def evaluated_test_images(result: dict[str, Any]) -> int:
    """How many test images a result's test errors were measured on (its first run's config)."""
    config = next(iter(result["runs"].values()))[0]["provenance"].get("config", {})
    return config.get("test_subset") or len(CLASSES) * IMAGES_PER_CLASS[1]


def depth_test_gap(result: dict[str, Any], family: str = "plain") -> tuple[float, float]:
    """The 56-layer net's final test error minus the 20-layer one's in ``family`` ("plain" or
    "resnet"), with the binomial standard error of that difference on ``evaluated_test_images(result)``."""
    if family not in ("plain", "resnet"):
        raise ConfigError(f"family must be 'plain' or 'resnet', not {family!r}")
    images = evaluated_test_images(result)
    shallow, deep = (statistics.fmean(final(result, f"{family}{d}")) for d in (20, 56))
    return deep - shallow, binomial_difference_standard_error(shallow, deep, images)


def full_profile_work(experiment: str) -> Workload:
    """What an experiment's full profile computes (``costs.Workload``): every model and seed on the
    paper's schedule (64k iterations of 128 images), with the validation and test sets evaluated
    after every epoch."""
    if experiment not in CIFAR_EXPERIMENTS:
        raise ConfigError(f"unknown experiment {experiment!r}; choose one of {', '.join(CIFAR_EXPERIMENTS)}")
    models = DEGRADATION_MODELS if experiment == "degradation" else TABLE6_MODELS
    seeds, paper = len(profiles.sizes(experiment, "full").seeds), SCHEDULE_DEFAULTS["paper"]
    images = paper["iterations"] * paper["batch_size"]
    train_per_class, test_per_class = IMAGES_PER_CLASS
    val_size = TrainConfig().val_size  # the paper's 45k/5k split
    epochs = math.ceil(images / (len(CLASSES) * train_per_class - val_size))
    evaluated = epochs * (val_size + len(CLASSES) * test_per_class)
    return Workload(
        trained_images={m: seeds * images for m in models},
        forward_images={m: seeds * evaluated for m in models},
        training_steps={m: seeds * paper["iterations"] for m in models},
    )


def plot_degradation(result: dict[str, Any], title: str | None = None):  # -> matplotlib Figure
    """The paper's Fig. 6, from a result: error per epoch, plain nets left and ResNets right;
    thin lines the training error, bold lines the test error; 20 layers pale, 56 layers dark.
    ``title`` names the runs (default: the result's own ``title``, else its profile)."""
    from matplotlib.ticker import MaxNLocator

    from . import viz

    train_key = training_error_key(result)
    train_label = "train (fit, eval mode)" if train_key == "train_eval_error" else "train"
    every = [run for runs in result["runs"].values() for run in runs]
    curves = [m[key] for run in every for m in run["metrics"] for key in (train_key, "test_error")]
    top = min(100, 10 * math.ceil(10 * max(curves, default=1.0)))  # the curves' range, in steps of 10 points
    fig, axes = viz.figure(2, figsize=(10, 4), sharey=True)
    with viz.style():
        for ax, family, kind in zip(axes, ("plain", "resnet"), ("plain", "residual")):
            for depth, alpha in (("20", 0.45), ("56", 1.0)):
                model = f"{family}{depth}"
                for i, run in enumerate(result["runs"].get(model, [])):
                    epochs = [m["epoch"] for m in run["metrics"]]
                    for key, width, what in ((train_key, 1.0, train_label), ("test_error", 2.6, "test")):
                        errors = [100 * m[key] for m in run["metrics"]]
                        label = f"{family}-{depth} {what}" if i == 0 else None  # one legend entry per net
                        ax.plot(epochs, errors, lw=width, color=viz.COLORS[kind], alpha=alpha, label=label)
            ax.set_title(f"{'Plain' if family == 'plain' else 'Residual'} networks")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(0, top)
            ax.legend(fontsize=9, loc="lower left")
        axes[0].set_ylabel("error (%)")
        named = title or result.get("title") or f"{result['profile']} profile"
        fig.suptitle(f"Degradation on CIFAR-10 ({named}): thin = train, bold = test")
    return fig
