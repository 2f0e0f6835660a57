"""Part 3's degradation chapter (chapters/part3/02_degradation_cifar.ipynb): what it does in each
profile, and its prose about the margin.

    degradation_plan(...)      decide, and say, what the chapter does: train the quick runs, read a
                               stored full-profile result, show the shipped nets, or train the paper's
                               recipe (opted in); a ``DegradationPlan``
    shipped_degradation()      the four nets shipped with the package, in the shape of
                               ``reproduce.degradation``'s result
    degradation_margin_note(r) what the claims' margin stands on, in a few lines

The experiment itself (training, gaps, claims, the figure) is the library's ``reproduce``.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import profiles
from ..checkpoints import MANIFEST, read_manifest
from ..costs import format_duration, full_profile_estimate
from ..recipe import SCHEDULE_DEFAULTS
from ..reproduce import (
    DEGRADATION_MODELS,
    QUICK_SEED_GAPS,
    check_degradation_net,
    degradation_result,
    degradation_run,
    experiment_config,
    full_profile_work,
    training_error_key,
)
from ..results import MissingResults, load_results
from ..runtime import in_colab, runs_folder
from ..shipped import (
    CPU_EPOCHS,
    cpu_recipe_runs,
    cpu_run_name,
    is_cpu_schedule_run,
    run_seed_and_epochs,
    shipped_result,
)


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
        check_degradation_net(model)
        if self.mode in ("stored", "shipped"):
            source = "the stored result" if self.mode == "stored" else "the shipped net"
            print(f"{model}: not trained here ({source} is shown instead; see the plan above)")
            return
        run = degradation_run(model, self.profile, 0, self.device, self.runs_dir, progress=True)
        self.runs[model] = run
        last = run["metrics"][-1]
        fit = f"training error {100 * last[training_error_key({'runs': {model: [run]}})]:.1f}%"
        steps, seconds = last["step"], last["wall_seconds"]
        print(
            f"{model}: {steps:,} steps in {format_duration(seconds)}; {fit}, test error {100 * last['test_error']:.1f}%"
        )

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
        print(full_profile_estimate(full_profile_work("degradation"), "Estimated time, before it starts"))
    if in_colab() and runs_dir is None:
        say(
            "Note: runs/ is on this Colab machine, which is recycled when the session ends, and the "
            'checkpoints with it. Set RUNS_DIR = "drive" to keep them on Google Drive.'
        )
    return DegradationPlan("train", device, runs_dir=folder)


def degradation_margin_note(result: dict[str, Any], manifest: str | Path = MANIFEST, width: int = 78) -> str:
    """What a result's margin stands on, in a few lines: for the quick profile the gaps of
    ``QUICK_SEED_GAPS``; at full scale the shipped ``cpu`` nets' gaps at each length shipped for
    all four (from the manifest)."""
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
        for epochs in sorted({run_seed_and_epochs(e)[1] for e in entries.values() if is_cpu_schedule_run(e)}):
            names = {model: cpu_run_name(model, epochs=epochs) for model in DEGRADATION_MODELS}
            if all(name in entries for name in names.values()):
                fit = {m: entries[n]["metrics"][-1]["train_eval_error"] for m, n in names.items()}
                parts.append(
                    f"{epochs} epochs plain {100 * (fit['plain56'] - fit['plain20']):+.1f}, residual "
                    f"{100 * (fit['resnet56'] - fit['resnet20']):+.1f}"
                )
        text = "The margin stands on the shipped nets' gaps (points, 56 minus 20 layers): " + "; ".join(parts) + "."
    return textwrap.fill(text, width, break_on_hyphens=False)
