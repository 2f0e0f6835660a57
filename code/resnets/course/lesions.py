"""Part 3, chapter 4, section 5: Veit et al.'s lesion study on the shipped nets.

    study = lesion_study(net, images=1000)            # intact, each block deleted alone, k blocks at random
    lesion_work(settings)                             # what a profile's studies compute (``costs``)
    plot_lesion_study({net.arch: study, ...})         # a bar per block for each net; the error against k
    lesion_summary(study)                             # the numbers the chapter's sentences are about
    lesion_table({net.arch: study, ...})              # those numbers, the nets side by side
    stored = stored_studies()                         # the deep nets' studies shipped with the package
    python -m resnets.course.lesions --help           # computes and stores them, with provenance

Veit et al. 2016 deleted single blocks of a trained ResNet-110 on CIFAR-10 (Sec. 4, Fig. 3(a)),
then k blocks at once, drawn at random (Fig. 5(a)). Here a deleted block passes its input on
unchanged (``probes.lesioned``: its shortcut alone). The random deletions are drawn from the
blocks that keep their input's shape; the two that change it (the first of stages 2 and 3,
``probes.shape_changing_blocks``) are reported on their own, since Veit et al. single them out.

A study of a 56- or 110-layer net takes tens of minutes on a laptop CPU, so the chapter's quick
profile shows the 20-layer nets computed live beside the deep nets' studies stored in
``assets/results/lesions.json`` by this module's command line; each stored study names the
checkpoint (SHA-256) and the images it was computed on, and the code, machine and command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import viz
from ..cache import cached
from ..checkpoints import MANIFEST, CheckpointError, read_manifest
from ..costs import Workload
from ..data import load_cifar10, normalize
from ..files import write_atomic
from ..models import build_model, parse_model_name
from ..probes import lesions_errors, shape_changing_blocks
from ..provenance import code_and_host, data_facts
from ..results import SHIPPED_RESULTS
from ..shipped import cpu_run_name
from ..tables import Table, format_table
from .inside import (
    CHANCE_ERROR,
    ProbeSettings,
    Trained,
    evaluation_set,
    net_color,
    net_label,
    probe_settings,
    trained,
)

#: How many blocks are deleted at once, where the net has that many blocks that keep their shape.
DELETED_COUNTS = (2, 3, 4, 6, 8, 12, 16, 24)
#: Random draws of blocks for each count: the full profile's (the stored studies use it too).
DRAWS = probe_settings("full").lesion_draws
STORED = SHIPPED_RESULTS / "lesions.json"
#: The nets whose studies are stored (those shipped); the command's default.
STORED_ARCHS = ("resnet56", "resnet110")
STORED_IMAGES = 1000


def deletion_draws(blocks: int, shape_changing: Sequence[int], draws: int, seed: int = 0) -> dict[int, list[tuple]]:
    """For each count k of ``DELETED_COUNTS`` up to the number of shape-keeping blocks, ``draws``
    sets of k distinct shape-keeping block positions, drawn with ``seed``: ``{k: [(i, j, ...), ...]}``."""
    keeping = [i for i in range(blocks) if i not in set(shape_changing)]
    generator = torch.Generator().manual_seed(seed)
    sets: dict[int, list[tuple]] = {}
    for k in (k for k in DELETED_COUNTS if k <= len(keeping)):
        sets[k] = [
            tuple(sorted(keeping[i] for i in torch.randperm(len(keeping), generator=generator)[:k].tolist()))
            for _ in range(draws)
        ]
    return sets


def lesion_work(settings: ProbeSettings | None = None) -> Workload:
    """What ``lesion_study`` computes for the nets of ``settings.lesion_archs``, as images passed
    forward: intact, each block deleted, and a residual net's random draws, each counted as a whole
    forward pass (an upper bound). Added to ``inside.probe_work``: the chapter's whole profile.
    Default: the full profile's settings."""
    settings = settings or probe_settings("full")
    forward = {}
    for arch in settings.lesion_archs:
        model = build_model(arch)
        blocks = len(model.blocks())
        draws = deletion_draws(
            blocks, shape_changing_blocks(model), 0 if parse_model_name(arch).plain else settings.lesion_draws
        )
        forward[arch] = float((1 + blocks + sum(len(sets) for sets in draws.values())) * settings.lesion_images)
    return Workload(forward_images=forward)


