"""Stage 2 of the shipped model (nbs/26_training.two_heads.ipynb, `fit_two_heads`): one backbone, two heads, trained from
the FER+ network of stage 1 (fer-train --labels ferplus). Writes OUT/NAME.safetensors (a fer_nb model answering in FER+
by default), OUT/NAME.json (the choice, the recipe and the history) and OUT/NAME_history.json. Every option of
`TWO_HEADS` is a flag; for example the shipped model's recipe:

    nice python tools/train_two_heads.py --epochs 12 --name online --online \
        --ferplus_teachers RUNS/ferplus/best.safetensors RUNS/ferplus_s7/best.safetensors
"""
import argparse, json
from pathlib import Path
from fer_nb.training.two_heads import TWO_HEADS, fit_two_heads

RUN = Path.home() / '.cache/fer_nb/runs/ferplus'
ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('--ferplus', default=str(RUN / 'best.safetensors'))    # stage 1's best network
ap.add_argument('--name', default='two_heads')                           # OUT/NAME.safetensors, OUT/NAME.json
ap.add_argument('--out', default=str(RUN))
ap.add_argument('--data', default=None)                                  # FER2013; None: data/, then ../shared/data
for k, v in TWO_HEADS.items():
    if isinstance(v, bool): ap.add_argument(f'--{k}', action='store_true')
    elif isinstance(v, list): ap.add_argument(f'--{k}', nargs='*', default=v)
    else: ap.add_argument(f'--{k}', type=type(v) if v is not None else int, default=v)
a = vars(ap.parse_args())
res = fit_two_heads(a.pop('ferplus'), a.pop('out'), a.pop('name'), data=a.pop('data'), **a)
print(json.dumps({k: v for k, v in res.items() if k != 'history'}))
