"""Train the FER+ network: the shipped recipe (half-width ResNet-18, AdamW 1e-3 cosine, weight decay 0.01, batch 64)
against FER+'s vote distributions (mode 'crossentropy', 8 classes), the epoch chosen on the validation slice's majority
accuracy. Checkpoints go to ~/.cache/fer_nb/runs/ferplus (resumable: run the same command again).

    nice python tools/train_ferplus.py [--epochs 80] [--out DIR]
"""
import argparse, json, math, time
from pathlib import Path
import numpy as np, torch
import torch.nn.functional as F
from torch import nn
from safetensors.torch import save_file
from fer_nb.core import NORM_MEAN, NORM_STD, seed_everything
from fer_nb.data.load import load_fer2013
from fer_nb.data.split import split_fer2013
from fer_nb.data.ferplus import ferplus_targets, majority_labels, vote_shares, FERPLUS_EMOTIONS
from fer_nb.data.transforms import BatchAugment, eval_transform
from fer_nb.models.resnet import ResNetFER

ap = argparse.ArgumentParser()
ap.add_argument('--epochs', type=int, default=80)
ap.add_argument('--lr', type=float, default=1e-3)
ap.add_argument('--weight_decay', type=float, default=0.01)
ap.add_argument('--batch_size', type=int, default=64)
ap.add_argument('--width', type=int, default=32)
ap.add_argument('--mode', default='crossentropy')
ap.add_argument('--seed', type=int, default=42)
ap.add_argument('--out', default=str(Path.home() / '.cache/fer_nb/runs/ferplus'))
a = ap.parse_args()
out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
seed_everything(a.seed)

parts = split_fer2013(load_fer2013(ferplus=True), valid_pct=0.1, seed=42)
tr, va = parts['train'], parts['valid']
vtr, vva = tr.votes, va.votes
T, ok = ferplus_targets(vtr, a.mode)
Xtr, Ttr = torch.from_numpy(tr.images[ok]).unsqueeze(1), torch.from_numpy(T[ok])
yva = majority_labels(vva); m = yva >= 0
Xva, yva_t = torch.from_numpy(va.images[m]).unsqueeze(1), torch.from_numpy(yva[m])
share = torch.from_numpy(vote_shares(vva[m]))
print(f"train {len(Xtr)} of {len(tr)} images with a target; valid {len(Xva)} of {len(va)} with a majority", flush=True)

model = ResNetFER('seed', width=a.width)
model.head[-1] = nn.Linear(256, len(FERPLUS_EMOTIONS))
model = model.to(memory_format=torch.channels_last)
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs, eta_min=1e-6)
augment, norm = BatchAugment(scale=(0.8, 1.0), erasing_p=0.3), eval_transform()
start, history, best = 0, [], {'acc': -1, 'epoch': -1}
if (out / 'last.pt').exists():
    ck = torch.load(out / 'last.pt', weights_only=False)
    model.load_state_dict(ck['model']); opt.load_state_dict(ck['opt']); sched.load_state_dict(ck['sched'])
    start, history, best = ck['epoch'] + 1, ck['history'], ck['best']; torch.set_rng_state(ck['rng'])
    print(f"resuming after epoch {start}", flush=True)

@torch.no_grad()
def evaluate():
    model.eval(); logits = torch.cat([model(norm(Xva[i:i + 512]).contiguous(memory_format=torch.channels_last)) for i in range(0, len(Xva), 512)])
    return (logits.argmax(1) == yva_t).float().mean().item(), -(share * logits.log_softmax(1)).sum(1).mean().item()

for epoch in range(start, a.epochs):
    t0, model = time.perf_counter(), model.train()
    g = torch.Generator().manual_seed(a.seed * 1000 + epoch); order = torch.randperm(len(Xtr), generator=g)
    tot, n = 0., 0
    for i in range(0, len(order), a.batch_size):
        idx = order[i:i + a.batch_size]
        xb = augment(Xtr[idx]).contiguous(memory_format=torch.channels_last)
        loss = -(Ttr[idx] * model(xb).log_softmax(1)).sum(1).mean()
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        tot += loss.item() * len(idx); n += len(idx)
    lr = opt.param_groups[0]['lr']; sched.step()
    acc, ce = evaluate()
    row = {'epoch': epoch + 1, 'lr': lr, 'train_loss': tot / n, 'valid_majority_acc': acc, 'valid_vote_ce': ce, 'seconds': time.perf_counter() - t0}
    history.append(row)
    if acc > best['acc']:
        best = {'acc': acc, 'epoch': epoch}
        meta = {'classes': ','.join(FERPLUS_EMOTIONS), 'epoch': str(epoch + 1), 'valid_majority_acc': f"{acc:.4f}", 'recipe': json.dumps(vars(a))}
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / 'best.safetensors'), metadata=meta)
    torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'sched': sched.state_dict(), 'epoch': epoch, 'history': history,
                'best': best, 'rng': torch.get_rng_state(), 'args': vars(a)}, out / 'last.tmp'); (out / 'last.tmp').replace(out / 'last.pt')
    (out / 'history.json').write_text(json.dumps(history, indent=1))
    print(json.dumps(row), flush=True)
print(f"best valid majority acc {best['acc']:.4f} at epoch {best['epoch'] + 1}")
