// A fan-out round over a large audience lasts longer than the interval between events: events
// published meanwhile join the round under way (the subscribers it has not reached get them in
// the same message, those it passed get them in the next round). One worker, 1,500 subscribers,
// 240 events published 8 at a time as fast as the server answers: every subscriber must get
// every event exactly once, in offset order, with gap-free message seqs, and the server must
// report that events did join rounds under way (bellhop_stream_events_joined_total).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, waitFor } from './support/server.mjs';

const N = 1500;
const EVENTS = 240;
let srv;
const clients = [];
after(async () => { for (const c of clients) c.ws.terminate(); await srv?.stop(); });

function subscriber(port, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v2/realtime/stream`, { headers: { authorization: `Bearer ${token}` } });
    const c = { ws, offsets: [], seqs: [], base: null, closed: null };
    ws.on('open', () => ws.send(JSON.stringify({ services: ['finance'], version: 1 })));
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'ack') { c.base = m.positions.finance.offset; c.seqs.push(m.seq); resolve(c); return; }
      c.seqs.push(m.seq);
      if (m.type === 'events') for (const e of m.events) c.offsets.push(e.offset);
    });
    ws.on('close', (code) => { c.closed = code; });
    ws.on('error', reject);
  });
}

async function joined(s) {
  const text = await (await s.fetch('/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith('bellhop_stream_events_joined_total'));
  assert.ok(line, 'bellhop_stream_events_joined_total is exported');
  return Number(line.split(' ').pop());
}

test('events published during a long round join it; every subscriber still gets each event once, in order', async () => {
  srv = await startServer({ workers: 1, env: { BELLHOP_HANDSHAKE_RATE: '0', BELLHOP_MAX_CONNS_PER_USER: '0', BELLHOP_MAX_CONNS_PER_IP: '0' } });
  const token = srv.token({ org: 1, user: 1, role: 'owner' });
  const svc = srv.token({ org: 1, user: 90, role: 'service' });
  for (let b = 0; b < N; b += 100) clients.push(...await Promise.all(Array.from({ length: 100 }, () => subscriber(srv.port, token))));
  const before = await joined(srv);
  const base = clients[0].base;
  assert.ok(clients.every((c) => c.base === base), 'every subscriber starts at the same head');

  let sent = 0;
  while (sent < EVENTS) {
    const batch = Array.from({ length: 8 }, () => srv.fetch('/v2/realtime/publish', {
      method: 'POST', token: svc, json: { orgId: 1, service: 'finance', type: 'revenue_created', data: { n: sent } },
    }).then(async (res) => { assert.equal(res.status, 201); await res.arrayBuffer(); }));
    await Promise.all(batch);
    sent += 8;
  }
  const want = Array.from({ length: EVENTS }, (_, i) => base + 1 + i);
  await waitFor(() => clients.every((c) => c.offsets.length >= EVENTS), { timeout: 30000, what: `${N} subscribers to have ${EVENTS} events` });
  for (const [k, c] of clients.entries()) {
    assert.equal(c.closed, null, `subscriber ${k} is still connected`);
    assert.deepEqual(c.offsets, want, `subscriber ${k}: every event once, in order`);
    assert.deepEqual(c.seqs, Array.from({ length: c.seqs.length }, (_, i) => i), `subscriber ${k}: message seqs without gaps`);
  }
  assert.ok(await joined(srv) > before, 'some events joined a round under way');
});
