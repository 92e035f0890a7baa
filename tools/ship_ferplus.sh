#!/usr/bin/env bash
# Ship the two-headed model (FER+ and FER2013) that tools/train_ferplus.py and tools/train_two_heads.py trained, then
# rewrite what depends on it: results/shipped (training records, evaluations of both heads, agreement of the compressed
# forms) and, with tools/regenerate, the figures and the generated parts of README.md and docs/.
#   bash tools/ship_ferplus.sh [RUN]    (RUN: the folder holding two_heads.safetensors; default ~/.cache/fer_nb/runs/ferplus)
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-$HOME/.cache/fer_nb/runs/ferplus}
fer-ship "$run/two_heads.safetensors"
out=results/shipped; rm -rf "$out"/eval-* "$out"/training; mkdir -p "$out/training"
python - "$run" "$out/training" <<'PY'
import json, sys
from pathlib import Path
run, dest = Path(sys.argv[1]), Path(sys.argv[2])
h1 = json.loads((run / 'history.json').read_text()); s2 = json.loads((run / 'two_heads.json').read_text())
(dest / 'stage1_history.json').write_text(json.dumps(h1, indent=1) + '\n')
(dest / 'stage2.json').write_text(json.dumps(s2, indent=1) + '\n')
PY
for s in PrivateTest PublicTest; do for t in none flip; do fer-evaluate --labels ferplus --split $s --tta $t --out $out/eval-$s-$t-ferplus; done; done
for s in PrivateTest both; do for t in none flip; do fer-evaluate --labels fer2013 --split $s --tta $t --out $out/eval-$s-$t; done; done
papermill nbs/46_inference.ship.ipynb /tmp/ship.ipynb -p run "$run" --cwd nbs
