"""The command line: ``python -m resnets train|reproduce|bench|ship ...``.

Every mistake ends in one line that names the fix (exit status 2), never a traceback from
inside torch. Ctrl-C during training saves a checkpoint and exits with status 130; the
message says how to resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from . import profiles
from .bench import IMAGE_FOLDER_TARGET_DROP, TARGETS, BenchSettings
from .checkpoints import CheckpointError
from .data import DATA_ENV
from .errors import ResnetsError
from .files import make_folder
from .flags import DEVICE_HELP, add_flags, count
from .processes import Processes
from .recipe import SCHEDULE_DEFAULTS, TrainConfig
from .run_folder import config_from_checkpoint, resumable_checkpoint
from .runtime import get_profile, pick_device
from .train import TrainingDiverged

EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 1, 130
DESCRIPTION = """\
Train the residual networks of He et al. (2015, 2016) on CIFAR-10 and reproduce the paper's results.

Data: CIFAR-10 is read from ${env} (an image folder train/<class>/*, test/<class>/* or a .tar.gz
of one, or a folder holding torchvision's cifar-10-batches-py); unset, it is downloaded through
torchvision. It is decoded once and cached under ~/.cache/resnets.""".replace("{env}", DATA_ENV)

TRAIN_EPILOG = """\
examples:
  python -m resnets train --model resnet56                       the paper's recipe (64k iterations)
  python -m resnets train --model resnet20 --schedule fast       a short schedule (40 epochs)
  python -m resnets train --model plain56 --schedule cpu --eval-train --eval-train-size 5000
                                            Part 3's CPU recipe (resnet20 on 2 cores: 1 h in bf16, 2 in fp32)
  python -m resnets train --model resnet20 --train-subset 5000 --epochs 5    a quick look on a CPU
  python -m resnets train --out runs/resnet56-paper-s0 --resume  continue an interrupted run
  torchrun --nproc_per_node=4 -m resnets train --model resnet110 several GPUs (DDP; rank 0 writes)

files in the output folder (--out, default runs/<model>-<schedule>-s<seed>):
  checkpoint.pt   written atomically after every epoch and on Ctrl-C (resume from it)
  metrics.jsonl   one JSON object per epoch: train loss/error (running, during the epoch), val
                  and test loss/error (and train_eval with --eval-train), lr, early/late layer
                  gradient norms, seconds, images per second
  run.json        provenance: the equivalent command, git commit, hardware, data checksum, seed
  model.pt        the final weights, a plain state_dict (no "module." prefix), at the end

schedule defaults:
""" + "\n".join(
    f"  {name:6s} " + ", ".join(f"{k}={v}" for k, v in values.items()) for name, values in SCHEDULE_DEFAULTS.items()
)

REPRODUCE_EPILOG = """\
experiments:
  degradation  plain-20/56 and ResNet-20/56 (the paper's Fig. 6): training and test error per epoch
  table6       ResNet-20/32/44/56/110 final-epoch test error, mean and std over seeds, beside Table 6

profiles:
  quick  a class-balanced subset of the real images for a few epochs: minutes on a 2-core CPU
  full   the paper's recipe: 45k/5k train/validation split, batch 128, 64k iterations (a GPU)

writes <results>/<experiment>-<profile>.json (every run's metrics and provenance) and, for
degradation, a .png of the curves. With --runs every run checkpoints there, and running the
same command again resumes where it stopped."""


BENCH_DESCRIPTION = """\
Measure, in one run on one machine, the training engine against the classic PyTorch CIFAR-10
recipe, training the same network on the same images with the same batch size and optimizer
settings (the fast schedule's: lr 0.2, momentum 0.9, Nesterov, weight decay 5e-4, label smoothing 0.1).

  engine   train.py as it runs: data decoded once and held on the device, shuffled, cropped and
           flipped there by tensor ops; channels_last; mixed precision (--amp: bf16 where the
           hardware has it, GPUs from Ampere on and CPUs with AVX512-BF16 or AMX; fp16 with loss
           scaling on older CUDA GPUs); fused SGD (CUDA, CPU); optionally
           torch.compile (--compile) and CUDA graphs (--cudagraphs)
  classic  a torchvision-style data set of PIL images through RandomCrop(32, padding=4),
           RandomHorizontalFlip, ToTensor, Normalize; a DataLoader with one worker per core,
           shuffled, persistent workers, pinned memory on CUDA; float32, NCHW; torch.optim.SGD
           with its default kernels; loss and accuracy read with .item() every step"""

BENCH_EPILOG = """\
what is measured, for each model:
  training throughput    images/s after --warmup steps: the median of --windows timed windows of
                         --steps-per-window steps, the two paths' windows taken in turn (engine,
                         classic, engine, ...) so both meet the same background load; the device
                         is synchronised around every window. The ratio engine/classic is printed
                         with its range over the rounds of windows.
  evaluation throughput  the same for forward passes in eval mode over the test set, batch 1000
  peak memory            what --memory-steps steps add above what is held before them: on CUDA
                         torch.cuda.max_memory_allocated; on a Linux CPU the peak resident set size
                         (VmHWM, reset through /proc/self/clear_refs, freed heap returned first),
                         of the main process only
  time to accuracy       (--time-to-accuracy; default on CUDA only) the engine's fast schedule
                         (batch 256, warm-up then cosine decay over --tta-epochs) on all 50k
                         training images, test accuracy after every epoch, stopping at the first
                         epoch at or above the target: {targets} on the
                         original CIFAR-10, {drop} lower on an image-folder copy (this project's
                         JPEG copy); --target sets others. Wall time includes the per-epoch evaluation
                         and, with --compile, the compilation.

writes <out>/<name>.json (every window, the settings, machine, versions, command) and
<out>/<name>.md (the tables); prints the tables.

examples:
  python -m resnets bench                                     everything, on the best device here
  python -m resnets bench --compile --cudagraphs              on a GPU: the engine compiled, as CUDA graphs
  python -m resnets bench --models resnet20 --amp off         the engine in float32, for comparison
  python -m resnets bench --no-throughput --time-to-accuracy --models resnet20 \\
      --train-subset 5000 --test-subset 1000 --tta-epochs 10 --target resnet20=0.6
                                                              a reduced time to accuracy on a CPU""".format(
    targets=", ".join(f"{m} {t:.0%}" for m, t in TARGETS.items()), drop=f"{100 * IMAGE_FOLDER_TARGET_DROP:g} point"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m resnets", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,reproduce,bench,ship}")
    _add_train(commands)
    _add_reproduce(commands)
    _add_bench(commands)
    s = commands.add_parser(
        "ship",
        help="add a finished run's weights to the checkpoints shipped with the package",
        description="Copy RUN/model.pt into the package's assets/checkpoints as NAME.pt and list it, with its "
        "SHA-256 and the run's provenance, in manifest.json (load it with "
        "resnets.checkpoints.load_pretrained(NAME)). Files over 4 MB are refused. Then measures the shipped "
        "weights' test error with flip test-time augmentation on all 10,000 test images and records it beside "
        "them (Part 3's Table 6 page shows it).",
    )
    s.add_argument("run", metavar="RUN", help="a finished run folder (holding model.pt and run.json)")
    s.add_argument("--name", required=True, help="the name to load it by, e.g. resnet20-cifar10")
    s.add_argument(
        "--no-flip-test",
        dest="flip_test",
        action="store_false",
        help="skip the flip test-time augmentation measurement (a minute for a 56-layer net on a CPU)",
    )
    return parser


def _add_train(commands: argparse._SubParsersAction) -> None:
    """``train``: one flag per ``TrainConfig`` field, each defaulting to None so that the config
    (and the schedule, and a resumed run's checkpoint) decides; the help quotes its default."""
    t = commands.add_parser(
        "train",
        help="train one network",
        description="Train one network on CIFAR-10.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flags(t, TrainConfig, defaults=False)


def _add_reproduce(commands: argparse._SubParsersAction) -> None:
    r = commands.add_parser(
        "reproduce",
        help="run one of the paper's experiments",
        description="Reproduce an experiment of He et al. 2015 on CIFAR-10.",
        epilog=REPRODUCE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("experiment", choices=("degradation", "table6"), help="which experiment")
    profile = r.add_mutually_exclusive_group()
    profile.add_argument(
        "--quick",
        dest="profile",
        action="store_const",
        const="quick",
        help="the quick profile (default on a CPU, or RESNETS_PROFILE)",
    )
    profile.add_argument(
        "--full", dest="profile", action="store_const", const="full", help="the full profile (default on a GPU)"
    )
    r.add_argument(
        "--seeds", type=count, nargs="+", metavar="SEED", help="seeds to run (default: 0; table6 --full: 0 1 2 3 4)"
    )
    r.add_argument(
        "--results", metavar="FOLDER", default="results", help="where the JSON and figure go (default ./results)"
    )
    r.add_argument(
        "--runs",
        metavar="FOLDER",
        default="runs",
        help="checkpoint folder for the runs (default ./runs); 'none' keeps nothing",
    )
    _add_device(r, "auto")
    r.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="show progress bars (default on)"
    )


def _add_bench(commands: argparse._SubParsersAction) -> None:
    """``bench``: one flag per ``bench.BenchSettings`` field, with that field's default."""
    b = commands.add_parser(
        "bench",
        help="time the training engine against the classic PyTorch recipe",
        description=BENCH_DESCRIPTION,
        epilog=BENCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flags(b, BenchSettings, defaults=True)


def _add_device(group: argparse._ActionsContainer, default: str) -> None:
    """``--device`` of a command whose settings are not a dataclass (``reproduce``)."""
    group.add_argument("--device", default=default, help=DEVICE_HELP.format(default=default))


def _train_config(args: argparse.Namespace) -> TrainConfig:
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if getattr(args, f.name, None) is not None
    }
    given.pop("resume", None)
    if args.resume:
        out = Path(args.out or "")
        if not args.out:
            raise CheckpointError("--resume needs --out FOLDER: the folder of the run to continue")
        checkpoint = resumable_checkpoint(out)
        if checkpoint is not None:
            saved = config_from_checkpoint(checkpoint)
            return dataclasses.replace(saved, **given, resume=True)
        print(f"Note: {out} holds no checkpoint yet; starting the run there.", file=sys.stderr)
    config = TrainConfig(**given, resume=args.resume).resolved()
    if config.out is None:
        config.out = f"runs/{config.model}-{config.schedule}-s{config.seed}"
    return config


def _train(args: argparse.Namespace) -> int:
    from .train import train

    result = train(_train_config(args))
    if not Processes.from_env().main:
        return EXIT_INTERRUPTED if result.interrupted else 0
    if result.interrupted:
        print(f"To resume: python -m resnets train --out {shlex.quote(str(result.run_dir))} --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    last = result.final
    summary = ", ".join(f"{k} {100 * last[k]:.2f}%" for k in ("train_error", "val_error", "test_error") if k in last)
    print(
        f"Done: {result.config.model}, {last.get('epoch')} epochs, {last.get('step')} steps: {summary}. Files in "
        f"{result.run_dir}."
    )
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from . import reproduce
    from .results import write_results

    profile = args.profile or get_profile(pick_device(args.device))
    seeds = tuple(args.seeds) if args.seeds else profiles.sizes(args.experiment, profile).seeds
    runs_dir = None if args.runs.lower() == "none" else args.runs
    make_folder(args.results, elsewhere="choose another folder (--results)")  # now, not after the experiment
    if runs_dir is not None:
        make_folder(runs_dir, elsewhere="choose another folder (--runs), or keep no checkpoints (--runs none)")
    experiment = getattr(reproduce, args.experiment)
    result = experiment(profile, seeds, device=args.device, runs_dir=runs_dir, progress=args.progress)
    path = write_results(result, args.results, "python -m resnets " + shlex.join(args.argv))
    print(f"Wrote {path}")
    if args.experiment == "degradation":
        figure = reproduce.plot_degradation(result)
        figure.savefig(path.with_suffix(".png"), dpi=120)
        print(f"Wrote {path.with_suffix('.png')}")
        gaps = reproduce.depth_gaps(result)
        print(
            f"  final training error, 56 minus 20 layers: plain {100 * gaps['plain']:+.1f} points, residual "
            f"{100 * gaps['residual']:+.1f} points"
        )
        for claim, holds in reproduce.degradation_holds(result).items():
            print(f"  {claim}: {'yes' if holds else 'no'}")
    else:
        for row in reproduce.table6_summary(result):
            paper = f"{row['paper']:.2f}" if row["paper"] is not None else "-"
            print(
                f"  {row['model']:10s} test error {row['test_error_mean']:.2f} ± {row['test_error_std']:.2f} % over "
                f"{row['runs']} run(s); paper {paper} %"
            )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from . import bench

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(BenchSettings)}
    settings = BenchSettings(**{**given, "models": tuple(args.models), "targets": dict(args.targets)})
    text, paths = bench.run(settings, "python -m resnets " + shlex.join(args.argv))
    print(text)
    print("Wrote " + " and ".join(str(p) for p in paths))
    return 0


def _ship(args: argparse.Namespace) -> int:
    from .checkpoints import MANIFEST
    from .run_folder import ship

    entry = ship(args.run, args.name, MANIFEST)
    print(f"Shipped {args.name}: {MANIFEST.parent / entry['file']} ({entry['arch']}, sha256 {entry['sha256'][:16]}...)")
    if args.flip_test:
        from .shipped import record_flip_test_error

        record = record_flip_test_error(
            args.name, "auto", MANIFEST, command="python -m resnets " + shlex.join(args.argv)
        )
        print(
            f"Recorded its test error with flip test-time augmentation: {100 * record['error']:.2f}% "
            f"on {record['images']:,} test images ({record['hardware']})"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m resnets`` and the ``resnets`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded with the results they produce
    try:
        pick_device(getattr(args, "device", "auto"))
        return {"train": _train, "reproduce": _reproduce, "bench": _bench, "ship": _ship}[args.command](args)
    except TrainingDiverged as err:
        print(f"resnets: {err}", file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt as err:
        print(f"resnets: {err or 'interrupted'}; run the same command again to continue.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ResnetsError as err:  # says what to do: that line alone. Anything else is a bug and keeps its traceback.
        print(f"resnets: error: {err}", file=sys.stderr)
        return EXIT_USAGE


__all__ = ["build_parser", "main"]
