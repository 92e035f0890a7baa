"""Stage 2 of the shipped model: one backbone, two heads. It starts from the FER+ network (stage 1: fer-train --labels ferplus) and
trains the whole network a little longer with a second head for FER2013's labels: the FER+ head keeps learning the
vote distributions (mode 'crossentropy'), the FER2013 head learns FER2013's labels with label smoothing 0.1, half of
each target from the long run's teacher (results/longrun/soft_targets.npz: the shipped FER2013 model and cycles 1-4
averaged). The epoch is chosen on the validation slice by the mean of the two heads' accuracies (FER+ majority, FER2013
label); both temperatures are fitted there, the FER+ head's against the vote shares. Writes OUT/two_heads.safetensors
(a fer_nb model answering in FER+ by default) and OUT/two_heads.json (the history and the choice).

    nice python tools/train_two_heads.py [--ferplus ~/.cache/fer_nb/runs/ferplus/best.safetensors] [--epochs 10]
"""
import argparse, json, time
from pathlib import Path
import numpy as np, torch
from torch import nn
from safetensors import safe_open
from safetensors.torch import load_file
from fer_nb.core import seed_everything
from fer_nb.data.load import load_fer2013
from fer_nb.data.split import split_fer2013
from fer_nb.data.ferplus import ferplus_targets, majority_labels, vote_shares
from fer_nb.data.transforms import BatchAugment, eval_transform
from fer_nb.models.resnet import ResNetFER
from fer_nb.models.builder import save_model, model_logits
from fer_nb.training.distill import soft_targets_for
from fer_nb.training.losses import make_loss
from fer_nb.training.calibration import fit_temperature

RUN = Path.home() / '.cache/fer_nb/runs/ferplus'
ap = argparse.ArgumentParser()
ap.add_argument('--ferplus', default=str(RUN / 'best.safetensors'))   # stage 1's best network
ap.add_argument('--epochs', type=int, default=10)
ap.add_argument('--lr', type=float, default=3e-4)
ap.add_argument('--weight_fer2013', type=float, default=1.0)            # the FER2013 head's share of the loss (the FER+ head's is 1)
ap.add_argument('--head_epochs', type=int, default=1)                   # first, this many epochs of the new head alone (the rest frozen): no random head's gradients reach the backbone
ap.add_argument('--distill', type=float, default=0.5)
ap.add_argument('--teacher', default='results/longrun/soft_targets.npz')
ap.add_argument('--ferplus_teachers', nargs='*', default=[])           # stage-1 FER+ networks (best.safetensors): their flip-averaged answers, averaged, become part of the FER+ head's target
ap.add_argument('--ferplus_distill', type=float, default=0.5)           # that part (the rest: the votes)
ap.add_argument('--online', action='store_true')                        # the teachers answer each augmented batch as the student sees it (else: once, on the clean images)
ap.add_argument('--swa_start', type=int, default=0)                   # from this epoch on, average the weights (torch's SWA; 0: none); the average is one more candidate
ap.add_argument('--swa_lr', type=float, default=1e-4)                   # the constant learning rate while averaging
ap.add_argument('--name', default='two_heads')                          # OUT/NAME.safetensors, OUT/NAME.json
ap.add_argument('--max_train', type=int, default=None)                  # quick checks only
ap.add_argument('--out', default=str(RUN))
a = ap.parse_args()
seed_everything(0); out = Path(a.out); out.mkdir(parents=True, exist_ok=True)

