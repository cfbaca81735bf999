// Unit tests of web/lib/realtime.js and backoff.js in Node: fake WebSocket, fetch and clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RealtimeClient } from '../../web/lib/realtime.js';
import { createBackoff } from '../../web/lib/backoff.js';
import { FakeClock, fakeWebSocketClass, fakeFetch, MemoryStorage, flush } from './support/fakes.mjs';

const EPOCH = 'bfb0897f763f5d06';
const ev = (offset, service = 'finance', extra = {}) => ({ id: `${EPOCH}-${offset}`, service, type: 'revenue_created', orgId: 1, offset, data: {}, ...extra });

function setup(options = {}) {
  const opts = { ...options };
  const clock = new FakeClock();
  const WS = fakeWebSocketClass();
  const fetch = fakeFetch();
  const target = new EventTarget();
  let rnd = opts.random ?? 0.5;
  delete opts.random;
  const client = new RealtimeClient({
    baseUrl: 'http://127.0.0.1:4000', token: 'tok', services: ['finance', 'tasks'],
    WebSocket: WS, fetch, timers: clock, now: clock.now, random: () => rnd, target,
    backoff: { initialMs: 500, maxMs: 8000 }, configCheckMs: 10000, ...opts,
  });
  const batches = [];
  client.on('events', (service, events, source) => batches.push({ service, offsets: events.map((e) => e.offset), source }));
  const statuses = [];
  client.on('status', (s) => statuses.push(s));
  return { clock, WS, fetch, target, client, batches, statuses, setRandom: (r) => { rnd = r; } };
}

/** Opens the newest socket and answers its handshake with an ack. */
async function accept(WS, { positions = {}, services = ['finance', 'tasks'], fallback, seq = 0 } = {}) {
  await flush();
  const ws = WS.last();
  ws.open();
  const hs = ws.sent[0];
  const ack = { type: 'ack', seq, version: 1, connectionId: 'w0-1', services, heartbeatMs: 25000,
    positions: Object.fromEntries(services.map((s) => [s, positions[s] ?? { offset: 0, epoch: EPOCH }])) };
  if (fallback) ack.fallback = fallback;
  ws.serverSend(ack);
  return { ws, hs };
}

test('backoff: exponential, capped, jittered into [base/2, base], reset', () => {
  let r = 0;
  const b = createBackoff({ initialMs: 100, maxMs: 1000, random: () => r });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
  b.reset();
  r = 0.999999;
  assert.deepEqual([b.next(), b.next()], [50, 100]);
  assert.throws(() => createBackoff({ initialMs: 0 }), RangeError);
  assert.throws(() => createBackoff({ initialMs: 10, maxMs: 5 }), RangeError);
});

test('constructor validates its options', () => {
  const base = { baseUrl: 'http://x', token: 't', WebSocket: class {}, fetch: () => {} };
  assert.throws(() => new RealtimeClient({ ...base, services: [] }), /services/);
  assert.throws(() => new RealtimeClient({ ...base, services: ['nope'] }), /unknown service/);
  assert.throws(() => new RealtimeClient({ ...base, services: ['finance'], token: '' }), /token/);
  assert.throws(() => new RealtimeClient({ ...base, services: ['finance'], baseUrl: 'ftp://x' }), /http/);
});

test('handshake, ack, events to callbacks and to <service>-stream-events, duplicates dropped', async () => {
  const { WS, client, target, batches, statuses } = setup();
  const seen = [];
  target.addEventListener('finance-stream-events', (e) => seen.push(e.detail.events.map((x) => x.offset)));
  client.start();
  const { ws, hs } = await accept(WS, { positions: { finance: { offset: 5, epoch: EPOCH } } });
  assert.equal(ws.url, 'ws://127.0.0.1:4000/v2/realtime/stream?access_token=tok');
  assert.deepEqual(hs, { type: 'handshake', version: 1, services: ['finance', 'tasks'] }, 'no resume without positions');
  assert.equal(client.status, 'open');
  assert.deepEqual(client.positions.finance, { offset: 5, epoch: EPOCH }, 'unknown services start at the head');
  ws.serverSend({ type: 'events', seq: 1, service: 'finance', events: [ev(6), ev(7)] });
  ws.serverSend({ type: 'events', seq: 2, service: 'finance', events: [ev(7), ev(8)] });
  assert.deepEqual(batches, [{ service: 'finance', offsets: [6, 7], source: 'websocket' }, { service: 'finance', offsets: [8], source: 'websocket' }]);
  assert.deepEqual(seen, [[6, 7], [8]], 'the window event carries detail.events');
  assert.deepEqual(statuses, ['connecting', 'open']);
  client.stop();
});

