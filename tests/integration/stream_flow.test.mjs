// The realtime stream over time: subscribe/unsubscribe mid-stream, slow consumers (4429),
// heartbeats and ping timeouts, and graceful shutdown (1001).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startServer } from './support/server.mjs';
import { openStream, subscribed, closeAll, publisher, metrics } from './support/stream.mjs';

const OUTBUF = 65536;
const HEARTBEAT = 200;
let srv; // small outbuf (its default 25 s heartbeat never closes the paused slow client first)
let hb; // fast heartbeat

before(async () => {
  [srv, hb] = await Promise.all([
    startServer({ env: { BELLHOP_WS_MAX_OUTBUF: String(OUTBUF) } }),
    startServer({ env: { BELLHOP_HEARTBEAT_MS: String(HEARTBEAT) } }),
  ]);
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await Promise.all([srv?.stop(), hb?.stop()]);
});

test('subscribe and unsubscribe mid-stream', async () => {
  const pub = publisher(srv, { org: 11 });
  const owner = srv.token({ org: 11, user: 1, role: 'owner' });
  const { c } = await subscribed(srv, owner, ['finance']);
  const { c: witness } = await subscribed(srv, owner, ['finance']); // stays on finance throughout

  const t0 = await pub({ service: 'tasks', type: 'task_created', data: { k: 'before' } });
  const f1 = await pub({ data: { k: 'f1' } });
  await c.waitEvent((e) => e.service === 'finance' && e.offset === f1.offset);
  assert.equal(c.events('tasks').length, 0, 'not subscribed to tasks yet');

  c.send({ type: 'subscribe', services: ['tasks'] });
  const sub = await c.nextType('subscribed');
  assert.deepEqual(sub.services, ['tasks']);
  assert.deepEqual(Object.keys(sub.positions), ['tasks']);
  assert.equal(sub.positions.tasks.offset, t0.offset, 'the tasks head');
  assert.equal(sub.positions.tasks.epoch, t0.epoch);
  const t1 = await pub({ service: 'tasks', type: 'task_created', data: { k: 't1' } });
  const te = await c.waitEvent((e) => e.service === 'tasks' && e.offset === t1.offset);
  assert.deepEqual(te.data, { k: 't1' });
  const f2 = await pub({ data: { k: 'f2' } });
  await c.waitEvent((e) => e.service === 'finance' && e.offset === f2.offset);

  c.send({ type: 'unsubscribe', services: ['finance'] });
  const unsub = await c.nextType('unsubscribed');
  assert.deepEqual(unsub.services, ['finance']);
  const f3 = await pub({ data: { k: 'f3' } });
  const marker = await pub({ service: 'tasks', type: 'task_created', data: { k: 'marker' } });
  await witness.waitEvent((e) => e.offset === f3.offset); // f3 was delivered to finance subscribers
  await c.waitEvent((e) => e.service === 'tasks' && e.offset === marker.offset);
  assert.deepEqual(c.events('finance').map((e) => e.data.k), ['f1', 'f2'], 'no finance event after unsubscribing');
  assert.deepEqual(c.events('tasks').map((e) => e.data.k), ['t1', 'marker']);
  assert.deepEqual(c.all.map((m) => m.type),
    ['ack', 'events', 'subscribed', 'events', 'events', 'unsubscribed', 'events']);
  c.assertSeqs();

  // Subscribing again with a resume replays what was missed.
  c.send({ type: 'subscribe', services: ['finance'], resume: { finance: { offset: f2.offset, epoch: f2.epoch } } });
  const sub2 = await c.nextType('subscribed');
  assert.equal(sub2.positions.finance.offset, f3.offset);
  const again = await c.takeEvents(1, { service: 'finance' });
  assert.deepEqual(again.map((e) => e.data.k), ['f3']);
  c.assertSeqs();
});

