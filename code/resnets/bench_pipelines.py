"""The two ways to train that ``python -m resnets bench`` measures, each as step functions that
fetch their own next batch (a ``Pipeline``): the same network on the same images with the same
batch size and the same optimizer settings.

    engine   ``train.py`` as it runs (its ``Run``, stepped one batch at a time): the data set
             decoded once and held on the device as uint8, shuffled, cropped and flipped there
             by tensor ops (``data.DeviceBatches``); channels_last; mixed precision as
             ``runtime.autocast_dtype`` picks it (bf16 on recent GPUs and CPUs with
             AVX512-BF16 or AMX, fp16 on older CUDA GPUs); fused SGD; optionally
             ``torch.compile`` and CUDA graphs.
    classic  the recipe of the PyTorch tutorials and of most CIFAR-10 repositories: a data set
             that hands out PIL images, as ``torchvision.datasets.CIFAR10`` does (here over
             the engine's decoded arrays, so both paths see the same pixels), transformed by
             RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize; a
             DataLoader with one worker process per core (shuffled, persistent workers, pinned
             memory on CUDA); float32, NCHW; ``torch.optim.SGD`` with its default kernels; the
             running loss and accuracy read with ``.item()`` every step, as the tutorials do.

Map: ``classic_transform``, ``ClassicCIFAR10``, ``classic_loader`` (the classic recipe's data
set and loader, which Part 3's data-pipeline chapter times too), ``forever`` (epoch after
epoch), ``Pipeline``, ``engine_path`` and ``classic_path`` (the two paths, built from a
``TrainConfig``). ``bench.py`` times them; ``bench_report.py`` reports the timings.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .data import CIFAR10, MEAN, STD, make_splits
from .models import build_model
from .processes import Processes, backend_settings
from .recipe import TrainConfig
from .runtime import autocast_dtype, pick_device, precision_name
from .train import EVAL_BATCH_SIZE, Run

# ---------------------------------------------------------------------------------------
# The classic recipe
# ---------------------------------------------------------------------------------------


def classic_transform(train: bool) -> Callable[[Any], Tensor]:
    """The torchvision transforms of the classic recipe: PIL image -> (3, 32, 32) float tensor."""
    from torchvision import transforms

    to_tensor = [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    if not train:
        return transforms.Compose(to_tensor)
    return transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), *to_tensor])


class ClassicCIFAR10(Dataset):
    """CIFAR-10 served the way ``torchvision.datasets.CIFAR10`` serves it: one PIL image at a time.

    images: (N, 32, 32, 3) uint8 (the engine's decoded arrays, kept as NumPy like torchvision
    keeps them); labels: (N,). Item i is ``(transform(PIL image), label)``.
    """

    def __init__(self, images: Tensor, labels: Tensor, transform: Callable[[Any], Tensor]) -> None:
        self.images = images.numpy()
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), self.labels[index]


def classic_loader(
    dataset: Dataset, batch_size: int, device: torch.device, *, train: bool, workers: int | None = None
) -> DataLoader:
    """The classic DataLoader: ``workers`` processes (default one per core), shuffled for training."""
    workers = (os.cpu_count() or 1) if workers is None else workers
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train,
        drop_last=train,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )


def forever(batches: Callable[[], Iterable[Any]]) -> Iterator[Any]:
    """The items of ``batches()``, then of a fresh ``batches()``, and so on: epoch after epoch."""
    while True:
        yield from batches()


# ---------------------------------------------------------------------------------------
# The two paths, as step functions that fetch their own next batch
# ---------------------------------------------------------------------------------------


@dataclass
class Pipeline:
    """One way to train: a training step and an evaluation step, each on its own next batch."""

    name: str
    setting: str
    model: torch.nn.Module
    train_step: Callable[[], None]
    eval_step: Callable[[], None]
    set_mode: Callable[[bool], None]  # True: training mode, False: eval mode
    close: Callable[[], None] = lambda: None


def engine_path(config: TrainConfig, data: CIFAR10) -> Pipeline:
    """The engine's own ``Run``, each step under the engine's backend settings."""
    device = pick_device(config.device)
    run = Run(config, data, device, Processes(), None)
    training = run.endless_steps()
    test = run.eval_sets["test"]
    evaluation = forever(test.epoch)

    def train_step() -> None:
        with backend_settings(device):
            next(training)

    def eval_step() -> None:
        with backend_settings(device):
            run.evaluate_batch(*next(evaluation))

    parts = [
        "data on device",
        "NHWC" if config.channels_last else "NCHW",
        precision_name(autocast_dtype(device, config.amp)),
        "fused SGD" if run.optimizer.defaults.get("fused") else "SGD",
    ]
    parts += ["CUDA graphs"] if config.cudagraphs else ["compiled"] if config.compile else []
    return Pipeline("engine", ", ".join(parts), run.model, train_step, eval_step, run.network.train)


def classic_path(config: TrainConfig, data: CIFAR10, workers: int | None = None) -> Pipeline:
    """The classic recipe on the engine's images, with the engine's model, batch size and optimizer settings."""
    device = pick_device(config.device)
    splits = make_splits(data, config.val_size, config.train_subset, config.test_subset)
    torch.manual_seed(config.seed)
    model = build_model(config.model).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        nesterov=config.nesterov,
    )
    loaders = [
        classic_loader(ClassicCIFAR10(*split, classic_transform(train)), size, device, train=train, workers=workers)
        for split, size, train in ((splits.train, config.batch_size, True), (splits.test, EVAL_BATCH_SIZE, False))
    ]
    training, evaluation = (forever(lambda loader=loader: loader) for loader in loaders)
    totals = {"loss": 0.0, "correct": 0}  # the running sums the recipe prints

    def train_step() -> None:
        x, y = next(training)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
        loss.backward()
        optimizer.step()
        totals["loss"] += loss.item()
        totals["correct"] += (logits.argmax(1) == y).sum().item()

    @torch.no_grad()
    def eval_step() -> None:
        x, y = next(evaluation)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = model(x)
        totals["loss"] += F.cross_entropy(logits, y, reduction="sum").item()
        totals["correct"] += (logits.argmax(1) == y).sum().item()

    def close() -> None:
        training.close()
        evaluation.close()
        loaders.clear()  # the last references: persistent workers exit with their DataLoader

    workers = loaders[0].num_workers
    setting = f"DataLoader ({workers} worker{'s' * (workers != 1)}), PIL transforms, NCHW, fp32, SGD, .item() each step"
    return Pipeline("classic", setting, model, train_step, eval_step, model.train, close)


__all__ = [
    "ClassicCIFAR10",
    "Pipeline",
    "classic_loader",
    "classic_path",
    "classic_transform",
    "engine_path",
    "forever",
]