test('a dropped connection reconnects with growing jittered backoff and resumes from its offsets', async () => {
  const { WS, clock, client, batches, setRandom } = setup();
  client.start();
  const { ws } = await accept(WS);
  ws.serverSend({ type: 'events', seq: 1, service: 'finance', events: [ev(1), ev(2)] });
  ws.serverSend({ type: 'events', seq: 2, service: 'tasks', events: [ev(1, 'tasks')] });
  ws.serverClose(1006);
  await flush();
  assert.equal(client.status, 'reconnecting');
  assert.deepEqual(clock.pending(), [375], 'first retry: 500 ms scaled by 1 - 0.5 * random (0.5)');
  // the rest of this test uses random 0 (no jitter) to read the exponential steps exactly
  setRandom(0);
  const delays = [];
  for (let i = 0; i < 5; i++) {
    const d = clock.pending()[0];
    await clock.advance(d);
    await flush();
    const s = WS.last();
    if (i === 0) assert.equal(WS.sockets.length, 2);
    s.serverClose(1006); // refused again (server still down)
    await flush();
    delays.push(clock.pending()[0]);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000], 'doubles up to maxMs');
  await clock.advance(8000);
  const { ws: ws2, hs } = await accept(WS, { positions: { finance: { offset: 9, epoch: EPOCH }, tasks: { offset: 4, epoch: EPOCH } } });
  assert.deepEqual(hs.resume, { finance: { offset: 2, epoch: EPOCH }, tasks: { offset: 1, epoch: EPOCH } });
  ws2.serverSend({ type: 'events', seq: 1, service: 'finance', events: [ev(2), ev(3)] });
  assert.deepEqual(batches.at(-1), { service: 'finance', offsets: [3], source: 'websocket' }, 'a replayed duplicate is dropped');
  assert.equal(client.reconnects, 1);
  ws2.serverClose(1001);
  await flush();
  assert.deepEqual(clock.pending(), [500], 'the ack reset the backoff');
  client.stop();
  assert.deepEqual(clock.pending(), [], 'stop() leaves no timer');
});

test('reset moves the position and is reported (callback and <service>-stream-reset)', async () => {
  const { WS, client, target } = setup();
  const resets = [];
  const domResets = [];
  client.on('reset', (r) => resets.push(r));
  target.addEventListener('finance-stream-reset', (e) => domResets.push(e.detail));
  client.start();
  const { ws } = await accept(WS);
  ws.serverSend({ type: 'reset', seq: 1, service: 'finance', epoch: 'aaaaaaaaaaaaaaaa', offset: 5120, reason: 'epoch_changed' });
  assert.deepEqual(client.positions.finance, { offset: 5120, epoch: 'aaaaaaaaaaaaaaaa' });
  assert.equal(resets[0].reason, 'epoch_changed');
  assert.equal(domResets[0].offset, 5120);
  client.stop();
});

test('a seq gap forces a reconnect that resumes', async () => {
  const { WS, clock, client } = setup({ random: 0 });
  client.start();
  const { ws } = await accept(WS);
  ws.serverSend({ type: 'events', seq: 1, service: 'finance', events: [ev(1)] });
  ws.serverSend({ type: 'events', seq: 3, service: 'finance', events: [ev(3)] });
  assert.equal(ws.closedByClient?.code, 4000);
  assert.equal(client.positions.finance.offset, 1, 'the message after the gap is not taken');
  await clock.advance(500);
  const { hs } = await accept(WS);
  assert.deepEqual(hs.resume.finance, { offset: 1, epoch: EPOCH });
  client.stop();
});

test('fatal close codes stop reconnecting', async () => {
  for (const code of [4404, 4406, 4400, 4403, 1003]) {
    const { WS, clock, client } = setup();
    client.start();
    const { ws } = await accept(WS);
    ws.serverClose(code, 'x');
    await flush();
    assert.equal(client.status, 'failed', `close ${code}`);
    assert.deepEqual(clock.pending(), [], `no retry after ${code}`);
  }
});

test('a silent connection is pinged, then dropped and resumed', async () => {
  const { WS, clock, client } = setup({ random: 0 });
  client.start();
  const { ws } = await accept(WS);
  await clock.advance(12500);
  assert.equal(ws.sentOfType('ping').length, 1, 'ping after half a heartbeat of silence');
  ws.serverSend({ type: 'pong', seq: 1 });
  await clock.advance(12500);
  assert.equal(ws.sentOfType('ping').length, 2);
  await clock.advance(12500 * 3);
  assert.equal(ws.closedByClient?.code, 4000, 'dropped after 1.5 heartbeats of silence');
  assert.ok(WS.sockets.length >= 2, 'and reconnected');
  client.stop();
});

