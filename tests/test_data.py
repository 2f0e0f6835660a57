"""The CIFAR-10 loader and the on-device batches: right data, or one error that names the fix."""

from __future__ import annotations

import io
import pickle
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from resnets import data as data_module
from resnets.data import CIFAR10, CLASSES, DataError, DeviceBatches, crop_and_flip, load_cifar10, make_splits
from tiny_data import image_folder_files, png, write_folder, write_tar

SMALL = (2, 1)  # images per class (train, test) in the tiny fixtures


# --- the real copy -----------------------------------------------------------------------


def test_real_copy_is_complete_and_in_torchvision_order(cifar10: CIFAR10) -> None:
    assert cifar10.train_images.shape == (50_000, 32, 32, 3) and cifar10.train_images.dtype == torch.uint8
    assert cifar10.test_images.shape == (10_000, 32, 32, 3)
    assert cifar10.train_labels.bincount().tolist() == [5000] * 10
    assert cifar10.test_labels.bincount().tolist() == [1000] * 10
    # torchvision's CIFAR10.classes (read from batches.meta) is this list; label i is CLASSES[i].
    assert CLASSES == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    assert len(cifar10.checksum) == 64


def test_paper_split_holds_out_500_per_class_and_subsets_stay_balanced(cifar10: CIFAR10) -> None:
    splits = make_splits(cifar10, val_size=5000)
    assert len(splits.train[1]) == 45_000 and len(splits.test[1]) == 10_000
    assert splits.val[1].bincount().tolist() == [500] * 10
    again = make_splits(cifar10, val_size=5000, train_subset=1000, test_subset=200)
    assert torch.equal(again.val[0], splits.val[0]), "the held-out images must not depend on the subset"
    assert again.train[1].bincount().tolist() == [100] * 10 and again.test[1].bincount().tolist() == [20] * 10
    with pytest.raises(ValueError, match=r"train_subset \(--train-subset\) must be a non-negative multiple of 10"):
        make_splits(cifar10, train_subset=55)


# --- tiny folders: decoding, caching, the torchvision path --------------------------------


def test_folder_and_archive_decode_to_the_same_tensors(tmp_path: Path, isolated_cache: Path) -> None:
    files = image_folder_files(SMALL)
    folder = load_cifar10(write_folder(tmp_path / "dir", files), expected_per_class=SMALL)
    archive = load_cifar10(write_tar(tmp_path / "c.tar.gz", files), expected_per_class=SMALL)
    assert folder.train_images.shape == (20, 32, 32, 3) and folder.test_images.shape == (10, 32, 32, 3)
    assert folder.train_labels.tolist() == [c for c in range(10) for _ in range(2)]
    assert folder.checksum == archive.checksum and torch.equal(folder.train_images, archive.train_images)
    first = Image.open(io.BytesIO(files["cifar10/train/airplane/0000.png"]))
    assert torch.equal(folder.train_images[0], torch.from_numpy(np.array(first)))
    assert folder.encoding == "PNG" and "lossless" in folder.note


@pytest.mark.parametrize("quality", [40, 75, 95])
def test_a_jpeg_copy_says_so_with_its_quality(tmp_path: Path, isolated_cache: Path, quality: int) -> None:
    def jpeg(payload: bytes) -> bytes:
        buffer = io.BytesIO()
        Image.open(io.BytesIO(payload)).save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()

    files = {name.replace(".png", ".jpg"): jpeg(payload) for name, payload in image_folder_files(SMALL).items()}
    loaded = load_cifar10(write_folder(tmp_path / "jpeg", files), expected_per_class=SMALL)
    assert loaded.encoding == f"JPEG q{quality}"
    assert loaded.note.startswith(f"CIFAR-10 re-encoded as JPEG q{quality} (lossy")


def test_decoded_set_is_cached_and_a_damaged_cache_is_rebuilt(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    source = write_tar(tmp_path / "c.tar.gz", image_folder_files(SMALL))
    first = load_cifar10(source, expected_per_class=SMALL)
    (cached,) = isolated_cache.glob("resnets/cifar10-*.pt")
    monkeypatch.setattr(data_module, "_loaded", {})
    monkeypatch.setattr(data_module, "decode_image_folder", lambda *a: pytest.fail("decoded again despite the cache"))
    assert load_cifar10(source, expected_per_class=SMALL).checksum == first.checksum
    cached.write_bytes(cached.read_bytes()[:100])
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated_cache))
    monkeypatch.setattr(data_module, "_loaded", {})
    assert load_cifar10(source, expected_per_class=SMALL).checksum == first.checksum
    assert "is damaged; decoding the source again" in capsys.readouterr().out


