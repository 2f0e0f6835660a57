"""A training run's folder: what it holds, how it is written, read back and gone on from.

    runs/resnet56-paper-s0/
        checkpoint.pt   model, optimizer, loss scale and ``RunState``, after every epoch and on Ctrl-C
        metrics.jsonl   one JSON object per epoch
        run.json        provenance: the first start's, and every resume's facts
        model.pt        the final weights, a plain state_dict, once the run is complete
        SHA256SUMS      every file above with its SHA-256 (``files.VerifiedFolder``)

What it holds:

    CHECKPOINT, METRICS, PROVENANCE, FINAL   the file names, for every reader and writer
    RunState            where a run stands; saved in every checkpoint
    RunFolder           the writer: the loop's one door into the folder (rank 0 only)
    resume_point        the checkpoint a run goes on from, read back and checked: ``SavedRun``
    resumable_checkpoint, check_resumable, config_from_checkpoint   the steps of a resume
    resumed_provenance  run.json of a resumed run: the first start's record, each resume's appended
    read_metrics        the per-epoch metrics, verified
    ship                a finished run's weights into the shipped checkpoints (``checkpoints``)

Nothing is used that changed on disk: every file is checked against ``SHA256SUMS`` before it
is read back (resume, ``ship``); the previous epoch's checkpoint is kept as
``checkpoint.prev.pt`` until the new one has been read back and matched.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .checkpoints import (
    MANIFEST,
    MAX_SHIPPED_BYTES,
    CheckpointError,
    add_shipped,
    load_file,
    load_state_dict,
    model_state,
    serialize,
)
from .files import SUMS, VerifiedFolder, previous_name, remove_stale_temporaries
from .models import build_model
from .recipe import RUNTIME_FIELDS, TrainConfig

CHECKPOINT, METRICS, PROVENANCE, FINAL = "checkpoint.pt", "metrics.jsonl", "run.json", "model.pt"
CHECKPOINT_FORMAT = "resnets.train/1"  # what a checkpoint of this package says it is
#: What can change when a run resumes on another machine or with newer code: each resume's are
#: recorded apart (``resumed_provenance``), so a run that moved says so.
RESUME_FACTS = ("git_commit", "resnets_version", "torch_version", "hardware", "cpu", "precision", "platform")


@dataclass
class RunState:
    """Where a run stands; saved in every checkpoint."""

    epoch: int = 0  # epochs completed
    batch: int = 0  # batches done in the current epoch (non-zero only after an interruption)
    step: int = 0  # optimizer steps done in all
    warming_up: bool = False
    seconds: float = 0.0  # wall time spent training so far, over all sessions
    metrics: list[dict[str, Any]] = field(default_factory=list)
    partial: dict[str, Any] | None = None  # the current epoch's sums, when stopped mid-epoch


@dataclass
class SavedRun:
    """A training checkpoint read back: what a resumed ``train.Run`` starts from."""

    state: RunState
    model: dict[str, Tensor]  # the plain model's state_dict
    optimizer: dict[str, Any]
    scaler: dict[str, Any] | None  # the fp16 loss scale (None or {} when there was none)
    source: Path  # the file it came from, for the messages
    arch: str  # the model name it was saved from

    def restore(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Load the saved weights and optimizer state into the run's fresh ones."""
        load_state_dict(model, self.model, source=str(self.source), arch=self.arch)
        optimizer.load_state_dict(self.optimizer)


