"""CIFAR-10, decoded once, held on the device, augmented there: batches at the speed of the GPU.

Where the images come from (``load_cifar10``):

    RESNETS_DATA set    a folder or .tar.gz in image-folder layout, ``train/<class>/*`` and
                        ``test/<class>/*`` (JPEG or PNG; one enclosing folder is fine), or a folder
                        holding torchvision's ``cifar-10-batches-py``
    RESNETS_DATA unset  torchvision downloads the original CIFAR-10 into the cache folder

Either way the 60,000 images are decoded once into uint8 tensors of shape (N, 32, 32, 3),
checked (10 classes in torchvision's order; an image folder also for 5,000 train and 1,000 test
images each), and
cached under ``$XDG_CACHE_HOME/resnets`` (default ``~/.cache/resnets``) keyed by the source's
size and modification time, so every later load takes a moment. A source that is missing,
partial or corrupt is one ``DataError`` naming the file or folder and the fix; nothing ever
falls back to fake data.

Batches (``DeviceBatches``), in the style of Keller Jordan's airbench, whose data also lives on
the device (airbench keeps it as float16; here the whole uint8 set sits there); each batch is
gathered, normalised, randomly cropped (4 pixels of zero padding, as He et al. 2015 sec. 4.2) and
flipped with a handful of tensor ops, no worker processes and no
host round trip. The order and augmentation of epoch ``e`` derive from ``(seed, e)`` alone,
which is what lets a resumed run see exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import urllib.error
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .errors import ConfigError, ResnetsError
from .files import FileError, write_atomic

DATA_ENV = "RESNETS_DATA"
#: torchvision.datasets.CIFAR10(...).classes: label i is CLASSES[i] (also alphabetical order).
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: Images per class in the official release: (train, test).
IMAGES_PER_CLASS = (5000, 1000)
IMAGE_SHAPE = (32, 32, 3)
#: Per-channel mean and standard deviation of the 50,000 training images (pixel values / 255).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CACHE_FORMAT = "pil-2"  # change when decoding changes, so old caches are not reused
#: The IJG (libjpeg) standard luminance quantisation table at quality 50; a JPEG saved at quality
#: q >= 50 uses it scaled by (200 - 2q) / 100, so the ratio of sums tells q (order-free).
_IJG_LUMINANCE_SUM = 3688
LAYOUT_HELP = (
    "RESNETS_DATA must point at CIFAR-10 in image-folder layout, train/<class>/<image> and "
    "test/<class>/<image> with the classes " + ", ".join(CLASSES) + " (a folder or a .tar.gz of one), "
    "or at a folder holding torchvision's cifar-10-batches-py"
)


class DataError(ResnetsError, RuntimeError):
    """The data set is missing, partial or corrupt; the message names what and the fix."""


@dataclass(frozen=True)
class CIFAR10:
    """CIFAR-10 as tensors.

    train_images: (50000, 32, 32, 3) uint8; train_labels: (50000,) int64 in 0..9.
    test_images: (10000, 32, 32, 3) uint8; test_labels: (10000,) int64.
    checksum: SHA-256 of all pixels and labels: which data a result was computed on.
    source: where they were read from.
    encoding: how the source stored the pixels: "original" (torchvision's release), "PNG",
        or "JPEG q75" (lossy; the quality read from the files' quantisation tables).
    """

    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    checksum: str
    source: str
    encoding: str = "original"

    classes: tuple[str, ...] = CLASSES

    @property
    def from_image_folder(self) -> bool:
        """True when read from an image folder (e.g. the JPEG re-encoding this project tests on),
        not the original release."""
        return "cifar-10-batches-py" not in self.source

    @property
    def note(self) -> str:
        """One line saying which CIFAR-10 this is, for every result computed from it."""
        if self.encoding.startswith("JPEG"):
            return f"CIFAR-10 re-encoded as {self.encoding} (lossy; not the original pixels the paper used)"
        if self.from_image_folder:
            return f"CIFAR-10 from an image folder ({self.encoding}, lossless)"
        return "original CIFAR-10 (torchvision)"


# ---------------------------------------------------------------------------------------
# Loading: find the source, decode once, cache
# ---------------------------------------------------------------------------------------


def cache_root() -> Path:
    """Where decoded tensors (and torchvision's download) are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "resnets"


_loaded: dict[str, CIFAR10] = {}


def load_cifar10(
    source: str | Path | None = None, *, expected_per_class: tuple[int, int] | None = IMAGES_PER_CLASS
) -> CIFAR10:
    """Load CIFAR-10 from ``source``, else RESNETS_DATA, else torchvision's download.

    ``expected_per_class`` is (train, test) images per class to insist on; None accepts any
    count (small test fixtures). Loaded sets are kept in memory for the process's lifetime.
    """
    named = f"data source {str(source)!r}"
    if source is None:
        source = os.environ.get(DATA_ENV, "").strip() or None
        named = f"{DATA_ENV}={source!r}"
    if source is None:
        return _download_torchvision()
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{named}: no such file or folder. {LAYOUT_HELP}; or unset it to download CIFAR-10.")
    path = path.resolve()
    key = _source_key(path, expected_per_class)
    if key in _loaded:
        return _loaded[key]
    cached = cache_root() / f"cifar10-{key}.pt"
    data = _read_cache(cached)
    if data is None:
        batches = _find_torchvision_batches(path)
        data = (
            _load_torchvision(batches.parent, download=False)
            if batches
            else decode_image_folder(path, expected_per_class)
        )
        try:
            write_atomic(cached, lambda f: torch.save(_as_dict(data), f))
        except FileError as err:  # a full disk or read-only home only costs speed next time
            print(f"Note: could not cache the decoded images ({err}); the next load decodes again.")
    _loaded[key] = data
    return data


def _source_key(path: Path, expected: tuple[int, int] | None) -> str:
    """Identify a source cheaply: its path, sizes and modification times (re-decoded when they change)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256(f"{path}|{expected}|{CACHE_FORMAT}".encode())
    for f in files:
        stat = f.stat()
        digest.update(f"{f}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _read_cache(path: Path) -> CIFAR10 | None:
    if not path.exists():
        return None
    try:  # tensors and plain containers only (weights_only): a cache file cannot run code
        return CIFAR10(**torch.load(path, map_location="cpu", weights_only=True))
    except Exception:  # truncated, corrupt, or from an older CIFAR10: any of many errors
        print(f"Note: the decoded-data cache {path} is damaged; decoding the source again.")
        return None


def _as_dict(data: CIFAR10) -> dict:
    return {
        k: getattr(data, k)
        for k in ("train_images", "train_labels", "test_images", "test_labels", "checksum", "source", "encoding")
    }


def _checksum(*tensors: Tensor) -> str:
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(t.contiguous().numpy().tobytes())
    return digest.hexdigest()


def _find_torchvision_batches(path: Path) -> Path | None:
    for candidate in (path, path / "cifar-10-batches-py"):
        if candidate.is_dir() and candidate.name == "cifar-10-batches-py":
            return candidate
    return None


def _download_torchvision() -> CIFAR10:
    root = cache_root() / "torchvision"
    key = "download"
    if key not in _loaded:
        _loaded[key] = _load_torchvision(root, download=True)
    return _loaded[key]


def _load_torchvision(root: Path, download: bool) -> CIFAR10:
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    try:
        sets = [TorchvisionCIFAR10(str(root), train=train, download=download) for train in (True, False)]
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        what = "download CIFAR-10" if download else f"read torchvision's CIFAR-10 in {root}"
        raise DataError(
            f"could not {what} ({type(err).__name__}: {_one_line(err)}). Without network access, point {DATA_ENV} at "
            "a local "
            f"copy: a folder or .tar.gz with train/<class>/<image> and test/<class>/<image>, or a folder holding "
            f"cifar-10-batches-py (e.g. export {DATA_ENV}=/path/to/cifar10.tar.gz)."
        ) from err
    if tuple(sets[0].classes) != CLASSES:
        raise DataError(f"torchvision's CIFAR-10 in {root} lists classes {sets[0].classes}, expected {list(CLASSES)}")
    tensors = []
    for dataset in sets:
        tensors += [torch.from_numpy(dataset.data).contiguous(), torch.tensor(dataset.targets, dtype=torch.int64)]
    return CIFAR10(*tensors, checksum=_checksum(*tensors), source=str(Path(root) / "cifar-10-batches-py"))


def _image_files(path: Path) -> Iterator[tuple[str, bytes]]:
    """(relative name, encoded bytes) of every file in a folder or a tar archive, in any order."""
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file():
                yield str(f.relative_to(path)), f.read_bytes()
        return
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.isfile():
                    handle = archive.extractfile(member)
                    yield member.name, handle.read() if handle else b""
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DataError(
            f"{path} is truncated or corrupt ({type(err).__name__}: {_one_line(err)}). Copy or download it again "
            f"(the shared copy's SHA-256 is in the SHA256SUMS beside it)."
        ) from err


def decode_image_folder(path: Path, expected: tuple[int, int] | None) -> CIFAR10:
    found: dict[str, dict[str, list[tuple[str, np.ndarray]]]] = {"train": {}, "test": {}}
    unknown_classes: set[str] = set()
    encodings: set[str] = set()
    for name, payload in _image_files(path):
        parts = Path(name).parts
        if len(parts) < 3 or parts[-3] not in found or parts[-1].startswith("."):
            continue
        split, label = parts[-3], parts[-2]
        if label not in CLASSES:
            unknown_classes.add(f"{split}/{label}")
            continue
        if not parts[-1].lower().endswith(IMAGE_SUFFIXES):
            raise DataError(f"{path}: {name} is not an image (expected {', '.join(IMAGE_SUFFIXES)} files); remove it")
        image, encoding = _decode(payload, f"{path}: {name}")
        encodings.add(encoding)
        if image.shape != IMAGE_SHAPE:
            raise DataError(f"{path}: {name} is {image.shape[1]}x{image.shape[0]} pixels; CIFAR-10 images are 32x32")
        found[split].setdefault(label, []).append((parts[-1], image))
    if unknown_classes:
        raise DataError(f"{path}: unexpected class folder(s) {', '.join(sorted(unknown_classes))}. {LAYOUT_HELP}.")
    if not found["train"] and not found["test"]:
        raise DataError(f"{path}: found no train/<class>/<image> or test/<class>/<image> files. {LAYOUT_HELP}.")
    tensors = []
    for split, per_class in zip(("train", "test"), expected or (None, None)):
        missing = [c for c in CLASSES if c not in found[split]]
        if missing:
            raise DataError(
                f"{path}: {split}/ has no folder (or no images) for class(es) {', '.join(missing)}. {LAYOUT_HELP}."
            )
        images, labels = [], []
        for label, cls in enumerate(CLASSES):
            files = sorted(found[split][cls], key=lambda item: item[0])
            if per_class is not None and len(files) != per_class:
                raise DataError(
                    f"{path}: {split}/{cls} has {len(files)} images, CIFAR-10 has {per_class}: the copy is partial "
                    "or mixed with other files. Extract or download it again."
                )
            images += [image for _, image in files]
            labels += [label] * len(files)
        tensors += [torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)]
    return CIFAR10(*tensors, checksum=_checksum(*tensors), source=str(path), encoding=" + ".join(sorted(encodings)))


def _decode(payload: bytes, name: str) -> tuple[np.ndarray, str]:
    """JPEG or PNG bytes -> ((H, W, 3) uint8, encoding such as "PNG" or "JPEG q75").

    PIL: about 5 s for all 60,000 images on one core.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(payload)) as image:
            encoding = image.format or "unknown"
            if encoding == "JPEG" and getattr(image, "quantization", None):
                encoding += f" q{_jpeg_quality(sum(image.quantization[0]))}"
            return np.asarray(image.convert("RGB")), encoding
    except Exception as err:  # PIL raises OSError, ValueError, SyntaxError... for damaged files
        raise DataError(
            f"{name}: cannot decode it ({type(err).__name__}: {_one_line(err)}); the file is damaged, replace or "
            "delete it"
        ) from err


def _jpeg_quality(luminance_sum: int) -> int:
    """The libjpeg quality setting whose luminance table sums to ``luminance_sum`` (nearest)."""
    scale = 100 * luminance_sum / _IJG_LUMINANCE_SUM  # percent of the quality-50 table
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return int(round(min(max(quality, 1), 100)))


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300] or type(err).__name__


# ---------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------


def stratified_indices(labels: Tensor, per_class: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Split indices into (rest, picked) with ``per_class`` images of every class picked.

    The choice depends on ``seed`` only (never on a run's seed), so every run holds out the same images.
    """
    generator = torch.Generator().manual_seed(seed)
    picked = []
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().squeeze(1)
        if per_class > len(members):
            raise ConfigError(f"asked for {per_class} images of class {c}, but there are only {len(members)}")
        picked.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    chosen = torch.cat(picked).sort().values
    mask = torch.ones(len(labels), dtype=torch.bool)
    mask[chosen] = False
    return mask.nonzero().squeeze(1), chosen


@dataclass(frozen=True)
class Splits:
    """Training, validation and test sets, each (uint8 images (N, 32, 32, 3), int64 labels (N,))."""

    train: tuple[Tensor, Tensor]
    val: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]


def make_splits(
    data: CIFAR10, val_size: int = 5000, train_subset: int | None = None, test_subset: int | None = None
) -> Splits:
    """The paper's 45k/5k split of the training set, optionally cut down for a quick run.

    Reading of He et al. 2015 (sec. 4.2) followed here: train on the 45k images, hold out 5k
    (500 per class) for validation, and report the *test* error at the last epoch. ``val_size=0``
    trains on all 50k. ``train_subset`` / ``test_subset`` keep that many (class-balanced) images.
    """
    classes = len(data.classes)
    for label, value in (("val_size", val_size), ("train_subset", train_subset), ("test_subset", test_subset)):
        if value is not None and (value < 0 or value % classes):
            flag = "--" + label.replace("_", "-")
            raise ConfigError(
                f"{label} ({flag}) must be a non-negative multiple of {classes}, so every class has as many images; "
                f"got {value}"
            )
    if val_size >= len(data.train_labels):
        raise ConfigError(f"val_size {val_size} leaves no training images of the {len(data.train_labels)}")
    if train_subset is not None and train_subset > len(data.train_labels) - val_size:
        raise ConfigError(
            f"train_subset {train_subset} is more than the {len(data.train_labels) - val_size} training images left "
            f"after holding out val_size {val_size}"
        )
    train_images, train_labels = data.train_images, data.train_labels
    train_index, val_index = stratified_indices(train_labels, val_size // classes)
    if train_subset is not None:
        rest = train_labels[train_index]
        _, keep = stratified_indices(rest, train_subset // classes, seed=1)
        train_index = train_index[keep]
    test_images, test_labels = data.test_images, data.test_labels
    if test_subset is not None:
        _, keep = stratified_indices(test_labels, test_subset // classes, seed=2)
        test_images, test_labels = test_images[keep], test_labels[keep]
    return Splits(
        train=(train_images[train_index], train_labels[train_index]),
        val=(train_images[val_index], train_labels[val_index]),
        test=(test_images, test_labels),
    )


# ---------------------------------------------------------------------------------------
# Batches on the device
# ---------------------------------------------------------------------------------------

PAD = 4  # pixels of zero padding before the random 32x32 crop (He et al. 2015, sec. 4.2)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The random stream of one epoch: a function of (seed, epoch) only, so resuming replays it."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def channel_stats(images: Tensor, chunk: int = 5000) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 (N, H, W, C) images, pixel values / 255.

    The statistics ``MEAN`` and ``STD`` hold for the training set. Sums are taken in float64,
    ``chunk`` images at a time, so 50,000 images never become a 600 MB float tensor.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ConfigError(f"expected uint8 images of shape (N, H, W, C); got {images.dtype} {tuple(images.shape)}")
    total = torch.zeros(images.shape[-1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for start in range(0, len(images), chunk):
        pixels = images[start : start + chunk].reshape(-1, images.shape[-1]).to(torch.float64).div_(255)
        total += pixels.sum(0)
        squares += pixels.square().sum(0)
    count = images[..., 0].numel()
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


def normalize(images: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """uint8 (N, 32, 32, 3) -> float (N, 3, 32, 32), per-channel standardised, channels_last memory."""
    x = images.permute(0, 3, 1, 2).to(dtype).div_(255)
    mean = torch.tensor(MEAN, device=x.device, dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device, dtype=dtype).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std)


def denormalize(x: Tensor) -> Tensor:
    """The inverse of ``normalize``: float (N, 3, H, W) -> uint8 (N, H, W, 3), for showing images."""
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    pixels = (x.float() * std + mean).mul(255).round().clamp(0, 255)
    return pixels.to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def crop_and_flip(x: Tensor, dx: Tensor, dy: Tensor, flip: Tensor) -> Tensor:
    """Random crop with zero padding, and horizontal flip, for a whole batch at once.

    x: (N, C, H, W) normalised images (so zero padding is the mean colour, as with the paper's
    mean-subtracted inputs); dx, dy: (N,) crop offsets in 0..2*PAD; flip: (N,) bool.
    Two gathers, one along rows and one along columns (which also does the flip).
    """
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (PAD, PAD, PAD, PAD))
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (N, H)
    steps = torch.arange(w, device=x.device)
    cols = dx[:, None] + torch.where(flip[:, None], w - 1 - steps, steps)  # (N, W)
    x = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * PAD))
    return x.gather(3, cols[:, None, None, :].expand(n, c, h, w))


class DeviceBatches:
    """Batches of one data set held on ``device``, shuffled and augmented per epoch.

        batches = DeviceBatches(images, labels, 128, device, train=True, seed=0)
        for x, y in batches.epoch(3):        # x: (128, 3, 32, 32) float, y: (128,) int64
            ...

    train=True: reshuffle and augment every epoch, drop the last partial batch (every step
    sees ``batch_size`` images, as the paper's iteration counts assume). train=False: fixed
    order, no augmentation, every image once. With ``world_size`` > 1 each rank gets its
    ``rank::world_size`` share of every global batch (DistributedSampler's job, on device).
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        batch_size: int,
        device: torch.device | str = "cpu",
        *,
        train: bool,
        seed: int = 0,
        augment: bool = True,
        channels_last: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size <= 0:
            raise ConfigError(f"batch_size must be a positive integer; got {batch_size}")
        if batch_size % world_size:
            raise ConfigError(f"batch size {batch_size} does not split evenly over {world_size} processes")
        if train and len(images) < batch_size:
            raise ConfigError(
                f"batch size {batch_size} is larger than the {len(images)} training images; lower --batch-size"
            )
        self.device = torch.device(device)
        # uint8 NHWC is already the channels_last layout of NCHW: no copy when we permute later.
        self.images = images.to(self.device, non_blocking=True)
        self.labels = labels.to(self.device, non_blocking=True)
        self.batch_size, self.train, self.seed, self.augment = batch_size, train, seed, augment and train
        self.channels_last, self.rank, self.world_size = channels_last, rank, world_size

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches of ``epoch``, from batch ``start`` on (a resumed run skips those it has done)."""
        n = len(self.images)
        if self.train:
            generator = epoch_generator(self.seed, epoch)
            order = torch.randperm(n, generator=generator)
            shifts = torch.randint(0, 2 * PAD + 1, (2, n), generator=generator)
            flips = torch.randint(0, 2, (n,), generator=generator, dtype=torch.bool)
            order, shifts, flips = (t.to(self.device, non_blocking=True) for t in (order, shifts, flips))
        else:
            order = torch.arange(n, device=self.device)
        for b in range(start, len(self)):
            index = order[b * self.batch_size : (b + 1) * self.batch_size][self.rank :: self.world_size]
            x = normalize(self.images[index])
            if self.augment:
                x = crop_and_flip(x, shifts[0, index], shifts[1, index], flips[index])
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[index]


__all__ = [
    "CIFAR10",
    "CLASSES",
    "DATA_ENV",
    "DataError",
    "DeviceBatches",
    "Splits",
    "channel_stats",
    "crop_and_flip",
    "decode_image_folder",
    "denormalize",
    "load_cifar10",
    "make_splits",
    "normalize",
]