test('close 4503 falls back to long-polling from the given offsets, then streams again when allowed', async () => {
  const { WS, clock, fetch, client, batches } = setup({ random: 0 });
  client.start();
  const { ws } = await accept(WS);
  ws.serverSend({ type: 'events', seq: 1, service: 'finance', events: [ev(1)] });
  ws.serverSend({ type: 'error', seq: 2, code: 'fallback_to_polling', closeCode: 4503, message: 'polling',
    fallback: { finance: { transport: 'polling', url: '/v1/realtime/finance/poll', offset: 1, epoch: EPOCH },
      tasks: { transport: 'polling', url: '/v1/realtime/tasks/poll', offset: 0, epoch: EPOCH } } });
  ws.serverClose(4503, 'fallback');
  await flush();
  assert.equal(client.status, 'polling');
  assert.deepEqual(client.transports, { finance: 'polling', tasks: 'polling' });
  const polls = fetch.open();
  assert.equal(polls.length, 2);
  const fin = polls.find((c) => c.url.pathname === '/v1/realtime/finance/poll');
  assert.equal(fin.url.searchParams.get('since'), '1');
  assert.equal(fin.url.searchParams.get('epoch'), EPOCH);
  assert.equal(fin.init.headers.authorization, 'Bearer tok');
  fin.respond(200, { service: 'finance', epoch: EPOCH, offset: 3, more: false, events: [ev(2), ev(3)] });
  await flush();
  assert.deepEqual(batches.at(-1), { service: 'finance', offsets: [2, 3], source: 'polling' });
  await clock.advance(0);
  const fin2 = fetch.open().find((c) => c.url.pathname === '/v1/realtime/finance/poll');
  assert.equal(fin2.url.searchParams.get('since'), '3', 'polls on from the answer offset');
  // A poll answer that skips filtered events still moves the position.
  fin2.respond(200, { service: 'finance', epoch: EPOCH, offset: 5, more: false, events: [] });
  await flush();
  assert.equal(client.positions.finance.offset, 5);
  await clock.advance(0);
  // The config check: streaming is allowed again.
  await clock.advance(10000);
  const cfg = fetch.open().find((c) => c.url.pathname === '/v2/realtime/config');
  assert.ok(cfg, 'config checked after configCheckMs');
  cfg.respond(200, { streaming: true, services: { finance: { transport: 'websocket' }, tasks: { transport: 'websocket' } } });
  await flush();
  assert.equal(fetch.open().filter((c) => c.url.pathname.includes('/poll')).length, 0, 'pollers stopped');
  const { hs } = await accept(WS);
  assert.deepEqual(hs.resume.finance, { offset: 5, epoch: EPOCH }, 'back on the stream from the polled offset');
  assert.equal(client.status, 'open');
  client.stop();
});

test('an ack fallback polls one service and a later config check resubscribes it on the open socket', async () => {
  const { WS, clock, fetch, client } = setup({ random: 0 });
  client.start();
  const { ws } = await accept(WS, { services: ['tasks'], fallback: { finance: { transport: 'polling', url: '/v1/realtime/finance/poll', offset: 7, epoch: EPOCH } } });
  assert.deepEqual(client.transports, { finance: 'polling', tasks: 'websocket' });
  const p = fetch.open().find((c) => c.url.pathname === '/v1/realtime/finance/poll');
  assert.equal(p.url.searchParams.get('since'), '7');
  // a poll failing with 503 is retried with backoff
  p.respond(503, { error: { code: 'unavailable' } });
  await flush();
  assert.equal(fetch.open().length, 0);
  await clock.advance(500);
  const p2 = fetch.open().find((c) => c.url.pathname === '/v1/realtime/finance/poll');
  assert.ok(p2, 'retried after the backoff');
  await clock.advance(10000);
  fetch.open().find((c) => c.url.pathname === '/v2/realtime/config')
    .respond(200, { streaming: true, services: { finance: { transport: 'websocket' }, tasks: { transport: 'websocket' } } });
  await flush();
  assert.deepEqual(ws.sentOfType('subscribe'), [{ type: 'subscribe', services: ['finance'], resume: { finance: { offset: 7, epoch: EPOCH } } }]);
  assert.equal(p2.aborted, true, 'the held poll is aborted');
  ws.serverSend({ type: 'subscribed', seq: 1, services: ['finance'], positions: { finance: { offset: 9, epoch: EPOCH } } });
  assert.deepEqual(client.transports, { finance: 'websocket', tasks: 'websocket' });
  client.stop();
});

test('positions persist in storage and seed the next session', async () => {
  const storage = new MemoryStorage();
  const a = setup({ storage });
  a.client.start();
  const { ws } = await accept(a.WS);
  ws.serverSend({ type: 'events', seq: 1, service: 'finance', events: [ev(1), ev(2)] });
  a.client.stop();
  const b = setup({ storage });
  b.client.start();
  const { hs } = await accept(b.WS);
  assert.deepEqual(hs.resume.finance, { offset: 2, epoch: EPOCH });
  b.client.stop();
  storage.setItem('bellhop.realtime.positions', '{"finance":{"offset":-1,"epoch":"zz"}}');
  const c = setup({ storage });
  c.client.start();
  const { hs: hs3 } = await accept(c.WS);
  assert.equal(hs3.resume, undefined, 'a damaged record is ignored');
  c.client.stop();
});
