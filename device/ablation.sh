#!/usr/bin/env bash
# Issue 13 (the ablation on an accelerator) in ONE call of the device tool, run from the repository root there.
# Not yet run on a GPU: no session has been lent one since it was written (2026-12-02). Prepare here, once:
#   cp ../shared/data/fer2013.tar.xz data/                          # data/ is ignored by git; the call carries it
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl "fastcore<2"   # the one missing package there
# then: run(command="bash device/ablation.sh", carry=["data/fer2013.tar.xz", ".whl"], timeout_s=560)
# One call carries at most 64 MiB: the tracked files, the dataset and .whl together (61_experiments.ablation tests the sum).
# The device machine has torch, torchvision, opencv, sklearn, statsmodels, seaborn, onnx(runtime), safetensors, tensorboard.
# EPOCHS, LONG_EPOCHS, PARALLEL and BUDGET_S size the run. The defaults are a guess (the H200's speed on these networks
# has not been measured): 7 rows + 2 more seeds of the final recipe, about 9 million training images in all at 20/60
# epochs. The speed table printed first (and kept in $OUT) says what a later call can afford; runs/ does not survive the
# machine, so each call starts its runs anew. If the ablation outruns BUDGET_S, the summaries and metrics written so far still come back.
# EXTRA passes more fer-ablation options. A CPU smoke test of this script, here:
#   OUT=/tmp/abl RUNS=/tmp/abl-runs RESULTS=/tmp/abl-results DEVICE=cpu PARALLEL=2 EPOCHS=1 LONG_EPOCHS=1 EXTRA="--max_train 200 --width 16 --final_seeds 0" bash device/ablation.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
export FER_NB_CACHE=/tmp/fer-cache PYTHONUNBUFFERED=1
DEVICE=${DEVICE:-cuda} RUNS=${RUNS:-runs/ablation} RESULTS=${RESULTS:-results/ablation}
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || lscpu | grep 'Model name'; } | tee "$OUT/machine.txt"
DEVICE=$DEVICE python3 - <<'PY' 2>&1 | tee "$OUT/speed.txt"
import os
from fer_nb.training.train import training_speed
dev, steps = os.environ['DEVICE'], (30 if os.environ['DEVICE'] == 'cuda' else 3)
print('| stem | batch | train img/s |'); print('|---|---|---|')
for stem in ('seed', 'cifar'):
    for bs in (64, 256): print(f"| {stem} | {bs} | {training_speed(stem, dev, bs, steps=steps, warmup=2):.0f} |")
PY
timeout "${BUDGET_S:-420}" python3 -m fer_nb.experiments.ablation --epochs "${EPOCHS:-20}" --long_epochs "${LONG_EPOCHS:-60}" \
  --parallel "${PARALLEL:-8}" --device "$DEVICE" --data data/fer2013.tar.xz --out "$RUNS" --results "$RESULTS" \
  ${EXTRA:-} 2>&1 | tee "$OUT/ablation.log"
# one archive of everything but the weights; the best final-recipe weights (chosen on validation) in 15 MiB parts
tar czf "$OUT/ablation.tar.gz" "$RESULTS" "$RUNS"/*/summary.json "$RUNS"/*/history.csv "$RUNS"/*/training_curves.png
best=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['best_run'])" "$RESULTS/ablation.json") \
  && split -b 15m "$best/best.safetensors" "$OUT/best.safetensors.part-"
ls -la "$OUT"
