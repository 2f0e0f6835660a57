"""What every chapter notebook shares: the set-up cell and the metadata (one copy, here)."""

REPOSITORY = "https://github.com/resnets-course/resnets-book"

SETUP_CELL = f'''# Set-up, the same in every chapter. In Colab it installs the course package, and
# only the package (--no-deps): Colab's own torch is left alone.
import sys

if "google.colab" in sys.modules:
    %pip install -q --no-deps "resnets @ git+{REPOSITORY}"

import resnets

rt = resnets.setup(seed=0)  # device, profile (RESNETS_PROFILE) and seeds'''


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
