"""The paper's CIFAR-10 experiments, as functions the chapters call and the CLI runs.

    degradation(profile)   plain-20/56 against ResNet-20/56 (He et al. 2015, Fig. 6)
    table6(profile)        ResNet-20...110 test error against the paper's Table 6
    cpu_recipe_runs()      the shipped nets of the ``cpu`` recipe, one per depth, beside the paper
    cpu_recipe_seeds(m)    one model's shipped ``cpu`` runs over several seeds: their spread
    cpu_schedule_runs(m)   ... and at other lengths of the schedule: what the short schedule costs
    cpu_run_lengths(runs)  those runs' test error by length: mean ± std over each length's seeds
    cpu_lengths_by_model() ... for every depth shipped at more than one length
    table6_beside_runs()   Table 6 row by row beside a published PyTorch reproduction and this
                           copy's runs at two lengths (final and best epoch), with what each
                           depth costs here (measured, or estimated from FLOPs: ResNet-1202)
    shipped_test_error(n)  a shipped net's test error measured again (with ``flip``: flip
                           test-time augmentation, recorded once by ``record_flip_test_error``)

Each returns plain data (per-epoch metrics of every run, with provenance) and is ``@cached``,
so a chapter executed twice trains once. ``write_results`` stores a result as JSON (with the
command, commit, hardware, data checksum and seeds that produced it) and ``plot_*`` draws it.

Profiles: ``full`` is the paper's recipe (45k/5k split, batch 128, augmentation, 64k
iterations; a GPU's job). ``quick`` (its ``CifarSizes``, registered with ``profiles``) asks the
degradation question in the purest form a 2-core CPU can answer in minutes: can the net *fit* 500
real training images? No augmentation, 320 steps, and the training error measured afterwards in
eval mode on those same images (``train_eval_error``). A 56-layer net can represent everything a
20-layer one can, so failing to fit is an optimization failure, not a lack of capacity: plain-56
stays far above plain-20, while both ResNets fit every image.
The reading of the paper's 45k/5k split followed here: train on 45k, hold out 5k for
validation, and report the *test* error at the final epoch (never the best epoch).
"""

from __future__ import annotations

import functools
import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from . import profiles
from .cache import cached
from .checkpoints import MANIFEST, CheckpointError, load_pretrained, read_manifest, record_evaluation
from .data import CLASSES, IMAGES_PER_CLASS, load_cifar10, make_splits, normalize
from .errors import ConfigError, ResnetsError
from .files import write_atomic
from .flops import count_flops
from .models import build_model
from .provenance import code_and_host, data_facts
from .recipe import SCHEDULE_DEFAULTS, TrainConfig
from .runtime import device_name, pick_device
from .tables import Table, format_table
from .train import train

#: He et al. 2015, Table 6: CIFAR-10 test error (%) of each depth (ResNet-110: best of 5 runs).
PAPER_TABLE6 = {
    "resnet20": 8.75,
    "resnet32": 7.51,
    "resnet44": 7.17,
    "resnet56": 6.97,
    "resnet110": 6.43,
    "resnet1202": 7.93,
}
#: ... and ResNet-110's mean and standard deviation over those 5 runs, "6.61±0.16".
PAPER_RESNET110_MEAN_STD = (6.61, 0.16)
#: ... and the parameter count of each (millions), as Table 6 lists it.
PAPER_TABLE6_PARAMETERS = {
    "resnet20": 0.27,
    "resnet32": 0.46,
    "resnet44": 0.66,
    "resnet56": 0.85,
    "resnet110": 1.7,
    "resnet1202": 19.4,
}
#: A published PyTorch reproduction of Table 6: the test error (%) of each depth in the README of
#: akamaster/pytorch_resnet_cifar10 (Idelbayev 2018). Not the paper's protocol, as that README says:
#: trained on all 50,000 training images ("We do not perform validation testing"); its trainer.py
#: evaluates the test set after every epoch and keeps the best accuracy (``best_prec1``), and the
#: README does not say whether these errors are that best epoch's or the last epoch's.
PUBLISHED_REPRODUCTION = {
    "resnet20": 8.27,
    "resnet32": 7.37,
    "resnet44": 6.90,
    "resnet56": 6.61,
    "resnet110": 6.32,
    "resnet1202": 6.18,
}


class MissingResults(ResnetsError, FileNotFoundError):
    """No stored results of an experiment where they were looked for; the message says how to make them."""


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
    result = train(config, load_cifar10())
    if result.interrupted:
        raise KeyboardInterrupt(f"{experiment}: interrupted while training {model} (seed {seed})")
    return {"seed": seed, "metrics": result.metrics, "provenance": result.provenance}


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


@cached
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


@cached
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
    them together. Cached like ``degradation``; with ``runs_dir`` it checkpoints and resumes."""
    if model not in DEGRADATION_MODELS:
        raise ConfigError(f"{model!r} is not a net of the degradation experiment; choose one of {DEGRADATION_MODELS}")
    return _train_one("degradation", model, profile, seed, device, runs_dir, progress)


def degradation_result(runs: dict[str, dict[str, Any]], profile: str) -> dict[str, Any]:
    """``degradation``'s result from one ``degradation_run`` of each of its four nets."""
    missing = [model for model in DEGRADATION_MODELS if model not in runs]
    if missing:
        raise ConfigError(f"no run of {', '.join(missing)} yet: train each of {DEGRADATION_MODELS} first")
    by_model = {model: [runs[model]] for model in DEGRADATION_MODELS}
    return _experiment_result("degradation", profile, [runs[DEGRADATION_MODELS[0]]["seed"]], by_model)


#: What the degradation chapter does, by profile and opt-in (``degradation_plan``).
PLAN_MODES = ("quick", "stored", "shipped", "train")


@dataclass
class DegradationPlan:
    """What Part 3's degradation chapter does with its four nets, decided once by ``degradation_plan``.

    ``mode``: "quick" trains the quick profile's runs (minutes each on a CPU); "stored" reads a
    stored full-profile result; "shipped" (full profile, nothing stored, no opt-in) trains nothing
    and shows the nets shipped with the package (the ``cpu`` recipe); "train" (full profile, opted
    in) trains the paper's recipe, checkpointing in ``runs_dir`` so that a rerun resumes.
    """

    mode: str
    device: str = "auto"
    runs_dir: str | None = None
    stored: dict[str, Any] | None = None
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def profile(self) -> str:
        return "quick" if self.mode == "quick" else "full"

    def train(self, model: str) -> None:
        """Train ``model`` if the plan trains (with a progress bar), then print one line about it:
        its final errors and time, or why nothing trained."""
        if model not in DEGRADATION_MODELS:
            raise ConfigError(
                f"{model!r} is not a net of the degradation experiment; choose one of {DEGRADATION_MODELS}"
            )
        if self.mode in ("stored", "shipped"):
            source = "the stored result" if self.mode == "stored" else "the shipped net"
            print(f"{model}: not trained here ({source} is shown instead; see the plan above)")
            return
        run = degradation_run(model, self.profile, 0, self.device, self.runs_dir, progress=True)
        self.runs[model] = run
        last = run["metrics"][-1]
        fit = f"training error {100 * last[training_error_key({'runs': {model: [run]}})]:.1f}%"
        steps, seconds = last["step"], last["wall_seconds"]
        print(f"{model}: {steps:,} steps in {_duration(seconds)}; {fit}, test error {100 * last['test_error']:.1f}%")

    def result(self) -> dict[str, Any]:
        """The result the rest of the chapter reads: the runs trained above, the stored result, or
        the shipped nets in the same shape (``"profile": "shipped"``)."""
        if self.mode == "stored":
            assert self.stored is not None
            return self.stored
        if self.mode == "shipped":
            return shipped_degradation()
        return degradation_result(self.runs, self.profile)