class RunFolder:
    """The run folder as the loop writes it: each file with its digest, atomically."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.files = VerifiedFolder(self.path)

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    def start(self, provenance: dict[str, Any], state: RunState) -> dict[str, Any]:
        """Clear what a crash left half-written, write run.json (a resumed run's keeps its first
        start's record, this resume appended) and the metrics so far. Returns the record written."""
        for name in (CHECKPOINT, previous_name(CHECKPOINT), METRICS, PROVENANCE, FINAL, SUMS):
            remove_stale_temporaries(self.path / name)
        if state.step > 0 and (self.path / PROVENANCE).is_file():
            first = json.loads(self.files.verify(PROVENANCE).read_text())
            provenance = resumed_provenance(first, provenance, state)
        self.files.save_text(PROVENANCE, json.dumps(provenance, indent=2) + "\n")
        self.write_metrics(state.metrics)
        return provenance

    def write_metrics(self, metrics: list[dict[str, Any]]) -> None:
        """Write metrics.jsonl whole from the run's history (a few kB), with its digest."""
        self.files.save_text(METRICS, "".join(json.dumps(m) + "\n" for m in metrics))

    def save_checkpoint(
        self,
        config: TrainConfig,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        state: RunState,
    ) -> None:
        checkpoint = {
            "format": CHECKPOINT_FORMAT,
            "config": dataclasses.asdict(config),
            "model": model_state(model),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(),
            "state": dataclasses.asdict(state),
        }
        self.files.save(CHECKPOINT, serialize(checkpoint), keep_previous=True)

    def save_final(self, model: nn.Module) -> None:
        self.files.save(FINAL, serialize(model_state(model)))


def resume_point(run_dir: str | Path, config: TrainConfig, device: torch.device) -> SavedRun | None:
    """The checkpoint a run of ``config`` in ``run_dir`` goes on from, verified, read onto
    ``device`` and checked to compute the same run; None for a folder without one. A folder
    holding a run is refused unless ``config.resume`` asks to continue it."""
    path = resumable_checkpoint(run_dir)
    if path is None:
        return None
    if not config.resume:
        raise CheckpointError(
            f"{run_dir} already holds a run ({path.name}); pass --resume (resume=True) to continue it, "
            "or choose another output folder (--out)."
        )
    saved = load_file(path, map_location=device)
    check_resumable(saved, config, path)
    return SavedRun(
        RunState(**saved["state"]),
        saved["model"],
        saved["optimizer"],
        saved.get("scaler") or None,
        path,
        saved["config"]["model"],
    )


def resumable_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint a run in ``run_dir`` goes on from, verified against the folder's digests:
    ``checkpoint.pt``, or ``checkpoint.prev.pt`` when the former is missing (a crash between
    keeping the previous one and renaming the new one into place, or a damaged one deleted).
    None for a folder without a run. Raises ``files.FileError`` naming the fix for a damaged file."""
    folder = VerifiedFolder(run_dir)
    for name in (CHECKPOINT, previous_name(CHECKPOINT)):
        if (folder.path / name).is_file():
            if name != CHECKPOINT:
                print(
                    f"Note: {folder.path / CHECKPOINT} is missing; going on from the previous good checkpoint, {name}.",
                    file=sys.stderr,
                )
            return folder.verify(name)
    return None


def check_resumable(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    """Refuse to resume a checkpoint into a run that would compute something else."""
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a training checkpoint of this package (no 'format': '{CHECKPOINT_FORMAT}'); start a new "
            "run elsewhere"
        )
    # Fields added to TrainConfig after the checkpoint was saved take their defaults.
    before = {**TrainConfig().identity(), **{k: v for k, v in saved["config"].items() if k not in RUNTIME_FIELDS}}
    now = config.identity()
    changed = [f"{k}={before.get(k)!r} (now {now[k]!r})" for k in now if before.get(k) != now[k]]
    if changed:
        raise CheckpointError(
            f"{path} was saved by a run with different settings: {', '.join(changed)}. Resume with the run's own "
            "settings (python -m resnets train --out FOLDER --resume reads them from the checkpoint), or start a new "
            "run in another folder."
        )


def config_from_checkpoint(path: str | Path) -> TrainConfig:
    """The TrainConfig a checkpoint was saved with (the CLI's --resume reads it)."""
    saved = load_file(path)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in saved["config"].items() if k in fields})


def resumed_provenance(first: dict[str, Any], now: dict[str, Any], state: RunState) -> dict[str, Any]:
    """The provenance of a run resumed at ``state``: the first start's (``first``, as its
    ``run.json`` holds it), with where this resume begins and its ``RESUME_FACTS`` from ``now``
    appended to ``resumes``. A run trained on two machines, in two precisions, or by two
    versions of the code keeps every one on record instead of only the last."""
    resume = {"epoch": state.epoch + 1, "batch": state.batch, "step": state.step}
    resume.update({fact: now.get(fact) for fact in RESUME_FACTS})
    return {**first, "resumes": [*first.get("resumes", []), resume]}


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch metrics of a run folder (one JSON object per line), verified first."""
    path = VerifiedFolder(run_dir).verify(METRICS)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ship(run_dir: str | Path, name: str, manifest: str | Path = MANIFEST) -> dict[str, Any]:
    """Add a finished run's final weights (``model.pt``) to the shipped checkpoints.

    Copies the file beside ``manifest`` as ``<name>.pt`` and records its SHA-256, architecture,
    the run's provenance (``run.json``: command, commit, hardware, data checksum, seed) and its
    per-epoch metrics (``metrics.jsonl``), so a chapter can show how the weights were made.
    Refuses files over 4 MB and runs that did not finish. Returns the manifest entry.
    """
    run_dir = Path(run_dir)
    run = VerifiedFolder(run_dir)
    if not (run_dir / FINAL).is_file() or not (run_dir / PROVENANCE).is_file():
        raise CheckpointError(f"{run_dir} holds no finished run ({FINAL} and {PROVENANCE}); train it to the end first")
    weights, provenance_file = run.verify(FINAL), run.verify(PROVENANCE)
    if weights.stat().st_size > MAX_SHIPPED_BYTES:
        raise CheckpointError(
            f"{weights} is {weights.stat().st_size / 2**20:.1f} MB; shipped checkpoints must stay under 4 MB"
        )
    provenance = json.loads(provenance_file.read_text())
    arch = provenance["config"]["model"]
    payload = weights.read_bytes()
    load_state_dict(build_model(arch), load_file(weights), source=str(weights), arch=arch)  # strictly, or says why
    metrics = read_metrics(run_dir) if (run_dir / METRICS).is_file() else []
    return add_shipped(name, payload, {"arch": arch, "provenance": provenance, "metrics": metrics}, manifest)


__all__ = [
    "CHECKPOINT",
    "FINAL",
    "METRICS",
    "PROVENANCE",
    "RunFolder",
    "RunState",
    "SavedRun",
    "check_resumable",
    "config_from_checkpoint",
    "read_metrics",
    "resumable_checkpoint",
    "resume_point",
    "resumed_provenance",
    "ship",
]
