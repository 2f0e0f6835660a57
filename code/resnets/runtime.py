"""Where a chapter runs: device, profile and seeds, decided once at the top of every notebook.

Two environment variables steer every chapter and the CLI, read (with the cap on iterations
that ``make gpu-check`` sets) by ``profiles.read_environment``:

    RESNETS_PROFILE  "quick" (minutes on a 2-core laptop CPU; CI runs this) or "full" (the
                     real experiment, meant for a GPU). Default: full on a GPU, quick on CPU.
    RESNETS_DEVICE   "auto" (CUDA, then Apple's MPS, then CPU), or "cuda", "cuda:1", "mps", "cpu".

``setup`` prints which profile runs, why, and how to change it. Where a chapter's training runs
keep their checkpoints is one line on its page (``RUNS_DIR``), resolved by ``runs_folder``:
"drive" puts them on Google Drive in Colab, so that a reopened notebook resumes them.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError, DeviceError
from .profiles import PROFILE_ENV, read_environment
from .version import __version__


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def pick_device(requested: str | torch.device | None = "auto") -> torch.device:
    """Resolve a device request. "auto" prefers CUDA, then MPS, then CPU.

    Asking for a device that is not there is an error that says so, never a silent fallback
    (``setup`` below is the forgiving variant the notebooks use).
    """
    requested = "auto" if requested is None else str(requested)
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as err:
        raise ConfigError(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {requested!r} was asked for, but this PyTorch sees no CUDA GPU "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). "
                "Use --device auto (or cpu), or install a CUDA build of torch on a machine with a GPU."
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {requested!r} was asked for, but only {torch.cuda.device_count()} CUDA "
                f"device(s) exist (cuda:0 ... cuda:{torch.cuda.device_count() - 1})."
            )
    if device.type == "mps" and not _mps_available():
        raise DeviceError(f"device {requested!r} was asked for, but MPS is not available here. Use --device auto.")
    return device


def device_name(device: torch.device) -> str:
    """A human name for a device: the GPU's model, or the CPU with its core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def cpu_model() -> str | None:
    """The host CPU as the OS names it, for a run's record: on Linux /proc/cpuinfo's model name
    with its family and model numbers (a virtual machine often names only "AMD EPYC", and the
    numbers tell a Zen 2 from a Zen 4), elsewhere ``platform.processor()``; None if neither says."""
    import platform

    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or None
    fields: dict[str, str] = {}
    for line in lines:  # the first processor's block is enough: the cores of one host match
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.processor() or None
    if name and "cpu family" in fields and "model" in fields:
        name += f", family {fields['cpu family']} model {fields['model']}"
    return name


def native_bf16(device: torch.device) -> bool:
    """True where the hardware computes in bfloat16, so bf16 autocast makes training faster:
    NVIDIA GPUs from Ampere on (compute capability 8.0: A100, RTX 30xx, H100...), and CPUs
    with AVX512-BF16 or AMX instructions (AMD Zen 4 on, Intel Cooper Lake and Sapphire Rapids
    on). Elsewhere (a T4, most laptop CPUs, Apple's MPS) bf16 is emulated and slower than float32.
    """
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":  # torch.cpu's CPU feature probes (private; since torch 2.5, the floor)
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)
    return False


#: Mixed precision modes of training (``TrainConfig.amp``, ``--amp``).
AMP_MODES = ("auto", "bf16", "fp16", "off")


def autocast_dtype(device: torch.device, amp: str = "auto") -> torch.dtype | None:
    """The dtype training autocasts to on ``device`` in mode ``amp``; None means float32.

    auto: bfloat16 where the hardware computes in it (``native_bf16``); on other CUDA GPUs
    (T4, V100: tensor cores for float16, none for bfloat16) float16, whose narrow exponent range
    needs the loss scaled (the engine's ``GradScaler``); elsewhere float32 (a CPU without bf16 or
    MPS gains nothing from emulated half precision). bf16 / fp16: that dtype on CUDA or a CPU
    (slower where emulated); off: float32.
    """
    if amp not in AMP_MODES:
        raise ConfigError(f"amp must be one of {', '.join(AMP_MODES)}; got {amp!r}")
    if amp == "off":
        return None
    if amp == "auto":
        if native_bf16(device):
            return torch.bfloat16
        return torch.float16 if device.type == "cuda" else None
    if device.type not in ("cuda", "cpu"):
        raise ConfigError(f"--amp {amp} autocasts on CUDA and CPU only, not on {device.type}; use --amp auto or off")
    return torch.bfloat16 if amp == "bf16" else torch.float16


