"""The long training run of issue 24, one cycle per session, that survives a change of machine.

    python tools/long_run.py start     # resume this machine's unfinished cycle, else start the next one (niced, in the background)
    python tools/long_run.py status    # the running cycle's last epochs
    python tools/long_run.py record    # commit-ready: the cycle's history and summary into results/longrun/
    python tools/long_run.py compare   # the last recorded cycle against the shipped model on the validation slice (never a test split)
    python tools/long_run.py compare wide   # the wide run against the shipped model, likewise
    python tools/long_run.py teach     # the teacher of the distilled cycles: the shipped model and the cycle ends, averaged, per training image
    python tools/long_run.py wide      # the wide run: full width, from scratch, distilled (is the network the limit?)
    python tools/long_run.py record_wide   # its history and summary into results/longrun/wide/

A cycle is one `fer-train` run with a cosine schedule to zero (a warm restart, SGDR-style, when it starts from
trained weights). Checkpoints live in ~/.cache/fer_nb/runs/ (never in the tree); what a later session on
another machine needs is committed under results/longrun/: the cycle log (cycles.csv), each cycle's history and the
teacher's answers (soft_targets.npz). Every cycle warm-starts from the shipped model: a cycle that beats it by more than
chance on validation is shipped (fer-ship), so the shipped weights are always the best so far, and the tree never holds
a second model (device/ablation.sh must carry the tree and the dataset in 64 MiB). The validation slice is fixed
(split_seed 42), so every cycle chooses on the same images, none of which any cycle trained on.
"""
import csv, json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / 'results' / 'longrun'
RUNS = Path(os.environ.get('FER_NB_RUNS', Path.home() / '.cache' / 'fer_nb' / 'runs'))
DATA = os.environ.get('FER2013', str(ROOT.parent / 'shared' / 'data' / 'fer2013.tar.xz'))
# the recipe of every cycle: half width (what ships), SGD with Nesterov momentum, cosine to 0, 40x40 crops, erasing 0.5
RECIPE = ['--width', '32', '--stem', 'seed', '--optimizer', 'sgd', '--momentum', '0.9', '--weight_decay', '5e-4',
          '--scheduler', 'cosine', '--eta_min', '0', '--batch_size', '64', '--crop_size', '40', '--erasing_p', '0.5',
          '--label_smoothing', '0.1', '--no-class_weights', '--split_seed', '42', '--device', 'cpu']
SOFT = LOG / 'soft_targets.npz'   # the ensemble's answers per training image (`teach`): committed, so any machine can go on
CYCLES = {1: dict(epochs=50, lr=0.02, seed=1, init=None)}   # later cycles: shorter, warm, lower peak lr; from cycle 3 on, distilled
def shipped_valid() -> float:
    "The shipped model's validation accuracy on the same fixed slice (its run's summary.json)."
    return json.loads((ROOT / 'results' / 'shipped' / 'training' / 'summary.json').read_text())['best_valid_acc']

FER2013_COMMIT = 'c07eb4b'   # the last commit whose package shipped the FER2013-only model the cycles were measured against

def fer2013_model() -> Path:
    "The FER2013-only model shipped before the two-headed FER+ model (issue 34), restored from git once into the cache: the cycles' reference."
    f = Path.home() / '.cache' / 'fer_nb' / f'fer2013_model-{FER2013_COMMIT}.safetensors'
    if not f.is_file():
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(subprocess.run(['git', '-C', str(ROOT), 'show', f'{FER2013_COMMIT}:fer_nb/weights/fer_resnet18.safetensors'],
                                     capture_output=True, check=True).stdout)
    return f

def warm_weights() -> str:
    "Every warm start: the FER2013-only model's weights (the package now ships the two-headed FER+ model)."
    return str(fer2013_model())

def plan(k: int) -> dict:
    "Cycle `k`: 1 from scratch; 2 a plain warm restart; 3 on the same warm restart, distilled from the ensemble of the cycles before (`teach`)."
    if k in CYCLES: return CYCLES[k]
    return dict(epochs=30, lr=0.005, seed=k, init=warm_weights(), **({'soft_targets': str(SOFT), 'distill': 0.5} if k >= 3 else {}))

def cycles() -> list:
    f = LOG / 'cycles.csv'
    return list(csv.DictReader(f.open())) if f.exists() else []

def run_dir(k: int) -> Path: return RUNS / f'longrun-c{k}'

def current() -> int:
    "The cycle to work on: the first one not yet recorded as done."
    done = [int(r['cycle']) for r in cycles() if r['done'] == 'True']
    return max(done, default=0) + 1