def shipped_degradation(manifest: str | Path = MANIFEST) -> dict[str, Any]:
    """The four nets of Fig. 6 shipped with the package (the ``cpu`` recipe, seed 0), in the shape of
    ``degradation``'s result; one error naming the fix if any of them is not shipped."""
    runs = {model: entry for model, entry in cpu_recipe_runs(manifest).items() if model in DEGRADATION_MODELS}
    missing = [model for model in DEGRADATION_MODELS if model not in runs]
    if missing:
        raise MissingResults(
            f"no shipped {', '.join(cpu_run_name(m) for m in missing)}: train them with `tools/train_cpu_runs.sh "
            f"{' '.join(missing)}` and ship them, or set TRAIN_FULL = True on the page to train the paper's recipe"
        )
    result = shipped_result({cpu_run_name(model): runs[model] for model in DEGRADATION_MODELS})
    first = runs[DEGRADATION_MODELS[0]]["provenance"]
    return {
        **result,
        "experiment": "degradation",
        "title": "shipped nets, CPU recipe",
        "split": f"shipped nets: the cpu recipe, {CPU_EPOCHS} epochs on 45k (5k held out), final epoch",
        "provenance": {k: v for k, v in first.items() if k not in ("command", "seed", "config")},
    }


def format_run_records(entries: dict[str, dict[str, Any]]) -> str:
    """How each shipped run was computed, from its record: the precision it trained in, the CPU
    (its first session's, or the first resume's where only resumes name it), how many times it was
    resumed and its median training rate. "not recorded" where the record predates the field."""
    rows = []
    for name, entry in entries.items():
        provenance = entry["provenance"]
        resumes = provenance.get("resumes", [])
        precisions = {provenance.get("precision"), *(r.get("precision") for r in resumes)} - {None}
        cpus = [provenance.get("cpu"), *(r.get("cpu") for r in resumes)]
        cpu = next((c for c in cpus if c), "not recorded")
        rate = statistics.median(m["images_per_second"] for m in entry["metrics"])
        rows.append((entry["arch"], ", ".join(sorted(precisions)) or "not recorded", cpu, len(resumes), f"{rate:,.0f}"))
    return format_table(["net", "precision", "CPU", "resumes", "images/s"], rows)


def degradation_plan(
    profile: str, device: str = "auto", train_full: bool = False, runs_dir: str | None = None
) -> DegradationPlan:
    """Decide, and say, what the degradation chapter does (a ``DegradationPlan``).

    Quick profile: train the quick runs. Full profile: with ``train_full`` (the page's
    ``TRAIN_FULL`` line) train the paper's recipe, after printing how long it is estimated to take;
    else use a stored full-profile result (``load_results``) if there is one; else, when
    RESNETS_MAX_ITERATIONS caps every run (``make gpu-check``'s smoke test), train them capped;
    else train nothing and show the shipped nets. ``runs_dir`` (the page's ``RUNS_DIR`` line) is
    where training checkpoints: ``runtime.runs_folder`` (None: ./runs; "drive": Google Drive in Colab).
    """
    import textwrap

    from .runtime import in_colab, runs_folder

    sizes = profiles.sizes("degradation", profile)  # an unknown profile: an error naming the known ones

    def say(text: str) -> None:
        print(textwrap.fill(text, 78, break_on_hyphens=False))

    if profile == "quick":
        say(
            f"Profile quick: the four nets train below, one cell each, on {sizes.recipe['train_subset']} images, "
            "each with a progress bar."
        )
        return DegradationPlan("quick", device)
    stored = None
    if not train_full:
        try:
            stored = load_results("degradation", "full")
        except FileNotFoundError:
            stored = None
    if stored is not None:
        say(f"Profile full: using the stored result of `{stored['provenance'].get('command')}`; nothing trains.")
        return DegradationPlan("stored", device, stored=stored)
    cap = profiles.read_environment().max_iterations
    if not train_full and cap is None:
        say(
            "Profile full: nothing trains. No full-profile result is stored (results/degradation-full.json), "
            "and TRAIN_FULL is False, so the cells below show the four nets shipped with the package (the "
            f"cpu recipe, {CPU_EPOCHS} epochs on a CPU). To train the paper's recipe here, set "
            "TRAIN_FULL = True and rerun this cell (the estimate above says how long)."
        )
        return DegradationPlan("shipped", device)
    folder = str(runs_folder(runs_dir))
    iterations = experiment_config(DEGRADATION_MODELS[0], "full", max_iterations=cap).resolved().iterations
    why = "TRAIN_FULL is True" if train_full else f"{profiles.MAX_ITERATIONS_ENV}={cap} caps every run"
    say(
        f"Profile full, {why}: the four nets train below, one cell each, {iterations:,} iterations of "
        f"{SCHEDULE_DEFAULTS['paper']['batch_size']} images each. Checkpoints go to {folder}; rerunning "
        "a cell resumes its run from there."
    )
    if cap is None:
        print(full_profile_estimate("degradation", "Estimated time, before it starts"))
    if in_colab() and runs_dir is None:
        say(
            "Note: runs/ is on this Colab machine, which is recycled when the session ends, and the "
            'checkpoints with it. Set RUNS_DIR = "drive" to keep them on Google Drive.'
        )
    return DegradationPlan("train", device, runs_dir=folder)


@cached
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


def _percent(mean: float, std: float) -> str:
    return f"{mean:.2f}" if math.isnan(std) else f"{mean:.2f} ± {std:.2f}"


def format_table6(rows: Sequence[dict[str, Any]], title: str = "") -> Table:
    """``table6_summary`` rows as a table: final-epoch test error (%) beside the paper's.

    The paper's ResNet-110 cell reads "6.43 (6.61 ± 0.16)": the best of its 5 runs, then their
    mean ± std, as Table 6 gives it. Models the paper has no number for show "—".
    """
    body = []
    for row in rows:
        paper = row.get("paper")
        if row["model"] == "resnet110" and paper is not None:
            paper = f"{paper:.2f} ({_percent(*PAPER_RESNET110_MEAN_STD)})"
        elif paper is not None:
            paper = f"{paper:.2f}"
        body.append((row["model"], row["runs"], _percent(row["test_error_mean"], row["test_error_std"]), paper))
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
#: are 2.2 points or more from zero at 40 and at 60 epochs (``degradation_margin_note``).
DEGRADATION_MARGIN = {"quick": 0.05, "full": 0.01}


def degradation_margin(result: dict[str, Any]) -> float:
    """``DEGRADATION_MARGIN`` for a result: the quick profile's, else the full-scale one."""
    return DEGRADATION_MARGIN["quick" if result.get("profile") == "quick" else "full"]


def degradation_margin_note(result: dict[str, Any], manifest: str | Path = MANIFEST, width: int = 78) -> str:
    """What a result's margin stands on, in a few lines: for the quick profile the gaps of
    ``QUICK_SEED_GAPS``; at full scale the shipped ``cpu`` nets' gaps at each length shipped for
    all four (from the manifest)."""
    import textwrap

    if result.get("profile") == "quick":
        plain = [g["plain"] for g in QUICK_SEED_GAPS.values()]
        residual = [g["residual"] for g in QUICK_SEED_GAPS.values()]
        text = (
            f"The margin stands on {len(QUICK_SEED_GAPS)} quick runs of each net (seeds 0-2, bf16 and float32): "
            f"56 minus 20 layers, residual {min(residual):+.1f} to {max(residual):+.1f} points, plain "
            f"{min(plain):+.1f} to {max(plain):+.1f} (reproduce.QUICK_SEED_GAPS)."
        )
    else:
        entries = read_manifest(manifest)
        parts = []
        for epochs in sorted({_seed_and_epochs(e)[1] for e in entries.values() if _is_cpu_schedule_run(e)}):
            names = {model: cpu_run_name(model, epochs=epochs) for model in DEGRADATION_MODELS}
            if all(name in entries for name in names.values()):
                fit = {m: entries[n]["metrics"][-1]["train_eval_error"] for m, n in names.items()}
                parts.append(
                    f"{epochs} epochs plain {100 * (fit['plain56'] - fit['plain20']):+.1f}, residual "
                    f"{100 * (fit['resnet56'] - fit['resnet20']):+.1f}"
                )
        text = "The margin stands on the shipped nets' gaps (points, 56 minus 20 layers): " + "; ".join(parts) + "."
    return textwrap.fill(text, width, break_on_hyphens=False)


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
    se = math.hypot(binomial_standard_error(shallow, images), binomial_standard_error(deep, images))
    return deep - shallow, se


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------

