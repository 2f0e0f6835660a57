"""The numbers typed in README.md and intro.md are the shipped runs' numbers in the manifest.

The chapters print their numbers from ``assets/checkpoints/manifest.json``; the README and the
intro cannot, so they type them, and a run shipped again would leave them stale. Each typed
number is found beside the name of its net, in two ways:

- the README's checkpoint tables, by the checkpoint named in a row's first cell and the column's
  header (final test error, training error, wall time);
- sentences, by a pattern that holds the net's name and the number (``TYPED``).

A typed number that differs from the manifest fails with the file, the net, both values. A
two-decimal percentage that neither way reaches fails too, so a new one cannot slip in
unchecked; a sentence whose pattern no longer matches fails with what to update.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from resnets.checkpoints import read_manifest
from resnets.papers import PAPER_TABLE6

ROOT = Path(__file__).parents[1]
DOCUMENTS = ("README.md", "intro.md")
SHIPPED = read_manifest()
#: Test images the shipped runs are measured on, and training images their fit is measured on.
TEST_IMAGES, TRAIN_IMAGES = 10_000, 45_000
#: A two-decimal percentage: how the documents type an error.
PERCENTAGE = re.compile(r"\d+\.\d\d%")


def final(name: str) -> dict:
    """The last epoch's metrics of a shipped checkpoint (what the paper reports)."""
    return SHIPPED[name]["metrics"][-1]


def final_test_error(name: str) -> float:
    return 100 * final(name)["test_error"]


def training_error(name: str) -> float:
    """The fit on every training image, in eval mode, after the last epoch."""
    assert final(name)["train_eval_images"] == TRAIN_IMAGES, f"{name}'s fit was not measured on all 45k images"
    return 100 * final(name)["train_eval_error"]


def minutes(name: str) -> float:
    """The run's recorded wall time, over all its sessions."""
    return final(name)["wall_seconds"] / 60


def config(name: str) -> dict:
    return SHIPPED[name]["provenance"]["config"]


def paper(name: str) -> float:
    """He et al. 2015, Table 6: the test error of the checkpoint's architecture."""
    return PAPER_TABLE6[SHIPPED[name]["arch"]]


# --- the statistics the README types about ResNet-20's seeds -------------------------------

SEEDS_40 = ("resnet20-cifar10-cpu-40ep", "resnet20-cifar10-cpu-40ep-seed1", "resnet20-cifar10-cpu-40ep-seed2")
SEEDS_60 = ("resnet20-cifar10-cpu-60ep", "resnet20-cifar10-cpu-60ep-seed1")


def mean(names: tuple[str, ...]) -> float:
    return statistics.mean(final_test_error(n) for n in names)


def std(names: tuple[str, ...]) -> float:
    """The sample standard deviation of the test errors (n - 1)."""
    return statistics.stdev(final_test_error(n) for n in names)


def binomial_standard_error(percent: float) -> float:
    """One run's standard error, in points, of a test error of ``percent`` on the 10,000 test images."""
    p = percent / 100
    return 100 * (p * (1 - p) / TEST_IMAGES) ** 0.5


def gain_from_60_epochs() -> float:
    return mean(SEEDS_40) - mean(SEEDS_60)


def standard_errors_of_the_gain() -> float:
    """The gain over the standard error of a difference of two means (Welch's)."""
    error = (std(SEEDS_40) ** 2 / len(SEEDS_40) + std(SEEDS_60) ** 2 / len(SEEDS_60)) ** 0.5
    return gain_from_60_epochs() / error


def share_of_the_way_to_the_paper() -> float:
    return 100 * gain_from_60_epochs() / (mean(SEEDS_40) - PAPER_TABLE6["resnet20"])


# --- sentences ---------------------------------------------------------------------------

#: One value a sentence types: the net it is typed beside, what it is, how the manifest gives it.
Value = tuple[str, str, Callable[[], float]]
#: What one typed number must equal: one value, or several (a setting every net of a recipe shares).
Group = tuple[Value, ...]


@dataclass(frozen=True)
class Typed:
    """A sentence of ``document`` that types numbers: ``pattern`` (matched against the text with
    every run of white space made one space) holds the net's name, and one regex group for each of
    ``values``, in order."""

    document: str
    pattern: str
    values: tuple[Group, ...]


def each(names: tuple[str, ...], what: str, quantity: Callable[[str], float]) -> tuple[Group, ...]:
    """One typed number for each net in ``names``."""
    return tuple(((n, what, lambda n=n: quantity(n)),) for n in names)


def one(net: str, what: str, value: Callable[[], float]) -> tuple[Group]:
    """One typed number of ``net`` (or of a group of runs the label names)."""
    return (((net, what, value),),)


