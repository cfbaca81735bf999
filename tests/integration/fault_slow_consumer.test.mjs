// One client stops reading while 1,000 others keep receiving on time. The stalled client is fed
// large events (its own organisation's stream, 256 KiB each) until the server has queued more than
// BELLHOP_WS_MAX_OUTBUF for it and closes it (4429); meanwhile 1,000 subscribers of another
// stream on the same workers get a small event every 50 ms. Every one of them must get every event,
// in order, each within 2 s of its publish (a tolerant bound on a shared 2-core machine; the
// measured figures are printed).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer } from './support/server.mjs';
import { subscribed, closeAll, metrics } from './support/stream.mjs';

const N = 1000;
let srv;
after(async () => { await closeAll(); await srv?.stop(); });

/** A light subscriber: counts events and records their arrival times by `i`. */
function lightClient(port, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v2/realtime/stream`, { headers: { authorization: `Bearer ${token}` } });
    const c = { ws, offsets: [], arrivals: new Map(), closed: null };
    ws.on('open', () => ws.send(JSON.stringify({ services: ['finance'], version: 1 })));
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'ack') resolve(c);
      if (m.type === 'events') {
        const now = Date.now();
        for (const e of m.events) { c.offsets.push(e.offset); c.arrivals.set(e.data.i, now); }
      }
    });
    ws.on('close', (code) => { c.closed = code; });
    ws.on('error', reject);
  });
}

test('a stalled client is closed (4429) while 1,000 others receive every event on time', async (t) => {
  srv = await startServer({ env: { BELLHOP_WS_MAX_OUTBUF: String(1024 * 1024), BELLHOP_HANDSHAKE_RATE: '0', BELLHOP_MAX_CONNS_PER_USER: '0' } });
  const crowdToken = srv.token({ org: 1, user: 1, role: 'owner' });
  const slowToken = srv.token({ org: 2, user: 1, role: 'owner' });
  const svc1 = srv.token({ org: 1, user: 90, role: 'service' });
  const svc2 = srv.token({ org: 2, user: 90, role: 'service' });

  const crowd = [];
  for (let b = 0; b < N; b += 100) crowd.push(...await Promise.all(Array.from({ length: 100 }, () => lightClient(srv.port, crowdToken))));
  const { c: slow } = await subscribed(srv, slowToken, ['finance']);
  const { c: peer } = await subscribed(srv, slowToken, ['finance']); // reads normally, same stream as the slow one
  slow.ws._socket.pause();
  const m0 = await metrics(srv, crowdToken);

  // The crowd's stream: a small event every 50 ms, with its publish time.
  const sentAt = new Map();
  let i = 0;
  let stop = false;
  const ticker = (async () => {
    while (!stop) {
      const k = i++;
      sentAt.set(k, Date.now());
      const res = await srv.fetch('/v2/realtime/publish', { method: 'POST', token: svc1, json: { orgId: 1, service: 'finance', type: 'revenue_created', data: { i: k } } });
      assert.equal(res.status, 201);
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  // The stalled client's stream: 256 KiB events until the server gives up on it.
  const pad = 'x'.repeat(256 * 1024);
  let big = 0;
  for (;;) {
    assert.ok(big < 400, `the stalled client was not closed after ${big} events of 256 KiB`);
    const res = await srv.fetch('/v2/realtime/publish', { method: 'POST', token: svc2, json: { orgId: 2, service: 'finance', type: 'revenue_created', data: { pad, big } } });
    assert.equal(res.status, 201);
    await res.arrayBuffer();
    big++;
    if (big % 4 === 0 && (await metrics(srv, crowdToken)).slowConsumerCloses > m0.slowConsumerCloses) break;
  }
  await new Promise((r) => setTimeout(r, 500)); // a few more crowd events after the close
  stop = true;
  await ticker;
  const total = i;

  // Every crowd member: every event, in order, each within the bound.
  const lat = [];
  for (const c of crowd) {
    if (c.arrivals.size < total) {
      const end = Date.now() + 10000;
      while (c.arrivals.size < total && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(c.arrivals.size, total, 'a crowd member missed events');
    for (let k = 1; k < c.offsets.length; k++) assert.equal(c.offsets[k], c.offsets[k - 1] + 1);
    assert.equal(c.closed, null);
    for (const [k, at] of c.arrivals) lat.push(at - sentAt.get(k));
  }
  lat.sort((a, b) => a - b);
  const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))];
  t.diagnostic(`${N} clients x ${total} events: latency p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${lat[lat.length - 1]} ms; stalled client closed after ${big} events of 256 KiB`);
  assert.ok(lat[lat.length - 1] < 2000, `max latency ${lat[lat.length - 1]} ms`);

  // The peer of the stalled client got everything too; the stalled one was closed with 4429.
  const got = await peer.takeEvents(big, { timeoutMs: 15000 });
  assert.equal(got.length, big);
  slow.ws._socket.resume();
  assert.equal((await slow.waitClose(10000)).code, 4429);
  for (const c of crowd) c.ws.terminate();
});
