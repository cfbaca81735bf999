// The realtime stream: upgrade auth and origin checks, the handshake, its ack, seq numbering,
// event delivery, and refused handshakes (typed error, then the matching close code).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import {
  openStream, upgradeRefusal, subscribed, closeAll, publisher, ISO_RE, EPOCH_RE,
} from './support/stream.mjs';

let srv; // --demo, allowed origins restricted to https://app.example
let slow; // handshake timeout 300 ms
let publish;
let owner;

before(async () => {
  [srv, slow] = await Promise.all([
    startServer({ args: ['--demo'], env: { BELLHOP_ALLOWED_ORIGINS: 'https://app.example' } }),
    startServer({ env: { BELLHOP_HANDSHAKE_TIMEOUT_MS: '300' } }),
  ]);
  publish = publisher(srv);
  owner = srv.token({ org: 1, user: 1, role: 'owner' });
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await Promise.all([srv?.stop(), slow?.stop()]);
});

test('handshake gets an ack (seq 0, ISO timestamp, services, positions); events follow with seq +1 per message', async () => {
  const c = await openStream(srv, { token: owner });
  const before = Date.now();
  const ack = await c.handshake(['finance', 'guest', 'staff']);
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  assert.equal(ack.seq, 0);
  assert.equal(ack.version, 1);
  assert.match(ack.timestamp, ISO_RE);
  assert.ok(Math.abs(Date.parse(ack.timestamp) - before) < 60000, `timestamp ${ack.timestamp} is now`);
  assert.deepEqual(ack.services, ['finance', 'guest', 'staff']);
  assert.equal(typeof ack.connectionId, 'string');
  assert.ok(ack.connectionId.length > 0);
  assert.ok(Number.isInteger(ack.heartbeatMs) && ack.heartbeatMs > 0);
  assert.deepEqual(Object.keys(ack.positions).sort(), ['finance', 'guest', 'staff']);
  for (const [svc, p] of Object.entries(ack.positions)) {
    assert.ok(Number.isInteger(p.offset) && p.offset >= 0, `${svc} offset ${p.offset}`);
    assert.match(p.epoch, EPOCH_RE, `${svc} epoch`);
  }
  const base = ack.positions.finance.offset;
  const epoch = ack.positions.finance.epoch;

  const answers = [];
  for (let i = 1; i <= 3; i++) {
    answers.push(await publish({ service: 'finance', type: 'revenue_created', propertyId: 1, data: { amountCents: 100 * i, n: i } }));
  }
  assert.deepEqual(answers.map((a) => a.offset), [base + 1, base + 2, base + 3]);
  for (const a of answers) {
    assert.equal(a.epoch, epoch);
    assert.equal(a.service, 'finance');
    assert.equal(a.orgId, 1);
    assert.equal(a.type, 'revenue_created');
  }

  const evs = await c.takeEvents(3, { service: 'finance' });
  assert.deepEqual(evs.map((e) => e.offset), [base + 1, base + 2, base + 3], 'consecutive offsets, in order');
  evs.forEach((e, k) => {
    assert.equal(e.id, `${epoch}-${base + k + 1}`);
    assert.equal(e.service, 'finance');
    assert.equal(e.type, 'revenue_created');
    assert.equal(e.orgId, 1);
    assert.equal(e.propertyId, 1);
    assert.match(e.timestamp, ISO_RE);
    assert.ok(Math.abs(Date.parse(e.timestamp) - before) < 60000);
    assert.deepEqual(e.data, { amountCents: 100 * (k + 1), n: k + 1 });
  });

  // Control messages continue the same per-connection numbering.
  c.send({ type: 'ping' });
  const pong = await c.nextType('pong');
  assert.match(pong.timestamp, ISO_RE);
  const seqs = c.all.map((m) => m.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i), 'seq is 0 for the ack, then +1 per message');
  assert.equal(pong.seq, c.all.length - 1);
  c.assertSeqs();
});

test('events of several services interleave with strictly increasing seq; a guest event reaches only guest subscribers', async () => {
  const { c, ack } = await subscribed(srv, owner, ['finance', 'guest']);
  const { c: onlyFin } = await subscribed(srv, owner, ['finance']);
  const g = await publish({ service: 'guest', type: 'guest_checked_in', data: { room: '101' } });
  const f = await publish({ service: 'finance', type: 'invoice.paid', data: { x: 1 } });
  assert.equal(g.offset, ack.positions.guest.offset + 1);
  const ge = await c.waitEvent((e) => e.service === 'guest' && e.offset === g.offset);
  assert.equal(ge.type, 'guest_checked_in');
  assert.equal(ge.propertyId ?? null, null, 'no propertyId given: none (or null) on the event');
  const fe = await c.waitEvent((e) => e.service === 'finance' && e.offset === f.offset);
  assert.equal(fe.type, 'invoice.paid');
  await onlyFin.waitEvent((e) => e.offset === f.offset);
  assert.deepEqual(onlyFin.events('guest'), [], 'the finance-only client got no guest event');
  c.assertSeqs();
  onlyFin.assertSeqs();
});

// ---------------------------------------------------------------- auth and origin on the upgrade

test('upgrade without a token: HTTP 401, no upgrade', async () => {
  const r = await upgradeRefusal(srv, {});
  assert.equal(r.status, 401);
  assert.equal(r.json?.error?.code, 'unauthorized', r.body);
});

