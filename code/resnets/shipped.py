"""The nets shipped with the package: their catalogue, their names, and their errors measured again.

    cpu_run_name(model, seed, epochs)   the name a run of the ``cpu`` schedule ships under:
                                        resnet20-cifar10-cpu-60ep, ...-40ep-seed1 (its length, always)
    cpu_recipe_runs()                   the recipe's seed-0 runs, one per depth
    cpu_recipe_seeds(model)             one model's runs of the recipe, every seed
    cpu_schedule_runs(model)            ... at every length of the schedule too
    shipped_runs(names)                 manifest entries by name (one error naming the fix if one is missing)
    shipped_result(entries)             those in the shape of ``reproduce.table6``'s result
    format_shipped_runs(entries)        a row per run: epochs, images, final errors
    shipped_test_error(name)            a shipped net's test error measured again (``flip``: with
                                        flip test-time augmentation, recorded once by
                                        ``record_flip_test_error``; ``flip_test_error`` reads it)

The ``cpu`` recipe (``recipe.SCHEDULE_DEFAULTS["cpu"]``) is one schedule for every depth, run on all
45k training images; ``tools/train_cpu_runs.sh`` trains its runs and ``python -m resnets ship``
adds them to ``assets/checkpoints/manifest.json`` (``checkpoints``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cache import cached
from .checkpoints import MANIFEST, CheckpointError, load_pretrained, read_manifest, record_evaluation
from .data import CLASSES, IMAGES_PER_CLASS, load_cifar10, make_splits, normalize
from .provenance import code_and_host, data_facts
from .recipe import SCHEDULE_DEFAULTS
from .runtime import device_name, pick_device
from .stats import binomial_standard_error
from .tables import Table, format_table

CPU_SCHEDULE = "cpu"
#: The recipe's length; a run of another length measures what the short schedule costs.
CPU_EPOCHS = SCHEDULE_DEFAULTS[CPU_SCHEDULE]["epochs"]
#: Part 3's nets, in the order ``tools/train_cpu_runs.sh`` trains them.
CPU_RUN_MODELS = ("resnet20", "plain20", "resnet56", "plain56", "resnet32", "resnet44", "resnet110")
#: Where a shipped checkpoint's manifest entry keeps its test error with flip test-time
#: augmentation (``checkpoints.record_evaluation``): measured once, on all 10,000 test images.
FLIP_EVALUATION = "flip_test_error"


def cpu_run_name(model: str, seed: int = 0, epochs: int | None = None) -> str:
    """The name a run of the ``cpu`` schedule of ``model`` is shipped under, at ``epochs``
    (default: the recipe's ``CPU_EPOCHS``): ``-<E>ep`` says its length, whichever it is, so a
    name keeps its meaning when the recipe's length changes. Seed 0's is the one the chapters
    stand on; another seed's (run to measure the spread between seeds) ends in ``-seed<N>``."""
    epochs = CPU_EPOCHS if epochs is None else epochs
    return f"{model}-cifar10-cpu-{epochs}ep" + (f"-seed{seed}" if seed else "")


def run_seed_and_epochs(entry: dict[str, Any]) -> tuple[int, int]:
    """A manifest entry's seed and the length of its schedule (epochs), from its config."""
    return entry["provenance"].get("seed", 0), entry["provenance"]["config"].get("epochs")


def is_cpu_schedule_run(entry: dict[str, Any]) -> bool:
    """A manifest entry trained with the ``cpu`` schedule (any length) on all 45k training images, with its metrics."""
    config = entry["provenance"].get("config", {})
    return config.get("schedule") == CPU_SCHEDULE and config.get("train_subset") is None and bool(entry.get("metrics"))


def is_cpu_recipe_run(entry: dict[str, Any]) -> bool:
    """... and at the recipe's length."""
    return is_cpu_schedule_run(entry) and run_seed_and_epochs(entry)[1] == CPU_EPOCHS


def cpu_recipe_runs(manifest: str | Path = MANIFEST) -> dict[str, dict[str, Any]]:
    """The shipped seed-0 runs of the ``cpu`` recipe on the full 45k training images, by model,
    in ``CPU_RUN_MODELS`` order; a model whose shipped run is of another recipe is left out."""
    entries = read_manifest(manifest)
    return {
        model: entries[cpu_run_name(model)]
        for model in CPU_RUN_MODELS
        if cpu_run_name(model) in entries and is_cpu_recipe_run(entries[cpu_run_name(model)])
    }


def cpu_schedule_runs(model: str, manifest: str | Path = MANIFEST) -> dict[str, dict[str, Any]]:
    """Every shipped run of ``model`` with the ``cpu`` schedule, whatever its seed and length, by
    name (``cpu_run_name``): the shortest schedule first, then in seed order."""
    runs = {
        name: entry
        for name, entry in read_manifest(manifest).items()
        if entry["arch"] == model
        and is_cpu_schedule_run(entry)
        and name == cpu_run_name(model, *run_seed_and_epochs(entry))
    }
    return dict(sorted(runs.items(), key=lambda item: run_seed_and_epochs(item[1])[::-1]))


def cpu_recipe_seeds(model: str, manifest: str | Path = MANIFEST) -> dict[str, dict[str, Any]]:
    """Every shipped run of the ``cpu`` recipe (at its length) of ``model``, one per seed, by name
    in seed order (``shipped_result`` and ``reproduce.table6_summary`` turn them into a mean ± std)."""
    runs = cpu_schedule_runs(model, manifest)
    return {name: entry for name, entry in runs.items() if is_cpu_recipe_run(entry)}


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
    """Shipped runs (``shipped_runs``) in the shape of ``reproduce.table6``'s result, grouped by
    architecture, so ``reproduce.table6_summary`` and ``reproduce.format_table6`` read them too."""
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


__all__ = [
    "CPU_EPOCHS",
    "CPU_RUN_MODELS",
    "CPU_SCHEDULE",
    "FLIP_EVALUATION",
    "cpu_recipe_runs",
    "cpu_recipe_seeds",
    "cpu_run_name",
    "cpu_schedule_runs",
    "flip_test_error",
    "format_shipped_runs",
    "is_cpu_recipe_run",
    "is_cpu_schedule_run",
    "record_flip_test_error",
    "run_seed_and_epochs",
    "shipped_result",
    "shipped_runs",
    "shipped_test_error",
    "training_images",
]
