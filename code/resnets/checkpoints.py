"""Checkpoints that survive a crash and never run code: save atomically, load safely.

Three promises, each tested:

1. **A checkpoint is never half-written.** ``save_atomic`` writes a temporary file beside the
   target, flushes it to disk, then renames it over the old one (``files.write_atomic``). A
   crash, a SIGKILL or a full disk in the middle leaves the previous file intact.
2. **Loading cannot run code.** Everything goes through ``torch.load(..., weights_only=True)``,
   which unpickles tensors, numbers, strings and containers only: a checkpoint downloaded from
   anywhere cannot execute anything.
3. **A mismatch is explained.** Loading a state dict into the wrong model names the keys and
   shapes that do not match, and the architecture the file was saved from.

Saved state dicts are always the plain module's: no ``module.`` (DistributedDataParallel) or
``_orig_mod.`` (torch.compile) prefixes, so every file loads into ``build_model(arch)`` on a CPU
with ``strict=True``. Small trained checkpoints shipped with the package are listed in
``assets/checkpoints/manifest.json`` with their SHA-256, which ``load_pretrained`` checks first;
``add_shipped`` lists new ones (``run_folder.ship`` gives it a run's files only after checking
them against the run's ``SHA256SUMS``), writing the manifest holding the folder's lock;
``record_evaluation`` adds what was measured on the shipped weights afterwards (their test
error with flips, say) to their entry.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .files import FileError, lock_folder, sha256_file, write_atomic

#: Prefixes that wrappers add to every key: DistributedDataParallel and torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
MANIFEST = Path(__file__).parent / "assets" / "checkpoints" / "manifest.json"
# The fix when the manifest's folder cannot be written (the package installed read-only, say).
WRITABLE_CLONE = "ship from a clone of the repository that you can write to"


class CheckpointError(FileError):
    """A checkpoint that cannot be written or used; the message says why and what to do."""


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DistributedDataParallel and/or torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def strip_prefixes(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Remove wrapper prefixes (``module.``, ``_orig_mod.``) from every key."""
    clean = {}
    for key, value in state_dict.items():
        stripped = True
        while stripped:
            stripped = False
            for prefix in WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, stripped = key[len(prefix) :], True
        clean[key] = value
    return clean


def model_state(model: nn.Module) -> dict[str, Tensor]:
    """The state dict to save: the unwrapped model's, with no wrapper prefixes."""
    return strip_prefixes(unwrap(model).state_dict())