def _torchvision_folder(root: Path, label_names: list[str]) -> Path:
    """A miniature cifar-10-batches-py (2 images per batch) in torchvision's pickle format."""
    batches = root / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        entry = {"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), "labels": [i % 10, (i + 1) % 10]}
        (batches / name).write_bytes(pickle.dumps(entry))
    (batches / "batches.meta").write_bytes(pickle.dumps({"label_names": label_names}))
    return root


def test_torchvision_layout_is_read_in_its_own_class_order(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    # Our miniature has other MD5 sums than the real files; skip torchvision's check of them.
    monkeypatch.setattr(TorchvisionCIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args: True)
    loaded = load_cifar10(_torchvision_folder(tmp_path / "ok", list(CLASSES)), expected_per_class=None)
    assert loaded.train_images.shape == (10, 32, 32, 3) and loaded.test_labels.tolist() == [5, 6]
    assert not loaded.from_image_folder
    shuffled = list(reversed(CLASSES))
    with pytest.raises(DataError, match=r"lists classes \['truck'.*expected \['airplane'"):
        load_cifar10(_torchvision_folder(tmp_path / "bad", shuffled), expected_per_class=None)


def test_no_network_says_to_point_resnets_data_at_a_local_copy(
    isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.delenv("RESNETS_DATA", raising=False)
    monkeypatch.setattr(TorchvisionCIFAR10, "__init__", offline)
    with pytest.raises(
        DataError, match=r"could not download CIFAR-10 \(URLError.*name resolution.*point RESNETS_DATA at a local copy"
    ):
        load_cifar10()


# --- tiny folders: every way a copy can be broken -----------------------------------------


def test_missing_source_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RESNETS_DATA", str(tmp_path / "nowhere.tar.gz"))
    with pytest.raises(
        DataError,
        match=r"RESNETS_DATA='.*nowhere.tar.gz': no such file or folder\. "
        r"RESNETS_DATA must point at CIFAR-10 in image-folder layout",
    ):
        load_cifar10()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: {k: v for k, v in f.items() if "/cat/" not in k or "/test/" in k},
            r"train/ has no folder \(or no images\) for class\(es\) cat",
        ),
        (
            lambda f: {k.replace("cifar10/train/", "cifar10/training/"): v for k, v in f.items()},
            r"train/ has no folder .* for class\(es\) airplane, automobile",
        ),
        (
            lambda f: {k.replace("/train/", "/").replace("/test/", "/"): v for k, v in f.items()},
            r"found no train/<class>/<image> or test/<class>/<image> files",
        ),
        (
            lambda f: {**f, "cifar10/train/dog/0007.png": b"\x89PNG\r\n\x1a\n garbage"},
            r"cifar10/train/dog/0007\.png: cannot decode it \(.*the file is damaged, replace or delete it",
        ),
        (
            lambda f: {**f, "cifar10/test/ship/0009.png": png(1, (31, 32))},
            r"cifar10/test/ship/0009\.png is 31x32 pixels; CIFAR-10 images are 32x32",
        ),
        (
            lambda f: (
                {k: v for k, v in f.items() if k != "cifar10/test/frog/0000.png"}
                | {"cifar10/test/frog/0001.png": png(2)}
                | {"cifar10/test/horse/0001.png": png(3)}
            ),
            r"test/horse has 2 images, CIFAR-10 has 1: the copy is partial",
        ),
        (lambda f: {**f, "cifar10/train/unicorn/0000.png": png(4)}, r"unexpected class folder\(s\) train/unicorn"),
        (lambda f: {**f, "cifar10/train/cat/notes.txt": b"hello"}, r"cifar10/train/cat/notes\.txt is not an image"),
    ],
    ids=[
        "class-missing",
        "wrong-split-name",
        "flat-layout",
        "unreadable-image",
        "wrong-size",
        "partial",
        "extra-class",
        "stray-file",
    ],
)
def test_broken_folder_gets_an_error_naming_the_problem(
    tmp_path: Path, isolated_cache: Path, change, message: str
) -> None:
    source = write_tar(tmp_path / "broken.tar.gz", change(image_folder_files(SMALL)))
    with pytest.raises(DataError, match=message):
        load_cifar10(source, expected_per_class=SMALL)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=0.995))
def test_truncated_archive_is_reported_as_such(tmp_path_factory: pytest.TempPathFactory, cut: float) -> None:
    folder = tmp_path_factory.mktemp("cut")
    whole = write_tar(folder / "whole.tar.gz", image_folder_files(SMALL)).read_bytes()
    truncated = folder / "cifar10.tar.gz"
    truncated.write_bytes(whole[: int(cut * len(whole))])
    with pytest.raises(DataError, match=r"cifar10\.tar\.gz is truncated or corrupt \(.*Copy or download it again"):
        load_cifar10(truncated, expected_per_class=SMALL)


@settings(max_examples=12, deadline=None)
@given(position=st.floats(min_value=0.0, max_value=1.0), byte=st.integers(1, 255))
def test_corrupted_archive_fails_with_a_data_error_or_loads_the_same_images(
    tmp_path_factory: pytest.TempPathFactory, position: float, byte: int
) -> None:
    folder = tmp_path_factory.mktemp("flip")
    whole = bytearray(write_tar(folder / "whole.tar.gz", image_folder_files(SMALL)).read_bytes())
    index = min(int(position * len(whole)), len(whole) - 1)
    whole[index] ^= byte
    damaged = folder / "damaged.tar.gz"
    damaged.write_bytes(bytes(whole))
    try:
        loaded = data_module.decode_image_folder(damaged, SMALL)
    except DataError as err:
        assert "damaged.tar.gz" in str(err)
    else:  # gzip's CRC makes a silent change impossible; only a flip in ignored header bytes gets through
        reference = data_module.decode_image_folder(folder / "whole.tar.gz", SMALL)
        assert loaded.checksum == reference.checksum


