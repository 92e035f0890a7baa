"""Choose the int8 calibration on the validation slice (never a test split): for a checkpoint (default: the packaged
model), quantise it with each candidate (MinMax or Percentile ranges; 300 or 1000 calibration images) and count how often
each head's int8 answer is the fp32 answer on the validation slice's faces. Writes results/shipped/int8_selection.json;
the winner at fer-ship's number of calibration images (the best mean agreement of the heads) is `INT8_CALIBRATION` in fer_nb/inference/export.py, and
46_inference.ship checks that the two agree.

    python tools/int8_selection.py [CHECKPOINT]
"""
import inspect, json, sys, tempfile
from pathlib import Path
import numpy as np, onnxruntime as ort
from fer_nb.core import project_root
from fer_nb.data.load import load_fer2013
from fer_nb.data.split import split_fer2013
from fer_nb.inference.export import export_onnx, quantize_onnx, calibration_images, onnx_meta
from fer_nb.inference.predict import preprocess_faces
from fer_nb.inference.ship import ship_model

ck = sys.argv[1] if len(sys.argv) > 1 else None
va = split_fer2013(load_fer2013(), valid_pct=0.1, seed=42)['valid']
fp32 = export_onnx(ck); meta = onnx_meta(fp32)
x = preprocess_faces(va.images, float(meta['norm_mean']), float(meta['norm_std']))

def answers(path) -> dict:
    "Each output's top class for every validation face."
    s = ort.InferenceSession(str(path), providers=['CPUExecutionProvider']); outs = [o.name for o in s.get_outputs()]
    res = [s.run(outs, {'faces': x[i:i + 256]}) for i in range(0, len(x), 256)]
    return {o: np.concatenate([r[k] for r in res]).argmax(1) for k, o in enumerate(outs)}

ref, rows = answers(fp32), []
with tempfile.TemporaryDirectory() as d:
    for n in (300, 1000):
        imgs = calibration_images(n, 0)
        for method in ('minmax', 'percentile:99.99', 'percentile:99.999'):
            got = answers(quantize_onnx(ck, imgs, out=Path(d) / f'{n}-{method}.onnx', calibrate=method))
            rows.append({'n_calib': n, 'calibrate': method, **{f'agree_{o}': round(float((got[o] == ref[o]).mean()), 4) for o in ref}})
            print(json.dumps(rows[-1]), flush=True)
n_ship = inspect.signature(ship_model).parameters['n_calib'].default        # fer-ship's number of calibration images: the choice is made there
best = max((r for r in rows if r['n_calib'] == n_ship), key=lambda r: np.mean([v for k, v in r.items() if k.startswith('agree_')]))
res = {'checkpoint': Path(str(ck)).name if ck else 'the packaged model', 'checkpoint_sha256': meta['checkpoint_sha256'],
       'faces': int(len(x)), 'split': 'the validation slice (10% of Training, seed 42)', 'rows': rows, 'chosen': best}
out = project_root() / 'results' / 'shipped' / 'int8_selection.json'; out.write_text(json.dumps(res, indent=1) + '\n')
print('chosen:', best, '->', out)
