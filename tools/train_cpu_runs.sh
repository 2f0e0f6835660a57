#!/usr/bin/env bash
# Part 3's CPU-trained nets, one after another, each in its own resumable folder under runs/cpu/:
# the `cpu` schedule (python -m resnets train --help), seed 0 (or $SEED), the 45k/5k split, the fit on the
# training images measured in eval mode on 5,000 of them per epoch and on all 45k after the last.
# Each run's folder is named like the checkpoint it ships as (shipped.cpu_run_name: its length is
# always in it, ...-60ep), and the script prints the command that ships it. Run it again to go on
# where it stopped; finished runs are skipped.
# Usage: tools/train_cpu_runs.sh [MODEL ...]   (default: shipped.CPU_RUN_MODELS, the order Part 3 needs them)
#        SEED=1 tools/train_cpu_runs.sh resnet20     (another seed: ...-60ep-seed1)
#        EPOCHS=40 tools/train_cpu_runs.sh resnet20  (the schedule at another length than the recipe's:
#                                                     ...-40ep, to measure what the length costs)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# Train with this checkout's code (the commit run.json records), even where the environment
# has the package installed in editable mode from another checkout.
export PYTHONPATH="$PWD/code${PYTHONPATH:+:$PYTHONPATH}"
SEED=${SEED:-0}
EPOCHS=${EPOCHS:-}  # empty: the recipe's own length
# One Python start (it imports torch: seconds) names every run: "<model> <folder name>" per line.
runs=$("$PY" -c "import sys; from resnets.shipped import CPU_RUN_MODELS, cpu_run_name as n
seed, epochs = int(sys.argv[1]), int(sys.argv[2]) if sys.argv[2] else None
for model in sys.argv[3:] or CPU_RUN_MODELS: print(model, n(model, seed, epochs))" "$SEED" "$EPOCHS" "$@")
while read -r model name <&3; do  # fd 3: the training command keeps the terminal as its stdin
  out=runs/cpu/$name
  ship="$PY -m resnets ship $out --name $name"
  if [ -f "$out/model.pt" ]; then echo "$model: done ($out/model.pt); ship it with: $ship"; continue; fi
  echo "$model (seed $SEED${EPOCHS:+, $EPOCHS epochs}): training into $out ($(date -u +%H:%M))"
  "$PY" -m resnets train --model "$model" --schedule cpu ${EPOCHS:+--epochs "$EPOCHS"} --seed "$SEED" \
    --eval-train --eval-train-size 5000 --out "$out" --resume --no-progress
  echo "$model: done; ship it with: $ship"
done 3<<< "$runs"
