"""Stage 2 of the shipped model, as before it moved into the library: `fer-train-heads` (nbs/26_training.two_heads.ipynb)
with stage 1 and the output folder where the earlier sessions kept them (~/.cache/fer_nb/runs/ferplus).

    nice python tools/train_two_heads.py --epochs 12 --name online --online --ferplus_teachers RUNS/ferplus/best.safetensors RUNS/ferplus_s7/best.safetensors
"""
import sys
from pathlib import Path
from fer_nb.apps.cli import launch

RUN = Path.home() / '.cache/fer_nb/runs/ferplus'
args = sys.argv[1:]
if '--ferplus' in args: i = args.index('--ferplus'); stage1 = args[i + 1]; del args[i:i + 2]
else: stage1 = str(RUN / 'best.safetensors')
launch('fer-train-heads', [stage1, *args] + ([] if '--out' in args else ['--out', str(RUN)]))
