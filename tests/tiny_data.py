"""Tiny CIFAR-10-shaped image folders and archives for the loader's error tests."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from resnets.data import CLASSES


def png(seed: int, size: tuple[int, int] = (32, 32)) -> bytes:
    """A random RGB image of ``size`` (width, height), PNG-encoded."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def image_folder_files(per_class: tuple[int, int] = (2, 1)) -> dict[str, bytes]:
    """name -> bytes of a tiny CIFAR-10 image folder (random 32x32 PNGs) under cifar10/."""
    files = {}
    for split, count in zip(("train", "test"), per_class):
        for label, cls in enumerate(CLASSES):
            for i in range(count):
                files[f"cifar10/{split}/{cls}/{i:04d}.png"] = png(1000 * (split == "test") + 10 * label + i)
    return files


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, payload in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
    return root


def write_tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path
