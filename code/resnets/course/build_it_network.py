"""Build it yourself, the whole network: where the reader's network first departs from the package's.

    diagnose_network(reference, mine, x, block_mistakes)   # None, or a hint naming the first difference

``build_it.check_resnet20`` uses it on CIFAR ResNet-20 (the hints speak of its stem, three stages
and classifier). Two steps, each with hints a reader can act on:

1. The state dict: the reader's network must hold the package's tensors under the same names and
   shapes (it is loaded with ``strict=True``). Missing or extra keys are summarised by what they
   mean: a stage with too many or too few blocks, a shortcut with parameters where option A has
   none, a classifier that sees the flattened map instead of the pooled one...
2. A forward trace: hooks record the input and the output of every layer that holds weights and
   of every stage and block, in both networks, on the same batch; the first one that differs, in
   the order the package's network runs them, is named, with what lies between it and the last
   one that matched (a missing ReLU, a wrong stride, no pooling before ``fc``...).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..models import evaluating

#: A known mistake in a block: a name for it and the package's block computed with it, (block, x) -> y.
BlockMistake = tuple[str, Callable[[nn.Module, Tensor], Tensor]]
#: ("input" or "output", the module's dotted name).
Event = tuple[str, str]

STAGE_OR_BLOCK = re.compile(r"^layer\d+(\.\d+)?$")
BLOCK_KEY = re.compile(r"^(layer\d+)\.(\d+)\.")


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-4 * (1 + b.abs().max().item()))


# ---------------------------------------------------------------------------------------
# Step 1: the state dict
# ---------------------------------------------------------------------------------------


def _blocks_per_stage(keys: list[str]) -> dict[str, int]:
    indices: dict[str, set[int]] = defaultdict(set)
    for key in keys:
        if match := BLOCK_KEY.match(key):
            indices[match.group(1)].add(int(match.group(2)))
    return {stage: len(found) for stage, found in indices.items()}


def _layout(state: dict[str, Tensor]) -> str:
    """The package's network in a line: its top-level layers and the blocks of each stage."""
    stages = _blocks_per_stage(list(state))
    parts = []
    for name in dict.fromkeys(key.split(".")[0] for key in state):
        if name in stages:
            parts.append(f"{name} ({stages[name]} blocks)")
        elif f"{name}.weight" in state:
            parts.append(f"{name} {tuple(state[f'{name}.weight'].shape)}")
    return ", ".join(parts)


def _fc_hint(mine: Tensor, theirs: Tensor, map_size: tuple[int, int]) -> str:
    (out_mine, in_mine), (out_theirs, in_theirs) = mine.shape, theirs.shape
    if out_mine != out_theirs:
        return f"your fc gives {out_mine} outputs, the package's {out_theirs}: one logit per class."
    hint = f"your fc takes {in_mine} inputs, the package's {in_theirs}: one number per channel of the last stage."
    height, width = map_size
    if in_mine == in_theirs * height * width:
        hint += (
            f" {in_mine} = {in_theirs} channels x {height} x {width} is the last stage's map "
            "flattened as it is: the package first averages each channel over the whole map (avgpool, "
            "nn.AdaptiveAvgPool2d(1)), which is also why the network takes images of any size."
        )
    return hint


