"""The command line's output places: a folder that cannot be made or written (one that /proc
will not make, a file in the way, no permission, a read-only file system) ends in one line
naming what stands in the way and the flag that fixes it, with exit status 2, before any work.

The permission and read-only cases need the real obstacle, so they run the command in a
subprocess: without the permission to override file modes when the tests run as root (whom a
chmod does not stop), and in a mount namespace of its own that holds the read-only mount.
Each skips, saying why, on a machine that allows neither.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from resnets import bench, build_model, checkpoints, cli, reproduce
from resnets import train as train_module

PROC = Path("/proc/self").is_dir()


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def no_work(*args, **kwargs) -> None:
    raise AssertionError("the command began its work before it checked its output folder")


def file_in_the_way(tmp_path: Path) -> Path:
    (tmp_path / "taken").write_text("a file, where the output folder should go")
    return tmp_path / "taken"


# (the place, the words that name what stands in the way)
PLACES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "a folder /proc will not make": (lambda tmp: Path("/proc/nope/run"), "/proc takes no new folders"),
    "a file in its place": (file_in_the_way, "taken is a file, not a folder"),
    "a file above it": (lambda tmp: file_in_the_way(tmp) / "run", "taken is a file, not a folder"),
}
# (the arguments, given the output place and a folder that works; the flag the message names)
COMMANDS: dict[str, tuple[Callable[[Path, Path], list[str]], str]] = {
    "train --out": (lambda out, ok: ["train", "--model", "resnet8", "--out", str(out)], "(--out)"),
    "bench --out": (lambda out, ok: ["bench", "--device", "cpu", "--out", str(out)], "(--out)"),
    "reproduce --results": (
        lambda out, ok: ["reproduce", "degradation", "--quick", "--results", str(out), "--runs", "none"],
        "(--results)",
    ),
    "reproduce --runs": (
        lambda out, ok: ["reproduce", "degradation", "--quick", "--results", str(ok), "--runs", str(out)],
        "(--runs), or keep no checkpoints (--runs none)",
    ),
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_folder_that_cannot_be_made_is_one_line_before_any_work(
    command: str, place: str, capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if place.startswith("a folder /proc") and not PROC:
        pytest.skip("needs Linux's /proc")
    for module in (train_module, bench):
        monkeypatch.setattr(module, "load_cifar10", no_work)
    monkeypatch.setattr(reproduce, "degradation", no_work)
    make_place, obstacle = PLACES[place]
    arguments, flag = COMMANDS[command]
    out = make_place(tmp_path)
    code, err = run(arguments(out, tmp_path / "fine"), capsys)
    assert code == 2 and err.startswith(f"resnets: error: cannot write in {out}: "), err
    assert obstacle in err and err.endswith(f"; choose another folder {flag}.\n") and err.count("\n") == 1, err


@pytest.mark.parametrize("place", PLACES)
def test_ship_into_a_folder_that_cannot_be_written_is_one_line(
    place: str, capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if place.startswith("a folder /proc") and not PROC:
        pytest.skip("needs Linux's /proc")
    make_place, obstacle = PLACES[place]
    shipped = make_place(tmp_path)
    monkeypatch.setattr(checkpoints, "MANIFEST", shipped / "manifest.json")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    torch.save(build_model("resnet8").state_dict(), run_dir / "model.pt")
    (run_dir / "run.json").write_text(json.dumps({"command": "c", "seed": 0, "config": {"model": "resnet8"}}))
    code, err = run(["ship", str(run_dir), "--name", "resnet8-tiny"], capsys)
    assert code == 2 and err.startswith(f"resnets: error: cannot write in {shipped}: ") and obstacle in err, err
    assert err.endswith(f"; {checkpoints.WRITABLE_CLONE}.\n") and err.count("\n") == 1, err


# --- the obstacles a test can only make for a process of its own ---------------------------------


def train_in(out: Path, tmp_path: Path, wrapper: list[str]) -> subprocess.CompletedProcess:
    """``python -m resnets train --out OUT`` under ``wrapper``; data that is not there, so a
    command that did not stop at its folder fails on the data instead of training."""
    env = {**os.environ, "RESNETS_DATA": str(tmp_path / "no-data")}
    command = [*wrapper, sys.executable, "-m", "resnets", "train", "--model", "resnet8", "--out", str(out)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def works(command: list[str]) -> bool:
    return shutil.which(command[0]) is not None and subprocess.run(command, capture_output=True).returncode == 0


def as_a_user_whom_modes_stop() -> list[str]:
    """A wrapper under which a folder's mode bars writing, as it does a normal user."""
    if os.geteuid() != 0:
        return []
    # root passes any mode through CAP_DAC_OVERRIDE; a child without it is held to the owner's bits
    drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    if not works([*drop, "true"]):
        pytest.skip("runs as root, whom a folder's mode does not stop, and setpriv cannot drop that power here")
    return drop


@pytest.mark.parametrize("below", [False, True], ids=["the folder itself", "a folder to make in it"])
def test_a_folder_without_write_permission_is_one_line(tmp_path: Path, below: bool) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        wrapper = as_a_user_whom_modes_stop()
        out = locked / "run" if below else locked
        done = train_in(out, tmp_path, wrapper)
    finally:
        locked.chmod(0o755)  # so that pytest can clean it up
    assert done.returncode == 2, done.stderr[-2000:]
    expected = f"resnets: error: cannot write in {out}: you have no permission to write in {locked}; choose another"
    assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1, done.stderr[-2000:]


def test_a_folder_on_a_read_only_file_system_is_one_line(tmp_path: Path) -> None:
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    # A mount namespace of the child's own holds the read-only mount: nothing outside sees it.
    namespace = ["unshare", "--mount"] + (["--map-root-user"] if os.geteuid() != 0 else [])
    mount_read_only = [*namespace, "sh", "-c", 'mount --bind -o ro "$1" "$1" && shift && exec "$@"', "sh", str(frozen)]
    if not works([*mount_read_only, "sh", "-c", f"! touch {frozen}/probe"]):
        pytest.skip("this machine lets no test process make a read-only mount (unshare --mount, mount --bind -o ro)")
    done = train_in(frozen / "run", tmp_path, mount_read_only)
    assert done.returncode == 2, done.stderr[-2000:]
    expected = f"resnets: error: cannot write in {frozen / 'run'}: {frozen} is on a read-only file system; choose"
    assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1, done.stderr[-2000:]
