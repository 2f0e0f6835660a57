"""What every chapter notebook shares: the set-up cell and the metadata (one copy, here).

The repository the Colab cell installs from is `_config.yml`'s `repository.url`, the one the
site's badges and launch buttons read: publishing the course or a fork means changing it there
and running `python tools/sync_repository.py`, which rewrites every copy (tests/test_notebooks.py
fails while any copy disagrees).

It lives in tools/ because the tools write what it defines and the tests only check it: the
tools import it as a sibling module (`python tools/new_notebook.py` puts tools/ first on the
path), the tests through pytest's `pythonpath` setting in pyproject.toml. So tools/ stands on
its own, and nothing in tools/ imports from tests/ (tests/test_tools.py checks both).
"""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]

SETUP_CELL = f'''# Set-up, the same in every chapter. In Colab it installs the course package, and
# only the package (--no-deps): Colab's own torch is left alone.
import sys

if "google.colab" in sys.modules:
    import subprocess

    url = "{REPOSITORY}"
    pip = ["pip", "install", "-q", "--no-deps", f"resnets @ git+{{url}}"]
    if subprocess.run([sys.executable, "-m", *pip]).returncode:
        print(f"Installing from {{url}} failed: fix the URL, then rerun.")
    from google.colab import output

    output.enable_custom_widget_manager()  # live widgets, any ipywidgets

import resnets
from resnets.course import exercises  # checks each exercise's answer

rt = resnets.setup(seed=0)  # device, profile (RESNETS_PROFILE) and seeds'''


def clone_command() -> str:
    """The intro's clone line, from the same URL."""
    return f"git clone {REPOSITORY} && cd {REPOSITORY.rstrip('/').rsplit('/', 1)[-1]}"


def notebook_metadata(gpu: bool = False) -> dict:
    """Kernel and Colab metadata; ``gpu`` asks Colab for a GPU runtime (Part 3)."""
    metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    if gpu:
        metadata["accelerator"] = "GPU"
        metadata["colab"]["gpuType"] = "T4"
    return metadata