def _state_dict_hint(reference: nn.Module, mine: nn.Module, map_size: tuple[int, int]) -> str | None:
    """None if ``mine`` holds the reference's tensors by name and shape, else what differs."""
    theirs, ours = reference.state_dict(), mine.state_dict()
    if not ours:
        return f"your network has no layers yet. The package's holds: {_layout(theirs)}."
    missing = [k for k in theirs if k not in ours]
    extra = [k for k in ours if k not in theirs]
    if missing or extra:
        stages_theirs, stages_ours = _blocks_per_stage(list(theirs)), _blocks_per_stage(list(ours))
        for stage, count in stages_theirs.items():
            if stages_ours.get(stage, 0) != count:
                return (
                    f"your {stage} has {stages_ours.get(stage, 0)} blocks, the package's {count}: ResNet-20 has "
                    f"3 stages of n = 3 basic blocks, 2 convolutions each, and 6n + 2 = 20 layers with the "
                    f"stem's convolution and fc. The package's network: {_layout(theirs)}."
                )
        if any(".downsample." in k for k in extra):
            block = next(k for k in extra if ".downsample." in k).split(".downsample.")[0]
            return (
                f"your {block} has a shortcut with parameters ({', '.join(k for k in extra if block in k)}); "
                "ResNet-20's shortcuts are option A, which learns nothing: ZeroPadShortcut(in_planes, "
                "out_planes, stride) keeps every other pixel and pads the new channels with zeros."
            )
        said = []
        if missing:
            said.append(f"lacks {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
        if extra:
            said.append(f"has {', '.join(extra[:6])}{' ...' if len(extra) > 6 else ''}, which the package's has not")
        return (
            f"your network {' and '.join(said)}. Name the layers as the package does: {_layout(theirs)}; "
            "a block's layers are conv1, bn1, conv2, bn2."
        )
    for key, tensor in theirs.items():
        if ours[key].shape == tensor.shape:
            continue
        if key == "fc.weight":
            return _fc_hint(ours[key], tensor, map_size)
        return f"your {key} has shape {tuple(ours[key].shape)} where the package's has {tuple(tensor.shape)}."
    mine.load_state_dict(theirs, strict=True)
    return None


# ---------------------------------------------------------------------------------------
# Step 2: the forward trace
# ---------------------------------------------------------------------------------------


def traced_names(model: nn.Module) -> list[str]:
    """The modules the trace watches: every layer that holds weights, every stage and every block."""
    return [
        name
        for name, module in model.named_modules()
        if name and (next(module.parameters(recurse=False), None) is not None or STAGE_OR_BLOCK.match(name))
    ]


def trace(model: nn.Module, names: list[str], x: Tensor) -> tuple[dict[Event, Tensor], Tensor | Exception]:
    """Run ``model`` on ``x`` in eval mode, recording each named module's first input and output (in
    the order they happen); the output, or the exception the forward pass raised."""
    record: dict[Event, Tensor] = {}

    def keep(event: Event, value: object) -> None:
        if event not in record and isinstance(value, Tensor):
            record[event] = value.detach().clone()

    hooks = []
    for name in names:
        module = model.get_submodule(name)
        hooks.append(
            module.register_forward_pre_hook(
                lambda _, args, name=name: keep(("input", name), args[0] if args else None)
            )
        )
        hooks.append(module.register_forward_hook(lambda _, __, out, name=name: keep(("output", name), out)))
    with evaluating(model, hooks), torch.no_grad():
        try:
            return record, model(x)
        except Exception as err:  # the reader's forward: whatever it raised is part of the hint
            return record, err


def _stride_hint(name: str, mine: nn.Module, theirs: nn.Module) -> str:
    if not isinstance(mine, nn.Conv2d) or not isinstance(theirs, nn.Conv2d):
        return ""
    if mine.padding != theirs.padding:
        return f" Your {name} has padding {mine.padding[0]}, the package's {theirs.padding[0]}."
    if mine.stride == theirs.stride:
        return ""
    stride = f" Your {name} has stride {mine.stride[0]}, the package's {theirs.stride[0]}: "
    if theirs.stride[0] > 1:
        return stride + (
            "the first block of layer2 and of layer3 halves the height and width (stride 2 on its first "
            "convolution and on its shortcut), so that the three stages work at 32x32, 16x16 and 8x8."
        )
    return stride + (
        "only the first block of layer2 and of layer3 has stride 2; layer1 keeps the stem's 32x32, "
        "and every other block keeps the size of its input."
    )


def _input_hint(name: str, previous: str | None, ours: Tensor, theirs: dict[Event, Tensor]) -> str:
    """The first difference is ``name``'s input: what lies between it and the last output that matched."""
    expected = theirs[("input", name)]
    before = theirs.get(("output", previous)) if previous else None
    if name == "fc":
        if ours.dim() == 4:
            return (
                f"fc receives {tuple(ours.shape)}: flatten the pooled map to (N, channels) first, torch.flatten(x, 1)."
            )
        if ours.shape != expected.shape:
            return (
                f"fc receives {tuple(ours.shape)} where the package's receives {tuple(expected.shape)}: your "
                f"forward flattens {previous}'s map without pooling it; the package averages each channel over "
                "the whole map first (avgpool), so fc sees one number per channel."
            )
        return (
            f"fc receives something else than the package's, though {previous}'s output matched: between them "
            "the package averages each channel over the whole map (avgpool: the mean, not the maximum) and "
            "flattens to (N, channels)."
        )
    if ours.shape != expected.shape:
        return (
            f"{name} receives {tuple(ours.shape)} where the package's receives {tuple(expected.shape)}, though "
            f"everything up to {previous}'s output matched: look at what your forward does between them."
        )
    if before is not None and _close(ours, before) and _close(expected, torch.relu(before)):
        where = "the stem is conv1, bn1, ReLU" if previous == "bn1" else "F is conv, BN, ReLU, conv, BN"
        return (
            f"your forward hands {previous}'s output to {name} as it is, where the package applies a ReLU in "
            f"between ({where})."
        )
    return (
        f"{name} receives something else than the package's, though everything up to {previous}'s output "
        "matched: look at what your forward does between them."
    )


def _output_hint(
    name: str, mine: nn.Module, reference: nn.Module, ours: Tensor, theirs: dict[Event, Tensor], mistakes
) -> str:
    """The first difference is ``name``'s output, from the same input as the package's."""
    expected = theirs[("output", name)]
    if ours.shape != expected.shape:
        shape = f"{name} gives {tuple(ours.shape)} where the package's gives {tuple(expected.shape)}."
        return shape + _stride_hint(name, mine.get_submodule(name), reference.get_submodule(name))
    if STAGE_OR_BLOCK.match(name) and "." in name:
        block, x = reference.get_submodule(name), theirs[("input", name)]
        with evaluating(block), torch.no_grad():
            named = next((mistake for mistake, compute in mistakes if _close(ours, compute(block, x))), None)
        if named:
            return f"your {name} computes the package's block with {named}."
        return (
            f"{name}'s layers each compute what the package's do, but the block's output differs: look at the "
            "shortcut, the addition and the ReLU after it, y = relu(F(x) + shortcut(x))."
        )
    return (
        f"{name} gets the same input and weights as the package's but gives another output: is it the same "
        "kind of layer, with the same settings (kernel size, stride, padding)?"
    )


def _trace_hint(
    reference: nn.Module,
    mine: nn.Module,
    theirs: dict[Event, Tensor],
    traced: tuple[dict[Event, Tensor], Tensor | Exception],
    mistakes: list[BlockMistake],
) -> str | None:
    """None if every input and output ``mine`` recorded (``traced``) matches the reference's (``theirs``),
    else a hint naming the first that does not."""
    ours, got = traced
    previous = None  # the last module whose output matched
    for event in theirs:
        kind, name = event
        if event not in ours:
            if isinstance(got, NotImplementedError):
                return "forward is not written yet."
            if isinstance(got, Exception):
                after = f" after {previous}" if previous else ""
                raised = f"the forward pass raised {type(got).__name__}{after}: {got}."
                if "must match the size of tensor" in str(got):
                    raised += (
                        " F(x) and the shortcut's output differ in shape: a block that changes the shape "
                        "needs a shortcut that changes it the same way (ZeroPadShortcut with the block's stride)."
                    )
                return raised
            return f"your forward never runs {name}: the package's runs it after {previous}."
        if _close(ours[event], theirs[event]):
            previous = name if kind == "output" else previous
            continue
        if kind == "input":
            return _input_hint(name, previous, ours[event], theirs)
        return _output_hint(name, mine, reference, ours[event], theirs, mistakes)
    return None


def _output_of_the_whole_hint(got: Tensor | Exception, expected: Tensor) -> str | None:
    if not isinstance(got, Tensor):
        return f"your forward returns {type(got).__name__}; return one tensor of logits, (N, classes)."
    if _close(got, expected):
        return None
    if _close(got, torch.softmax(expected, dim=1)):
        return (
            "your network returns probabilities (a softmax after fc): return the logits, fc's output as it is; "
            "the cross-entropy loss applies the softmax itself."
        )
    return "every layer matches the package's, but your output is not fc's: return fc's output as it is."


def diagnose_network(
    reference: nn.Module, mine: nn.Module, x: Tensor, block_mistakes: list[BlockMistake]
) -> str | None:
    """None if ``mine`` loads ``reference``'s state dict strictly and computes what it computes on ``x``,
    else a hint naming the first difference. ``block_mistakes`` name what a block's output may match."""
    if not isinstance(mine, nn.Module):
        return f"your class makes a {type(mine).__name__}; a network is an nn.Module (class MyNet(nn.Module))."
    names = traced_names(reference)
    theirs, expected = trace(reference, names, x)
    last_stage = [name for name in names if re.fullmatch(r"layer\d+", name)][-1]
    height, width = theirs[("output", last_stage)].shape[2:]  # the map that avgpool averages
    hint = _state_dict_hint(reference, mine, (height, width))
    if hint is not None:
        return hint
    traced = trace(mine, names, x)
    return _trace_hint(reference, mine, theirs, traced, block_mistakes) or _output_of_the_whole_hint(
        traced[1], expected
    )


__all__ = ["BlockMistake", "diagnose_network", "trace", "traced_names"]
