#!/usr/bin/env bash
# Ship the two-headed model (FER+ and FER2013) that stage 1 (fer-train --labels ferplus) and stage 2 (fer-train-heads) trained, then
# rewrite what depends on it: results/shipped (training records, evaluations of both heads, agreement of the compressed
# forms) and, with tools/regenerate, the figures and the generated parts of README.md and docs/.
#   bash tools/ship_ferplus.sh [RUN [NAME]]    (RUN: the folder of stage 2's NAME.safetensors and NAME.json,
#                                               default ~/.cache/fer_nb/runs/ferplus; NAME default two_heads; stage 1's history is
#                                               read from the folder that NAME.json's stage1.file names, a sibling of RUN)
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-$HOME/.cache/fer_nb/runs/ferplus}; name=${2:-two_heads}
fer-ship "$run/$name.safetensors"
python tools/int8_selection.py    # the int8 calibration, chosen on the validation slice for this model (46 checks that it is the one shipped)
out=results/shipped; rm -rf "$out"/eval-* "$out"/training; mkdir -p "$out/training"
python - "$run" "$out/training" "$name" <<'PY'
import json, sys
from pathlib import Path
run, dest, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
def stage1_history(folder: Path) -> list:
    "A stage-1 run's epochs: history.json (the first runs, tools/train_ferplus.py) or fer-train's history.csv, in the same keys."
    if (folder / 'history.json').exists(): return json.loads((folder / 'history.json').read_text())
    import pandas as pd                                                # fer-train --labels ferplus: valid_acc is the majority accuracy
    h = pd.read_csv(folder / 'history.csv').rename(columns={'valid_acc': 'valid_majority_acc'})
    return h[['epoch', 'lr', 'train_loss', 'valid_majority_acc', 'seconds']].to_dict('records')
s2 = json.loads((run / f'{name}.json').read_text()); teachers = s2['recipe'].get('ferplus_teachers', [])
scratch = s2['recipe'].get('from_scratch', False)                     # a --from_scratch student took stage 1's architecture only
h1 = stage1_history(run.parent / Path(s2['stage1']['file']).parent)   # stage 1's file, RUN/FILE as the teachers are named
for k, t in enumerate(teachers):      # the stage-1 networks that taught the FER+ head: their histories too
    (dest / f'teacher{k + 1}_history.json').write_text(json.dumps(stage1_history(run.parent / Path(t).parent), indent=1) + '\n')
(dest / 'stage1_history.json').write_text(json.dumps(h1, indent=1) + '\n')
(dest / 'stage2.json').write_text(json.dumps(s2, indent=1) + '\n')
import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
n1 = 0 if scratch else len(h1); h2 = s2['history']                  # from scratch: the student's epochs beside its teacher's, not after them
fig, ax = plt.subplots(figsize=(8, 3.2))
ax.plot([r['epoch'] for r in h1], [r['valid_majority_acc'] for r in h1], label='stage 1' + (' (the first teacher)' if scratch else '') + ': FER+ head (majority accuracy)')
ax.plot([n1 + r['epoch'] for r in h2], [r['valid_majority_acc_ferplus'] for r in h2], label='stage 2: FER+ head')
ax.plot([n1 + r['epoch'] for r in h2], [r['valid_acc_fer2013'] for r in h2], label='stage 2: FER2013 head (accuracy)')
ax.axvline(n1 + s2['epoch'], color='gray', ls=':', lw=1); ax.set_xlabel('epoch'); ax.set_ylabel('validation accuracy'); ax.set_ylim(0.5, 0.9)
ax.legend(fontsize=8, loc='lower right'); ax.set_title('The shipped model on the validation slice'); fig.tight_layout(); fig.savefig(dest / 'training_curves.png', dpi=80)
PY
for s in PrivateTest PublicTest; do for t in none flip; do fer-evaluate --labels ferplus --split $s --tta $t --out $out/eval-$s-$t-ferplus; done; done
for s in PrivateTest both; do for t in none flip; do fer-evaluate --labels fer2013 --split $s --tta $t --out $out/eval-$s-$t; done; done
papermill nbs/46_inference.ship.ipynb /tmp/ship.ipynb -p run "$run/$name.safetensors" --cwd nbs