test('a slow consumer is closed with 4429 while a fast one gets every event in order', async () => {
  const pub = publisher(srv, { org: 12 });
  const owner = srv.token({ org: 12, user: 1, role: 'owner' });
  const m0 = await metrics(srv, owner);
  const { c: fast, ack } = await subscribed(srv, owner, ['finance']);
  const { c: slow } = await subscribed(srv, owner, ['finance']);
  const base = ack.positions.finance.offset;
  slow.ws._socket.pause(); // stop reading: the kernel buffers fill, then the server's queue

  const pad = 'x'.repeat(16 * 1024);
  let n = 0;
  let closes = m0.slowConsumerCloses;
  while (closes === m0.slowConsumerCloses) {
    assert.ok(n < 3000, `no slow-consumer close after ${n} events of 16 KiB`);
    // Batches of 8 in parallel keep it quick; offsets are checked on the fast client below.
    await Promise.all(Array.from({ length: 8 }, () => pub({ data: { pad } })));
    n += 8;
    closes = (await metrics(srv, owner)).slowConsumerCloses;
  }
  assert.equal(closes, m0.slowConsumerCloses + 1, 'exactly one connection was slow');
  await pub({ data: { after: true } }); // published once the slow one is closed
  n += 1;

  const got = await fast.takeEvents(n, { timeoutMs: 15000 });
  assert.deepEqual(got.map((e) => e.offset), Array.from({ length: n }, (_, i) => base + 1 + i),
    'the fast client got every event, in order');
  assert.equal(fast.closeInfo, null, 'the fast client is still connected');
  fast.assertSeqs();

  slow.ws._socket.resume();
  const close = await slow.waitClose(5000);
  assert.equal(close.code, 4429);
  const seen = slow.events().map((e) => e.offset);
  assert.ok(seen.length < n, `the slow client did not get events after its close (${seen.length} of ${n})`);
  assert.deepEqual(seen, Array.from({ length: seen.length }, (_, i) => base + 1 + i), 'what it got is a gap-free prefix');
  slow.assertSeqs();

  // It can resume from its last offset and get the rest.
  const last = seen.length ? seen[seen.length - 1] : base;
  const { c: back } = await subscribed(srv, owner, ['finance'], { resume: { finance: { offset: last, epoch: ack.positions.finance.epoch } } });
  const rest = await back.takeEvents(base + n - last, { timeoutMs: 15000 });
  assert.deepEqual(rest.map((e) => e.offset), Array.from({ length: base + n - last }, (_, i) => last + 1 + i));
});

test('heartbeat: pings every BELLHOP_HEARTBEAT_MS of silence; a peer that never answers is closed (1001)', async () => {
  const owner = hb.token({ org: 13, user: 1, role: 'owner' });
  const { c: good, ack } = await subscribed(hb, owner, ['tasks']);
  assert.equal(ack.heartbeatMs, HEARTBEAT);
  const mute = await openStream(hb, { token: owner, autoPong: false });
  const ack2 = await mute.handshake(['tasks']);
  assert.equal(ack2.type, 'ack');
  const t0 = Date.now();

  await mute.waitPing(HEARTBEAT * 5);
  const close = await mute.waitClose(HEARTBEAT * 4 + 600);
  const elapsed = Date.now() - t0;
  assert.equal(close.code, 1001);
  assert.equal(close.reason, 'ping timeout');
  assert.ok(elapsed >= HEARTBEAT, `not before a heartbeat interval (${elapsed} ms)`);
  assert.ok(elapsed <= HEARTBEAT * 4 + 200, `within ~4 heartbeats (${elapsed} ms)`);

  // The client that answers pings outlives it, ping after ping.
  const pingsAtClose = good.pings;
  await good.waitPing(HEARTBEAT * 5);
  await good.waitPing(HEARTBEAT * 5);
  assert.ok(good.pings >= pingsAtClose + 2);
  assert.ok(Date.now() - t0 > HEARTBEAT * 3);
  assert.equal(good.closeInfo, null, 'a peer answering pings is kept');
  good.send({ type: 'ping' });
  const pong = await good.nextType('pong');
  assert.equal(pong.seq, 1);
});

test('a token that expires while connected: token_expired, close 4401', async () => {
  // Signed by hand with the server's dev secret: exp 28 s ago is still inside the 30 s leeway at the
  // upgrade, and leaves it about 2 s later; the server checks at its heartbeat ticks.
  const secret = readFileSync(`${hb.dataDir}/jwt_secret`, 'utf8').trim();
  const b64u = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const signing = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u({ sub: 1, orgId: 14, role: 'owner', iat: now - 100, exp: now - 28 })}`;
  const token = `${signing}.${createHmac('sha256', secret).update(signing).digest('base64url')}`;
  const { c } = await subscribed(hb, token, ['tasks']);
  const { c: fresh } = await subscribed(hb, hb.token({ org: 14, user: 1, role: 'owner' }), ['tasks']);
  const err = await c.nextType('error', 6000);
  assert.equal(err.code, 'token_expired');
  assert.equal(err.closeCode, 4401);
  assert.equal((await c.waitClose()).code, 4401);
  assert.equal(fresh.closeInfo, null, 'a valid token stays connected');
  c.assertSeqs();
});

test('graceful shutdown: connected clients get close 1001', async () => {
  const s = await startServer();
  let stopped = false;
  try {
    const owner = s.token({ org: 1, user: 1, role: 'owner' });
    const { c } = await subscribed(s, owner, ['finance', 'tasks']);
    const { c: c2 } = await subscribed(s, s.token({ org: 2, user: 1, role: 'staff' }), ['tasks']);
    const stopping = s.stop();
    stopped = true;
    const [a, b] = await Promise.all([c.waitClose(5000), c2.waitClose(5000)]);
    assert.equal(a.code, 1001);
    assert.equal(b.code, 1001);
    await stopping; // clean exit, no sanitizer report
  } finally {
    if (!stopped) await s.stop();
  }
});