def save_atomic(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to ``path`` so that readers see the old file or the new one, never a mix
    (``files.write_atomic``). On failure the previous ``path``, if any, is untouched; the error says so."""
    return write_atomic(path, lambda f: torch.save(obj, f))


def serialize(obj: Any) -> bytes:
    """The bytes ``torch.save`` writes for ``obj`` (to save with a digest, ``files.VerifiedFolder.save``)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def load_file(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True`` and an error that says what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # a damaged file fails in many ways: zip, pickle, index errors...
        reason = _reason(err)
        if isinstance(err, pickle.UnpicklingError) and "GLOBAL" in reason:
            # weights_only refuses anything but tensors and plain containers: this file names
            # code to run (or objects of another program). Never retry without weights_only.
            raise CheckpointError(
                f"{path} holds more than tensors (weights_only loading refused it: {reason}). It was not saved "
                "by this package, or it was tampered with; it was not loaded, so nothing in it ran."
            ) from err
        raise CheckpointError(
            f"{path} is truncated or corrupt ({path.stat().st_size:,} bytes; {type(err).__name__}: {reason}). "
            "It cannot be loaded: delete it and resume from an earlier copy, or train again."
        ) from err


def _reason(err: BaseException) -> str:
    """The informative line of an error (torch's weights_only errors wrap it in boilerplate
    that suggests weights_only=False, advice we must not pass on)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if lines and lines[0].startswith("Weights only load failed"):
        lines = [line for line in lines[1:] if not line.startswith("Check the documentation")] or lines
    return (lines[0] if lines else type(err).__name__)[:300]


def load_state_dict(
    model: nn.Module, state_dict: Mapping[str, Any], *, source: str = "the checkpoint", arch: str | None = None
) -> None:
    """``model.load_state_dict(state_dict, strict=True)``, explaining any mismatch.

    Wrapper prefixes in ``state_dict`` are ignored. On a mismatch the error lists missing and
    unexpected keys and shape differences (the first few of each) and the architecture
    ``arch`` the file was saved from.
    """
    if not isinstance(state_dict, Mapping) or not all(isinstance(v, Tensor) for v in state_dict.values()):
        raise CheckpointError(f"{source} does not hold a state dict (a mapping of parameter names to tensors)")
    target = unwrap(model)
    state_dict = strip_prefixes(state_dict)
    expected = target.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    reshaped = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or unexpected or reshaped:
        mine = getattr(target, "arch", type(target).__name__)
        origin = (
            f" was saved from {arch}, but the model is {mine}" if arch and arch != mine else f" does not fit {mine}"
        )
        problems = [
            f"{label} ({len(keys)}): {_few(keys)}"
            for label, keys in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("shape mismatches (file vs model)", reshaped),
            )
            if keys
        ]
        hint = f" Build the model with build_model({arch!r})." if arch and arch != mine else ""
        raise CheckpointError(f"{source}{origin}: " + "; ".join(problems) + "." + hint)
    target.load_state_dict(state_dict, strict=True)


def _few(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def read_manifest(manifest: str | Path = MANIFEST) -> dict[str, dict[str, Any]]:
    """The shipped checkpoints: name -> {file, sha256, arch, provenance...}."""
    manifest = Path(manifest)
    if not manifest.is_file():
        return {}
    return json.loads(manifest.read_text())["checkpoints"]


MAX_SHIPPED_BYTES = 4 * 2**20


def add_shipped(name: str, weights: bytes, facts: dict[str, Any], manifest: str | Path = MANIFEST) -> dict[str, Any]:
    """Write ``weights`` (a checkpoint file's bytes) beside ``manifest`` as ``<name>.pt`` and list
    it there under ``name`` with its SHA-256 and ``facts`` (``arch``, and what made them:
    ``run_folder.ship`` gives the run's provenance and metrics), holding the folder's lock.
    An entry of that name is replaced. Returns the new entry."""
    manifest = Path(manifest)
    with lock_folder(manifest.parent, f"ship {name}", elsewhere=WRITABLE_CLONE):
        target = write_atomic(manifest.parent / f"{name}.pt", lambda f: f.write(weights))
        # New weights start with no evaluations: those of the old ones do not describe them.
        entry = {"file": target.name, "sha256": sha256_file(target), **facts}
        _write_manifest({**read_manifest(manifest), name: entry}, manifest)
    return entry


def record_evaluation(name: str, key: str, record: dict[str, Any], manifest: str | Path = MANIFEST) -> dict[str, Any]:
    """Add a measurement of a shipped checkpoint's weights, made after its run (such as its
    test error with test-time augmentation), to its manifest entry as ``evaluations[key]``,
    replacing an earlier one of that key. ``record`` should say what measured it (commit,
    hardware, data checksum). Shipping the name again drops it with the old weights. Returns
    the entry."""
    manifest = Path(manifest)
    with lock_folder(manifest.parent, f"record {key} of {name}", elsewhere=WRITABLE_CLONE):
        entries = read_manifest(manifest)
        if name not in entries:
            raise CheckpointError(f"no shipped checkpoint named {name!r} in {manifest}; ship it first")
        entry = entries[name]
        entry["evaluations"] = {**entry.get("evaluations", {}), key: record}
        _write_manifest(entries, manifest)
    return entry


def _write_manifest(entries: dict[str, dict[str, Any]], manifest: Path) -> None:
    text = json.dumps({"checkpoints": dict(sorted(entries.items()))}, indent=1) + "\n"
    write_atomic(manifest, lambda f: f.write(text.encode()))


def load_pretrained(name: str, manifest: str | Path = MANIFEST, map_location: str | torch.device = "cpu") -> nn.Module:
    """A shipped trained model by name, after checking the file's SHA-256 against the manifest.

    Returns ``build_model(arch)`` with the weights loaded (strict), in eval mode, on ``map_location``.
    """
    from .models import build_model

    entries = read_manifest(manifest)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none are shipped in this version"
        raise CheckpointError(f"no shipped checkpoint named {name!r}; available: {known}")
    entry = entries[name]
    path = Path(manifest).parent / entry["file"]
    if not path.is_file():
        raise CheckpointError(f"{path} is listed in {Path(manifest).name} but missing; reinstall the package")
    actual = sha256_file(path)
    if actual != entry["sha256"]:
        raise CheckpointError(
            f"{path} has SHA-256 {actual[:16]}..., but the manifest lists {entry['sha256'][:16]}...: the file "
            "is damaged or was replaced. It was not loaded; reinstall the package."
        )
    model = build_model(entry["arch"])
    load_state_dict(model, load_file(path, map_location), source=str(path), arch=entry["arch"])
    return model.to(map_location).eval()


__all__ = [
    "CheckpointError",
    "add_shipped",
    "load_file",
    "load_pretrained",
    "load_state_dict",
    "model_state",
    "read_manifest",
    "record_evaluation",
    "save_atomic",
    "serialize",
    "strip_prefixes",
    "unwrap",
]