parts = split_fer2013(load_fer2013(ferplus=True), valid_pct=0.1, seed=42)
tr, va = parts['train'], parts['valid']
if a.max_train: tr, va = tr[:a.max_train], va[:a.max_train // 4]
T8, has8 = ferplus_targets(tr.votes, 'crossentropy')
Xtr, ytr = torch.from_numpy(tr.images).unsqueeze(1), torch.from_numpy(tr.labels)
T8, has8 = torch.from_numpy(T8), torch.from_numpy(has8)
Xva = torch.from_numpy(va.images).unsqueeze(1)
y8 = majority_labels(va.votes); m8 = y8 >= 0
teacher = torch.from_numpy(soft_targets_for(a.teacher, tr.images)) if a.distill > 0 else None

def stage1_network(path):
    "A stage-1 FER+ network (one 8-class head), in eval mode."
    net = ResNetFER('seed', width=32); net.head[-1] = nn.Linear(256, 8); net.load_state_dict(load_file(path)); return net.eval().to(memory_format=torch.channels_last)

@torch.no_grad()
def ferplus_network_probs(path, X):
    "A stage-1 FER+ network's probabilities on uint8 images X, averaged with those of the mirrored images."
    net = stage1_network(path)
    norm = eval_transform()
    out = [(net(norm(X[i:i + 512])).softmax(1) + net(norm(X[i:i + 512]).flip(3)).softmax(1)) / 2 for i in range(0, len(X), 512)]
    return torch.cat(out)
if a.ferplus_teachers:                                                   # the ensemble as teacher: its answers on the training and validation images
    P8 = None if a.online else sum(ferplus_network_probs(t, Xtr) for t in a.ferplus_teachers) / len(a.ferplus_teachers)   # online: answered per batch instead
    Pva = sum(ferplus_network_probs(t, Xva) for t in a.ferplus_teachers) / len(a.ferplus_teachers)
    print(json.dumps({'ferplus_teachers': len(a.ferplus_teachers), 'valid_majority_acc_ensemble': float((Pva.argmax(1).numpy()[m8] == y8[m8]).mean())}), flush=True)
    if not a.online: T8 = torch.where(has8[:, None], (1 - a.ferplus_distill) * T8 + a.ferplus_distill * P8, T8)
    else: teachers8 = [stage1_network(t) for t in a.ferplus_teachers]

model = ResNetFER('seed', width=32, heads=('ferplus', 'fer2013'))
r = model.load_state_dict(load_file(a.ferplus), strict=False)
assert not r.unexpected_keys and all(k.startswith('head_fer2013.') for k in r.missing_keys), r
model = model.to(memory_format=torch.channels_last)
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.swa_start or a.epochs, eta_min=1e-6)
if a.swa_start:
    from torch.optim.swa_utils import AveragedModel, SWALR, update_bn
    swa_model, swa_sched = AveragedModel(model), SWALR(opt, swa_lr=a.swa_lr, anneal_epochs=2)
augment, loss7 = BatchAugment(scale=(0.8, 1.0), erasing_p=0.3), make_loss('ce', smoothing=0.1)

def scores():
    model.eval()
    acc8 = float((model_logits(model.use('ferplus'), Xva).argmax(1).numpy()[m8] == y8[m8]).mean())
    acc7 = float((model_logits(model.use('fer2013'), Xva).argmax(1).numpy() == va.labels).mean())
    return acc8, acc7

acc8, acc7 = scores(); history = [{'epoch': 0, 'valid_majority_acc_ferplus': acc8, 'valid_acc_fer2013': acc7}]
print(json.dumps(history[-1]), flush=True)
best = (-1, None, 0)
head_opt = torch.optim.AdamW(model.head_fer2013.parameters(), lr=1e-3, weight_decay=0.01)
for epoch in range(a.head_epochs):                                       # the new head alone, on the frozen features
    t0 = time.perf_counter(); model.eval(); model.head_fer2013.train()
    order = torch.randperm(len(Xtr), generator=torch.Generator().manual_seed(1000 + epoch))
    for i in range(0, len(order), 64):
        idx = order[i:i + 64]
        with torch.no_grad(): z = torch.flatten(model.pool(model.features(augment(Xtr[idx]).contiguous(memory_format=torch.channels_last))), 1)
        t7 = nn.functional.one_hot(ytr[idx], 7).float()
        if teacher is not None: t7 = (1 - a.distill) * t7 + a.distill * teacher[idx]
        loss = loss7(model.head_fer2013(z), t7); head_opt.zero_grad(set_to_none=True); loss.backward(); head_opt.step()
    acc8, acc7 = scores(); history.append({'epoch': 0, 'stage': 'head only', 'valid_majority_acc_ferplus': acc8, 'valid_acc_fer2013': acc7,
                                           'seconds': time.perf_counter() - t0}); print(json.dumps(history[-1]), flush=True)
