"""resnets: the code of the course "Deep Residual Networks, from the math to a trained network".

    import resnets
    rt = resnets.setup()                    # device, profile, seeds
    model = resnets.build_model("resnet56")

One module per concern: ``blocks`` and ``models`` (the networks), ``flops`` (their cost),
``runtime`` (device, profile, seeds); ``data`` (CIFAR-10 on the device), ``train`` (the
training engine), ``checkpoints`` (atomic saves, safe loads), ``reproduce`` (the paper's
experiments) and ``cli`` (``python -m resnets``); the chapters' experiments live in their own modules.
"""

from . import exercises
from .blocks import BasicBlock, Bottleneck, PreActBasicBlock, PreActBottleneck
from .flops import count_flops
from .models import ResNet, build_model, count_parameters, list_models
from .runtime import Runtime, pick_device, setup

__version__ = "0.1.0"

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "PreActBasicBlock",
    "PreActBottleneck",
    "ResNet",
    "Runtime",
    "build_model",
    "count_flops",
    "count_parameters",
    "list_models",
    "pick_device",
    "setup",
]