SHIPPED_RESULTS = Path(__file__).parent / "assets" / "results"


def results_path(experiment: str, profile: str, folder: str | Path) -> Path:
    return Path(folder) / f"{experiment}-{profile}.json"


def write_results(result: dict[str, Any], folder: str | Path, command: str) -> Path:
    """Store ``result`` as JSON in ``folder``, recording the command that produced it."""
    path = results_path(result["experiment"], result["profile"], folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**result, "provenance": {**result["provenance"], "command": command}}
    return write_atomic(path, lambda f: f.write((json.dumps(payload, indent=1) + "\n").encode()))


def load_results(experiment: str, profile: str = "full", folder: str | Path | None = None) -> dict[str, Any]:
    """A stored result: from ``folder``, else ./results, else the results shipped with the package."""
    candidates = [Path(folder)] if folder else [Path("results"), SHIPPED_RESULTS]
    for candidate in candidates:
        path = results_path(experiment, profile, candidate)
        if path.is_file():
            return json.loads(path.read_text())
    where = " or ".join(str(results_path(experiment, profile, c)) for c in candidates)
    raise MissingResults(
        f"no stored {experiment} results for profile {profile!r} ({where}); make them with `python -m resnets "
        f"reproduce {experiment} --{profile}`"
    )


def _data_name(note: str | None) -> str | None:
    """What the data was, without the comment a run recorded after it ("JPEG q75 (lossy: ...)"):
    the comment is a claim of the version that wrote it; the name and the checksum are facts."""
    return None if note is None else note.split(" (")[0]


def _resume_line(resume: dict[str, Any]) -> str:
    """One resume of a run (``train.resumed_provenance``) in a line: where it began and on what."""
    commit = (resume.get("git_commit") or "unknown")[:12]
    machine = ", ".join(str(resume.get(fact)) for fact in ("hardware", "cpu", "precision") if resume.get(fact))
    return f"epoch {resume['epoch']} on {machine}, commit {commit}"


def format_provenance(provenance: dict[str, Any], width: int = 78) -> str:
    """What produced a result, one fact a line: command, commit, hardware, CPU, precision, data, seed,
    and each resume of the run (where it began, on what machine, precision and commit).

    Lines are wrapped at ``width``; the command with shell continuations, so it can be pasted.
    """
    import textwrap

    facts = [
        ("command", provenance.get("command")),
        ("git commit", provenance.get("git_commit")),
        ("hardware", provenance.get("hardware")),
        ("cpu", provenance.get("cpu")),
        ("precision", provenance.get("precision")),
        ("torch", provenance.get("torch_version")),
        ("data", _data_name(provenance.get("data_note"))),
        ("data SHA-256", provenance.get("data_checksum")),
        ("seed", provenance.get("seed")),
        *(("resumed", _resume_line(resume)) for resume in provenance.get("resumes", [])),
    ]
    indent = " " * 14
    lines = []
    for label, value in facts:
        text, first = "unknown" if value is None else str(value), f"{label + ':':14s}"
        if label == "command":
            wrapped = textwrap.wrap(text, width - len(indent) - 2, break_long_words=False, break_on_hyphens=False)
            lines.append(first + (" \\\n" + indent).join(wrapped))
        else:
            lines.append(
                textwrap.fill(text, width, initial_indent=first, subsequent_indent=indent, break_long_words=False)
            )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Shipped checkpoints: small runs that travel with the package, and a check of their numbers
# ---------------------------------------------------------------------------------------


def shipped_runs(names: Sequence[str], manifest: str | Path = MANIFEST) -> dict[str, dict[str, Any]]:
    """The manifest entries (arch, provenance, per-epoch metrics) of the shipped checkpoints ``names``.

    A name that is not shipped is one ``CheckpointError`` that says how to ship it.
    """
    entries = read_manifest(manifest)
    missing = [name for name in names if name not in entries]
    if missing:
        raise CheckpointError(
            f"no shipped checkpoint named {', '.join(missing)} in {manifest} (shipped: "
            f"{', '.join(sorted(entries)) or 'none'}). "
            "Train the run, then add it with `python -m resnets ship RUN_FOLDER --name NAME`."
        )
    for name in names:
        if not entries[name].get("metrics"):
            raise CheckpointError(
                f"the shipped checkpoint {name} has no per-epoch metrics; ship it again with this version of `python "
                "-m resnets ship`"
            )
    return {name: entries[name] for name in names}