@cached
def lesion_study(net: Trained, images: int, draws: int = DRAWS, seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Veit et al.'s lesion study on ``images`` class-balanced test images of one shipped net.

    Returns plain numbers: ``intact`` (the error with nothing deleted), ``single`` (the error
    with each block deleted alone, forward order), ``shape_changing`` (those blocks' positions),
    ``random`` ({k: [error of each draw]}, a residual net's shape-keeping blocks only: a plain
    net is already at chance with one deleted) and what it was computed on.
    """
    test_images, labels = evaluation_set("test", images)
    model = net.load(device)
    x, labels = normalize(test_images).to(device), labels.to(device)
    blocks = len(model.blocks())
    changing = shape_changing_blocks(model)
    sets = deletion_draws(blocks, changing, draws if net.residual else 0, seed)
    intact, *single = lesions_errors(model, x, labels, [()] + [(i,) for i in range(blocks)])
    random = {k: lesions_errors(model, x, labels, drawn) for k, drawn in sets.items() if drawn}
    return {
        "name": net.name,
        "arch": net.arch,
        "sha256": net.sha256,
        "images": images,
        "draws": draws,
        "seed": seed,
        "intact": intact,
        "single": single,
        "shape_changing": changing,
        "random": {str(k): errors for k, errors in random.items()},
    }


def lesion_summary(study: Mapping[str, Any]) -> dict[str, Any]:
    """What the chapter says about one study: the errors of the shape-changing blocks, the median
    and the worst of the others, the block whose loss costs most, and the median error for each k."""
    single = np.asarray(study["single"])
    changing = list(study["shape_changing"])
    keeping = np.delete(single, changing)
    return {
        "intact": study["intact"],
        "shape_changing": [float(single[i]) for i in changing],
        "keeping_median": float(np.median(keeping)),
        "keeping_worst": float(keeping.max()),
        "worst_block": int(single.argmax()) + 1,  # counted from 1, as the bars are
        "median_by_count": {int(k): float(np.median(v)) for k, v in study["random"].items()},
    }


#: The counts of blocks deleted at once that ``lesion_table`` shows.
TABLE_COUNTS = (2, 4, 8, 16)


def lesion_table(studies: Mapping[str, Mapping[str, Any]]) -> Table:
    """The studies side by side: errors intact, with one shape-keeping block deleted (median and
    worst), with each shape-changing block deleted, and the median error with k blocks deleted."""
    rows = []
    for arch, study in studies.items():
        summary = lesion_summary(study)
        by_count = summary["median_by_count"]
        rows.append(
            [
                f"{net_label(arch)} ({study['images']:,})",
                f"{summary['intact']:.1%}",
                f"{summary['keeping_median']:.1%}",
                f"{summary['keeping_worst']:.1%}",
                " / ".join(f"{e:.1%}" for e in summary["shape_changing"]),
                *(f"{by_count[k]:.1%}" if k in by_count else None for k in TABLE_COUNTS),
            ]
        )
    headers = ["net (test images)", "intact", "1 block: median", "1 block: worst", "shape-changing",
               *(f"k = {k}" for k in TABLE_COUNTS)]  # fmt: skip
    return format_table(
        headers,
        rows,
        title="Test error with blocks deleted: one shape-keeping block (median, worst), each "
        "shape-changing block, and k blocks at once (median of the draws)",
    )


def plot_lesion_study(studies: Mapping[str, Mapping[str, Any]]) -> Figure:
    """One panel per net with a bar per deleted block (the shape-changing blocks hatched), and a
    last panel with each residual net's median error (and the range of its draws) against the
    number of blocks deleted at once. ``studies`` maps an arch to its ``lesion_study``."""
    deepest = max(parse_model_name(arch).depth for arch in studies)
    fig, axes = viz.figure(len(studies) + 1, figsize=(4.2 * (len(studies) + 1), 3.8), squeeze=False)
    axes = axes[0]
    with viz.style():
        for ax, (arch, study) in zip(axes, studies.items()):
            single = np.asarray(study["single"])
            bars = ax.bar(np.arange(1, len(single) + 1), single, width=0.8, color=net_color(arch, deepest))
            for i in study["shape_changing"]:
                bars[i].set(hatch="///", edgecolor="black", linewidth=0.6)
            ax.axhline(study["intact"], ls="--", lw=1.2, color="black")
            ax.axhline(CHANCE_ERROR, ls=":", lw=1.2, color=viz.COLORS["reference"])
            ax.set(
                title=f"{net_label(arch)}: one block deleted",
                xlabel="deleted block (hatched: changes the shape)",
                ylim=(0, 1.05),
                xlim=(0.4, len(single) + 0.6),
            )
        axes[0].set_ylabel(f"test error ({next(iter(studies.values()))['images']} images)")
        ax = axes[-1]
        for arch, study in studies.items():
            if not study["random"]:
                continue
            counts = [1] + [int(k) for k in study["random"]]
            keeping = np.delete(np.asarray(study["single"]), study["shape_changing"])
            draws = [keeping] + [np.asarray(v) for v in study["random"].values()]
            color = net_color(arch, deepest)
            ax.plot(counts, [np.median(d) for d in draws], "o-", color=color, label=net_label(arch))
            ax.fill_between(counts, [d.min() for d in draws], [d.max() for d in draws], color=color, alpha=0.2)
        ax.axhline(CHANCE_ERROR, ls=":", lw=1.2, color=viz.COLORS["reference"])
        ax.set(
            title="k blocks deleted at random",
            xlabel="blocks deleted at once (shape-keeping ones)",
            ylabel="test error: median, range of the draws",
            ylim=(0, 1.05),
        )
        ax.legend(fontsize=8, loc="lower right")
        fig.legend(
            [Line2D([], [], ls="--", color="black"), Line2D([], [], ls=":", color=viz.COLORS["reference"])],
            ["nothing deleted", f"chance ({CHANCE_ERROR:.0%})"],
            loc="lower center",
            ncols=2,
            bbox_to_anchor=(0.5, -0.1),
            frameon=False,
        )
    return fig


# ---------------------------------------------------------------------------------------
# The stored studies of the deep nets
# ---------------------------------------------------------------------------------------


def stored_studies(path: str | Path = STORED) -> dict[str, Any]:
    """The stored studies ({"studies": {arch: study}, "provenance": {...}}), each checked against
    the checkpoint shipped under its name now: a study of other weights is refused, naming the
    command that recomputes it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no stored lesion studies at {path}; make them with `python -m resnets.course.lesions`")
    stored = json.loads(path.read_text())
    for arch, study in stored["studies"].items():
        if trained(arch).sha256 != study["sha256"]:
            raise CheckpointError(
                f"the stored lesion study of {arch} was computed on other weights than the shipped {study['name']}; "
                f"recompute it with `python -m resnets.course.lesions --archs {' '.join(stored['studies'])}`"
            )
    return stored


def format_study_provenance(provenance: Mapping[str, Any]) -> str:
    """One paragraph: what computed the stored studies, where, and how long it took."""
    minutes, threads = provenance["seconds"] / 60, provenance["threads"]
    return (
        f"Stored lesion studies: computed {provenance['date']} in {minutes:.0f} min on {provenance['cpu']} "
        f"({threads} thread{'s' if threads != 1 else ''}), torch {provenance['torch_version']}, "
        f"commit {provenance['git_commit']}, data {provenance['data_checksum'][:12]}; command: {provenance['command']}"
    )


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(
        prog="python -m resnets.course.lesions",
        description="Compute Veit et al.'s lesion study on shipped nets and store it for Part 3, chapter 4.",
    )
    parser.add_argument(
        "--archs",
        nargs="+",
        default=[a for a in STORED_ARCHS if cpu_run_name(a) in read_manifest(MANIFEST)],
        help="shipped nets to study (default: %(default)s)",
    )
    parser.add_argument(
        "--images", type=int, default=STORED_IMAGES, help="class-balanced test images (default: %(default)s)"
    )
    parser.add_argument(
        "--draws", type=int, default=DRAWS, help="random draws per count of deleted blocks (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=STORED, help="the JSON file to write (default: the package's copy)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    start = time.time()
    studies = {arch: lesion_study(trained(arch), args.images, args.draws) for arch in args.archs}
    provenance = {
        **code_and_host(),
        **data_facts(load_cifar10()),
        "threads": torch.get_num_threads(),
        "seconds": time.time() - start,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "command": "python -m resnets.course.lesions " + " ".join(argv),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"studies": studies, "provenance": provenance}, indent=1) + "\n"
    write_atomic(args.out, lambda f: f.write(payload.encode()))
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