# --- batches on the device ----------------------------------------------------------------


def test_crop_and_flip_match_torchvision_pad_crop_flip() -> None:
    x = torch.randn(6, 3, 32, 32)
    dx, dy = torch.tensor([0, 8, 4, 3, 8, 0]), torch.tensor([0, 8, 4, 7, 0, 8])
    flip = torch.tensor([False, True, False, True, True, False])
    out = crop_and_flip(x, dx, dy, flip)
    for i in range(6):
        expected = TF.crop(TF.pad(x[i], [4], fill=0), int(dy[i]), int(dx[i]), 32, 32)
        if flip[i]:
            expected = TF.horizontal_flip(expected)
        assert torch.equal(out[i], expected)


def _toy(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return images, torch.arange(n) % 10


def test_epochs_are_a_function_of_seed_and_epoch_and_resume_mid_epoch() -> None:
    batches = DeviceBatches(*_toy(), 8, train=True, seed=3)
    assert len(batches) == 5
    first = [(x.clone(), y.clone()) for x, y in batches.epoch(2)]
    again = list(DeviceBatches(*_toy(), 8, train=True, seed=3).epoch(2, start=3))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first[3:], again))
    other = next(iter(batches.epoch(3)))
    assert not torch.equal(first[0][1], other[1]), "each epoch reshuffles"
    x, y = first[0]
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)


def test_evaluation_batches_cover_every_image_once_unaugmented() -> None:
    images, labels = _toy(45)
    batches = DeviceBatches(images, labels, 20, train=False)
    assert len(batches) == 3
    seen = torch.cat([y for _, y in batches.epoch()])
    assert torch.equal(seen, labels)
    assert torch.allclose(next(iter(batches.epoch()))[0], data_module.normalize(images[:20]))


def test_two_ranks_split_every_global_batch_between_them() -> None:
    whole = [y for _, y in DeviceBatches(*_toy(), 8, train=True, seed=1).epoch(0)]
    ranks = [
        [y for _, y in DeviceBatches(*_toy(), 8, train=True, seed=1, rank=r, world_size=2).epoch(0)] for r in (0, 1)
    ]
    for b, batch in enumerate(whole):
        assert torch.equal(torch.cat([ranks[0][b], ranks[1][b]]).sort().values, batch.sort().values)


def test_bad_batch_sizes_are_explained() -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive integer; got 0"):
        DeviceBatches(*_toy(), 0, train=True)
    with pytest.raises(ValueError, match="batch size 64 is larger than the 40 training images; lower --batch-size"):
        DeviceBatches(*_toy(), 64, train=True)
    with pytest.raises(ValueError, match="batch size 9 does not split evenly over 2 processes"):
        DeviceBatches(*_toy(), 9, train=True, world_size=2)


def test_a_failed_cache_write_only_costs_speed(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    source = write_tar(tmp_path / "c.tar.gz", image_folder_files(SMALL))

    def disk_full(*args, **kwargs):
        raise data_module.FileError("could not write cifar10-x.pt: the disk is full.")

    monkeypatch.setattr(data_module, "write_atomic", disk_full)
    assert load_cifar10(source, expected_per_class=SMALL).train_images.shape == (20, 32, 32, 3)
    assert "could not cache the decoded images" in capsys.readouterr().out


def test_channel_stats_match_numpy_whatever_the_chunk() -> None:
    images = torch.randint(0, 256, (23, 4, 5, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    pixels = images.numpy().reshape(-1, 3) / 255
    for chunk in (1, 7, 100):
        mean, std = data_module.channel_stats(images, chunk=chunk)
        np.testing.assert_allclose(mean, pixels.mean(0), rtol=1e-12)
        np.testing.assert_allclose(std, pixels.std(0), rtol=1e-9)
    mean, std = data_module.channel_stats(torch.full((2, 2, 2, 3), 51, dtype=torch.uint8))
    np.testing.assert_allclose(mean, [0.2] * 3), np.testing.assert_allclose(std, [0.0] * 3, atol=1e-6)
    with pytest.raises(ValueError, match="expected uint8 images of shape"):
        data_module.channel_stats(images.float())


def test_normalisation_constants_fit_the_real_training_set(cifar10: CIFAR10) -> None:
    # MEAN and STD are the original release's; a lossy re-encoding moves them by well under 0.01.
    mean, std = data_module.channel_stats(cifar10.train_images)
    np.testing.assert_allclose(mean, data_module.MEAN, atol=0.01)
    np.testing.assert_allclose(std, data_module.STD, atol=0.01)
