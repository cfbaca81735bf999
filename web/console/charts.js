// A small line chart on <canvas>, drawn by hand: series of numbers over the last N samples,
// redrawn in place on every update. The canvas carries a text alternative (aria-label).

export class LineChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{series: {label:string,color:string}[], unit?: string, max?: number, points?: number}} opts
   */
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.series = opts.series.map((s) => ({ ...s, values: [] }));
    this.unit = opts.unit ?? '';
    this.fixedMax = opts.max;
    this.points = opts.points ?? 120;
    canvas.setAttribute('role', 'img');
  }

  /** Adds one sample per series (same order as the constructor's series) and redraws. */
  push(values) {
    this.series.forEach((s, i) => {
      const v = Number(values[i]);
      s.values.push(Number.isFinite(v) ? v : 0);
      if (s.values.length > this.points) s.values.shift();
    });
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const dpr = globalThis.devicePixelRatio || 1;
    const w = c.clientWidth || 300;
    const hgt = c.clientHeight || 120;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(hgt * dpr);
    }
    const g = c.getContext('2d');
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const all = this.series.flatMap((s) => s.values);
    const max = this.fixedMax ?? niceMax(Math.max(1, ...all));
    const pad = { l: 40, r: 6, t: 6, b: 14 };
    const pw = w - pad.l - pad.r;
    const ph = hgt - pad.t - pad.b;
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#5b6477';
    g.strokeStyle = '#e3e7ef';
    g.lineWidth = 1;
    for (let k = 0; k <= 2; k++) {
      const y = pad.t + ph - (ph * k) / 2;
      g.beginPath(); g.moveTo(pad.l, y + 0.5); g.lineTo(w - pad.r, y + 0.5); g.stroke();
      g.fillText(fmt((max * k) / 2), 2, y + 4);
    }
    // Until the window is full the samples so far span the width, then it scrolls.
    const span = Math.max(2, ...this.series.map((s) => s.values.length)) - 1;
    for (const s of this.series) {
      if (s.values.length === 0) continue;
      g.strokeStyle = s.color;
      g.lineWidth = 2;
      g.beginPath();
      s.values.forEach((v, i) => {
        const x = pad.l + (pw * (i + span + 1 - s.values.length)) / span;
        const y = pad.t + ph - (ph * Math.min(v, max)) / max;
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    }
    const latest = this.series.map((s) => `${s.label} ${fmt(s.values.at(-1) ?? 0)}${this.unit}`).join(', ');
    c.setAttribute('aria-label', latest);
    c.dataset.samples = String(this.series[0].values.length);
  }
}

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k`;
  if (v >= 10 || v === 0) return String(Math.round(v));
  return v.toFixed(v >= 1 ? 1 : 2);
}
