// The operator page: GET /v2/realtime/metrics (and the chat's) every second, as numbers and
// small charts that update in place.
import { LineChart } from './charts.js';
import { h } from './dom.js';

const INTERVAL_MS = 1000;

export function renderOperator(main, app) {
  const role = app.session.user.role;
  main.append(h('h2', {}, 'Operator'));
  if (role !== 'owner' && role !== 'admin') {
    main.append(h('p', { class: 'card' }, 'Metrics need the owner or admin role. Log in as owner@demo.bellhop.dev to see them.'));
    return null;
  }
  const stat = (id, label) => h('div', { class: 'stat' }, h('span', { class: 'hint' }, label), h('strong', { id, 'aria-live': 'off' }, '–'));
  const canvas = (id, label) => h('canvas', { id, class: 'chart', 'aria-label': label, height: '120' });
  const cConn = canvas('chart-connections', 'Connections');
  const cRate = canvas('chart-deliveries', 'Deliveries per second');
  const cLat = canvas('chart-latency', 'Delivery latency');
  const updated = h('p', { class: 'hint', id: 'metrics-updated', role: 'status' }, 'Loading…');
  main.append(
    h('div', { class: 'stats' }, stat('m-connections', 'Stream connections'), stat('m-rate', 'Deliveries/s'), stat('m-p50', 'Latency p50 (ms)'),
      stat('m-p95', 'p95 (ms)'), stat('m-p99', 'p99 (ms)'), stat('m-delivered', 'Events delivered'), stat('m-resumes', 'Resumes'), stat('m-chat', 'Chat connections')),
    h('div', { class: 'charts' },
      h('figure', { class: 'card' }, h('figcaption', {}, 'Connections (stream, chat)'), cConn),
      h('figure', { class: 'card' }, h('figcaption', {}, 'Deliveries per second'), cRate),
      h('figure', { class: 'card' }, h('figcaption', {}, 'Delivery latency p50 / p95 / p99 (ms)'), cLat)),
    updated);
  const conn = new LineChart(cConn, { series: [{ label: 'stream', color: '#2f6fed' }, { label: 'chat', color: '#1f9d6b' }] });
  const rate = new LineChart(cRate, { series: [{ label: 'deliveries/s', color: '#2f6fed' }], unit: '/s' });
  const lat = new LineChart(cLat, { series: [{ label: 'p50', color: '#1f9d6b' }, { label: 'p95', color: '#e0a100' }, { label: 'p99', color: '#d64545' }], unit: ' ms' });
  for (const chart of [conn, rate, lat]) {
    chart.canvas.after(h('p', { class: 'legend', 'aria-hidden': 'true' },
      chart.series.map((s) => h('span', {}, h('i', { style: `background:${s.color}` }), s.label))));
  }
  let prev = null;
  let timer = null;
  let stopped = false;
  const set = (id, v) => { const el = document.getElementById(id); if (el) el.textContent = v; };

  async function tick() {
    timer = null;
    try {
      const [m, c] = await Promise.all([app.api.get('/v2/realtime/metrics'), app.api.get('/v2/collaboration/metrics').catch(() => null)]);
      if (stopped) return;
      const now = performance.now();
      const perSec = prev ? Math.max(0, (m.eventsDelivered - prev.delivered) / ((now - prev.at) / 1000)) : 0;
      prev = { delivered: m.eventsDelivered, at: now };
      set('m-connections', m.activeConnections);
      set('m-rate', perSec.toFixed(1));
      set('m-p50', m.latencyMs.p50.toFixed(2));
      set('m-p95', m.latencyMs.p95.toFixed(2));
      set('m-p99', m.latencyMs.p99.toFixed(2));
      set('m-delivered', m.eventsDelivered);
      set('m-resumes', m.resumes);
      set('m-chat', c ? c.activeConnections : '–');
      conn.push([m.activeConnections, c ? c.activeConnections : 0]);
      rate.push([perSec]);
      lat.push([m.latencyMs.p50, m.latencyMs.p95, m.latencyMs.p99]);
      updated.textContent = `Updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
    } catch (err) {
      if (stopped) return;
      updated.textContent = `Metrics unavailable: ${err.message}`;
    }
    if (!stopped) timer = setTimeout(tick, INTERVAL_MS);
  }
  tick();
  const onResize = () => { conn.draw(); rate.draw(); lat.draw(); };
  window.addEventListener('resize', onResize);
  return () => { stopped = true; if (timer) clearTimeout(timer); window.removeEventListener('resize', onResize); };
}
