#!/usr/bin/env bash
# make gpu-check: everything in this course that only a CUDA GPU can check, in one go, in under
# 8 minutes on one GPU, recorded in benchmarks/gpu-check-<gpu>/ (summary.md, one log per step,
# the benchmark's JSON and tables, the machine and versions).
#
#   1. tests     pytest -m cuda: placement, a seeded run repeated, bf16/fp16/fp32, channels_last,
#                --compile, --cudagraphs, torchrun+NCCL+DDP as one process, resume after Ctrl-C
#   2. bench     python -m resnets bench: training and evaluation images/s and peak memory,
#                engine against the classic recipe, resnet20 and resnet56
#   3. accuracy  python -m resnets bench --time-to-accuracy: resnet20's time to its target
#   4. chapter   Part 3's degradation chapter in the full profile, every run cut to
#                $MAX_ITERATIONS iterations (RESNETS_MAX_ITERATIONS), executed by nbval
#
# Each step has its own time limit and a failing step does not stop the others; summary.md
# says what each returned. Copy the figures into benchmarks/RESULTS.md with the machine.
# Without a CUDA GPU it says so and exits 0. Data: $RESNETS_DATA, else ../shared/data or
# shared/data (copy the 19 MB JPEG copy into the checkout's shared/ to take it to a lent GPU).
# Variables: PY (the interpreter; default .venv/bin/python, else python3), MAX_ITERATIONS.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
MAX_ITERATIONS=${MAX_ITERATIONS:-2000}

if ! "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
  echo "gpu-check: no CUDA GPU here ($PY sees none), so there is nothing to check; run it on a machine with one."
  exit 0
fi
for candidate in ../shared/data/cifar10-jpeg.tar.gz shared/data/cifar10-jpeg.tar.gz; do
  [ -n "${RESNETS_DATA:-}" ] || { [ -f "$candidate" ] && RESNETS_DATA=$(realpath "$candidate"); }
done
if [ -z "${RESNETS_DATA:-}" ]; then
  echo "gpu-check: set RESNETS_DATA to a CIFAR-10 copy (python -m resnets --help says which forms work)."
  exit 2
fi
export RESNETS_DATA PYTHONUNBUFFERED=1 RESNETS_CACHE=  # everything computed afresh, on the GPU

gpu=$("$PY" -c "import torch; print(torch.cuda.get_device_name(0))")
slug=$(echo "$gpu" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/-$//')
out=${OUT_DIR:-benchmarks/gpu-check-$slug}
mkdir -p "$out"
{
  echo "# gpu-check on $gpu"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); commit: $(git describe --always --dirty 2>/dev/null || echo unknown)"
  echo "- $("$PY" -c "import platform, torch; print(f'Python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, capability {torch.cuda.get_device_capability(0)}, bf16 {torch.cuda.is_bf16_supported()}')")"
  echo "- $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi: not available')"
  echo "- data: $RESNETS_DATA"
  echo
  echo "| step | exit status | seconds | command |"
  echo "|---|---|---|---|"
} > "$out/summary.md"

step() {  # step NAME LIMIT_SECONDS COMMAND...: run it with a limit, log it, add a summary row
  local name=$1 limit=$2 start status
  shift 2
  echo "gpu-check: $name (at most $limit s) ..."
  start=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  status=$?
  [ $status -eq 124 ] && echo "(stopped at its limit of $limit s)" >> "$out/$name.log"
  echo "| $name | $status | $(($(date +%s) - start)) | \`$*\` |" >> "$out/summary.md"
  echo "gpu-check: $name: exit status $status (log: $out/$name.log)"
}

step tests 120 "$PY" -m pytest -m cuda -v -p no:cacheprovider tests/test_cuda.py
step bench 100 "$PY" -m resnets bench --device cuda --models resnet20 resnet56 --out "$out" --name bench
step accuracy 140 "$PY" -m resnets bench --device cuda --models resnet20 --no-throughput --time-to-accuracy \
  --out "$out" --name accuracy
step chapter 110 env RESNETS_PROFILE=full RESNETS_MAX_ITERATIONS="$MAX_ITERATIONS" \
  "$PY" -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider chapters/part3/02_degradation_cifar.ipynb
for name in bench accuracy; do
  [ -f "$out/$name.md" ] && { echo; echo "## $name"; echo; cat "$out/$name.md"; } >> "$out/summary.md"
done
echo "gpu-check: done; $out/summary.md has the results"
