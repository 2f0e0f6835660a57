"""A run folder belongs to one process, and a file that changed on disk is refused.

The folder machinery (files.py) on its own, then the scenarios of issue 15 replayed on real runs:
a byte flipped in each kind of file a run writes, a SIGKILL at every moment of a checkpoint's
save, two `train` commands started at once on one folder, a lock left by a dead process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from resnets import build_model, checkpoints, run_folder
from resnets.checkpoints import load_file
from resnets.data import CIFAR10
from resnets.files import SUMS, FileError, FolderInUse, VerifiedFolder, lock_folder, previous_name
from resnets.recipe import TrainConfig
from resnets.run_folder import read_metrics, resumable_checkpoint
from resnets.train import train


def flip_a_byte(path: Path) -> None:
    """Change one byte in the middle of ``path``, as a bad disk or a partial copy would."""
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    path.write_bytes(bytes(payload))


# --- the folder on its own ---------------------------------------------------------------------


def test_saved_files_verify_and_the_sums_are_sha256sum_format(tmp_path: Path) -> None:
    folder = VerifiedFolder(tmp_path)
    folder.save("a.bin", b"first")
    folder.save_text("b.txt", "second\n")
    assert folder.verify("a.bin").read_bytes() == b"first"
    lines = (tmp_path / SUMS).read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == ["a.bin", "b.txt"] and all(
        len(line.split("  ")[0]) == 64 for line in lines
    )
    if shutil.which("sha256sum"):
        check = subprocess.run(["sha256sum", "-c", SUMS], cwd=tmp_path, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_a_changed_file_is_refused_with_the_previous_good_one_named(tmp_path: Path) -> None:
    folder = VerifiedFolder(tmp_path)
    folder.save("checkpoint.pt", b"epoch 1" * 100, keep_previous=True)
    folder.save("checkpoint.pt", b"epoch 2" * 100, keep_previous=True)
    assert (tmp_path / "checkpoint.prev.pt").read_bytes() == b"epoch 1" * 100
    assert folder.verify("checkpoint.prev.pt") and folder.verify("checkpoint.pt")
    flip_a_byte(tmp_path / "checkpoint.pt")
    with pytest.raises(
        FileError,
        match=r"checkpoint\.pt changed after it was written .* "
        r"The previous good version, checkpoint\.prev\.pt, is kept: delete checkpoint\.pt",
    ):
        folder.verify("checkpoint.pt")
    flip_a_byte(tmp_path / "checkpoint.prev.pt")
    with pytest.raises(FileError, match=r"It was not used\. Start again in a new folder \(--out\)"):
        folder.verify("checkpoint.pt")


def test_a_damaged_file_is_not_kept_as_the_previous_good_one(tmp_path: Path) -> None:
    folder = VerifiedFolder(tmp_path)
    folder.save("checkpoint.pt", b"one", keep_previous=True)
    folder.save("checkpoint.pt", b"two", keep_previous=True)
    (tmp_path / "checkpoint.pt").write_bytes(b"bad")
    folder.save("checkpoint.pt", b"three", keep_previous=True)
    assert (tmp_path / "checkpoint.prev.pt").read_bytes() == b"one" and folder.verify("checkpoint.prev.pt")


def test_an_unlisted_file_in_a_verified_folder_is_refused(tmp_path: Path) -> None:
    folder = VerifiedFolder(tmp_path)
    folder.save("run.json", b"{}")
    (tmp_path / "model.pt").write_bytes(b"from elsewhere")
    with pytest.raises(FileError, match=r"model\.pt is not listed in .*SHA256SUMS: it was not written by this run"):
        folder.verify("model.pt")


def test_a_folder_from_before_digests_is_read_unchecked(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"old run")
    assert VerifiedFolder(tmp_path).verify("model.pt") == tmp_path / "model.pt"


def test_previous_names() -> None:
    assert previous_name("checkpoint.pt") == "checkpoint.prev.pt" and previous_name("README") == "README.prev"


# --- SIGKILL at every moment of a save -----------------------------------------------------------

KILL_AT_RENAME = textwrap.dedent(
    """
    import os, sys
    from resnets.files import VerifiedFolder
    folder, kill_at = VerifiedFolder(sys.argv[1]), int(sys.argv[2])
    replace, calls = os.replace, [0]
    def dying_replace(*args):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), 9)
        replace(*args)
    os.replace = dying_replace
    folder.save("checkpoint.pt", b"epoch 3" * 1000, keep_previous=True)
    print(calls[0])
    """
)


def test_a_sigkill_at_any_rename_of_a_save_leaves_a_resumable_folder(tmp_path: Path) -> None:
    """The save renames several files (sums, previous, new, sums); a kill before each one, and
    after the last, leaves a folder whose checkpoint verifies and is epoch 2's or epoch 3's."""
    renames = None
    kill_at = 1
    while renames is None or kill_at <= renames + 1:
        folder = VerifiedFolder(tmp_path / f"kill{kill_at}")
        folder.save("checkpoint.pt", b"epoch 1" * 1000, keep_previous=True)
        folder.save("checkpoint.pt", b"epoch 2" * 1000, keep_previous=True)
        child = subprocess.run(
            [sys.executable, "-c", KILL_AT_RENAME, str(folder.path), str(kill_at)], capture_output=True, text=True
        )
        if child.returncode == 0:
            renames = int(child.stdout)
        else:
            assert child.returncode == -signal.SIGKILL, child.stderr
        path = resumable_checkpoint(folder.path)
        assert path is not None and path.read_bytes() in (b"epoch 2" * 1000, b"epoch 3" * 1000), (
            f"killed at rename {kill_at}"
        )
        kill_at += 1
    assert renames is not None and renames >= 3, "the save should rename sums, previous and new files"


# --- one process per folder ------------------------------------------------------------------

HOLD = textwrap.dedent(
    """
    import sys, time
    from resnets.files import lock_folder
    with lock_folder(sys.argv[1], "holding for a test"):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def _holder(folder: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_held_folder_is_refused_naming_the_holder_and_freed_when_it_is_killed(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    try:
        with pytest.raises(
            FolderInUse,
            match=rf"{tmp_path} is in use by process {holder.pid} \(holding for a test\); wait for it to finish",
        ):
            with lock_folder(tmp_path, "second"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / ".lock").exists(), "the dead process's lock file is still there..."
    with lock_folder(tmp_path, "after the holder died"):  # ...and blocks nothing
        assert str(os.getpid()) in (tmp_path / ".lock").read_text()


def test_ship_refuses_a_manifest_folder_another_process_holds(tmp_path: Path) -> None:
    holder = _holder(tmp_path / "assets")
    try:
        run = tmp_path / "run"
        folder = VerifiedFolder(run)
        folder.save("model.pt", checkpoints.serialize(build_model("resnet8").state_dict()))
        folder.save_text("run.json", json.dumps({"config": {"model": "resnet8"}}))
        with pytest.raises(FolderInUse, match=f"in use by process {holder.pid}"):
            run_folder.ship(run, "x", manifest=tmp_path / "assets" / "manifest.json")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


# --- real runs -------------------------------------------------------------------------------

# The tests' tiny run (tests/conftest.py) on 500 images without validation: 10 steps an epoch.
SAVES = dict(batch_size=50, train_subset=500, val_size=0, test_subset=100)


@pytest.fixture(scope="module")
def finished_run(
    cifar10: CIFAR10, tmp_path_factory: pytest.TempPathFactory, tiny_config: Callable[..., TrainConfig]
) -> Path:
    out = tmp_path_factory.mktemp("runs") / "resnet8"
    train(tiny_config(**SAVES, out=str(out)), cifar10)
    return out


def test_a_run_lists_every_file_it_writes(finished_run: Path) -> None:
    listed = VerifiedFolder(finished_run).sums()
    assert set(listed) == {"checkpoint.pt", "checkpoint.prev.pt", "metrics.jsonl", "model.pt", "run.json"}
    assert all(len(digests) == 1 for digests in listed.values()), "a finished save leaves one digest per file"
    assert (
        load_file(finished_run / "checkpoint.prev.pt")["state"]["epoch"] == 1
        and load_file(finished_run / "checkpoint.pt")["state"]["epoch"] == 2
    )


@pytest.mark.parametrize("name", ["checkpoint.pt", "model.pt", "metrics.jsonl", "run.json"])
def test_a_byte_flipped_in_any_file_of_a_run_is_refused(
    finished_run: Path, tmp_path: Path, name: str, tiny_config: Callable[..., TrainConfig]
) -> None:
    run = shutil.copytree(finished_run, tmp_path / "run")
    flip_a_byte(run / name)
    refusal = rf"{name} changed after it was written .* It was not used\."
    if name == "checkpoint.pt":
        with pytest.raises(FileError, match=refusal + r" The previous good version, checkpoint\.prev\.pt, is kept"):
            train(tiny_config(**SAVES, out=str(run), epochs=3, resume=True))
    else:
        with pytest.raises(FileError, match=refusal):
            run_folder.ship(run, "x", manifest=tmp_path / "assets" / "manifest.json")
    if name == "metrics.jsonl":
        with pytest.raises(FileError, match=refusal):
            read_metrics(run)


def test_deleting_a_damaged_checkpoint_resumes_from_the_previous_one_with_the_same_result(
    finished_run: Path, tmp_path: Path, cifar10: CIFAR10, tiny_config: Callable[..., TrainConfig]
) -> None:
    run = shutil.copytree(finished_run, tmp_path / "run")
    (run / "model.pt").unlink()
    flip_a_byte(run / "checkpoint.pt")
    (run / "checkpoint.pt").unlink()  # what the refusal tells the user to do
    # epoch 2 again, from epoch 1's checkpoint
    resumed = train(tiny_config(**SAVES, out=str(run), resume=True), cifar10)
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2]
    expected = load_file(finished_run / "model.pt")
    assert all(torch.equal(v, expected[k]) for k, v in load_file(run / "model.pt").items())
    assert resumed.metrics[-1]["test_error"] == read_metrics(finished_run)[-1]["test_error"]


def test_two_train_commands_started_at_once_give_one_run_and_one_refusal(
    cifar10: CIFAR10, tmp_path: Path, tiny_flags: Callable[..., list[str]]
) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "resnets", "train", *tiny_flags(**SAVES, out=str(out))]
    first, second = (
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    )
    results = sorted(((p.wait(timeout=300), *p.communicate()) for p in (first, second)), key=lambda r: r[0])
    (ok, ok_out, _), (refused, _, refusal) = results
    assert ok == 0 and "Done: resnet8, 2 epochs" in ok_out
    assert refused == 2 and refusal.count("\n") == 1, refusal
    # Refused either while the other trains, or after it finished (then the folder holds a run).
    # In the instant between the other's lock and its writing its pid, the holder is "another
    # process"; either way the line says the folder is in use.
    assert "is in use by " in refusal or "already holds a run" in refusal, refusal
    assert [m["epoch"] for m in read_metrics(out)] == [1, 2]


def test_train_refuses_a_folder_another_process_holds(
    tmp_path: Path, cifar10: CIFAR10, tiny_config: Callable[..., TrainConfig]
) -> None:
    holder = _holder(tmp_path / "run")
    try:
        started = time.monotonic()
        with pytest.raises(FolderInUse, match=rf"run is in use by process {holder.pid}"):
            train(tiny_config(**SAVES, out=str(tmp_path / "run")), cifar10)
        assert time.monotonic() - started < 30, "the refusal comes at once, before any training"
        assert not (tmp_path / "run" / "metrics.jsonl").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def test_reproduce_refuses_a_run_folder_another_process_holds(tmp_path: Path, cifar10: CIFAR10) -> None:
    from resnets import reproduce

    first = tmp_path / "degradation" / "quick" / f"{reproduce.DEGRADATION_MODELS[0]}-s0"
    holder = _holder(first)
    try:
        with pytest.raises(FolderInUse, match=rf"{first} is in use by process {holder.pid}"):
            reproduce.degradation("quick", device="cpu", runs_dir=str(tmp_path), progress=False)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
