"""Part 3, chapter 3 (Table 6): the ``cpu`` recipe's shipped runs read as evidence, with the
tables and figures the chapter shows them in.

    table6_beside_runs()        Table 6 row by row beside a published PyTorch reproduction and this
                                copy's runs at two lengths (final and best epoch), with what each
                                depth costs here (measured, or estimated from FLOPs: ResNet-1202)
    paper_comparison(runs)      the recipe's runs beside the paper, a row each (flip TTA too)
    recipe_differences(config)  what a run's recipe does differently from the paper's
    cpu_run_lengths(runs)       one model's runs by length: test error mean ± std over each length's seeds
    cpu_runs_summary(runs)      ... in a few lines: how far another length moved it, and how surely
    cpu_lengths_by_model()      ... for every depth shipped at more than one length
    length_move_evidence(b)     each depth's move between lengths, with its standard error
    plain_gaps(b), depth_fit_gaps(b)   plain net against ResNet, 56 against 20 layers, by length
    format_*, plot_cpu_runs     the same as tables and a figure
    recheck_test_subset(p)      how many test images the chapter measures the shipped nets on again

The runs come from ``shipped`` (the catalogue: ``cpu_schedule_runs``, ``cpu_recipe_runs``), the
summaries from ``reproduce.table6_summary``, the standard errors from ``stats``. The recipe's length
is read as ``shipped.CPU_EPOCHS`` when a function runs, so that a test can set another.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import profiles, shipped
from ..checkpoints import MANIFEST, read_manifest
from ..costs import recipe_flop_rates, recipe_seconds_estimate
from ..data import CLASSES, IMAGES_PER_CLASS
from ..models import parse_model_name
from ..papers import PAPER_TABLE6, PUBLISHED_REPRODUCTION
from ..recipe import SCHEDULE_DEFAULTS
from ..reproduce import table6_summary
from ..shipped import (
    CPU_RUN_MODELS,
    cpu_run_name,
    cpu_schedule_runs,
    is_cpu_schedule_run,
    run_seed_and_epochs,
    shipped_result,
)
from ..stats import (
    binomial_difference_standard_error,
    binomial_standard_error,
    difference_standard_error,
    format_mean_std,
)
from ..tables import Table, format_table

#: The length the recipe was first shipped at (its runs named ``-40ep``): the shorter recipe that
#: Table 6's comparison sets beside the recipe's length, a depth sweep of its own.
SHORT_CPU_EPOCHS = 40


@dataclass(frozen=True)
class RecheckSizes:
    """How many test images the chapter measures each shipped checkpoint on again (``profiles``)."""

    test_images: int  # class-balanced, always the same ones; all 10,000: the whole test set


#: Quick: 1,000 images (100 a class) keep a CPU's re-measure of every checkpoint, flips included,
#: short; full: all 10,000, where the measured error must match the record.
profiles.register(
    "table6_recheck",
    {"quick": RecheckSizes(test_images=1000), "full": RecheckSizes(test_images=len(CLASSES) * IMAGES_PER_CLASS[1])},
)


def recheck_test_subset(profile: str) -> int | None:
    """``shipped.shipped_test_error``'s ``test_subset`` for ``rt.profile``: the registered number
    of test images, or None for all of them."""
    images = profiles.sizes("table6_recheck", profile).test_images
    return None if images >= len(CLASSES) * IMAGES_PER_CLASS[1] else images


def cpu_run_lengths(runs: dict[str, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """``cpu_schedule_runs`` by the length of their schedule (epochs), each length as one
    ``table6_summary`` row: its final-epoch test error (%), mean ± std over its seeds (std NaN
    for a single run), and how many runs; with ``train_fit_mean``, the mean final training
    error (%, eval mode) where every run measured it, else NaN. Lengths in the order of ``runs``."""
    lengths: dict[int, dict[str, dict[str, Any]]] = {}
    for name, entry in runs.items():
        lengths.setdefault(run_seed_and_epochs(entry)[1], {})[name] = entry
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
        last, (seed, epochs) = entry["metrics"][-1], run_seed_and_epochs(entry)
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
    reference = lengths.get(shipped.CPU_EPOCHS, next(iter(lengths.values())))["test_error_mean"]
    for epochs, summary in lengths.items():
        mean, count = summary["test_error_mean"], summary["runs"]
        spread = f"{format_mean_std(mean, summary['test_error_std'])} % (mean ± std)" if count > 1 else f"{mean:.2f} %"
        line = f"{epochs} epochs, test error over {count} seed{'s' * (count > 1)}: {spread}"
        if moved := _move_from_recipe(lengths, epochs):
            line += f"\n  {moved[0]:+.2f} points against {shipped.CPU_EPOCHS} epochs"
            line += f" (standard error {moved[1]:.2f})" if math.isfinite(moved[1]) else ""
        lines.append(line)
    test_images = len(CLASSES) * IMAGES_PER_CLASS[1]
    one_run = 100 * binomial_standard_error(reference / 100, test_images)
    lines.append(f"binomial standard error of one run on {test_images:,} images: {one_run:.2f} points")
    return "\n".join(lines)


def _move_from_recipe(lengths: dict[int, dict[str, Any]], epochs: int) -> tuple[float, float] | None:
    """How far the mean test error at ``epochs`` lies from the recipe's length (points) and that
    difference's standard error (NaN for single runs); None at the recipe's length or without it."""
    if epochs == shipped.CPU_EPOCHS or shipped.CPU_EPOCHS not in lengths:
        return None
    row, recipe = lengths[epochs], lengths[shipped.CPU_EPOCHS]
    return row["test_error_mean"] - recipe["test_error_mean"], difference_standard_error(row, recipe)


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
        spec = parse_model_name(plain)
        resnet = spec.residual_twin.name
        if spec.plain and resnet in by_model:
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
                    format_mean_std(row["test_error_mean"], row["test_error_std"]),
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
        by_row.setdefault(f"test: {plain} - {parse_model_name(plain).residual_twin.name}", {})[epochs] = gap
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

    from .. import viz

    fig, ax = viz.figure(figsize=(8, 4))
    labelled = set()
    with viz.style():
        for entry in runs.values():
            epochs = run_seed_and_epochs(entry)[1]
            color = viz.COLORS["reference" if epochs == shipped.CPU_EPOCHS else "residual"]
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


def _run_errors(entry: dict[str, Any] | None, epochs: int) -> dict[str, Any] | None:
    """A seed-0 run of the ``cpu`` schedule at ``epochs``: its final and best-epoch test errors (%)."""
    if entry is None or not is_cpu_schedule_run(entry) or run_seed_and_epochs(entry)[1] != epochs:
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
    runs of the ``cpu`` schedule: at the recipe's length (``shipped.CPU_EPOCHS``) and at the first length
    shipped (``SHORT_CPU_EPOCHS``, the shorter recipe), each as {"final", "best", "best_epoch",
    "hours"} (test errors in %) or None where no such run is shipped. "hours": the recipe's
    training time here, measured (the run's wall time) or, for a depth not trained at the
    recipe's length, estimated from its FLOPs at the shipped runs' rates (``recipe_seconds_estimate``:
    (fastest, slowest)); "estimated" says which."""
    entries = read_manifest(manifest)
    rates = recipe_flop_rates(manifest).values()
    rows = []
    for model, paper in PAPER_TABLE6.items():
        recipe = _run_errors(entries.get(cpu_run_name(model)), shipped.CPU_EPOCHS)
        short = None
        if SHORT_CPU_EPOCHS != shipped.CPU_EPOCHS:
            short = _run_errors(entries.get(cpu_run_name(model, epochs=SHORT_CPU_EPOCHS)), SHORT_CPU_EPOCHS)
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
        if SHORT_CPU_EPOCHS != shipped.CPU_EPOCHS:
            cells += errors(row["short"])
        published = None if row["published"] is None else f"{row['published']:.2f}"
        body.append((row["model"], f"{row['paper']:.2f}", published, *cells, hours(row)))
    headers = ["model", "paper", "published", f"{shipped.CPU_EPOCHS} ep final", f"{shipped.CPU_EPOCHS} ep best (epoch)"]
    if SHORT_CPU_EPOCHS != shipped.CPU_EPOCHS:
        headers += [f"{SHORT_CPU_EPOCHS} ep final", f"{SHORT_CPU_EPOCHS} ep best (epoch)"]
    headers.append(f"hours at {shipped.CPU_EPOCHS} ep")
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
        lines.append("one run per depth above (seed 0; the paper's ResNet-110 row: best of 5)")
    return lines


__all__ = [
    "SHORT_CPU_EPOCHS",
    "best_epoch",
    "cpu_lengths_by_model",
    "cpu_run_lengths",
    "cpu_runs_summary",
    "depth_fit_gaps",
    "format_cpu_runs",
    "format_gaps_by_length",
    "format_lengths_by_model",
    "format_paper_comparison",
    "format_table6_beside_runs",
    "in_table6_order",
    "length_move_evidence",
    "paper_comparison",
    "plain_gaps",
    "plot_cpu_runs",
    "recipe_differences",
    "table6_beside_runs",
]
