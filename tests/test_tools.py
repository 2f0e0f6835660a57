"""tools/: the script that trains Part 3's CPU-recipe nets, run with an interpreter that only
echoes; and the notebook tools, which stand on their own (nothing in tools/ imports from tests/)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from notebook_conventions import SETUP_CELL, notebook_metadata
from resnets.shipped import CPU_RUN_MODELS, cpu_run_name

TOOLS = Path(__file__).resolve().parent.parent / "tools"
SCRIPT = TOOLS / "train_cpu_runs.sh"


@pytest.fixture(scope="module")
def echoing_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter that prints each `-m resnets ...` command instead of running it, and runs
    everything else (the script asks Python, once, for every run's name). Like a real run it may read its
    standard input: it drains it, so a script that fed it the list of runs would train only the first."""
    path = tmp_path_factory.mktemp("bin") / "python"
    path.write_text(
        f'#!/bin/sh\nif [ "$1" = "-m" ]; then echo "$@"; cat > /dev/null; else exec {sys.executable} "$@"; fi\n'
    )
    path.chmod(0o755)
    return path


def _output(python: Path, seed: str | None, *models: str, epochs: str | None = None) -> list[str]:
    env = {**os.environ, "PY": str(python)}
    for name, value in (("SEED", seed), ("EPOCHS", epochs)):
        env.pop(name, None)
        if value is not None:
            env[name] = value
    done = subprocess.run(["bash", str(SCRIPT), *models], env=env, input="", capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def _commands(python: Path, seed: str | None, *models: str, epochs: str | None = None) -> list[str]:
    return [line for line in _output(python, seed, *models, epochs=epochs) if line.startswith("-m resnets train")]


@pytest.mark.parametrize("seed", [None, "0", "2"])
def test_cpu_runs_train_the_cpu_recipe_with_the_seed_asked_for_into_a_folder_named_as_shipped(
    echoing_python: Path, seed: str | None
) -> None:
    [command] = _commands(echoing_python, seed, "resnet20")
    assert "--model resnet20 --schedule cpu" in command and f"--seed {seed or 0} " in command
    name = cpu_run_name("resnet20", int(seed or 0))
    assert f"--out runs/cpu/{name} " in command and "--resume" in command and "--eval-train" in command
    assert "--epochs" not in command, "the schedule's own length"


def test_cpu_runs_say_how_to_ship_each_run_under_its_name(echoing_python: Path) -> None:
    name = cpu_run_name("plain20", 3)
    last = _output(echoing_python, "3", "plain20")[-1]
    assert last == f"plain20: done; ship it with: {echoing_python} -m resnets ship runs/cpu/{name} --name {name}"


@pytest.mark.parametrize(
    ("seed", "name"), [(None, "resnet20-cifar10-cpu-70ep"), ("1", "resnet20-cifar10-cpu-70ep-seed1")]
)
def test_cpu_runs_of_another_length_train_into_a_folder_of_their_own(
    echoing_python: Path, seed: str | None, name: str
) -> None:
    [command] = _commands(echoing_python, seed, "resnet20", epochs="70")
    assert "--schedule cpu --epochs 70 " in command and f"--seed {seed or 0} " in command
    assert f"--out runs/cpu/{name} " in command


def test_cpu_runs_default_to_every_net_part3_needs_in_order(echoing_python: Path) -> None:
    models = [command.split("--model ")[1].split()[0] for command in _commands(echoing_python, None)]
    runs = SCRIPT.parent.parent / "runs" / "cpu"
    done = [m for m in CPU_RUN_MODELS if (runs / cpu_run_name(m) / "model.pt").is_file()]
    assert models == [m for m in CPU_RUN_MODELS if m not in done], "finished runs are skipped"


def test_no_tool_imports_from_the_tests() -> None:
    tests = {path.stem for path in Path(__file__).parent.glob("*.py")}
    for tool in TOOLS.glob("*.py"):
        tree = ast.parse(tool.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {name.split(".")[0] for name in imported} & tests, f"{tool.name} imports a module of tests/"
        assert "sys.path" not in tool.read_text(), f"{tool.name} changes the import path"


def test_new_notebook_runs_as_a_reader_runs_it(tmp_path: Path) -> None:
    """From another folder, with nothing of the tests on the path: the script finds its conventions."""
    chapter = tmp_path / "part9" / "01_new.ipynb"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    command = [sys.executable, str(TOOLS / "new_notebook.py"), str(chapter), "A new chapter", "--gpu"]
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)
    notebook = nbformat.read(chapter, as_version=4)
    assert [cell.source for cell in notebook.cells] == ["# A new chapter", SETUP_CELL]
    assert notebook.metadata["accelerator"] == "GPU" == notebook_metadata(gpu=True)["accelerator"]
