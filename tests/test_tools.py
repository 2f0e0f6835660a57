"""tools/: the script that trains Part 3's CPU-recipe nets, run with an interpreter that only echoes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "train_cpu_runs.sh"


def _commands(seed: str | None, *models: str, epochs: str | None = None) -> list[str]:
    env = {**os.environ, "PY": "echo"}  # prints each training command instead of running it
    for name, value in (("SEED", seed), ("EPOCHS", epochs)):
        env.pop(name, None)
        if value is not None:
            env[name] = value
    done = subprocess.run(["bash", str(SCRIPT), *models], env=env, capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if line.startswith("-m resnets train")]


@pytest.mark.parametrize(
    ("seed", "out"), [(None, "runs/cpu/resnet20 "), ("0", "runs/cpu/resnet20 "), ("2", "runs/cpu/resnet20-s2 ")]
)
def test_cpu_runs_train_the_cpu_recipe_with_the_seed_asked_for_into_their_own_folder(
    seed: str | None, out: str
) -> None:
    [command] = _commands(seed, "resnet20")
    assert "--model resnet20 --schedule cpu" in command and f"--seed {seed or 0} " in command
    assert f"--out {out}" in command and "--resume" in command and "--eval-train" in command
    assert "--epochs" not in command, "the schedule's own length"


@pytest.mark.parametrize(("seed", "out"), [(None, "runs/cpu/resnet20-e60 "), ("1", "runs/cpu/resnet20-e60-s1 ")])
def test_cpu_runs_of_another_length_train_into_a_folder_of_their_own(seed: str | None, out: str) -> None:
    [command] = _commands(seed, "resnet20", epochs="60")
    assert "--schedule cpu --epochs 60 " in command and f"--seed {seed or 0} " in command
    assert f"--out {out}" in command


def test_cpu_runs_default_to_every_net_part3_needs_in_order() -> None:
    from resnets.reproduce import CPU_RUN_MODELS

    models = [command.split("--model ")[1].split()[0] for command in _commands(None)]
    done = [m for m in CPU_RUN_MODELS if (SCRIPT.parent.parent / "runs" / "cpu" / m / "model.pt").is_file()]
    assert models == [m for m in CPU_RUN_MODELS if m not in done], "finished runs are skipped"