def command(k: int, p: dict = None, out: Path = None, recipe: list = RECIPE) -> list:
    "The `fer-train` command of cycle `k` (or of the plan `p` into `out`)."
    p, out = p or plan(k), out or run_dir(k)
    cmd = ['fer-train', '--data', DATA, *recipe, '--epochs', str(p['epochs']), '--patience', str(p['epochs']),
           '--lr', str(p['lr']), '--seed', str(p['seed']), '--out', str(out)]
    if p.get('soft_targets'):
        if not Path(p['soft_targets']).is_file(): raise SystemExit(f"{out.name} is distilled: make {p['soft_targets']} first (python tools/long_run.py teach)")
        cmd += ['--soft_targets', p['soft_targets'], '--distill', str(p['distill'])]
    if p['init']: cmd += ['--init_weights', p['init']]     # on a resume too: fer-train resumes only with the options the run began with
    if (out / 'last.pt').exists(): cmd.append('--resume')
    return cmd

def launch(cmd: list, out: Path, threads: str = '1'):
    "Run `cmd` niced in the background, its output appended to out/train.log."
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / 'train.log', 'a')
    # one thread by default: the session's other work shares the 2 cores, and two PyTorch threads on a busy core spin
    # (an epoch took 20 minutes instead of 1); FER_NB_TRAIN_THREADS=2 on an otherwise idle machine
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('FER_NB_TRAIN_THREADS', threads)}
    subprocess.Popen(['nice', '-n', '19', *cmd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    print(f"{' '.join(cmd)}\nlog: {out / 'train.log'}")

def start():
    k = current(); print(f"cycle {k}:"); launch(command(k), run_dir(k))

# The wide run: is the half-width network the limit? The cycles' recipe at full width (64; four times the compute, too
# big to ship at 22 MB in float16), from scratch, distilled from the same teacher. It ended below the shipped model
# (docs/training.md, block longrun-wide), so `teach` leaves it out.
WIDE = dict(epochs=18, lr=0.02, seed=6, init=None, soft_targets=str(SOFT), distill=0.5)
WIDE_DIR = RUNS / 'teacher-w64'
def wide_command() -> list: return command(0, WIDE, WIDE_DIR, [('64' if a == '32' else a) for a in RECIPE])

def wide():
    "Start (or resume) the wide run on both threads: a full-width epoch took 236 s on 2 threads, a half-width one 91-97 s on 1."
    launch(wide_command(), WIDE_DIR, threads='2')

def record_wide():
    "The wide run's history and summary into results/longrun/wide/ (the docs block longrun-wide reads them)."
    dst = LOG / 'wide'; dst.mkdir(parents=True, exist_ok=True)
    for f in ('history.csv', 'summary.json'):
        if (WIDE_DIR / f).exists(): (dst / f).write_text((WIDE_DIR / f).read_text())
    print(open(dst / 'history.csv').read())

def status():
    import pandas as pd
    k = current(); h = run_dir(k) / 'history.csv'
    print(f"cycle {k}, {run_dir(k)}")
    if h.exists(): print(pd.read_csv(h)[['epoch', 'lr', 'train_acc', 'valid_acc', 'seconds']].tail(5).round(4).to_string(index=False))

def record():
    "Copy the cycle's history and summary into results/longrun/, rewrite cycles.csv and the curve; say when the cycle should be compared and shipped."
    import pandas as pd
    k = current(); src = run_dir(k); dst = LOG / f'c{k}'; dst.mkdir(parents=True, exist_ok=True)
    h = pd.read_csv(src / 'history.csv'); h.to_csv(dst / 'history.csv', index=False)
    done = (src / 'summary.json').exists() and len(h) >= plan(k)['epochs']
    if done: (dst / 'summary.json').write_text((src / 'summary.json').read_text())
    best = float(h.valid_acc.max())
    prev = max([shipped_valid(), *(float(r['best_valid_acc']) for r in cycles() if int(r['cycle']) != k)])
    if best > prev:   # better than the shipped model and every cycle on validation: compare, and ship it if that is more than chance
        print(f"cycle {k} leads on validation ({best:.4f} > {prev:.4f}): run `python tools/long_run.py compare`; if McNemar says more than chance, "
              f"ship it (fer-ship {src}), and the next cycles start from it")
    rows = [r for r in cycles() if int(r['cycle']) != k]
    cfg = json.loads((src / 'summary.json').read_text())['config'] if (src / 'summary.json').exists() else {}
    init = cfg.get('init_weights') or plan(k)['init']   # what the run started from
    rows.append({'cycle': k, 'run': src.name, 'init': os.path.relpath(init, ROOT) if init else 'scratch', 'epochs': len(h), 'planned_epochs': plan(k)['epochs'],
                 'hours': round(h.seconds.sum() / 3600, 3), 'best_valid_acc': round(best, 4),
                 'best_epoch': int(h.valid_acc.idxmax()) + 1, 'done': done})
    with (LOG / 'cycles.csv').open('w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(sorted(rows, key=lambda r: int(r['cycle'])))
    plot()
    print(open(LOG / 'cycles.csv').read())

def plot():
    "Validation accuracy against training hours (2 CPU cores), every cycle one after the other."
    import pandas as pd, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3)); t0 = 0.0
    for r in cycles():
        h = pd.read_csv(LOG / f"c{r['cycle']}" / 'history.csv'); hours = t0 + h.seconds.cumsum() / 3600
        ax.plot(hours, 100 * h.valid_acc, label=f"cycle {r['cycle']}"); t0 = float(hours.iloc[-1])
    ax.axhline(100 * shipped_valid(), color='gray', ls=':', lw=1, label='shipped model (valid)')
    ax.set_xlabel('training hours (2 CPU cores)'); ax.set_ylabel('validation accuracy %'); ax.legend(fontsize=8); fig.tight_layout()
    fig.savefig(LOG / 'valid_vs_hours.png', dpi=80); plt.close(fig)

def compare(which: str = 'cycle'):
    "The last recorded cycle's best model (or the wide run's: `compare wide`) against the shipped one on the fixed validation"
    " slice: accuracy (with flip), the paired difference (McNemar, bootstrap) and the two models' average; written to"
    " results/longrun/cN/valid_vs_shipped.json (or wide/)."
    import numpy as np, torch
    from fer_nb.core import write_json
    from fer_nb.training.train import prepare_data
    from fer_nb.data.transforms import to_device
    from fer_nb.models.builder import load_model, model_logits, packaged_model
    from fer_nb.training.calibration import apply_temperature
    from fer_nb.evaluation.metrics import mcnemar_p, bootstrap_ci
    if which == 'wide': k, name, path, out = 'wide', 'wide run', WIDE_DIR / 'best.safetensors', LOG / 'wide'
    else:
        k = max(int(r['cycle']) for r in cycles()); name, path, out = f'cycle {k}', run_dir(k) / 'best.safetensors', LOG / f'c{k}'
    X, y = to_device(prepare_data({'data': DATA, 'split_seed': 42})['valid'], 'cpu'); y = y.numpy()
    P, res = {}, {'cycle': k, 'images': 'validation slice, split_seed 42', 'n': int(len(y))}
    for n, f in (('shipped', fer2013_model()), (name, path)):
        m = load_model(f); T = m.meta.get('temperature', 1.0)
        P[n] = apply_temperature(model_logits(m, X).numpy(), T)
        mirror = apply_temperature(model_logits(m, X.flip(-1)).numpy(), T)
        res[n] = {'accuracy': float((P[n].argmax(1) == y).mean()), 'accuracy_flip': float((((P[n] + mirror) / 2).argmax(1) == y).mean())}
    res['average of both'] = {'accuracy': float(((P['shipped'] + P[name]) / 2).argmax(1).__eq__(y).mean())}
    a, b = P[name].argmax(1) == y, P['shipped'].argmax(1) == y
    res['difference'] = {'accuracy': float(a.mean() - b.mean()), 'ci95': bootstrap_ci(a, b, lambda u, v: u.mean() - v.mean(), 1000, 0), 'mcnemar_p': mcnemar_p(a, b)}
    write_json(out / 'valid_vs_shipped.json', res); print(json.dumps(res, indent=1))

def teach():
    "The teacher: the shipped model and every recorded cycle's best weights still on this machine, averaged (calibrated, with flip), for every training image."
    from fer_nb.core import packaged_model
    from fer_nb.training.train import prepare_data
    from fer_nb.training.distill import save_soft_targets
    import torch; torch.set_num_threads(int(os.environ.get('FER_NB_TRAIN_THREADS', '1')))
    models = {'shipped': fer2013_model(), **{f"cycle {r['cycle']}": run_dir(int(r['cycle'])) / 'best.safetensors' for r in cycles()
                                              if (run_dir(int(r['cycle'])) / 'best.safetensors').is_file()}}
    tr = prepare_data({'data': DATA, 'split_seed': 42})['train']
    save_soft_targets(SOFT, models, tr.images)
    print(f"{SOFT}: {len(tr):,} training images, teachers {', '.join(models)} ({SOFT.stat().st_size / 1e6:.2f} MB)")

if __name__ == '__main__':
    {'start': start, 'status': status, 'record': record, 'compare': compare, 'teach': teach, 'wide': wide, 'record_wide': record_wide}[sys.argv[1] if len(sys.argv) > 1 else 'status'](*sys.argv[2:])
