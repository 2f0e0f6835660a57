"""resnets: deep residual networks (He et al. 2015, 2016) in PyTorch, from the blocks to a trained net.

    import resnets
    rt = resnets.setup()                    # device, profile, seeds
    model = resnets.build_model("resnet56")

Two wings. The library, one module per concern, for anyone training or probing ResNets:

    networks    blocks, models (build_model, evaluating, input_size), flops (their cost)
    data        data (CIFAR-10 decoded once, held and augmented on the device; normalisation)
    training    recipe (TrainConfig and the schedules), train (the loop), run_folder (a run's files,
                resume, ship), processes (torchrun, Ctrl-C, backend switches), provenance (what
                produced a result), checkpoints (safe saves and loads, shipped nets), files (atomic
                writes, verified folders), runtime (device, precision, profile), profiles (every
                experiment's sizes in each profile; the RESNETS_* variables)
    measuring   probes (gradients, shapes, responses, lesions), landscape (loss surfaces),
                timing (throughput of any step), bench (engine against the classic recipe)
    showing     viz (the house style and its plots), drawing (the sheet every diagram is laid out
                on), diagrams (blocks drawn from the modules), diagrams_networks (whole nets,
                and the unrolled paths), diagrams_context (Fig. 4's orderings, dense blocks,
                Transformer layers), diagrams_relatives (highway, U-Net, FPN), tables (tables
                shown as HTML in a notebook, as text elsewhere)
    the paper   reproduce (Fig. 6 and Table 6, run or read back), papers (their published numbers),
                results (results files and provenance), shipped (the nets shipped with the package,
                measured again), stats (standard errors), costs (GPU time from the FLOPs), cache
                (results kept between runs)
    commands    cli (python -m resnets train|reproduce|bench|ship), flags (its train and bench
                flags, made from the fields of TrainConfig and BenchSettings); errors (ResnetsError
                and kin), version

The course (``resnets.course``): what exists for one chapter of the book. It imports the
library; the library never imports it.
"""

from .blocks import BasicBlock, Bottleneck, PreActBasicBlock, PreActBottleneck
from .errors import ResnetsError
from .flops import count_flops
from .models import ResNet, build_model, count_parameters, list_models
from .runtime import Runtime, pick_device, setup
from .version import __version__

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "PreActBasicBlock",
    "PreActBottleneck",
    "ResNet",
    "ResnetsError",
    "__version__",
    "Runtime",
    "build_model",
    "count_flops",
    "count_parameters",
    "list_models",
    "pick_device",
    "setup",
]