def shared(names: tuple[str, ...], what: str, quantity: Callable[[str], float]) -> tuple[Group]:
    """One typed number that every net in ``names`` must have."""
    return (tuple(g[0] for g in each(names, what, quantity)),)


def setting(names: tuple[str, ...], key: str) -> tuple[Group]:
    return shared(names, f"config {key}", lambda n: config(n)[key])


N = r"(\d[\d.,e-]*)"  # a typed number: 12.05, 45,000, 5e-4
RECIPE_60 = (
    "resnet20-cifar10-cpu-60ep",
    "plain20-cifar10-cpu-60ep",
    "resnet56-cifar10-cpu-60ep",
    "plain56-cifar10-cpu-60ep",
)
FIT, TEST = "training error (eval mode, 45k)", "final test error"

TYPED = (
    Typed(
        "README.md",
        rf"one schedule for every depth: {N} epochs of warm-up and cosine decay, batch {N}, lr {N}, weight decay {N}, "
        rf"label smoothing {N}, seed {N}, the 45k/5k split",
        setting(RECIPE_60, "epochs")
        + setting(RECIPE_60, "batch_size")
        + setting(RECIPE_60, "lr")
        + setting(RECIPE_60, "weight_decay")
        + setting(RECIPE_60, "label_smoothing")
        + setting(RECIPE_60, "seed"),
    ),
    Typed(
        "README.md",
        rf"plain-56 fits its training images far worse than plain-20 \({N}% against {N}%\), "
        rf"while ResNet-56 fits them better than ResNet-20 \({N}% against {N}%\)",
        each(("plain56-cifar10-cpu-60ep", "plain20-cifar10-cpu-60ep"), FIT, training_error)
        + each(("resnet56-cifar10-cpu-60ep", "resnet20-cifar10-cpu-60ep"), FIT, training_error),
    ),
    Typed(
        "README.md",
        rf"\(`resnet20-cifar10-cpu-40ep`, `-40ep-seed1`, `-40ep-seed2`\) it ends at {N}%, {N}% and {N}%, so {N} ± {N}% "
        rf"\(mean ± std\), against one run's binomial standard error of {N} points",
        each(SEEDS_40, TEST, final_test_error)
        + one("ResNet-20, 40 epochs, 3 seeds", "mean test error", lambda: mean(SEEDS_40))
        + one("ResNet-20, 40 epochs, 3 seeds", "std of the test error", lambda: std(SEEDS_40))
        + one("ResNet-20, 40 epochs", "binomial standard error", lambda: binomial_standard_error(mean(SEEDS_40))),
    ),
    Typed(
        "README.md",
        rf"\(`resnet20-cifar10-cpu-60ep` and `-60ep-seed1`, {N} and {N} min\) it ends at {N}% and {N}% "
        rf"\({N} ± {N}%\) with {N}% and {N}% training error: {N} points below the 40-epoch seeds' mean, "
        rf"{N} standard errors of the difference, and {N}% of the way to the paper's {N}%",
        each(SEEDS_60, "wall time (min)", minutes)
        + each(SEEDS_60, TEST, final_test_error)
        + one("ResNet-20, 60 epochs, 2 seeds", "mean test error", lambda: mean(SEEDS_60))
        + one("ResNet-20, 60 epochs, 2 seeds", "std of the test error", lambda: std(SEEDS_60))
        + each(SEEDS_60, FIT, training_error)
        + one("ResNet-20", "gain from 60 epochs (points)", gain_from_60_epochs)
        + one("ResNet-20", "gain in standard errors of the difference", standard_errors_of_the_gain)
        + one("ResNet-20", "share of the way to the paper (%)", share_of_the_way_to_the_paper)
        + one("ResNet-20", "He et al. 2015 Table 6 test error", lambda: PAPER_TABLE6["resnet20"]),
    ),
    Typed(
        "README.md",
        rf"ends lower at 60 \(plain-20 {N}% against {N}%, ResNet-56 {N}% against {N}%, "
        rf"plain-56 {N}% against {N}%\)",
        each(("plain20-cifar10-cpu-60ep", "plain20-cifar10-cpu-40ep"), TEST, final_test_error)
        + each(("resnet56-cifar10-cpu-60ep", "resnet56-cifar10-cpu-40ep"), TEST, final_test_error)
        + each(("plain56-cifar10-cpu-60ep", "plain56-cifar10-cpu-40ep"), TEST, final_test_error),
    ),
    Typed(
        "intro.md",
        rf"The trained nets it looks inside \(plain-20, ResNet-20, plain-56, ResNet-56\) ship with the package, "
        rf"trained for this book with one {N}-epoch recipe on all {N} training images",
        setting(RECIPE_60, "epochs")
        + shared(RECIPE_60, "training images (fit measured on)", lambda n: final(n)["train_eval_images"]),
    ),
)


