// fer_nb's live pipeline in the browser: YuNet finds the faces, the emotion classifier labels them, both under
// onnxruntime-web (WebAssembly), and faces are tracked and smoothed over time as in fer-live. No frame leaves the page.
// The pixel work follows fer_nb's Python pipeline step for step (OpenCV's gray weights, area resizing, the eye-levelling
// warp, YuNet's decoding and non-maximum suppression), so both give the same answers on the same frames
// (nbs/56_apps.browser.ipynb checks it in Chromium).
'use strict';
const FerDevice = (() => {
  const STRIDES = [8, 16, 32];

  // --- pixels -------------------------------------------------------------------------------------------------
  function grayFromRGBA(rgba, n) {        // OpenCV's COLOR_RGB2GRAY, in its fixed point: (R*4899 + G*9617 + B*1868 + 8192) >> 14
    const g = new Uint8Array(n);
    for (let i = 0, j = 0; i < n; i++, j += 4) g[i] = (rgba[j] * 4899 + rgba[j + 1] * 9617 + rgba[j + 2] * 1868 + 8192) >> 14;
    return g;
  }
  function areaTab(src, dst) {            // OpenCV's INTER_AREA weights along one axis: [dst index, src index, weight]
    const scale = src / dst, tab = [];
    for (let d = 0; d < dst; d++) {
      const f0 = d * scale, f1 = f0 + scale, cell = Math.min(scale, src - f0);
      const s1 = Math.min(Math.floor(f1), src - 1), s0 = Math.min(Math.ceil(f0), s1);
      if (s0 - f0 > 1e-3) tab.push([d, s0 - 1, (s0 - f0) / cell]);
      for (let s = s0; s < s1; s++) tab.push([d, s, 1 / cell]);
      if (f1 - s1 > 1e-3) tab.push([d, s1, Math.min(Math.min(f1 - s1, 1), cell) / cell]);
    }
    return tab;
  }
  function resizeArea(img, W, H, w, h) {  // gray uint8 W x H -> w x h, area-averaged (shrinking), rounded as OpenCV rounds
    const tx = areaTab(W, w), ty = areaTab(H, h), rows = new Float32Array(w * H), out = new Uint8Array(w * h);
    for (let y = 0; y < H; y++) for (const [d, s, k] of tx) rows[y * w + d] += img[y * W + s] * k;
    const acc = new Float32Array(w * h);
    for (const [d, s, k] of ty) for (let x = 0; x < w; x++) acc[d * w + x] += rows[s * w + x] * k;
    for (let i = 0; i < w * h; i++) out[i] = Math.min(255, Math.max(0, Math.round(acc[i])));
    return out;
  }
  function resizeLinear(img, W, H, w, h) { // bilinear with pixel centres aligned (OpenCV's INTER_LINEAR), for enlarging
    const out = new Uint8Array(w * h), sx = W / w, sy = H / h;
    for (let y = 0; y < h; y++) {
      let fy = (y + 0.5) * sy - 0.5; const y0 = Math.floor(fy), wy = fy - y0, ya = Math.min(Math.max(y0, 0), H - 1), yb = Math.min(Math.max(y0 + 1, 0), H - 1);
      for (let x = 0; x < w; x++) {
        let fx = (x + 0.5) * sx - 0.5; const x0 = Math.floor(fx), wx = fx - x0, xa = Math.min(Math.max(x0, 0), W - 1), xb = Math.min(Math.max(x0 + 1, 0), W - 1);
        const v = (img[ya * W + xa] * (1 - wx) + img[ya * W + xb] * wx) * (1 - wy) + (img[yb * W + xa] * (1 - wx) + img[yb * W + xb] * wx) * wy;
        out[y * w + x] = Math.round(v);
      }
    }
    return out;
  }
  function cropLevel(gray, W, H, box, eyes) {   // `crop_faces`: the square around the box, turned so the eyes are level (border pixels repeat)
    const [x, y, w, h] = box, s = Math.max(Math.round(Math.max(w, h)), 2), cx = x + w / 2, cy = y + h / 2, out = new Uint8Array(s * s);
    const a = eyes ? Math.atan2(eyes[3] - eyes[1], eyes[2] - eyes[0]) : 0, c = Math.cos(a), sn = Math.sin(a);
    for (let v = 0; v < s; v++) for (let u = 0; u < s; u++) {
      const dx = u - s / 2, dy = v - s / 2;                  // the inverse of OpenCV's rotation about the box centre
      const X = Math.min(Math.max(cx + c * dx - sn * dy, 0), W - 1), Y = Math.min(Math.max(cy + sn * dx + c * dy, 0), H - 1);
      const x0 = Math.min(Math.floor(X), W - 2 < 0 ? 0 : W - 2), y0 = Math.min(Math.floor(Y), H - 2 < 0 ? 0 : H - 2), fx = X - x0, fy = Y - y0;
      const x1 = Math.min(x0 + 1, W - 1), y1 = Math.min(y0 + 1, H - 1);
      out[v * s + u] = Math.round((gray[y0 * W + x0] * (1 - fx) + gray[y0 * W + x1] * fx) * (1 - fy) + (gray[y1 * W + x0] * (1 - fx) + gray[y1 * W + x1] * fx) * fy);
    }
    return [out, s];
  }

  // --- faces ----------------------------------------------------------------------------------------------------
  function iou(a, b) {
    const iw = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0])), ih = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
    const inter = iw * ih, union = a[2] * a[3] + b[2] * b[3] - inter;
    return union > 0 ? inter / union : 0;
  }
  async function yunet(session, img, w, h, score, nmsThr) {   // YuNet's faces in a gray image: [x, y, w, h, 10 landmark numbers, score]
    const pw = Math.ceil(w / 32) * 32, ph = Math.ceil(h / 32) * 32, plane = pw * ph, x = new Float32Array(3 * plane);
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) { const v = img[r * w + c], i = r * pw + c; x[i] = v; x[plane + i] = v; x[2 * plane + i] = v; }
    const out = await session.run({ input: new ort.Tensor('float32', x, [1, 3, ph, pw]) });
    const faces = [];
    for (const s of STRIDES) {
      const cols = pw / s, cls = out['cls_' + s].data, obj = out['obj_' + s].data, bb = out['bbox_' + s].data, kp = out['kps_' + s].data;
      for (let i = 0; i < cls.length; i++) {
        const sc = Math.sqrt(Math.min(Math.max(cls[i], 0), 1) * Math.min(Math.max(obj[i], 0), 1));
        if (sc < score) continue;
        const r = Math.floor(i / cols), c = i % cols, bw = Math.exp(bb[4 * i + 2]) * s, bh = Math.exp(bb[4 * i + 3]) * s;
        const f = [(c + bb[4 * i]) * s - bw / 2, (r + bb[4 * i + 1]) * s - bh / 2, bw, bh];
        for (let k = 0; k < 5; k++) f.push((kp[10 * i + 2 * k] + c) * s, (kp[10 * i + 2 * k + 1] + r) * s);
        f.push(sc); faces.push(f);
      }
    }
    faces.sort((a, b) => b[14] - a[14]);                    // OpenCV's NMSBoxes on the integer boxes, best score first
    const keep = [], ibox = f => f.slice(0, 4).map(Math.trunc);
    for (const f of faces) if (keep.every(k => iou(ibox(k), ibox(f)) <= nmsThr)) keep.push(f);
    return keep;
  }

  // --- tracks and words -----------------------------------------------------------------------------------------
  class Tracker {                          // `FaceTracker` and `TemporalSmoother`: greedy box overlap, a time window per face
    constructor(cfg) { this.cfg = cfg; this.tracks = []; this.next = 1; }
    reset() { this.tracks = []; }
    update(boxes, probs, t) {
      const { window, iou_threshold, max_unseen } = this.cfg;
      this.tracks = this.tracks.filter(tr => t - tr.seen <= max_unseen + 1e-6);
      const pairs = [];
      this.tracks.forEach((tr, i) => boxes.forEach((b, j) => { const o = iou(tr.box, b); if (o >= iou_threshold) pairs.push([o, i, j]); }));
      pairs.sort((a, b) => b[0] - a[0] || b[1] - a[1] || b[2] - a[2]);
      const match = new Map(), used = new Set();
      for (const [, i, j] of pairs) if (!used.has(i) && !match.has(j)) { match.set(j, this.tracks[i]); used.add(i); }
      return boxes.map((b, j) => {
        let tr = match.get(j);
        if (!tr) { tr = { id: this.next++, buf: [] }; this.tracks.push(tr); }
        tr.box = b; tr.seen = t; tr.raw = probs[j]; tr.buf.push([t, probs[j]]);
        while (tr.buf.length > 1 && tr.buf[0][0] <= t - window + 1e-6) tr.buf.shift();
        tr.smoothed = probs[j].map((_, k) => tr.buf.reduce((a, e) => a + e[1][k], 0) / tr.buf.length);
        return tr;
      });
    }
  }
  function describe(p, cfg) {             // the overlay text, as `describe` writes it
    const order = p.map((v, k) => [v, k]).sort((a, b) => b[0] - a[0] || a[1] - b[1]), [i, j] = [order[0][1], order[1][1]];
    const E = cfg.emotions, pct = v => Math.floor(v * 100) + '%';
    if (p[i] >= cfg.threshold) return [E[i].toUpperCase() + ' ' + pct(p[i]), false, E[i], E[j]];
    return [E[i].toUpperCase() + ' / ' + E[j].toUpperCase() + '  ' + pct(p[i]) + ' / ' + pct(p[j]), true, E[i], E[j]];
  }
  function inWords(p, uncertain, E) {    // the same in words, as `in_words` writes it
    const order = p.map((v, k) => [v, k]).sort((a, b) => b[0] - a[0] || a[1] - b[1]), [i, j] = [order[0][1], order[1][1]];
    if (E.includes('contempt')) {         // FER+'s eight emotions: shares of ten people
      if (uncertain) return 'people would disagree: ' + E[i] + ' or ' + E[j];
      return 'most people would say ' + E[i] + (p[j] >= 0.15 ? '; some, ' + E[j] : '');
    }
    return uncertain ? E[i] + ' or ' + E[j] + ', not sure which' : 'looks ' + E[i];
  }

  // --- the pipeline ---------------------------------------------------------------------------------------------
  class Pipeline {
    constructor(detector, classifier, cfg) { this.det = detector; this.cls = classifier; this.cfg = cfg; this.tracker = new Tracker(cfg); }
    static async create(cfg) {
      ort.env.wasm.wasmPaths = new URL(cfg.runtime_path, location.href).href;   // a full URL: the runtime imports its module from there
      ort.env.wasm.numThreads = 1;                                               // threads need a cross-origin isolated page
      const opts = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
      const det = await ort.InferenceSession.create(cfg.models.detector, opts);
      const cls = await ort.InferenceSession.create(cfg.models.classifier, { ...opts, externalData: cfg.models.classifier_data });
      return new Pipeline(det, cls, cfg);
    }
    async faces(gray, W, H) {              // boxes framed as FER2013's faces, and eye centres, in frame pixels, left to right (`detect_gray`)
      const c = this.cfg, s = Math.min(1, c.smallest_face / c.min_face);
      let img = gray, w = W, h = H;
      if (s < 1) { w = Math.max(1, Math.round(W * s)); h = Math.max(1, Math.round(H * s)); img = resizeArea(gray, W, H, w, h); }
      if (Math.min(w, h) < c.smallest_face) return [];
      const [k, dy] = c.yunet_frame, out = [];
      for (const f of await yunet(this.det, img, w, h, c.score, c.nms)) {
        const side = Math.max(f[2], f[3]);
        if (side < 0.8 * c.smallest_face) continue;
        const S = side * k, cx = f[0] + f[2] / 2, cy = f[1] + f[3] / 2 + dy * side;
        const b = [cx - S / 2, cy - S / 2, S, S].map(v => v / s);
        const x0 = Math.min(Math.max(b[0], 0), W), y0 = Math.min(Math.max(b[1], 0), H), x1 = Math.min(Math.max(b[0] + b[2], 0), W), y1 = Math.min(Math.max(b[1] + b[3], 0), H);
        const box = [Math.round(x0), Math.round(y0), Math.round(x1 - x0), Math.round(y1 - y0)];
        if (box[2] >= 2 && box[3] >= 2) out.push({ box, eyes: f.slice(4, 8).map(v => v / s) });
      }
      return out.sort((a, b) => a.box[0] - b.box[0]).slice(0, c.max_faces);
    }
    async classify(gray, W, H, found) {   // calibrated probabilities per face: crop, level, 48x48, normalise, one batch
      const n = found.length, N = 48 * 48, x = new Float32Array(n * N), c = this.cfg;
      found.forEach((f, i) => {
        const [crop, s] = cropLevel(gray, W, H, f.box, c.align ? f.eyes : null);
        const g = s === 48 ? crop : s > 48 ? resizeArea(crop, s, s, 48, 48) : resizeLinear(crop, s, s, 48, 48);
        for (let k = 0; k < N; k++) x[i * N + k] = (g[k] / 255 - c.norm_mean) / c.norm_std;
      });
      const out = await this.cls.run({ faces: new ort.Tensor('float32', x, [n, 1, 48, 48]) });
      const logits = out[c.classifier_output || this.cls.outputNames[0]].data, K = c.emotions.length;   // the head the server's predictor answers with
      return found.map((_, i) => {
        const z = Array.from(logits.slice(K * i, K * i + K), v => v / c.temperature), m = Math.max(...z), e = z.map(v => Math.exp(v - m)), t = e.reduce((a, b) => a + b);
        return e.map(v => v / t);
      });
    }
    async run(rgba, W, H, t) {             // one frame (RGBA pixels) at time t (s): the message the server's stream sends
      const t0 = performance.now(), gray = grayFromRGBA(rgba, W * H), found = await this.faces(gray, W, H);
      const probs = found.length ? await this.classify(gray, W, H, found) : [];
      const c = this.cfg, E = c.emotions, byName = p => Object.fromEntries(E.map((e, k) => [e, Math.round(p[k] * 1e4) / 1e4]));
      const faces = this.tracker.update(found.map(f => f.box), probs, t).map(tr => {
        const [text, uncertain, label, second] = describe(tr.smoothed, c);
        return { track: tr.id, box: tr.box, label, second, uncertain, probs: byName(tr.smoothed), raw: byName(tr.raw), text,
                 words: inWords(tr.smoothed, uncertain, E), color: uncertain ? c.uncertain_color : c.colors[label] };
      });
      return { type: 'result', width: W, height: H, faces, device_ms: performance.now() - t0 };
    }
  }
  return { Pipeline, grayFromRGBA, resizeArea, resizeLinear, cropLevel, yunet, describe, inWords };
})();
