"""The chapters' claims, checked where they are made, explained when they fail; numbers glued into the prose.

    claim(plain[-1] > plain[0] + 0.3, "the deepest plain net ends higher than the shallowest",
          why="with fewer steps or another learning rate the deep plain nets may not have settled")

A chapter states what its numbers show, then checks it on the numbers just computed. In the
settings the chapter ships with the claim holds, and CI executes every chapter, so a claim that
stops holding there fails the build. A reader who changes an experiment (fewer steps, another
seed, other depths) may break one; they get a ``ClaimNotHeld`` whose display in Jupyter is the
sentence itself, what the claim was, what was measured and why that can happen, not an
AssertionError traceback.
"""

from __future__ import annotations

from ..errors import ResnetsError

#: Why a claim can stop holding, one sentence per kind of claim; the chapters pass one as ``why``.
DEFAULT_WHY = (
    "results like this one move with the seed, the training length and the settings above: if you "
    "changed them, the effect may need the chapter's settings, more steps or more seeds to show"
)
TOY_TRAINING = (
    "the toy nets train for a fixed number of steps at one learning rate: with fewer steps, another rate "
    "or other depths, the deep plain nets may not have reached their final loss, or may fail at every depth"
)
INIT_GRADIENTS = (
    "gradient norms at initialisation depend on the seeds and the initialisation scale: with fewer seeds "
    "or other depths the spread can cross the line drawn here"
)
ARITHMETIC = (
    "this is arithmetic about the modules themselves, not a measurement that varies: if it fails, the "
    "code (or your change to it) computes something else"
)
TORCHVISION = (
    "our ImageNet models load torchvision's weights key for key: a changed block, stem or layer name breaks that"
)
DATA_COUNTS = (
    "these counts describe CIFAR-10 itself: a partial copy, or another data set in RESNETS_DATA, "
    "breaks them; check the source the chapter loaded"
)
QUICK_DEGRADATION = (
    "the quick profile trains on a few hundred images for a few epochs: with fewer epochs, fewer images "
    "or another seed the gap between 20 and 56 layers can close or flip (the shipped full runs show it "
    "at full scale)"
)
SHIPPED_RUNS = "these are the shipped runs' recorded metrics: checkpoints of your own in the manifest may not show it"
SHIPPED_EVALUATION = (
    "the manifest records each net's test error on the data it trained on: another copy of CIFAR-10, "
    "or a changed evaluation, measures something else"
)
SHIPPED_NETS = (
    "these are the shipped checkpoints; in the quick profile the statistics use a few hundred images, "
    "so another sample, or checkpoints of your own, can move them across the line"
)


class ClaimNotHeld(ResnetsError):
    """A chapter's claim does not hold for the numbers just computed."""

    def __init__(self, statement: str, why: str) -> None:
        super().__init__(f"This claim no longer holds: {statement}. Why that can happen: {why}.")
        self.statement, self.why = statement, why

    def _render_traceback_(self) -> list[str]:
        """What IPython shows in place of a traceback (the cell still fails, so CI does too)."""
        return [
            f"\x1b[1;31m✗ This claim no longer holds:\x1b[0m {self.statement}.",
            f"  Why that can happen: {self.why}.",
            "  (In the chapter's own settings it holds; the build checks that it does.)",
        ]


def glue(name: str, value: object, text: str | None = None) -> None:
    """Hand a computed value to the prose: ``{glue:text}`name``` in a markdown cell shows it.

    On the built site MyST-NB substitutes the value into the sentence, so a changed result changes
    the sentence. Where MyST-NB is not installed (Colab) the markdown shows the role as typed, so
    the cell prints ``name = text`` instead and the reader still sees the number beside the
    sentence. ``text`` is how to show it there (default ``str(value)``); in the prose a format spec
    goes after the name, e.g. ``{glue:text}`gap:.1f```.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        # a numpy or torch scalar: its repr (np.float64(...)) is not a number a format spec reads
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        print(f"{name} = {text if text is not None else value}")
    else:
        myst_glue(name, value, display=False)


def claim(holds: bool, statement: str, why: str = DEFAULT_WHY) -> None:
    """Check one of a chapter's claims: nothing if it holds, else raise ``ClaimNotHeld``.

    ``statement`` says what the chapter claims, with the measured numbers where they help;
    ``why`` says how a changed experiment can break it.
    """
    if not holds:
        raise ClaimNotHeld(statement, why)


__all__ = [
    "ARITHMETIC",
    "DATA_COUNTS",
    "DEFAULT_WHY",
    "INIT_GRADIENTS",
    "QUICK_DEGRADATION",
    "SHIPPED_EVALUATION",
    "SHIPPED_NETS",
    "SHIPPED_RUNS",
    "TORCHVISION",
    "TOY_TRAINING",
    "ClaimNotHeld",
    "claim",
    "glue",
]