test('upgrade with a bad token: HTTP 401', async () => {
  const bad = `${owner.slice(0, -4)}AAAA`;
  const r = await upgradeRefusal(srv, { token: bad });
  assert.equal(r.status, 401);
  assert.equal(r.json?.error?.code, 'invalid_token', r.body);
  const r2 = await upgradeRefusal(srv, { token: 'not-a-jwt' });
  assert.equal(r2.status, 401);
  const r3 = await upgradeRefusal(srv, { token: bad, via: 'query' });
  assert.equal(r3.status, 401);
  const r4 = await upgradeRefusal(srv, { token: bad, via: 'cookie' });
  assert.equal(r4.status, 401);
});

test('token via ?access_token= works', async () => {
  const { c, ack } = await subscribed(srv, owner, ['finance'], { via: 'query' });
  const p = await publish({ data: { via: 'query' } });
  assert.equal(p.offset, ack.positions.finance.offset + 1);
  const e = await c.waitEvent((x) => x.offset === p.offset);
  assert.deepEqual(e.data, { via: 'query' });
});

test('token via the bellhop_token cookie works', async () => {
  const { c, ack } = await subscribed(srv, owner, ['finance'], {
    via: 'cookie', headers: {},
  });
  assert.equal(ack.seq, 0);
  const p = await publish({ data: { via: 'cookie' } });
  const e = await c.waitEvent((x) => x.offset === p.offset);
  assert.deepEqual(e.data, { via: 'cookie' });
  // Among other cookies, too.
  const c2 = await openStream(srv, { headers: { cookie: `theme=dark; bellhop_token=${owner}; x=1` } });
  const ack2 = await c2.handshake(['finance']);
  assert.equal(ack2.type, 'ack');
});

test('a foreign Origin is refused with 403 origin_not_allowed; the allowed one and no Origin pass', async () => {
  const r = await upgradeRefusal(srv, { token: owner, origin: 'https://evil.example' });
  assert.equal(r.status, 403);
  assert.equal(r.json?.error?.code, 'origin_not_allowed', r.body);
  const r2 = await upgradeRefusal(srv, { token: owner, origin: 'https://app.example.evil.example' });
  assert.equal(r2.status, 403);

  const { ack } = await subscribed(srv, owner, ['finance'], { origin: 'https://app.example' });
  assert.equal(ack.type, 'ack');
  const { ack: ack2 } = await subscribed(srv, owner, ['finance']); // ws sends no Origin by default
  assert.equal(ack2.type, 'ack');
});

// ---------------------------------------------------------------- refused handshakes

async function refused(server, token, send, code, closeCode) {
  const c = await openStream(server, { token });
  c.send(send);
  const err = await c.next(() => true, 3000, `the ${code} error`);
  assert.equal(err.type, 'error', JSON.stringify(err));
  assert.equal(err.code, code, JSON.stringify(err));
  assert.equal(err.closeCode, closeCode, JSON.stringify(err));
  assert.equal(err.seq, 0, 'the first message of the connection');
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0);
  const close = await c.waitClose();
  assert.equal(close.code, closeCode);
  assert.equal(c.all.length, 1, 'nothing but the error');
  return err;
}

test('unknown service: unknown_service, close 4404', async () => {
  await refused(srv, owner, JSON.stringify({ services: ['finance', 'nope'], version: 1 }), 'unknown_service', 4404);
});

test('version 2: unsupported_version, close 4406', async () => {
  await refused(srv, owner, JSON.stringify({ services: ['finance'], version: 2 }), 'unsupported_version', 4406);
});

test('malformed JSON: invalid_handshake, close 4400', async () => {
  await refused(srv, owner, '{"services": ["finance"], "version": 1', 'invalid_handshake', 4400);
});

test('missing services: invalid_handshake, close 4400', async () => {
  await refused(srv, owner, JSON.stringify({ version: 1 }), 'invalid_handshake', 4400);
});

test('services not an array: invalid_handshake, close 4400', async () => {
  await refused(srv, owner, JSON.stringify({ services: 'finance', version: 1 }), 'invalid_handshake', 4400);
});

test('a service the role may not read: service_forbidden, close 4403', async () => {
  const hk = srv.token({ org: 1, user: 5, role: 'housekeeping' });
  await refused(srv, hk, JSON.stringify({ services: ['finance'], version: 1 }), 'service_forbidden', 4403);
});

test('no handshake within BELLHOP_HANDSHAKE_TIMEOUT_MS (300): handshake_timeout, close 4408', async () => {
  const c = await openStream(slow, { token: slow.token({ org: 1, user: 1, role: 'owner' }) });
  const t0 = Date.now();
  const err = await c.next(() => true, 3000, 'the handshake_timeout error');
  const elapsed = Date.now() - t0;
  assert.equal(err.type, 'error');
  assert.equal(err.code, 'handshake_timeout');
  assert.equal(err.closeCode, 4408);
  assert.ok(elapsed >= 200, `not before the timeout (${elapsed} ms)`);
  assert.ok(elapsed < 2000, `soon after the timeout (${elapsed} ms)`);
  assert.equal((await c.waitClose()).code, 4408);

  // A handshake sent in time on the same server is accepted.
  const { ack } = await subscribed(slow, slow.token({ org: 1, user: 1, role: 'owner' }), ['tasks']);
  assert.equal(ack.type, 'ack');
});

test('a binary frame: binary_not_supported, close 1003', async () => {
  await refused(srv, owner, Buffer.from(JSON.stringify({ services: ['finance'], version: 1 })), 'binary_not_supported', 1003);
});
