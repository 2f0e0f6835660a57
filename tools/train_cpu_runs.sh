#!/usr/bin/env bash
# Part 3's CPU-trained nets, one after another, each in its own resumable folder under runs/cpu/:
# the `cpu` schedule (python -m resnets train --help), seed 0 (or $SEED), the 45k/5k split, the fit on the
# training images measured in eval mode on 5,000 of them per epoch and on all 45k after the last.
# Run it again to go on where it stopped; finished runs are skipped. Ship each finished run with
#   python -m resnets ship runs/cpu/MODEL --name MODEL-cifar10-cpu
# Usage: tools/train_cpu_runs.sh [MODEL ...]   (default: the order Part 3 needs them)
#        SEED=1 tools/train_cpu_runs.sh resnet20   (another seed, into runs/cpu/resnet20-s1; ship it
#        as resnet20-cifar10-cpu-seed1, the name reproduce.cpu_run_name gives it)
#        EPOCHS=60 tools/train_cpu_runs.sh resnet20   (the schedule at another length, to measure what
#        the recipe's 40 epochs cost: into runs/cpu/resnet20-e60, shipped as resnet20-cifar10-cpu-60ep)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# Train with this checkout's code (the commit run.json records), even where the environment
# has the package installed in editable mode from another checkout.
export PYTHONPATH="$PWD/code${PYTHONPATH:+:$PYTHONPATH}"
SEED=${SEED:-0}
EPOCHS=${EPOCHS:-}  # empty: the schedule's own length
suffix=${EPOCHS:+-e$EPOCHS}$([ "$SEED" = 0 ] || echo "-s$SEED")
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(resnet20 plain20 resnet56 plain56 resnet32 resnet44)
for model in "${models[@]}"; do
  out=runs/cpu/$model$suffix
  if [ -f "$out/model.pt" ]; then echo "$model: done ($out/model.pt)"; continue; fi
  echo "$model (seed $SEED${EPOCHS:+, $EPOCHS epochs}): training into $out ($(date -u +%H:%M))"
  "$PY" -m resnets train --model "$model" --schedule cpu ${EPOCHS:+--epochs "$EPOCHS"} --seed "$SEED" \
    --eval-train --eval-train-size 5000 --out "$out" --resume --no-progress
done
