"""Device, profile and seeding: the set-up every chapter runs first."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from resnets import runtime


def test_profile_defaults_to_quick_on_cpu_and_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESNETS_PROFILE", raising=False)
    assert runtime.get_profile(torch.device("cpu")) == "quick"
    assert runtime.get_profile(torch.device("cuda")) == "full"
    monkeypatch.setenv("RESNETS_PROFILE", " Full ")
    assert runtime.get_profile(torch.device("cpu")) == "full"


def test_unknown_profile_names_the_valid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESNETS_PROFILE", "fast")
    with pytest.raises(ValueError, match="RESNETS_PROFILE='fast' is not a profile; set it to one of: quick, full"):
        runtime.get_profile()


def test_auto_device_and_cpu() -> None:
    assert runtime.pick_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected:
        assert runtime.pick_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_cuda_is_an_error_for_pick_device_and_a_note_for_setup(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(RuntimeError, match="sees no CUDA GPU.*--device auto"):
        runtime.pick_device("cuda")
    rt = runtime.setup(device="cuda")
    assert rt.device.type in ("cpu", "mps")
    assert "Falling back" in capsys.readouterr().out


def test_unknown_device_string() -> None:
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        runtime.pick_device("gpu")


def test_setup_seeds_everything() -> None:
    runtime.setup(seed=3, verbose=False)
    a = torch.rand(3)
    runtime.setup(seed=3, verbose=False)
    assert torch.equal(a, torch.rand(3))


def test_native_bf16_follows_the_hardware() -> None:
    cpu_has_bf16 = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert runtime.native_bf16(torch.device("cpu")) == cpu_has_bf16
    assert not runtime.native_bf16(torch.device("mps"))
    if torch.cuda.is_available():
        assert runtime.native_bf16(torch.device("cuda")) == (torch.cuda.get_device_capability()[0] >= 8)


def test_cpu_model_names_the_host_cpu_with_its_family_and_model(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\ncpu family\t: 23\nmodel\t\t: 49\nmodel name\t: AMD EPYC\n\n"
        "processor\t: 1\ncpu family\t: 23\nmodel\t\t: 49\nmodel name\t: AMD EPYC\n"
    )
    real_path = runtime.Path
    monkeypatch.setattr(runtime, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo" else real_path(p))
    assert runtime.cpu_model() == "AMD EPYC, family 23 model 49", "the first core's block, with its numbers"
    monkeypatch.setattr(runtime, "Path", lambda p: tmp_path / "missing")  # not Linux: no /proc/cpuinfo
    monkeypatch.setattr("platform.processor", lambda: "arm")
    assert runtime.cpu_model() == "arm"


def test_setup_says_which_profile_runs_why_and_how_to_switch_on_every_device(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("RESNETS_PROFILE", raising=False)
    quick = runtime.profile_note("quick", torch.device("cpu"))
    assert quick.startswith("Profile quick (the default without a CUDA GPU)")
    assert "%env RESNETS_PROFILE=full" in quick.replace("\n", " ")
    full = runtime.profile_note("full", torch.device("cuda")).replace("\n", " ")
    assert full.startswith("Profile full (the default on a CUDA GPU)")
    assert "%env RESNETS_PROFILE=quick" in full and "unless you opt in" in full
    monkeypatch.setenv("RESNETS_PROFILE", "full")
    assert "(set by RESNETS_PROFILE)" in runtime.profile_note("full", torch.device("cpu"))
    assert all(len(line) <= 78 for line in runtime.profile_note("full", torch.device("cpu")).splitlines())
    runtime.setup(device="cpu")
    printed = capsys.readouterr().out
    assert "profile full" in printed and "%env RESNETS_PROFILE=quick" in printed.replace("\n", " ")


def test_runs_folder_is_runs_a_folder_or_google_drive_in_colab(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys
    import types

    monkeypatch.chdir(tmp_path)
    assert runtime.runs_folder(None) == Path("runs") and (tmp_path / "runs").is_dir()
    assert runtime.runs_folder(str(tmp_path / "mine")) == tmp_path / "mine"
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(ValueError, match='RUNS_DIR = "drive" mounts Google Drive, which only Colab can do'):
        runtime.runs_folder("drive")

    # Colab, faked: drive.mount makes MyDrive appear under the mount point, as Colab's does.
    mounts: list[str] = []

    def mount(where: str) -> None:
        mounts.append(where)
        (Path(where) / "MyDrive").mkdir(parents=True)

    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mount)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(runtime, "DRIVE_MOUNT", str(tmp_path / "content" / "drive"))
    expected = tmp_path / "content" / "drive" / "MyDrive" / "resnets" / "runs"
    assert runtime.runs_folder("drive") == expected and expected.is_dir()
    assert runtime.runs_folder(" Drive ") == expected
    assert mounts == [str(tmp_path / "content" / "drive")]  # mounted once, then found mounted
