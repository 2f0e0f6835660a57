"""The published numbers this package sets its results beside, quoted from the papers: the one
place a chapter, a test or a module reads them from.

    PAPER_TABLE6              He et al. 2015, Table 6: CIFAR-10 test error (%) of each depth
    PAPER_RESNET110_MEAN_STD  ... ResNet-110's mean ± std over its 5 runs
    PAPER_TABLE6_PARAMETERS   ... and each depth's parameters (millions)
    PUBLISHED_REPRODUCTION    a published PyTorch reproduction of Table 6 (Idelbayev 2018)

Typed in, never computed: each comment names the table it is quoted from.
"""

from __future__ import annotations

#: He et al. 2015, Table 6: CIFAR-10 test error (%) of each depth (ResNet-110: best of 5 runs).
PAPER_TABLE6 = {
    "resnet20": 8.75,
    "resnet32": 7.51,
    "resnet44": 7.17,
    "resnet56": 6.97,
    "resnet110": 6.43,
    "resnet1202": 7.93,
}
#: ... and ResNet-110's mean and standard deviation over those 5 runs, "6.61±0.16".
PAPER_RESNET110_MEAN_STD = (6.61, 0.16)
#: ... and the parameter count of each (millions), as Table 6 lists it.
PAPER_TABLE6_PARAMETERS = {
    "resnet20": 0.27,
    "resnet32": 0.46,
    "resnet44": 0.66,
    "resnet56": 0.85,
    "resnet110": 1.7,
    "resnet1202": 19.4,
}
#: A published PyTorch reproduction of Table 6: the test error (%) of each depth in the README of
#: akamaster/pytorch_resnet_cifar10 (Idelbayev 2018). Not the paper's protocol, as that README says:
#: trained on all 50,000 training images ("We do not perform validation testing"); its trainer.py
#: evaluates the test set after every epoch and keeps the best accuracy (``best_prec1``), and the
#: README does not say whether these errors are that best epoch's or the last epoch's.
PUBLISHED_REPRODUCTION = {
    "resnet20": 8.27,
    "resnet32": 7.37,
    "resnet44": 6.90,
    "resnet56": 6.61,
    "resnet110": 6.32,
    "resnet1202": 6.18,
}

__all__ = ["PAPER_RESNET110_MEAN_STD", "PAPER_TABLE6", "PAPER_TABLE6_PARAMETERS", "PUBLISHED_REPRODUCTION"]
