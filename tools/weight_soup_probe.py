"""Weight averages ("model soups", Wortsman et al. 2022) of stage-2 runs that all started from the same stage-1 network:
each subset's averaged weights, scored as they are and with every BatchNorm's statistics recomputed on a third of the
training images, on the validation slice (never a test split). Writes a JSON record.

    python tools/weight_soup_probe.py RUN NAME1,NAME2,... OUT.json    (RUN: the folder of NAME.safetensors, as fer-train-heads wrote them)
"""
import itertools, json, sys
from pathlib import Path
import torch
from fer_nb.models.builder import load_model
from fer_nb.models.resnet import read_state_dict
from fer_nb.data.load import load_fer2013
from fer_nb.data.split import split_fer2013
from fer_nb.data.ferplus import majority_labels
from fer_nb.training.two_heads import head_accuracies, recompute_batchnorm

run, names, out = Path(sys.argv[1]).expanduser(), sys.argv[2].split(','), Path(sys.argv[3])
parts = split_fer2013(load_fer2013(None, ferplus=True), valid_pct=0.1, seed=42)
va, Xtr = parts['valid'], torch.from_numpy(parts['train'].images[::3]).unsqueeze(1)
Xva, y8 = torch.from_numpy(va.images).unsqueeze(1), majority_labels(va.votes)
sds = {n: read_state_dict(run / f'{n}.safetensors')[0] for n in names}

def score(sd, bn: bool = False) -> dict:
    "Both heads' validation accuracy (%) of the network with weights `sd`, and their mean."
    m = load_model(run / f'{names[0]}.safetensors'); m.load_state_dict(sd)   # a fresh network each time: recompute_batchnorm changes it
    if bn: recompute_batchnorm(m, Xtr)
    a8, a7 = head_accuracies(m, Xva, y8, va.labels)
    return {'ferplus': round(a8 * 100, 2), 'fer2013': round(a7 * 100, 2), 'mean': round((a8 + a7) * 50, 2)}

def average(ns) -> dict:
    "The mean of the runs' floating-point tensors (BatchNorm's counters from the first)."
    return {k: (sum(sds[n][k].double() for n in ns) / len(ns)).to(v.dtype) if v.is_floating_point() else v for k, v in sds[ns[0]].items()}

rows = [{'runs': [n], **score(sds[n])} for n in names]
for r in range(2, len(names) + 1):
    for ns in itertools.combinations(names, r):
        sd = average(ns); rows.append({'runs': list(ns), **score(sd), 'batchnorm_recomputed': score(sd, bn=True)})
for row in rows: print(json.dumps(row))
out.write_text(json.dumps({'split': 'the validation slice (10% of Training, seed 42)', 'run': run.name, 'rows': rows}, indent=1) + '\n')