def typed_as(value: float, typed: str) -> str:
    """``value`` written the way ``typed`` is: as many decimals, thousands separated if it is."""
    if re.fullmatch(r"\d+e-?\d+", typed):
        return f"{value:.0e}".replace("e-0", "e-")
    decimals = len(typed.split(".")[1]) if "." in typed else 0
    return f"{value:,.{decimals}f}" if "," in typed else f"{value:.{decimals}f}"


def flat(document: str) -> str:
    """The document with every run of white space made one space, as ``Typed`` patterns expect."""
    return re.sub(r"\s+", " ", (ROOT / document).read_text())


# --- the README's checkpoint tables ---------------------------------------------------------

#: Column headers of the checkpoint tables, and the manifest's quantity for each.
COLUMNS: dict[str, Callable[[str], float]] = {TEST: final_test_error, FIT: training_error, "wall time": minutes}


def table_rows(text: str) -> list[tuple[dict[str, str], str]]:
    """(header -> cell, the row's line) for each row of each markdown table in ``text``."""
    rows, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(line) <= set("|-: "):
            rows.append((dict(zip(header, cells)), line))
    return rows


def table_drifts(document: str) -> tuple[list[str], list[str]]:
    """(what differs from the manifest, the lines checked) in ``document``'s checkpoint tables."""
    drifts, checked = [], []
    for row, line in table_rows((ROOT / document).read_text()):
        first = next(iter(row.values()))
        name = re.fullmatch(r"`([^`]+)`", first)
        if name is None or not any(h.startswith(tuple(COLUMNS)) for h in row):
            continue
        net = name.group(1)
        if net not in SHIPPED:
            drifts.append(f"{document}: a table row names `{net}`, which the manifest does not ship")
            continue
        checked.append(line)
        for header, cell in row.items():
            quantity = next((q for column, q in COLUMNS.items() if header.startswith(column)), None)
            if quantity is None:
                continue
            typed = re.match(r"(\d+(?:\.\d+)?)(?:%| min)", cell)
            if typed is None:
                drifts.append(f"{document}: {net}: no number in its '{header}' cell: {cell!r}")
                continue
            expected = typed_as(quantity(net), typed.group(1))
            if typed.group(1) != expected:
                drifts.append(f"{document}: {net}: {header} typed {typed.group(1)}, the manifest says {expected}")
            cited = re.search(r"\(paper: (\d+\.\d+)%\)", cell)
            if cited and cited.group(1) != typed_as(paper(net), cited.group(1)):
                drifts.append(
                    f"{document}: {net}: paper's error typed {cited.group(1)}, He et al. 2015 Table 6 says {paper(net)}"
                )
    return drifts, checked


def test_the_checkpoint_tables_type_the_manifests_numbers() -> None:
    drifts, checked = table_drifts("README.md")
    assert len(checked) >= len(RECIPE_60), "the README's checkpoint tables were not found"
    assert not drifts, "\n".join(drifts)


@pytest.mark.parametrize("typed", TYPED, ids=lambda t: f"{t.document}:{t.pattern[:40]}")
def test_each_sentence_types_the_manifests_numbers(typed: Typed) -> None:
    found = re.search(typed.pattern, flat(typed.document))
    assert found, (
        f"{typed.document} no longer has the sentence this test reads its numbers from "
        f"(pattern {typed.pattern!r}): if it was reworded, update its pattern in TYPED "
        f"(tests/test_typed_numbers.py); if it was dropped, drop its entry"
    )
    groups = found.groups()
    assert len(groups) == len(typed.values)
    drifts = []
    for number, group in zip(groups, typed.values):
        for net, what, value in group:
            expected = typed_as(value(), number)
            if number != expected:
                drifts.append(f"{typed.document}: {net}: {what} typed {number}, the manifest says {expected}")
    assert not drifts, "\n".join(drifts)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_typed_error_is_checked(document: str) -> None:
    """A two-decimal percentage outside the checked table rows and sentences fails: name its net
    and quantity in TYPED (or the table) so that it is checked too."""
    text = flat(document)
    _, rows = table_drifts(document)
    covered = [re.sub(r"\s+", " ", line) for line in rows]
    covered += [m.group(0) for t in TYPED if t.document == document and (m := re.search(t.pattern, text))]
    for part in covered:
        text = text.replace(part, "")
    unchecked = [text[max(0, m.start() - 60) : m.end() + 10] for m in PERCENTAGE.finditer(text)]
    assert not unchecked, (
        f"{document} types errors that no check here compares with the manifest; add each, with its net, "
        "to TYPED in tests/test_typed_numbers.py: " + " | ".join(f"...{u}..." for u in unchecked)
    )
