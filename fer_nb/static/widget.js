function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; }

function render({ model, el: root }) {
  root.classList.add('fer-webcam');
  const start = el('button', 'fer-btn', 'Start'), stop = el('button', 'fer-btn', 'Stop'), reset = el('button', 'fer-btn', 'Reset');
  const status = el('span', 'fer-status', 'Camera off. Press Start and allow camera access.');
  const bar = el('div', 'fer-bar'); bar.append(start, stop, reset, status);
  const view = el('img', 'fer-view'); view.alt = 'annotated camera frame';
  const faces = el('div', 'fer-faces');
  const video = document.createElement('video'); video.playsInline = true; video.muted = true;
  const canvas = document.createElement('canvas');
  root.append(bar, view, faces);
  let stream = null, inflight = false, sentAt = 0, frames = 0, t0 = 0, raf = null;

  async function startCamera() {
    if (stream) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = 'This page has no camera access (browsers allow it on https:// and http://localhost only).'; return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia(
        { video: { width: { ideal: model.get('width') }, height: { ideal: model.get('height') } }, audio: false });
    } catch (e) { status.textContent = `Camera unavailable: ${e.name}: ${e.message}`; stream = null; return; }
    video.srcObject = stream; await video.play();
    frames = 0; t0 = performance.now(); inflight = false;
    if (!model.get('running')) { model.set('running', true); model.save_changes(); }
    status.textContent = 'Camera on, waiting for the kernel...';
    tick();
  }

  function stopCamera() {
    if (raf) cancelAnimationFrame(raf); raf = null;
    if (stream) stream.getTracks().forEach(t => t.stop());
    stream = null; video.srcObject = null;
    if (model.get('running')) { model.set('running', false); model.save_changes(); }
    status.textContent = 'Camera off.';
  }

  function tick() {
    if (!stream) return;
    const now = performance.now();
    if (inflight && now - sentAt > 3000) inflight = false;           // a lost answer must not stall the loop
    if (!inflight && video.readyState >= 2 && now - sentAt >= 1000 / Math.max(0.1, model.get('max_fps'))) {
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      canvas.getContext('2d').drawImage(video, 0, 0);
      inflight = true; sentAt = now;
      canvas.toBlob(async (blob) => {
        if (!blob) { inflight = false; return; }
        model.send({ type: 'frame', width: canvas.width, height: canvas.height }, undefined, [await blob.arrayBuffer()]);
      }, 'image/jpeg', model.get('quality'));
    }
    raf = requestAnimationFrame(tick);
  }

  function showFaces(list) {
    faces.replaceChildren(...list.map(f => {
      const row = el('div', 'fer-face');
      const head = el('div', 'fer-face-head', `#${f.track}  ${f.text}`); head.style.borderLeftColor = f.color;
      row.append(head);
      for (const [name, p] of Object.entries(f.probs)) {
        const line = el('div', 'fer-prob'), fill = el('span', 'fer-fill');
        fill.style.width = `${(100 * p).toFixed(1)}%`; fill.style.background = model.get('colors')[name] || '#888';
        line.append(el('span', 'fer-name', name), el('span', 'fer-track'), el('span', 'fer-pct', `${Math.round(100 * p)}%`));
        line.children[1].append(fill); row.append(line);
      }
      return row;
    }));
  }

  model.on('msg:custom', (msg, buffers) => {
    if (!msg || msg.type !== 'result') return;
    inflight = false; frames += 1;
    if (buffers && buffers.length) {
      const old = view.src;
      view.src = URL.createObjectURL(new Blob([buffers[0]], { type: 'image/jpeg' }));
      if (old && old.startsWith('blob:')) URL.revokeObjectURL(old);
    }
    const rtt = performance.now() - sentAt, fps = frames * 1000 / Math.max(1, performance.now() - t0);
    status.textContent = msg.error ? `Kernel: ${msg.error}` :
      `${msg.faces.length} face(s) · kernel ${msg.ms.toFixed(0)} ms · round trip ${rtt.toFixed(0)} ms · ${fps.toFixed(1)} frames/s`;
    if (!msg.error) showFaces(msg.faces);
  });
  model.on('change:running', () => { if (model.get('running')) startCamera(); else stopCamera(); });
  start.addEventListener('click', startCamera);
  stop.addEventListener('click', stopCamera);
  reset.addEventListener('click', () => model.send({ type: 'reset' }));
  return () => stopCamera();
}
export default { render };
