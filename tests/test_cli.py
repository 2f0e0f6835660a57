"""The command line: documented flags, one-line errors that name the fix, runs and results."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from resnets import build_model, checkpoints, cli, profiles, reproduce, results, shipped
from resnets.data import CIFAR10
from resnets.recipe import TrainConfig
from resnets.run_folder import read_metrics


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_help_documents_every_setting_of_a_run(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(["train", "--help"], capsys)
    assert code == 0
    for field in dataclasses.fields(TrainConfig):
        assert "--" + field.name.replace("_", "-") in out, f"--help does not mention {field.name}"
    for text in (
        "checkpoint.pt",
        "metrics.jsonl",
        "run.json",
        "model.pt",
        "torchrun --nproc_per_node",
        "paper",
        "fast",
    ):
        assert text in out
    code, out, _ = run(["reproduce", "--help"], capsys)
    assert code == 0 and "degradation" in out and "table6" in out and "--quick" in out and "--seeds" in out
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "RESNETS_DATA" in out


def test_the_tiny_runs_flags_give_the_tiny_runs_config(
    tiny_config: Callable[..., TrainConfig], tiny_flags: Callable[..., list[str]]
) -> None:
    """The tests start the same tiny run in-process and as a command (tests/conftest.py)."""
    args = cli.build_parser().parse_args(["train", *tiny_flags(epochs=1, out="run")])
    config = tiny_config(epochs=1, out="run")
    for field in dataclasses.fields(TrainConfig):
        given = getattr(args, field.name)
        assert given is None or given == getattr(config, field.name), field.name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--model", "resnet9"], "argument --model: depth 9 is impossible"),
        (["train", "--model", "resnet_56"], "argument --model: unknown model 'resnet_56'. Did you mean resnet56"),
        (["train", "--batch-size", "0"], "argument --batch-size: must be a positive integer; got 0"),
        (["train", "--lr", "-0.1"], "argument --lr: must be a positive number; got -0.1"),
        (["train", "--lr", "fast"], "argument --lr: expected a number; got 'fast'"),
        (["train", "--schedule", "slow"], "argument --schedule: invalid choice: 'slow' (choose from paper, fast, cpu)"),
        (["train", "--epochs", "2", "--iterations", "10"], "argument --iterations: not allowed with argument --epochs"),
        (["reproduce", "table7"], "argument experiment: invalid choice: 'table7'"),
        (["reproduce", "table6", "--quick", "--full"], "argument --full: not allowed with argument --quick"),
    ],
)
def test_usage_errors_are_one_line_naming_the_fix(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2 and message in err.replace("'paper', 'fast', 'cpu'", "paper, fast, cpu")
    assert "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_a_missing_gpu_is_an_error_unless_auto(
    capsys: pytest.CaptureFixture, tiny_flags: Callable[..., list[str]]
) -> None:
    code, _, err = run(["train", *tiny_flags(epochs=1, device="cuda")], capsys)
    assert code == 2 and err.startswith(
        "resnets: error: device 'cuda' was asked for, but this PyTorch sees no CUDA GPU"
    )
    assert "--device auto" in err and "Traceback" not in err


def test_missing_data_is_one_line_naming_the_variable(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_flags: Callable[..., list[str]]
) -> None:
    monkeypatch.setenv("RESNETS_DATA", str(tmp_path / "cifar"))
    code, _, err = run(["train", *tiny_flags(epochs=1, out=str(tmp_path / "run"))], capsys)
    assert code == 2 and "RESNETS_DATA=" in err and "no such file or folder" in err and err.count("\n") == 1


def test_train_then_resume_reads_the_runs_own_settings(
    cifar10: CIFAR10, capsys: pytest.CaptureFixture, tmp_path: Path, tiny_flags: Callable[..., list[str]]
) -> None:
    out = tmp_path / "run"
    code, stdout, _ = run(["train", *tiny_flags(epochs=1, out=str(out))], capsys)
    assert code == 0 and f"Files in {out}" in stdout and "test_error" in stdout
    assert len(read_metrics(out)) == 1
    code, _, err = run(["train", *tiny_flags(epochs=1, out=str(out))], capsys)
    assert code == 2 and "already holds a run" in err and "pass --resume" in err
    code, stdout, _ = run(["train", "--out", str(out), "--resume", "--no-progress"], capsys)
    assert code == 0 and "resnet8, 1 epochs" in stdout
    code, _, err = run(["train", "--out", str(out), "--resume", "--lr", "0.3"], capsys)
    assert code == 2 and "different settings: lr=0.1 (now 0.3)" in err
    (out / "checkpoint.pt").write_bytes((out / "checkpoint.pt").read_bytes()[:5000])
    code, _, err = run(["train", "--out", str(out), "--resume"], capsys)
    assert code == 2 and "checkpoint.pt changed after it was written" in err and "Traceback" not in err


def test_reproduce_writes_results_with_provenance_and_a_figure(
    cifar10: CIFAR10, capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = {"train_subset": 100, "test_subset": 50, "val_size": 0, "epochs": 1, "batch_size": 50, "lr": 0.1}
    for experiment in reproduce.CIFAR_EXPERIMENTS:
        monkeypatch.setitem(profiles.REGISTRY[experiment], "quick", reproduce.CifarSizes((0,), tiny))
    monkeypatch.delenv("RESNETS_CACHE", raising=False)
    args = ["--quick", "--results", str(tmp_path / "results"), "--runs", "none", "--no-progress"]
    code, stdout, _ = run(["reproduce", "degradation", *args], capsys)
    assert code == 0 and "plain_degrades:" in stdout
    saved = json.loads((tmp_path / "results" / "degradation-quick.json").read_text())
    assert set(saved["runs"]) == {"plain20", "plain56", "resnet20", "resnet56"}
    assert {"command", "git_commit", "hardware", "data_checksum", "torch_version"} <= set(saved["provenance"])
    assert saved["provenance"]["command"].startswith("python -m resnets reproduce degradation --quick")
    assert (tmp_path / "results" / "degradation-quick.png").stat().st_size > 10_000
    assert saved["runs"]["plain56"][0]["provenance"]["seed"] == 0

    monkeypatch.setattr(reproduce, "TABLE6_MODELS", ("resnet8", "resnet14"))
    code, stdout, _ = run(["reproduce", "table6", *args, "--seeds", "0", "1"], capsys)
    assert code == 0 and "resnet8" in stdout and "over 2 run(s)" in stdout
    rows = reproduce.table6_summary(results.load_results("table6", "quick", tmp_path / "results"))
    assert [r["runs"] for r in rows] == [2, 2] and all(0 < r["test_error_mean"] < 100 for r in rows)


def test_ship_records_the_flip_test_error_unless_asked_not_to(
    cifar10: CIFAR10, capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "shipped" / "manifest.json"
    monkeypatch.setattr(checkpoints, "MANIFEST", manifest)  # not the package's own
    # measuring is test_table6's part; here, that ship records what it measured, and with what
    monkeypatch.setattr(shipped, "_test_error", lambda *args: 0.125)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    torch.save(build_model("resnet8").state_dict(), run_dir / "model.pt")
    (run_dir / "run.json").write_text(json.dumps({"command": "c", "seed": 0, "config": {"model": "resnet8"}}))
    (run_dir / "metrics.jsonl").write_text('{"epoch": 1, "test_error": 0.9}\n')
    code, stdout, _ = run(["ship", str(run_dir), "--name", "resnet8-tiny"], capsys)
    assert code == 0 and "Shipped resnet8-tiny" in stdout
    assert "flip test-time augmentation" in stdout
    record = checkpoints.read_manifest(manifest)["resnet8-tiny"]["evaluations"][shipped.FLIP_EVALUATION]
    assert record["command"] == f"python -m resnets ship {run_dir} --name resnet8-tiny"
    assert record["data_checksum"] == cifar10.checksum and record["error"] == 0.125
    assert "12.50% on 10,000 test images" in stdout
    code, stdout, _ = run(["ship", str(run_dir), "--name", "resnet8-tiny", "--no-flip-test"], capsys)
    assert code == 0 and "test-time augmentation" not in stdout
    assert "evaluations" not in checkpoints.read_manifest(manifest)["resnet8-tiny"]