def precision_name(dtype: torch.dtype | None) -> str:
    """How run records and benchmarks name an ``autocast_dtype``: fp32, bf16 or fp16."""
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def get_profile(device: torch.device | None = None) -> str:
    """The profile from RESNETS_PROFILE, defaulting to full on a GPU and quick otherwise."""
    asked = read_environment().profile
    if asked is not None:
        return asked
    device = device or pick_device("auto")
    return "full" if device.type == "cuda" else "quick"


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (all devices) so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


@dataclass(frozen=True)
class Runtime:
    """What ``setup`` decided: pass ``rt.device`` and ``rt.profile`` on to the package."""

    device: torch.device
    profile: str
    seed: int

    def __str__(self) -> str:
        return f"{device_name(self.device)} · profile {self.profile} · seed {self.seed}"


def setup(seed: int = 0, device: str | None = None, verbose: bool = True) -> Runtime:
    """The first call of every chapter: choose the device and profile, seed everything.

    A device asked for through RESNETS_DEVICE (or ``device``) that is not there falls back
    to the best available one with a visible note, so a chapter still runs.
    """
    requested = device or read_environment().device
    try:
        chosen = pick_device(requested)
    except RuntimeError as err:
        chosen = pick_device("auto")
        print(f"Note: {err}\nFalling back to {chosen}.")
    runtime = Runtime(device=chosen, profile=get_profile(chosen), seed=seed)
    seed_everything(seed)
    if verbose:
        print(f"resnets {__version__} · torch {torch.__version__} · {runtime}")
        print(profile_note(runtime.profile, chosen))
    return runtime


def profile_note(profile: str, device: torch.device, width: int = 78) -> str:
    """What ``setup`` says on every device: which profile runs, why (the variable or the
    device's default), what it does, and how to switch to the other one (in a notebook, Colab
    included, with ``%env``; in a shell, with the variable)."""
    import textwrap

    other = "full" if profile == "quick" else "quick"
    if read_environment().profile is not None:
        why = f"set by {PROFILE_ENV}"
    else:
        why = "the default on a CUDA GPU" if device.type == "cuda" else "the default without a CUDA GPU"
    does = (
        "every experiment cut down to minutes on a CPU."
        if profile == "quick"
        else "the papers' experiments; a page that would train for hours shows stored or shipped "
        "results unless you opt in on that page."
    )
    switch = (
        f"To switch to {other}, run  %env {PROFILE_ENV}={other}  in a cell (Colab, Jupyter), then this "
        f"page from the top; in a shell, set {PROFILE_ENV}={other}."
    )
    return "\n".join(textwrap.wrap(f"Profile {profile} ({why}): {does} {switch}", width, break_on_hyphens=False))


#: Where Colab mounts Google Drive, and the folder under it that keeps the chapters' runs.
DRIVE_MOUNT = "/content/drive"
DRIVE_RUNS = "MyDrive/resnets/runs"


def runs_folder(where: str | os.PathLike[str] | None = None) -> Path:
    """The folder a chapter's training runs checkpoint in, from its page's ``RUNS_DIR`` line.

    None: ``runs`` beside the notebook (in Colab that is on the virtual machine, which is
    recycled when the session ends, and the checkpoints go with it). "drive": Google Drive's
    ``DRIVE_RUNS``, mounted first where it is not yet (Colab asks for permission once), so a
    reopened notebook finds the checkpoints and resumes; only Colab can mount it. Any other
    value: that folder. The folder is created.
    """
    if where is None:
        folder = Path("runs")
    elif str(where).strip().lower() == "drive":
        if not in_colab():
            raise ConfigError(
                'RUNS_DIR = "drive" mounts Google Drive, which only Colab can do; here set RUNS_DIR to a folder '
                '(e.g. "runs", or a synced folder of your own) or None'
            )
        mount = Path(DRIVE_MOUNT)
        if not (mount / "MyDrive").is_dir():
            from google.colab import drive  # type: ignore[import-not-found]

            drive.mount(str(mount))
        folder = mount / DRIVE_RUNS
    else:
        folder = Path(where).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def git_commit() -> str | None:
    """The commit of the package's checkout (with ``-dirty`` if it has changes), or None
    outside a git checkout: what a record of provenance names as the code that ran."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