def shipped_result(entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Shipped runs (``shipped_runs``) in the shape of ``table6``'s result, grouped by architecture,
    so ``table6_summary`` and ``format_table6`` read them too."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for name, entry in entries.items():
        runs.setdefault(entry["arch"], []).append(
            {
                "name": name,
                "seed": entry["provenance"].get("seed"),
                "metrics": entry["metrics"],
                "provenance": entry["provenance"],
            }
        )
    return {"experiment": "shipped", "profile": "shipped", "runs": runs}


def training_images(config: dict[str, Any]) -> int:
    """How many images a run trained on, from its config: the subset, else 50,000 minus the held-out ones."""
    return config["train_subset"] or len(CLASSES) * IMAGES_PER_CLASS[0] - config["val_size"]


def format_shipped_runs(entries: dict[str, dict[str, Any]]) -> Table:
    """One line per shipped run: how many epochs it trained, on how many images, and its errors
    (%) at its final epoch: training (running, during the epoch), validation and test."""
    rows = []
    for name, entry in entries.items():
        config, last = entry["provenance"]["config"], entry["metrics"][-1]
        rows.append(
            (
                name,
                last["epoch"],
                f"{training_images(config):,}",
                *(
                    f"{100 * last[key]:.2f}" if key in last else None
                    for key in ("train_error", "val_error", "test_error")
                ),
            )
        )
    headers = ["checkpoint", "epochs", "images", "train %", "val %", "test %"]  # fits 78 columns
    return format_table(headers, rows)


def binomial_standard_error(error: float, images: int) -> float:
    """Standard error of an error rate measured on ``images`` independent test images."""
    return math.sqrt(error * (1 - error) / images)


def binomial_difference_standard_error(first: float, second: float, images: int) -> float:
    """Standard error of the difference between two error rates, each measured on ``images``
    independent test images: the two binomial standard errors added in quadrature."""
    return math.hypot(binomial_standard_error(first, images), binomial_standard_error(second, images))


def difference_standard_error(first: dict[str, Any], second: dict[str, Any]) -> float:
    """Standard error (points) of the difference between two ``table6_summary`` rows' mean test
    errors, from the spread of each row's seeds: each mean's std / sqrt(runs), added in quadrature.
    NaN where a row is a single run (one run has no spread to measure)."""
    return math.hypot(*(row["test_error_std"] / math.sqrt(row["runs"]) for row in (first, second)))


@cached
def _test_error(
    name: str, sha256: str, data_checksum: str, test_subset: int | None, device: str, manifest: str, flip: bool = False
) -> float:
    # sha256 and data_checksum are part of the cache key: new weights or other data recompute.
    from .probes import predict

    images, labels = make_splits(load_cifar10(), test_subset=test_subset).test
    model = load_pretrained(name, manifest, map_location=device)
    x = normalize(images)  # (N, 3, 32, 32)
    logits = predict(model, x)
    if flip:  # test-time augmentation: average the probabilities of each image and its mirror
        logits = logits.softmax(1) + predict(model, x.flip(3)).softmax(1)  # width is dim 3
    return (logits.argmax(1) != labels).float().mean().item()


def shipped_test_error(
    name: str, test_subset: int | None = None, device: str = "cpu", manifest: str | Path = MANIFEST, flip: bool = False
) -> dict[str, Any]:
    """Measure a shipped checkpoint's test error again, on all 10,000 test images or on
    ``test_subset`` class-balanced ones (the same images every time); with ``flip``, with
    flip test-time augmentation (each image and its mirror, probabilities averaged).

    Returns {"error", "images", "standard_error", "recorded"}: the error measured now, on how
    many images, its binomial standard error, and what the manifest records for all 10,000:
    the run's final-epoch test error, or with ``flip`` the flip test error measured on the
    shipped weights (``record_flip_test_error``; None if none was, on the data loaded now).
    """
    entry = shipped_runs([name], manifest)[name]
    data = load_cifar10()
    error = _test_error(name, entry["sha256"], data.checksum, test_subset, str(device), str(manifest), flip)
    images = test_subset or len(data.test_labels)
    recorded = _recorded_flip_error(entry, data.checksum) if flip else entry["metrics"][-1]["test_error"]
    return {
        "error": error,
        "images": images,
        "standard_error": binomial_standard_error(error, images),
        "recorded": recorded,
    }


#: Where a shipped checkpoint's manifest entry keeps its test error with flip test-time
#: augmentation (``checkpoints.record_evaluation``): measured once, on all 10,000 test images.
FLIP_EVALUATION = "flip_test_error"


def record_flip_test_error(
    name: str, device: str = "cpu", manifest: str | Path = MANIFEST, command: str | None = None
) -> dict[str, Any]:
    """Measure a shipped checkpoint's test error with flip test-time augmentation on all
    10,000 test images and record it in its manifest entry with what measured it (``command``,
    commit, versions, device, CPU, data), so that a page can show it without the minutes the
    measurement takes on a CPU, and check it on a subset. ``device``: as ``pick_device`` takes
    it ("auto", "cpu", "cuda", ...). Returns the record."""
    data, where = load_cifar10(), pick_device(device)
    check = shipped_test_error(name, None, str(where), manifest, flip=True)
    record = {
        "error": check["error"],
        "images": check["images"],
        "command": command,
        **code_and_host(),
        "hardware": device_name(where),
        "precision": "fp32",  # probes.predict: no autocast
        **data_facts(data),
    }
    record_evaluation(name, FLIP_EVALUATION, record, manifest)
    return record


def _recorded_flip_error(entry: dict[str, Any], data_checksum: str) -> float | None:
    record = entry.get("evaluations", {}).get(FLIP_EVALUATION)
    return record["error"] if record and record["data_checksum"] == data_checksum else None


def flip_test_error(name: str, device: str = "cpu", manifest: str | Path = MANIFEST) -> float:
    """A shipped checkpoint's test error with flip test-time augmentation on all 10,000 test
    images: the recorded one (``record_flip_test_error``) if it was measured on the data loaded
    now, else measured now (minutes on a CPU for a 56-layer net)."""
    entry = shipped_runs([name], manifest)[name]
    recorded = _recorded_flip_error(entry, load_cifar10().checksum)
    return recorded if recorded is not None else shipped_test_error(name, None, device, manifest, flip=True)["error"]


# ---------------------------------------------------------------------------------------
# The CPU recipe: one schedule for every depth, run on all 45k training images
# ---------------------------------------------------------------------------------------

CPU_SCHEDULE = "cpu"
#: The recipe's length; a run of another length measures what the short schedule costs.
CPU_EPOCHS = SCHEDULE_DEFAULTS[CPU_SCHEDULE]["epochs"]
#: Part 3's nets, in the order ``tools/train_cpu_runs.sh`` trains them.
CPU_RUN_MODELS = ("resnet20", "plain20", "resnet56", "plain56", "resnet32", "resnet44", "resnet110")


#: The length whose runs were shipped with no ``-<E>ep`` in their names: the recipe's first. A
#: shipped name keeps its meaning when the recipe's length (``CPU_EPOCHS``) changes.
UNSUFFIXED_CPU_EPOCHS = 40


def cpu_run_name(model: str, seed: int = 0, epochs: int | None = None) -> str:
    """The name a run of the ``cpu`` schedule of ``model`` is shipped under, at ``epochs``
    (default: the recipe's ``CPU_EPOCHS``). Seed 0's is the one the chapters stand on; another
    seed's (run to measure the spread between seeds) ends in ``-seed<N>``, and a run of another
    length than ``UNSUFFIXED_CPU_EPOCHS`` has ``-<E>ep`` before that."""
    epochs = CPU_EPOCHS if epochs is None else epochs
    length = "" if epochs == UNSUFFIXED_CPU_EPOCHS else f"-{epochs}ep"
    return f"{model}-cifar10-cpu{length}" + (f"-seed{seed}" if seed else "")


def _seed_and_epochs(entry: dict[str, Any]) -> tuple[int, int]:
    return entry["provenance"].get("seed", 0), entry["provenance"]["config"].get("epochs")


def _is_cpu_schedule_run(entry: dict[str, Any]) -> bool:
    """A manifest entry trained with the ``cpu`` schedule (any length) on all 45k training images, with its metrics."""
    config = entry["provenance"].get("config", {})
    return config.get("schedule") == CPU_SCHEDULE and config.get("train_subset") is None and bool(entry.get("metrics"))


def _is_cpu_recipe_run(entry: dict[str, Any]) -> bool:
    """... and at the recipe's length."""
    return _is_cpu_schedule_run(entry) and _seed_and_epochs(entry)[1] == CPU_EPOCHS


def cpu_recipe_runs(manifest: str | Path = MANIFEST) -> dict[str, dict[str, Any]]:
    """The shipped seed-0 runs of the ``cpu`` recipe on the full 45k training images, by model,
    in ``CPU_RUN_MODELS`` order; a model whose shipped run is of another recipe is left out."""
    entries = read_manifest(manifest)
    return {
        model: entries[cpu_run_name(model)]
        for model in CPU_RUN_MODELS
        if cpu_run_name(model) in entries and _is_cpu_recipe_run(entries[cpu_run_name(model)])
    }


def cpu_schedule_runs(model: str, manifest: str | Path = MANIFEST) -> dict[str, dict[str, Any]]:
    """Every shipped run of ``model`` with the ``cpu`` schedule, whatever its seed and length, by
    name (``cpu_run_name``): the shortest schedule first, then in seed order."""
    runs = {
        name: entry
        for name, entry in read_manifest(manifest).items()
        if entry["arch"] == model
        and _is_cpu_schedule_run(entry)
        and name == cpu_run_name(model, *_seed_and_epochs(entry))
    }
    return dict(sorted(runs.items(), key=lambda item: _seed_and_epochs(item[1])[::-1]))


def cpu_recipe_seeds(model: str, manifest: str | Path = MANIFEST) -> dict[str, dict[str, Any]]:
    """Every shipped run of the ``cpu`` recipe (at its length) of ``model``, one per seed, by name
    in seed order (``shipped_result`` and ``table6_summary`` turn them into a mean ± std)."""
    runs = cpu_schedule_runs(model, manifest)
    return {name: entry for name, entry in runs.items() if _is_cpu_recipe_run(entry)}


def cpu_run_lengths(runs: dict[str, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """``cpu_schedule_runs`` by the length of their schedule (epochs), each length as one
    ``table6_summary`` row: its final-epoch test error (%), mean ± std over its seeds (std NaN
    for a single run), and how many runs; with ``train_fit_mean``, the mean final training
    error (%, eval mode) where every run measured it, else NaN. Lengths in the order of ``runs``."""
    lengths: dict[int, dict[str, dict[str, Any]]] = {}
    for name, entry in runs.items():
        lengths.setdefault(_seed_and_epochs(entry)[1], {})[name] = entry
    summaries = {}
    for epochs, group in lengths.items():
        [summary] = table6_summary(shipped_result(group))  # one model per group: one row
        fits = [100 * entry["metrics"][-1].get("train_eval_error", math.nan) for entry in group.values()]
        summaries[epochs] = {**summary, "train_fit_mean": statistics.fmean(fits)}
    return summaries


def format_cpu_runs(runs: dict[str, dict[str, Any]]) -> Table:
    """``cpu_schedule_runs`` (or ``cpu_recipe_seeds``) as a table, one row per run: final-epoch
    test error and training fit (%), and minutes of training. ``cpu_runs_summary`` says what
    they add up to."""
    rows = []
    for name, entry in runs.items():
        last, (seed, epochs) = entry["metrics"][-1], _seed_and_epochs(entry)
        rows.append(
            (
                name,
                epochs,
                seed,
                *(f"{100 * last[key]:.2f}" if key in last else None for key in ("test_error", "train_eval_error")),
                f"{last['wall_seconds'] / 60:.0f}",
            )
        )
    headers = ["checkpoint", "epochs", "seed", "test %", "train fit %", "minutes"]  # fits 78 columns
    return format_table(headers, rows, title="The cpu schedule: final-epoch errors (%) of each run")


def cpu_runs_summary(runs: dict[str, dict[str, Any]]) -> str:
    """What ``format_cpu_runs``'s rows add up to, a line each: each length's test error over its
    seeds (mean ± std), how far another length moved it from the recipe's (with the standard
    error of that move), and the binomial standard error of one run's test error."""
    lines = []
    lengths = cpu_run_lengths(runs)
    reference = lengths.get(CPU_EPOCHS, next(iter(lengths.values())))["test_error_mean"]
    for epochs, summary in lengths.items():
        mean, count = summary["test_error_mean"], summary["runs"]
        spread = f"{_percent(mean, summary['test_error_std'])} % (mean ± std)" if count > 1 else f"{mean:.2f} %"
        line = f"{epochs} epochs, test error over {count} seed{'s' * (count > 1)}: {spread}"
        if moved := _move_from_recipe(lengths, epochs):
            line += f"\n  {moved[0]:+.2f} points against {CPU_EPOCHS} epochs"
            line += f" (standard error {moved[1]:.2f})" if math.isfinite(moved[1]) else ""
        lines.append(line)
    test_images = len(CLASSES) * IMAGES_PER_CLASS[1]
    one_run = 100 * binomial_standard_error(reference / 100, test_images)
    lines.append(f"binomial standard error of one run on {test_images:,} images: {one_run:.2f} points")
    return "\n".join(lines)


def _move_from_recipe(lengths: dict[int, dict[str, Any]], epochs: int) -> tuple[float, float] | None:
    """How far the mean test error at ``epochs`` lies from the recipe's length (points) and that
    difference's standard error (NaN for single runs); None at the recipe's length or without it."""
    if epochs == CPU_EPOCHS or CPU_EPOCHS not in lengths:
        return None
    row, recipe = lengths[epochs], lengths[CPU_EPOCHS]
    return row["test_error_mean"] - recipe["test_error_mean"], difference_standard_error(row, recipe)


def _resnet_of(plain: str) -> str:
    """The ResNet of a plain net's depth: plain20 -> resnet20."""
    return plain.replace("plain", "resnet", 1)


def cpu_lengths_by_model(manifest: str | Path = MANIFEST) -> dict[str, dict[int, dict[str, Any]]]:
    """``cpu_run_lengths`` of every model of ``CPU_RUN_MODELS`` shipped at more than one length of
    the ``cpu`` schedule, by model in that order: which depths another length has reached."""
    by_model = {model: cpu_run_lengths(cpu_schedule_runs(model, manifest)) for model in CPU_RUN_MODELS}
    return {model: lengths for model, lengths in by_model.items() if len(lengths) > 1}


def plain_gaps(by_model: dict[str, dict[int, dict[str, Any]]]) -> dict[tuple[str, int], float]:
    """``cpu_lengths_by_model`` -> (plain net, epochs): its mean test error minus the ResNet's of
    the same depth at the same length (points), for every plain net whose ResNet is there too."""
    gaps = {}
    for plain, lengths in by_model.items():
        resnet = _resnet_of(plain)
        if plain.startswith("plain") and resnet in by_model:
            for epochs in lengths.keys() & by_model[resnet].keys():
                gaps[plain, epochs] = lengths[epochs]["test_error_mean"] - by_model[resnet][epochs]["test_error_mean"]
    return dict(sorted(gaps.items()))


def length_move_evidence(
    by_model: dict[str, dict[int, dict[str, Any]]], test_images: int = len(CLASSES) * IMAGES_PER_CLASS[1]
) -> dict[str, dict[str, Any]]:
    """``cpu_lengths_by_model`` -> model: how far its mean test error moved from the shortest length
    shipped to the longest ("move", points; negative: the longer schedule tests better), the
    standard error of that move ("se", points), "z" (move / se) and where the standard error comes
    from ("from"): "seeds" (``difference_standard_error``) where both lengths have several runs,
    else "test images", the binomial standard error of the difference of two errors measured on
    ``test_images`` images each (what measuring on a finite test set alone moves them by)."""
    evidence = {}
    for model, lengths in by_model.items():
        short, long = lengths[min(lengths)], lengths[max(lengths)]
        move = long["test_error_mean"] - short["test_error_mean"]
        se, source = difference_standard_error(short, long), "seeds"
        if not math.isfinite(se):
            errors = (row["test_error_mean"] / 100 for row in (short, long))
            se, source = 100 * binomial_difference_standard_error(*errors, test_images), "test images"
        evidence[model] = {"move": move, "se": se, "z": move / se, "from": source}
    return evidence


def depth_fit_gaps(by_model: dict[str, dict[int, dict[str, Any]]]) -> dict[tuple[str, int], float]:
    """``cpu_lengths_by_model`` -> (family, epochs): the 56-layer net's mean training fit (final
    epoch, eval mode, all training images) minus the 20-layer one's, in points, for each family
    ("plain", "resnet") and length that has both depths. Positive: the deeper net fits worse
    (degradation)."""
    gaps = {}
    for family in ("plain", "resnet"):
        shallow, deep = by_model.get(f"{family}20", {}), by_model.get(f"{family}56", {})
        for epochs in sorted(shallow.keys() & deep.keys()):
            gaps[family, epochs] = deep[epochs]["train_fit_mean"] - shallow[epochs]["train_fit_mean"]
    return gaps


def format_lengths_by_model(by_model: dict[str, dict[int, dict[str, Any]]]) -> Table:
    """``cpu_lengths_by_model`` as a table, a row per model and length: the final-epoch test error
    (%, mean ± std over the seeds), how far the shortest length lies from the longest (points) and
    the standard error of that (``length_move_evidence``: from the seeds, or from the test images
    where a length has one run), and the mean training fit (%, eval mode)."""
    evidence = length_move_evidence(by_model)
    rows = []
    for model, lengths in by_model.items():
        for epochs, row in lengths.items():
            shortest = epochs == min(lengths)
            move, se = -evidence[model]["move"], evidence[model]["se"]
            rows.append(
                (
                    model,
                    epochs,
                    row["runs"],
                    _percent(row["test_error_mean"], row["test_error_std"]),
                    f"{move:+.2f}" if shortest else None,
                    f"{se:.2f}" if shortest else None,
                    evidence[model]["from"] if shortest else None,
                    f"{row['train_fit_mean']:.2f}",
                )
            )
    longest = max(max(lengths) for lengths in by_model.values())
    headers = [
        "model",
        "epochs",
        "seeds",
        "test % (mean ± std)",
        f"vs {longest} ep",
        "s.e.",
        "s.e. from",
        "train fit %",
    ]
    return format_table(headers, rows, title="The cpu schedule at each length shipped, by depth (final epoch)")


def format_gaps_by_length(by_model: dict[str, dict[int, dict[str, Any]]]) -> Table:
    """The gaps of ``plain_gaps`` (a plain net's test error minus its ResNet's) and ``depth_fit_gaps``
    (the 56-layer net's training fit minus the 20-layer one's), a row each, a column per length."""
    lengths = sorted({epochs for lengths in by_model.values() for epochs in lengths})
    by_row: dict[str, dict[int, float]] = {}
    for (plain, epochs), gap in plain_gaps(by_model).items():
        by_row.setdefault(f"test: {plain} - {_resnet_of(plain)}", {})[epochs] = gap
    for (family, epochs), gap in depth_fit_gaps(by_model).items():
        by_row.setdefault(f"train fit: {family}56 - {family}20", {})[epochs] = gap
    rows = [(name, *(f"{gaps[e]:+.2f}" if e in gaps else None for e in lengths)) for name, gaps in by_row.items()]
    headers = ["gap (points, final epoch)", *(f"{e} epochs" for e in lengths)]
    return format_table(headers, rows, title="Gaps between nets at each length of the cpu schedule")


def plot_cpu_runs(runs: dict[str, dict[str, Any]]):  # -> matplotlib Figure
    """``cpu_schedule_runs`` per epoch: bold lines the test error, thin lines the training fit
    (eval mode), the recipe's length in grey and each other length in colour, on a log scale
    so the last epochs, where the lengths part, can be read."""
    from matplotlib.ticker import MaxNLocator

    from . import viz

    fig, ax = viz.figure(figsize=(8, 4))
    labelled = set()
    with viz.style():
        for entry in runs.values():
            epochs = _seed_and_epochs(entry)[1]
            color = viz.COLORS["reference" if epochs == CPU_EPOCHS else "residual"]
            first = epochs not in labelled
            labelled.add(epochs)
            for key, width, what in (("test_error", 2.4, "test"), ("train_eval_error", 1.0, "train fit")):
                points = [(m["epoch"], 100 * m[key]) for m in entry["metrics"] if key in m]
                if points:  # a run without --eval-train has no training fit
                    ax.plot(*zip(*points), lw=width, color=color, label=f"{epochs} epochs, {what}" if first else None)
        viz.log_axis(ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("error (%)")
        ax.legend(fontsize=9, loc="upper right")
        model = next(iter(runs.values()))["arch"]
        ax.set_title(f"{model}, cpu schedule at {len(labelled)} length{'s' * (len(labelled) > 1)}: bold = test")
    return fig


def in_table6_order(models: Iterable[str]) -> list[str]:
    """``models`` with Table 6's rows first, in the paper's order, then the nets it has no row
    for (plain) in the order given: ["plain20", "resnet56", "resnet20"] -> resnet20, resnet56, plain20."""
    table6 = list(PAPER_TABLE6)
    return sorted(models, key=lambda m: table6.index(m) if m in table6 else len(table6))  # stable: keeps the rest


def paper_comparison(
    runs: dict[str, dict[str, Any]], flip_errors: dict[str, float] | None = None
) -> list[dict[str, Any]]:
    """One row per run of ``cpu_recipe_runs``: the paper's Table 6 error beside ours (%), and
    what else the run recorded at its final epoch; Table 6's rows first, in its order, then the
    nets it has no row for (plain). ``flip_errors``: model -> test error with flip test-time
    augmentation (``flip_test_error``), reported in its own column."""
    rows = []
    for model in in_table6_order(runs):
        entry = runs[model]
        last, paper = entry["metrics"][-1], PAPER_TABLE6.get(model)
        ours = 100 * last["test_error"]
        rows.append(
            {
                "model": model,
                "paper": paper,
                "ours": ours,
                "difference": None if paper is None else ours - paper,
                "flip": None if flip_errors is None or model not in flip_errors else 100 * flip_errors[model],
                "train_fit": 100 * last["train_eval_error"] if "train_eval_error" in last else None,
                "epochs": last["epoch"],
                "minutes": last["wall_seconds"] / 60,
            }
        )
    return rows


def format_paper_comparison(rows: Sequence[dict[str, Any]]) -> Table:
    """``paper_comparison`` rows as a table; "—" where the paper has no number (plain nets)."""

    def cell(value: float | None, sign: bool = False) -> str | None:
        return None if value is None else (f"{value:+.2f}" if sign else f"{value:.2f}")

    body = [
        (
            r["model"],
            cell(r["paper"]),
            cell(r["ours"]),
            cell(r["difference"], sign=True),
            cell(r["flip"]),
            cell(r["train_fit"]),
            r["epochs"],
            f"{r['minutes']:.0f}",
        )
        for r in rows
    ]
    headers = ["model", "paper", "ours", "difference", "flip TTA", "train fit", "epochs", "minutes"]
    return format_table(
        headers, body, title="Final-epoch error (%) on the 10,000 test images; paper: He et al. 2015, Table 6"
    )


def best_epoch(entry: dict[str, Any]) -> tuple[int, float]:
    """A shipped run's epoch with the lowest test error and that error (a fraction): what a run
    would report if the test set chose the epoch, which this course never does."""
    best = min(entry["metrics"], key=lambda m: m["test_error"])
    return best["epoch"], best["test_error"]


@functools.cache
def _forward_flops_of(model: str) -> float:
    return forward_flops(build_model(model))


def training_flop_rate(entry: dict[str, Any]) -> float:
    """The rate (FLOP/s) a shipped run trained at, everything included: the FLOPs of its training
    steps (a forward and a backward, 3 forward passes, per image) over its wall time, which also
    holds its evaluations and any slowdown from other work on the machine (not the pauses between
    its sessions)."""
    config, last = entry["provenance"]["config"], entry["metrics"][-1]
    images = last["step"] * config["batch_size"]
    return 3 * _forward_flops_of(entry["arch"]) * images / last["wall_seconds"]


def recipe_flop_rates(manifest: str | Path = MANIFEST) -> dict[str, float]:
    """``training_flop_rate`` of every shipped ResNet run of the ``cpu`` recipe at its length (any
    seed) that trained in one session, by name: a run that was resumed may have moved to another
    machine or precision, so its wall time does not measure one."""
    return {
        name: training_flop_rate(entry)
        for name, entry in read_manifest(manifest).items()
        if entry["arch"].startswith("resnet")
        and _is_cpu_recipe_run(entry)
        and not entry["provenance"].get("resumes")
        and name == cpu_run_name(entry["arch"], *_seed_and_epochs(entry))
    }


def recipe_seconds_estimate(model: str, rates: Iterable[float], epochs: int | None = None) -> tuple[float, float]:
    """How long the ``cpu`` recipe (``epochs``, default its own length, on 45k images) would take to
    train ``model`` at the fastest and the slowest of ``rates`` (FLOP/s: ``recipe_flop_rates``),
    from its FLOPs (``forward_flops``): seconds, (fastest, slowest)."""
    rates = list(rates)
    if not rates:
        raise ConfigError("no measured training rate to scale from: ship a run of the cpu recipe first")
    images = (CPU_EPOCHS if epochs is None else epochs) * (len(CLASSES) * IMAGES_PER_CLASS[0] - TrainConfig().val_size)
    flops = 3 * _forward_flops_of(model) * images
    return flops / max(rates), flops / min(rates)


def _run_errors(entry: dict[str, Any] | None, epochs: int) -> dict[str, Any] | None:
    """A seed-0 run of the ``cpu`` schedule at ``epochs``: its final and best-epoch test errors (%)."""
    if entry is None or not _is_cpu_schedule_run(entry) or _seed_and_epochs(entry)[1] != epochs:
        return None
    epoch, error = best_epoch(entry)
    last = entry["metrics"][-1]
    return {
        "final": 100 * last["test_error"],
        "best": 100 * error,
        "best_epoch": epoch,
        "hours": last["wall_seconds"] / 3600,
    }


def table6_beside_runs(manifest: str | Path = MANIFEST) -> list[dict[str, Any]]:
    """Table 6 row by row (``PAPER_TABLE6``) beside ``PUBLISHED_REPRODUCTION`` and this copy's seed-0
    runs of the ``cpu`` schedule: at the recipe's length (``CPU_EPOCHS``) and at the first length
    shipped (``UNSUFFIXED_CPU_EPOCHS``, the shorter recipe), each as {"final", "best", "best_epoch",
    "hours"} (test errors in %) or None where no such run is shipped. "hours": the recipe's
    training time here, measured (the run's wall time) or, for a depth not trained at the
    recipe's length, estimated from its FLOPs at the shipped runs' rates (``recipe_seconds_estimate``:
    (fastest, slowest)); "estimated" says which."""
    entries = read_manifest(manifest)
    rates = recipe_flop_rates(manifest).values()
    rows = []
    for model, paper in PAPER_TABLE6.items():
        recipe = _run_errors(entries.get(cpu_run_name(model)), CPU_EPOCHS)
        short = None
        if UNSUFFIXED_CPU_EPOCHS != CPU_EPOCHS:
            short = _run_errors(entries.get(cpu_run_name(model, epochs=UNSUFFIXED_CPU_EPOCHS)), UNSUFFIXED_CPU_EPOCHS)
        if recipe is not None:
            hours: tuple[float, ...] | None = (recipe["hours"],)
        else:
            hours = tuple(s / 3600 for s in recipe_seconds_estimate(model, rates)) if rates else None
        rows.append(
            {
                "model": model,
                "paper": paper,
                "published": PUBLISHED_REPRODUCTION.get(model),
                "recipe": recipe,
                "short": short,
                "hours": hours,
                "estimated": recipe is None,
            }
        )
    return rows


def format_table6_beside_runs(rows: Sequence[dict[str, Any]]) -> Table:
    """``table6_beside_runs`` as a table: the paper's and the published reproduction's test errors,
    then each length's final-epoch error and its best epoch's (with that epoch), and the hours
    the recipe takes here ("est." where estimated from FLOPs)."""

    def errors(run: dict[str, Any] | None) -> tuple[str | None, str | None]:
        if run is None:
            return None, None
        return f"{run['final']:.2f}", f"{run['best']:.2f} ({run['best_epoch']})"

    def hours(row: dict[str, Any]) -> str | None:
        if row["hours"] is None:
            return None
        if not row["estimated"]:
            return f"{row['hours'][0]:.1f}"
        low, high = (f"{h:.1f}" if h < 10 else f"{h:,.0f}" for h in row["hours"])
        return f"{low} est." if low == high else f"{low}-{high} est."

    body = []
    for row in rows:
        cells = [*errors(row["recipe"])]
        if UNSUFFIXED_CPU_EPOCHS != CPU_EPOCHS:
            cells += errors(row["short"])
        published = None if row["published"] is None else f"{row['published']:.2f}"
        body.append((row["model"], f"{row['paper']:.2f}", published, *cells, hours(row)))
    headers = ["model", "paper", "published", f"{CPU_EPOCHS} ep final", f"{CPU_EPOCHS} ep best (epoch)"]
    if UNSUFFIXED_CPU_EPOCHS != CPU_EPOCHS:
        headers += [f"{UNSUFFIXED_CPU_EPOCHS} ep final", f"{UNSUFFIXED_CPU_EPOCHS} ep best (epoch)"]
    headers.append(f"hours at {CPU_EPOCHS} ep")
    title = (
        "CIFAR-10 test error (%): He et al. 2015, Table 6 (ResNet-110: best of 5); a published PyTorch "
        "reproduction (akamaster/pytorch_resnet_cifar10); this copy's cpu schedule, seed 0"
    )
    return format_table(headers, body, title=title)


def recipe_differences(config: dict[str, Any], runs: int = 1) -> list[str]:
    """What a run's recipe (its saved ``TrainConfig`` as a dict) does differently from the
    paper's (He et al. 2015, sec. 4.2; ``SCHEDULE_DEFAULTS["paper"]``), one line each."""

    paper = SCHEDULE_DEFAULTS["paper"]
    epochs = paper["iterations"] * paper["batch_size"] / (len(CLASSES) * IMAGES_PER_CLASS[0] - config["val_size"])
    lines = []
    if config["schedule"] != "paper":
        lines.append(f"schedule: {config['epochs']} epochs of warm-up and cosine, not about {epochs:.0f} epochs")
    for key, label in (
        ("batch_size", "batch size"),
        ("lr", "peak learning rate"),
        ("weight_decay", "weight decay"),
        ("label_smoothing", "label smoothing"),
        ("nesterov", "Nesterov momentum"),
    ):
        if config[key] != paper[key]:
            lines.append(f"{label}: {config[key]} instead of {paper[key]}")
    if runs == 1:
        lines.append("one run per depth (the paper's ResNet-110 row: best of 5)")
    return lines


# ---------------------------------------------------------------------------------------
# How long a full profile takes on a GPU: estimated from the FLOPs until one is measured
# ---------------------------------------------------------------------------------------

#: Peak dense tensor throughput (FLOP/s) in the precision the engine trains in there
#: (``runtime.autocast_dtype``), from NVIDIA's data sheets: the T4's fp16 tensor cores (Colab's
#: free GPU; no bf16) and an H100 SXM's bf16 tensor cores, dense.
GPU_PEAK_FLOPS = {"T4 (fp16)": 65e12, "H100 SXM (bf16)": 989e12}
#: The share of that peak that nets this small are assumed to reach. An assumption, not a
#: measurement: 16- to 64-channel convolutions at batch 128 leave most of a GPU idle, and data
#: movement and Python add their share. ``make gpu-check`` measures the real rate.
ASSUMED_UTILISATION = (0.05, 0.25)


def forward_flops(model: nn.Module) -> float:
    """Floating-point operations of one forward pass on a 32x32 image: 2 per multiply-add
    (``count_flops``)."""
    return 2 * count_flops(model, (3, 32, 32))


def training_flops(model: str, images: int, evaluated: int = 0) -> float:
    """Floating-point operations to train ``model`` on ``images`` 32x32 images and evaluate it on
    ``evaluated`` more: a backward costs about twice a forward."""
    return forward_flops(build_model(model)) * (3 * images + evaluated)


def full_profile_flops(experiment: str) -> float:
    """FLOPs of an experiment's full profile: every model and seed on the paper's schedule (64k
    iterations of 128 images), with the validation and test sets evaluated after every epoch."""
    if experiment not in CIFAR_EXPERIMENTS:
        raise ConfigError(f"unknown experiment {experiment!r}; choose one of {', '.join(CIFAR_EXPERIMENTS)}")
    models = DEGRADATION_MODELS if experiment == "degradation" else TABLE6_MODELS
    paper = SCHEDULE_DEFAULTS["paper"]
    images = paper["iterations"] * paper["batch_size"]
    train_per_class, test_per_class = IMAGES_PER_CLASS
    val_size = TrainConfig().val_size  # the paper's 45k/5k split
    epochs = math.ceil(images / (len(CLASSES) * train_per_class - val_size))
    evaluated = epochs * (val_size + len(CLASSES) * test_per_class)
    return len(profiles.sizes(experiment, "full").seeds) * sum(training_flops(m, images, evaluated) for m in models)


#: The CPU time PyTorch takes to launch one GPU kernel, low and high: "Usually, the launch time on
#: the CPU side is between 5-20 microseconds" (Meta's Holistic Trace Analysis documentation, "CUDA
#: Kernel Launch Statistics"). An assumption from that source, not measured here. A training step
#: of these small nets launches hundreds of kernels, most doing less work than their launch costs,
#: so in eager PyTorch a step takes at least its launches times this, however fast the GPU.
LAUNCH_SECONDS = (5e-6, 20e-6)
#: ATen operators that only make a view, an alias or an allocation: no kernel runs for them.
_NO_KERNEL = frozenset(
    {"detach", "alias", "view", "_unsafe_view", "_reshape_alias", "reshape", "t", "expand", "as_strided",
     "squeeze", "unsqueeze", "permute", "transpose", "slice", "select", "empty", "empty_like", "empty_strided",
     "lift_fresh"}
)  # fmt: skip


@functools.cache
def kernel_launches_per_step(model: str) -> int:
    """The kernels one training step of ``model`` launches on a GPU, counted from below: the ATen
    operators of a forward, a cross-entropy loss, its backward and an SGD update with momentum
    and weight decay, dispatched on a CPU (``_NO_KERNEL`` ones left out) after a first step has made
    the momentum buffers. Each launches at least one kernel; in float32 (autocast's casts and
    cuDNN's multi-kernel convolutions would add more). The count does not depend on the batch."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        launches = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            if func.overloadpacket.__name__ not in _NO_KERNEL:
                self.launches += 1
            return func(*args, **(kwargs or {}))

    net = build_model(model)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, foreach=True)
    images, labels = torch.zeros(2, 3, 32, 32), torch.tensor([0, 1])
    for _ in range(2):  # the second step is the one counted: momentum buffers exist by then
        counter = Count()
        with counter:
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(images), labels).backward()
            optimizer.step()
    return counter.launches


def launch_floor_seconds(experiment: str) -> tuple[float, float]:
    """The least time an experiment's full profile takes in eager PyTorch on any GPU, at each end of
    ``LAUNCH_SECONDS``: every run's training steps times the kernels a step launches (evaluation left
    out, so a floor)."""
    if experiment not in CIFAR_EXPERIMENTS:
        raise ConfigError(f"unknown experiment {experiment!r}; choose one of {', '.join(CIFAR_EXPERIMENTS)}")
    models = DEGRADATION_MODELS if experiment == "degradation" else TABLE6_MODELS
    steps = SCHEDULE_DEFAULTS["paper"]["iterations"] * len(profiles.sizes(experiment, "full").seeds)
    launches = steps * sum(kernel_launches_per_step(m) for m in models)
    low, high = LAUNCH_SECONDS
    return launches * low, launches * high


def gpu_time_estimate(flops: float, what: str, floor: tuple[float, float] | None = None) -> str:
    """A table of the time ``flops`` take on each GPU of ``GPU_PEAK_FLOPS`` at the assumed
    utilisations, titled as the estimate it is. With ``floor`` (seconds, low and high:
    ``launch_floor_seconds``) neither end is below the launch overhead's: a fast GPU that
    computes a small net's step in less time than launching its kernels waits for the launches."""
    low, high = ASSUMED_UTILISATION
    floor_low, floor_high = floor or (0.0, 0.0)
    rows = []
    for gpu, peak in GPU_PEAK_FLOPS.items():
        fast, slow = flops / (peak * high), flops / (peak * low)
        row = [gpu, f"{peak / 1e12:,.0f} TFLOP/s", f"{_duration(fast)} to {_duration(slow)}"]
        if floor:
            row.append(f"{_duration(max(fast, floor_low))} to {_duration(max(slow, floor_high))}")
        rows.append(tuple(row))
    title = f"{what}: {flops / 1e15:,.1f} PFLOP; an estimate at {low:.0%} to {high:.0%} of peak"
    if not floor:
        return format_table(["GPU", "peak", "time"], rows, title=title)
    import textwrap

    per_launch = " to ".join(f"{s * 1e6:.0f}" for s in LAUNCH_SECONDS)
    note = (
        f"estimate: the compute time, but never less than the kernel launches take, {_duration(floor_low)} "
        f"to {_duration(floor_high)} on any GPU at {per_launch} µs a launch (an assumption: Meta's Holistic "
        "Trace Analysis documentation)"
    )
    table = format_table(["GPU", "peak", "compute", "estimate"], rows, title=title)
    return table + "\n" + textwrap.fill(note, 78, break_on_hyphens=False)


def full_profile_estimate(experiment: str, what: str) -> str:
    """``gpu_time_estimate`` of an experiment's full profile, its FLOPs and its launch floor."""
    return gpu_time_estimate(full_profile_flops(experiment), what, launch_floor_seconds(experiment))


def _duration(seconds: float) -> str:
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:,.0f} min" if seconds < 5400 else f"{seconds / 3600:,.1f} h"


def plot_degradation(result: dict[str, Any], title: str | None = None):  # -> matplotlib Figure
    """The paper's Fig. 6, from a result: error per epoch, plain nets left and ResNets right;
    thin lines the training error, bold lines the test error; 20 layers pale, 56 layers dark.
    ``title`` names the runs (default: the result's own ``title``, else its profile)."""
    from matplotlib.ticker import MaxNLocator

    from . import viz

    train_key = training_error_key(result)
    train_label = "train (fit, eval mode)" if train_key == "train_eval_error" else "train"
    curves = [
        m[key]
        for runs in result["runs"].values()
        for run in runs
        for m in run["metrics"]
        for key in (train_key, "test_error")
    ]
    top = min(100, 10 * math.ceil(10 * max(curves, default=1.0)))  # the curves' range, in steps of 10 points
    fig, axes = viz.figure(2, figsize=(10, 4), sharey=True)
    with viz.style():
        for ax, family, kind in zip(axes, ("plain", "resnet"), ("plain", "residual")):
            for depth, alpha in (("20", 0.45), ("56", 1.0)):
                model = f"{family}{depth}"
                for i, run in enumerate(result["runs"].get(model, [])):
                    epochs = [m["epoch"] for m in run["metrics"]]
                    first = i == 0
                    ax.plot(
                        epochs,
                        [100 * m[train_key] for m in run["metrics"]],
                        lw=1.0,
                        color=viz.COLORS[kind],
                        alpha=alpha,
                        label=f"{family}-{depth} {train_label}" if first else None,
                    )
                    ax.plot(
                        epochs,
                        [100 * m["test_error"] for m in run["metrics"]],
                        lw=2.6,
                        color=viz.COLORS[kind],
                        alpha=alpha,
                        label=f"{family}-{depth} test" if first else None,
                    )
            ax.set_title(f"{'Plain' if family == 'plain' else 'Residual'} networks")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(0, top)
            ax.legend(fontsize=9, loc="lower left")
        axes[0].set_ylabel("error (%)")
        named = title or result.get("title") or f"{result['profile']} profile"
        fig.suptitle(f"Degradation on CIFAR-10 ({named}): thin = train, bold = test")
    return fig


__all__ = [
    "CPU_RUN_MODELS",
    "CPU_SCHEDULE",
    "DEGRADATION_MODELS",
    "PAPER_TABLE6",
    "PAPER_RESNET110_MEAN_STD",
    "PAPER_TABLE6_PARAMETERS",
    "ASSUMED_UTILISATION",
    "CifarSizes",
    "CIFAR_EXPERIMENTS",
    "GPU_PEAK_FLOPS",
    "full_profile_flops",
    "full_profile_estimate",
    "gpu_time_estimate",
    "kernel_launches_per_step",
    "launch_floor_seconds",
    "LAUNCH_SECONDS",
    "DegradationPlan",
    "PLAN_MODES",
    "degradation_plan",
    "degradation_result",
    "degradation_run",
    "shipped_degradation",
    "training_flops",
    "forward_flops",
    "TABLE6_MODELS",
    "degradation",
    "degradation_holds",
    "DEGRADATION_MARGIN",
    "QUICK_SEED_GAPS",
    "degradation_margin",
    "degradation_margin_note",
    "depth_test_gap",
    "evaluated_test_images",
    "depth_gaps",
    "binomial_standard_error",
    "binomial_difference_standard_error",
    "cpu_recipe_runs",
    "cpu_recipe_seeds",
    "cpu_run_lengths",
    "cpu_lengths_by_model",
    "cpu_runs_summary",
    "length_move_evidence",
    "depth_fit_gaps",
    "format_gaps_by_length",
    "PUBLISHED_REPRODUCTION",
    "best_epoch",
    "training_flop_rate",
    "recipe_flop_rates",
    "recipe_seconds_estimate",
    "table6_beside_runs",
    "format_table6_beside_runs",
    "difference_standard_error",
    "format_lengths_by_model",
    "plain_gaps",
    "cpu_schedule_runs",
    "format_cpu_runs",
    "plot_cpu_runs",
    "CPU_EPOCHS",
    "UNSUFFIXED_CPU_EPOCHS",
    "cpu_run_name",
    "format_paper_comparison",
    "in_table6_order",
    "paper_comparison",
    "recipe_differences",
    "experiment_config",
    "final",
    "format_provenance",
    "format_run_records",
    "format_shipped_runs",
    "format_table6",
    "load_results",
    "plot_degradation",
    "shipped_result",
    "shipped_runs",
    "shipped_test_error",
    "FLIP_EVALUATION",
    "flip_test_error",
    "record_flip_test_error",
    "table6",
    "table6_summary",
    "training_error_key",
    "training_images",
    "write_results",
]