if a.head_epochs: best = ((acc8 + acc7) / 2, {k: v.clone() for k, v in model.state_dict().items()}, 0)   # the joint epochs must beat this
for epoch in range(a.epochs):
    t0 = time.perf_counter(); model.train(); tot = 0.
    order = torch.randperm(len(Xtr), generator=torch.Generator().manual_seed(epoch))
    for i in range(0, len(order), 64):
        idx = order[i:i + 64]
        xb = augment(Xtr[idx]).contiguous(memory_format=torch.channels_last)
        z8, z7 = model.forward_heads(xb)
        h, t8 = has8[idx], T8[idx]
        if a.ferplus_teachers and a.online:                                # the ensemble's answer on this very batch, mirrored too
            with torch.no_grad(): p8 = sum(t(xb).softmax(1) + t(xb.flip(3)).softmax(1) for t in teachers8) / (2 * len(teachers8))
            t8 = (1 - a.ferplus_distill) * t8 + a.ferplus_distill * p8
        l8 = -(t8[h] * z8[h].log_softmax(1)).sum(1).sum() / max(int(h.sum()), 1)
        t7 = nn.functional.one_hot(ytr[idx], 7).float()
        if teacher is not None: t7 = (1 - a.distill) * t7 + a.distill * teacher[idx]
        loss = l8 + a.weight_fer2013 * loss7(z7, t7)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); tot += loss.item() * len(idx)
    lr = opt.param_groups[0]['lr']
    if a.swa_start and epoch + 1 >= a.swa_start: swa_model.update_parameters(model); swa_sched.step()
    else: sched.step()
    acc8, acc7 = scores()
    history.append({'epoch': epoch + 1, 'lr': lr, 'train_loss': tot / len(order), 'valid_majority_acc_ferplus': acc8, 'valid_acc_fer2013': acc7,
                    'seconds': time.perf_counter() - t0}); print(json.dumps(history[-1]), flush=True)
    if (acc8 + acc7) / 2 > best[0]: best = ((acc8 + acc7) / 2, {k: v.clone() for k, v in model.state_dict().items()}, epoch + 1)
    (out / f'{a.name}_history.json').write_text(json.dumps(history, indent=1))
if a.swa_start:                                                          # the average of the epochs from swa_start on, its BatchNorm statistics recomputed
    t0 = time.perf_counter()
    norm = eval_transform()
    update_bn([norm(Xtr[i:i + 256]).contiguous(memory_format=torch.channels_last) for i in range(0, len(Xtr), 256)], swa_model)
    model.load_state_dict(swa_model.module.state_dict()); acc8, acc7 = scores()
    history.append({'epoch': 'swa', 'averaged_epochs': [a.swa_start, a.epochs], 'valid_majority_acc_ferplus': acc8, 'valid_acc_fer2013': acc7,
                    'seconds': time.perf_counter() - t0}); print(json.dumps(history[-1]), flush=True)
    if (acc8 + acc7) / 2 > best[0]: best = ((acc8 + acc7) / 2, {k: v.clone() for k, v in model.state_dict().items()}, 'swa')
model.load_state_dict(best[1]); model.eval()
z8 = model_logits(model.use('ferplus'), Xva).numpy().astype(np.float64); share = vote_shares(va.votes); ok = np.isfinite(share).all(1)
t8 = fit_temperature(z8[ok], share[ok])                                  # against the vote shares
t7 = fit_temperature(model_logits(model.use('fer2013'), Xva).numpy(), va.labels)
acc8, acc7 = scores(); meta1 = safe_open(a.ferplus, 'pt').metadata() or {}
res = {'epoch': best[2], 'valid_majority_acc_ferplus': acc8, 'valid_acc_fer2013': acc7, 'temperature': round(t8, 4), 'temperature_fer2013': round(t7, 4),
       'stage1': {'epochs': json.loads(meta1.get('recipe', '{}')).get('epochs'), 'best_epoch': meta1.get('epoch'), 'valid_majority_acc': meta1.get('valid_majority_acc')},
       'recipe': {k: ([str(Path(t).relative_to(Path(t).parent.parent)) for t in v] if k == 'ferplus_teachers' else v)   # a teacher as run/file, not a home path
                  for k, v in vars(a).items() if k not in ('out', 'ferplus', 'name')}, 'seconds': round(sum(h.get('seconds', 0) for h in history), 1), 'history': history}
save_model(model.use('ferplus'), out / f'{a.name}.safetensors', temperature=res['temperature'], temperature_fer2013=res['temperature_fer2013'],
           valid_acc=f"{acc8:.4f}", valid_acc_fer2013=f"{acc7:.4f}", epoch=best[2],
           recipe=json.dumps({'stage1': {k: v for k, v in json.loads(meta1.get('recipe', '{}')).items() if k != 'out'}, 'stage2': res['recipe']}))
(out / f'{a.name}.json').write_text(json.dumps(res, indent=1))
print(json.dumps({k: v for k, v in res.items() if k != 'history'}))
