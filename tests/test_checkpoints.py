"""Checkpoints: never half-written, never executing code, every mismatch explained."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from resnets import build_model, checkpoints, run_folder
from resnets.checkpoints import CheckpointError, load_file, load_pretrained, load_state_dict, model_state, save_atomic
from resnets.files import FileError, sha256_file


def test_save_atomic_round_trips_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = save_atomic({"w": torch.arange(5)}, tmp_path / "ck.pt")
    assert torch.equal(load_file(path)["w"], torch.arange(5))
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_atomic({"epoch": 1, "w": torch.ones(1000)}, tmp_path / "ck.pt")
    before = path.read_bytes()

    def write_half_then_fill_the_disk(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04" + b"\0" * 5000)  # the start of a zip file, as torch.save would write
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoints.torch, "save", write_half_then_fill_the_disk)
    with pytest.raises(
        FileError, match=r"could not write .*ck\.pt: the disk is full\. The previous ck\.pt is intact\. Free some space"
    ):
        save_atomic({"epoch": 2, "w": torch.zeros(1000)}, path)
    assert path.read_bytes() == before and load_file(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"], "the half-written temporary file must be removed"


def test_a_crash_during_the_write_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_atomic({"epoch": 1}, tmp_path / "ck.pt")

    def interrupted(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_atomic({"epoch": 2}, path)
    assert load_file(path) == {"epoch": 1} and len(list(tmp_path.iterdir())) == 1


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "resnet8.pt"
    torch.save({"model": build_model("resnet8").state_dict(), "epoch": 3}, path)
    return path


@settings(max_examples=25, deadline=None)
@given(fraction=st.floats(min_value=0.0, max_value=0.999))
def test_a_truncated_checkpoint_is_named_and_explained(
    tmp_path_factory: pytest.TempPathFactory, saved_model: Path, fraction: float
) -> None:
    whole = saved_model.read_bytes()
    path = tmp_path_factory.mktemp("cut") / "checkpoint.pt"
    path.write_bytes(whole[: int(fraction * len(whole))])
    with pytest.raises(
        CheckpointError,
        match=r"checkpoint\.pt is truncated or corrupt \([\d,]+ bytes; .*delete it and resume from an earlier copy",
    ):
        load_file(path)


@settings(max_examples=25, deadline=None)
@given(position=st.floats(min_value=0.0, max_value=1.0), byte=st.integers(1, 255))
def test_a_corrupted_checkpoint_never_escapes_as_a_torch_error(
    tmp_path_factory: pytest.TempPathFactory, saved_model: Path, position: float, byte: int
) -> None:
    damaged = bytearray(saved_model.read_bytes())
    damaged[min(int(position * len(damaged)), len(damaged) - 1)] ^= byte
    path = tmp_path_factory.mktemp("flip") / "checkpoint.pt"
    path.write_bytes(bytes(damaged))
    try:
        loaded = load_file(path)
    except CheckpointError as err:
        assert "checkpoint.pt" in str(err)
    else:
        # A flipped byte inside raw tensor data can go unnoticed (a zip has no checksum that
        # torch checks); what loads must still be the same structure. The shipped
        # checkpoints' SHA-256 catches this case (see the manifest test below).
        assert set(loaded) == {"model", "epoch"}


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_checkpoint_carrying_code_is_refused_without_running_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": _RunsCode()}, path)
    with pytest.raises(
        CheckpointError, match=r"evil\.pt holds more than tensors \(weights_only loading refused it.*nothing in it ran"
    ):
        load_file(path)
    assert not (tmp_path / "pwned").exists()


def test_a_missing_file_is_named() -> None:
    with pytest.raises(CheckpointError, match="no checkpoint at /nowhere/ck.pt"):
        load_file("/nowhere/ck.pt")


def test_loading_another_models_weights_names_the_mismatching_keys() -> None:
    with pytest.raises(
        CheckpointError,
        match=r"was saved from resnet20, but the model is resnet32: "
        r"missing keys \(\d+\): layer1\.3\.conv1\.weight, .*Build the model with build_model\('resnet20'\)",
    ):
        load_state_dict(build_model("resnet32"), build_model("resnet20").state_dict(), arch="resnet20")
    with pytest.raises(
        CheckpointError,
        match=r"does not fit resnet20: shape mismatches \(file vs model\) \(2\): "
        r"fc\.weight \(100, 64\) vs \(10, 64\), fc\.bias",
    ):
        load_state_dict(build_model("resnet20"), build_model("resnet20", num_classes=100).state_dict())
    with pytest.raises(CheckpointError, match=r"unexpected keys \(\d+\): .*downsample\.0\.weight"):
        load_state_dict(build_model("resnet20"), build_model("resnet20", shortcut="B").state_dict())
    with pytest.raises(CheckpointError, match="does not hold a state dict"):
        load_state_dict(build_model("resnet20"), {"model": "weights"})


def test_wrappers_prefixes_are_never_saved_and_are_accepted_on_load() -> None:
    model = build_model("resnet8")
    wrapped = nn.DataParallel(model)  # stands in for DistributedDataParallel: both add "module."
    assert all(k.startswith("module.") for k in wrapped.state_dict())
    clean = model_state(wrapped)
    assert list(clean) == list(model.state_dict())
    fresh = build_model("resnet8")
    load_state_dict(fresh, wrapped.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))


def _manifest(folder: Path, payload: bytes, sha: str) -> Path:
    (folder / "resnet8-test.pt").write_bytes(payload)
    manifest = folder / "manifest.json"
    entry = {"file": "resnet8-test.pt", "sha256": sha, "arch": "resnet8", "provenance": {"command": "test"}}
    manifest.write_text(json.dumps({"checkpoints": {"resnet8-test": entry}}))
    return manifest


def test_shipped_checkpoints_are_verified_before_loading(tmp_path: Path) -> None:
    model = build_model("resnet8")
    torch.save(model.state_dict(), tmp_path / "w.pt")
    payload = (tmp_path / "w.pt").read_bytes()
    manifest = _manifest(tmp_path, payload, sha256_file(tmp_path / "w.pt"))
    loaded = load_pretrained("resnet8-test", manifest)
    assert not loaded.training and torch.equal(loaded.fc.weight, model.fc.weight)
    with pytest.raises(CheckpointError, match=r"no shipped checkpoint named 'resnet9'; available: resnet8-test"):
        load_pretrained("resnet9", manifest)
    tampered = bytearray(payload)
    tampered[-100] ^= 1
    (tmp_path / "resnet8-test.pt").write_bytes(bytes(tampered))
    with pytest.raises(
        CheckpointError,
        match=r"has SHA-256 [0-9a-f]{16}\.\.\., but the manifest lists [0-9a-f]{16}\.\.\.: "
        r"the file is damaged or was replaced\. It was not loaded",
    ):
        load_pretrained("resnet8-test", manifest)


def test_every_checkpoint_shipped_with_the_package_loads_strictly_on_cpu() -> None:
    entries = checkpoints.read_manifest()
    if not entries:
        pytest.skip("no trained checkpoints are shipped yet (python -m resnets ship RUN --name NAME adds one)")
    for name, entry in entries.items():
        path = checkpoints.MANIFEST.parent / entry["file"]
        assert path.stat().st_size <= 4 * 2**20, f"{name} is over 4 MB"
        assert {"command", "git_commit", "hardware", "data_checksum", "seed"} <= set(entry["provenance"])
        model = load_pretrained(name)
        assert model.arch == entry["arch"]


def test_ship_lists_a_finished_run_with_its_checksum_and_provenance(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    model = build_model("resnet8")
    torch.save(model.state_dict(), run / "model.pt")
    provenance = {
        "command": "python -m resnets train --model resnet8",
        "git_commit": "abc",
        "hardware": "1 x CPU",
        "data_checksum": "e00b",
        "seed": 0,
        "config": {"model": "resnet8"},
    }
    (run / "run.json").write_text(json.dumps(provenance))
    (run / "metrics.jsonl").write_text('{"epoch": 1, "test_error": 0.5}\n{"epoch": 2, "test_error": 0.4}\n')
    manifest = tmp_path / "shipped" / "manifest.json"
    entry = run_folder.ship(run, "resnet8-tiny", manifest)
    assert entry["sha256"] == sha256_file(run / "model.pt") and entry["provenance"]["seed"] == 0
    assert [m["test_error"] for m in entry["metrics"]] == [0.5, 0.4]
    assert checkpoints.read_manifest(manifest)["resnet8-tiny"]["metrics"] == entry["metrics"]
    assert torch.equal(load_pretrained("resnet8-tiny", manifest).fc.weight, model.fc.weight)
    with pytest.raises(CheckpointError, match=r"holds no finished run \(model\.pt and run\.json\)"):
        run_folder.ship(tmp_path / "nothing", "x", manifest)
    provenance["config"]["model"] = "resnet14"
    (run / "run.json").write_text(json.dumps(provenance))
    with pytest.raises(CheckpointError, match=r"model\.pt does not fit resnet14: missing keys"):
        run_folder.ship(run, "mislabelled", manifest)


def test_an_evaluation_is_recorded_beside_the_shipped_weights_and_dropped_with_them(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    torch.save(build_model("resnet8").state_dict(), run / "model.pt")
    (run / "run.json").write_text(json.dumps({"command": "c", "seed": 0, "config": {"model": "resnet8"}}))
    manifest = tmp_path / "shipped" / "manifest.json"
    run_folder.ship(run, "resnet8-tiny", manifest)
    checkpoints.record_evaluation("resnet8-tiny", "flip", {"error": 0.3}, manifest)
    entry = checkpoints.record_evaluation("resnet8-tiny", "other", {"error": 0.2}, manifest)
    assert entry["evaluations"] == {"flip": {"error": 0.3}, "other": {"error": 0.2}}
    assert checkpoints.read_manifest(manifest)["resnet8-tiny"]["evaluations"] == entry["evaluations"]
    checkpoints.record_evaluation("resnet8-tiny", "flip", {"error": 0.25}, manifest)  # measured again
    assert checkpoints.read_manifest(manifest)["resnet8-tiny"]["evaluations"]["flip"] == {"error": 0.25}
    run_folder.ship(run, "resnet8-tiny", manifest)  # new weights: the old ones' measurements go
    assert "evaluations" not in checkpoints.read_manifest(manifest)["resnet8-tiny"]
    with pytest.raises(CheckpointError, match=r"no shipped checkpoint named 'resnet8-other' .*ship it first"):
        checkpoints.record_evaluation("resnet8-other", "flip", {"error": 0.3}, manifest)
