// Feature flags from the environment: sticky rollout by percentage (and monotone when raised),
// whitelisted users and organisations, the kill switch, and GET /v2/realtime/config per user.
//
// The exact distribution over 10,000 user ids (about 10 % at REALTIME_ROLLOUT_PERCENT=10, sticky,
// monotone for every percentage) is covered by the C unit test tests/unit/realtime/test_flags.c:
// minting a token per user here spawns a process each, so this file checks 400 users end to end.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startServer, BIN } from './support/server.mjs';
import { openStream, closeAll, publisher, metrics } from './support/stream.mjs';

let roll; // REALTIME_ROLLOUT_PERCENT=10
let white; // 0 %, whitelist users 12 and 40, org 7
let killed; // REALTIME_STREAMING_V2=false, with the same whitelist and 100 %

before(async () => {
  [roll, white, killed] = await Promise.all([
    startServer({ env: { REALTIME_ROLLOUT_PERCENT: '10' } }),
    startServer({ env: { REALTIME_ROLLOUT_PERCENT: '0', REALTIME_WHITELIST_USERS: '12,40', REALTIME_WHITELIST_ORGS: '7' } }),
    startServer({ env: { REALTIME_STREAMING_V2: 'false', REALTIME_ROLLOUT_PERCENT: '100', REALTIME_WHITELIST_USERS: '12', REALTIME_WHITELIST_ORGS: '7' } }),
  ]);
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await Promise.all([roll?.stop(), white?.stop(), killed?.stop()]);
});

/** Runs fn over items with at most `width` in flight; results in item order. */
async function mapLimit(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return out;
}

/** `bellhop token` (as srv.token does), but asynchronously, so several can run at once. */
function mintToken(srv, { org = 1, user, role = 'manager' }) {
  return new Promise((resolve, reject) => {
    execFile(BIN, ['token', '--org', String(org), '--user', String(user), '--role', role, '--data-dir', srv.dataDir],
      { env: { ...process.env, BELLHOP_LOG_LEVEL: 'warn' }, encoding: 'utf8' },
      (err, stdout, stderr) => (err ? reject(new Error(`bellhop token: ${err.message} ${stderr}`)) : resolve(stdout.trim())));
  });
}

async function config(srv, token) {
  const res = await srv.fetch('/v2/realtime/config', { token, signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  return res.json();
}

/**
 * Opens a stream and sends a handshake. Resolves {ack, c} when accepted, or {refusal, close} when
 * the server answered with an error and closed.
 */
async function tryStream(srv, token, services) {
  const c = await openStream(srv, { token });
  const first = await c.handshake(services);
  if (first.type === 'ack') return { ack: first, c };
  const close = await c.waitClose();
  return { refusal: first, close, c };
}

/** Asserts a 4503 fallback_to_polling refusal listing `services` with polling urls, offsets and epochs. */
function assertFallbackRefusal(r, services, what = '') {
  assert.ok(r.refusal, `${what}: expected a refusal, got an ack ${JSON.stringify(r.ack)}`);
  assert.equal(r.refusal.type, 'error', what);
  assert.equal(r.refusal.code, 'fallback_to_polling', what);
  assert.equal(r.refusal.closeCode, 4503, what);
  assert.equal(r.refusal.seq, 0, what);
  assert.equal(r.close.code, 4503, what);
  assert.deepEqual(Object.keys(r.refusal.fallback).sort(), [...services].sort(), what);
  for (const s of services) {
    const f = r.refusal.fallback[s];
    assert.equal(f.transport, 'polling', what);
    assert.equal(f.url, `/v1/realtime/${s}/poll`, what);
    assert.ok(Number.isInteger(f.offset) && f.offset >= 0, what);
    assert.match(f.epoch, /^[0-9a-f]{16}$/, what);
  }
}

const USERS = Array.from({ length: 400 }, (_, i) => i + 1);
let rollTokens; // user id -> token on `roll`
let buckets; // user id -> rollout bucket
async function rolloutTokens() {
  if (!rollTokens) {
    const toks = await mapLimit(USERS, 6, (user) => mintToken(roll, { user }));
    rollTokens = new Map(USERS.map((u, i) => [u, toks[i]]));
  }
  return rollTokens;
}

test('rollout at 10 %: a sticky bucket per user; exactly the users with bucket < 10 stream, the others get 4503 with the fallback', async () => {
  const toks = await rolloutTokens();
  const cfgs = await mapLimit(USERS, 16, (u) => config(roll, toks.get(u)));
  buckets = new Map();
  for (const [i, cfg] of cfgs.entries()) {
    const u = USERS[i];
    const { bucket } = cfg.rollout;
    assert.ok(Number.isInteger(bucket) && bucket >= 0 && bucket <= 99, `bucket of user ${u}: ${bucket}`);
    assert.equal(cfg.rollout.percent, 10);
    assert.equal(cfg.rollout.enabled, true);
    const streams = bucket < 10;
    assert.equal(cfg.streaming, streams, `user ${u}, bucket ${bucket}`);
    assert.equal(cfg.transport, streams ? 'websocket' : 'polling');
    for (const [svc, v] of Object.entries(cfg.services)) {
      assert.deepEqual(v, streams ? { transport: 'websocket', url: '/v2/realtime/stream' }
        : { transport: 'polling', url: `/v1/realtime/${svc}/poll` }, `user ${u} ${svc}`);
    }
    buckets.set(u, bucket);
  }
  // Spread: ~40 of 400 expected below 10 (binomial sd ~6), and the buckets cover the range.
  const on = USERS.filter((u) => buckets.get(u) < 10);
  assert.ok(on.length >= 20 && on.length <= 64, `${on.length} of 400 users stream at 10 %`);
  assert.ok(new Set(buckets.values()).size >= 80, 'buckets spread over 0..99');
  const bins = [0, 0, 0, 0];
  for (const b of buckets.values()) bins[Math.floor(b / 25)]++;
  for (const n of bins) assert.ok(n >= 60 && n <= 140, `quarters of the bucket range: ${bins}`);

  // Sticky: the bucket depends on the user id only (another org, role, token: same bucket).
  const again = await mapLimit(USERS.slice(0, 12), 6, async (u) => (await config(roll, await mintToken(roll, { org: 5, user: u, role: 'staff' }))).rollout.bucket);
  assert.deepEqual(again, USERS.slice(0, 12).map((u) => buckets.get(u)));

  // The streaming decision itself, for every one of the 400 users.
  const m0 = await metrics(roll, await mintToken(roll, { user: 900, role: 'service' }));
  const outcomes = await mapLimit(USERS, 25, async (u) => {
    const r = await tryStream(roll, toks.get(u), ['finance', 'tasks']);
    if (r.ack) {
      assert.deepEqual(r.ack.services, ['finance', 'tasks'], `user ${u}`);
      assert.equal(r.ack.fallback, undefined, `user ${u}: nothing falls back`);
      await r.c.close();
    } else {
      assertFallbackRefusal(r, ['finance', 'tasks'], `user ${u}`);
    }
    return !!r.ack;
  });
  for (const [i, ok] of outcomes.entries()) {
    assert.equal(ok, buckets.get(USERS[i]) < 10, `user ${USERS[i]} (bucket ${buckets.get(USERS[i])}) streams iff bucket < 10`);
  }
  const m1 = await metrics(roll, await mintToken(roll, { user: 900, role: 'service' }));
  assert.equal(m1.handshakesFailed - m0.handshakesFailed, 400 - on.length, 'each refusal counts as a failed handshake');
});

test('raising the percentage is monotone: users streaming at 10 % still stream at 50 %, open streams stay open', async () => {
  const toks = await rolloutTokens();
  if (!buckets) {
    buckets = new Map();
    const cfgs = await mapLimit(USERS, 16, (u) => config(roll, toks.get(u)));
    cfgs.forEach((cfg, i) => buckets.set(USERS[i], cfg.rollout.bucket));
  }
  const at10 = USERS.filter((u) => buckets.get(u) < 10);
  const service = await mintToken(roll, { user: 900, role: 'service' });
  const pub = publisher(roll);
  // A 10 % user with an open stream while the percentage is raised.
  const early = await tryStream(roll, toks.get(at10[0]), ['finance']);
  assert.ok(early.ack);

  const res = await roll.fetch('/feature-flags', { method: 'POST', token: service, json: { REALTIME_ROLLOUT_PERCENT: 50 } });
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).changed, ['REALTIME_ROLLOUT_PERCENT']);
  try {
    const cfgs = await mapLimit(USERS, 16, (u) => config(roll, toks.get(u)));
    const at50 = [];
    cfgs.forEach((cfg, i) => {
      const u = USERS[i];
      assert.equal(cfg.rollout.bucket, buckets.get(u), `user ${u}: the same bucket at 50 %`);
      assert.equal(cfg.rollout.percent, 50);
      assert.equal(cfg.streaming, buckets.get(u) < 50, `user ${u}`);
      if (cfg.streaming) at50.push(u);
    });
    for (const u of at10) assert.ok(at50.includes(u), `user ${u} streamed at 10 % and must at 50 %`);
    assert.ok(at50.length >= 160 && at50.length <= 240, `${at50.length} of 400 stream at 50 %`);

    // Every 10 % user is still accepted, a sample of the newly added users is too, and the rest
    // are still refused.
    const added = at50.filter((u) => !at10.includes(u)).slice(0, 30);
    const refused = USERS.filter((u) => !at50.includes(u)).slice(0, 30);
    await mapLimit([...at10, ...added], 20, async (u) => {
      const r = await tryStream(roll, toks.get(u), ['tasks']);
      assert.ok(r.ack, `user ${u} (bucket ${buckets.get(u)}) streams at 50 %: ${JSON.stringify(r.refusal)}`);
      await r.c.close();
    });
    await mapLimit(refused, 20, async (u) => assertFallbackRefusal(await tryStream(roll, toks.get(u), ['tasks']), ['tasks'], `user ${u}`));

    // The stream opened at 10 % was not disturbed: it still gets live events.
    const ev = await pub({ data: { n: 'after-raise' } });
    const got = await early.c.waitEvent((e) => e.offset === ev.offset);
    assert.equal(got.data.n, 'after-raise');
    assert.equal(early.c.closeInfo, null);
    assert.deepEqual(early.c.all.map((m) => m.type), ['ack', 'events']);
  } finally {
    const back = await roll.fetch('/feature-flags', { method: 'POST', token: service, json: { REALTIME_ROLLOUT_PERCENT: 10 } });
    assert.equal(back.status, 200);
  }
});

test('whitelisted users and organisations stream at 0 %; everyone else gets 4503', async () => {
  const service = await mintToken(white, { user: 900, role: 'service' });
  const res = await white.fetch('/feature-flags', { token: service });
  assert.equal(res.status, 200);
  const { flags } = await res.json();
  assert.equal(flags.REALTIME_ROLLOUT_PERCENT, 0);
  assert.deepEqual(flags.REALTIME_WHITELIST_USERS, [12, 40]);
  assert.deepEqual(flags.REALTIME_WHITELIST_ORGS, [7]);
  assert.equal(flags.REALTIME_STREAMING_V2, true);

  const cases = [
    { org: 1, user: 12, streams: true },
    { org: 3, user: 40, streams: true },
    { org: 7, user: 13, streams: true }, // a whitelisted organisation
    { org: 7, user: 99, streams: true },
    { org: 1, user: 13, streams: false },
    { org: 1, user: 41, streams: false },
    { org: 70, user: 7, streams: false }, // org 7 is listed, not user 7
  ];
  for (const k of cases) {
    const tok = await mintToken(white, { org: k.org, user: k.user });
    const cfg = await config(white, tok);
    assert.equal(cfg.streaming, k.streams, `config for ${JSON.stringify(k)}`);
    assert.equal(cfg.rollout.percent, 0);
    const r = await tryStream(white, tok, ['finance', 'tasks']);
    if (k.streams) {
      assert.ok(r.ack, `${JSON.stringify(k)} should stream: ${JSON.stringify(r.refusal)}`);
      assert.deepEqual(r.ack.services, ['finance', 'tasks']);
      await r.c.close();
    } else {
      assertFallbackRefusal(r, ['finance', 'tasks'], JSON.stringify(k));
    }
  }
});

test('kill switch REALTIME_STREAMING_V2=false: everyone, whitelisted included, gets 4503; polling still works', async () => {
  const heads = { 1: await publisher(killed, { org: 1 })({ data: { n: 1 } }) };
  heads[7] = await publisher(killed, { org: 7 })({ orgId: 7 });
  const p = heads[1];
  for (const k of [{ org: 1, user: 12 }, { org: 7, user: 5 }, { org: 1, user: 1, role: 'owner' }, { org: 1, user: 900, role: 'service' }]) {
    const tok = await mintToken(killed, { role: 'manager', ...k });
    const cfg = await config(killed, tok);
    assert.equal(cfg.streaming, false, JSON.stringify(k));
    assert.equal(cfg.transport, 'polling');
    assert.equal(cfg.rollout.enabled, false);
    assert.equal(cfg.rollout.percent, 100);
    for (const [svc, v] of Object.entries(cfg.services)) assert.deepEqual(v, { transport: 'polling', url: `/v1/realtime/${svc}/poll` });
    const r = await tryStream(killed, tok, ['finance']);
    assertFallbackRefusal(r, ['finance'], JSON.stringify(k));
    // Where to poll from: the head when the client gave no resume position.
    const h = heads[k.org];
    assert.deepEqual(r.refusal.fallback.finance, { transport: 'polling', url: '/v1/realtime/finance/poll', offset: h.offset, epoch: h.epoch });
    const poll = await killed.fetch(`/v1/realtime/finance/poll?since=${h.offset - 1}&timeout=0`, { token: tok });
    assert.equal(poll.status, 200);
    assert.deepEqual((await poll.json()).events.map((e) => e.offset), [h.offset]);
  }
  // With a resume position, the fallback offset is that position (poll from it: nothing lost).
  const tok = await mintToken(killed, { org: 1, user: 12 });
  const c = await openStream(killed, { token: tok });
  const first = await c.handshake(['finance'], { resume: { finance: { offset: 0, epoch: p.epoch } } });
  assert.equal(first.code, 'fallback_to_polling');
  assert.deepEqual(first.fallback.finance, { transport: 'polling', url: '/v1/realtime/finance/poll', offset: 0, epoch: p.epoch });
  assert.equal((await c.waitClose()).code, 4503);
});

test('GET /v2/realtime/config lists only the services the role may read', async () => {
  const staff = await config(white, await mintToken(white, { org: 7, user: 3, role: 'staff' }));
  assert.deepEqual(Object.keys(staff.services).sort(), ['branding', 'properties', 'tasks']);
  assert.equal(staff.streaming, true);
  assert.deepEqual(staff.stream, { url: '/v2/realtime/stream', version: 1, heartbeatMs: 25000 });
  assert.deepEqual(staff.polling, { urlTemplate: '/v1/realtime/{service}/poll', timeoutS: 25, maxTimeoutS: 60 });
  const owner = await config(white, await mintToken(white, { org: 7, user: 1, role: 'owner' }));
  assert.equal(Object.keys(owner.services).length, 10);
  const res = await white.fetch('/v2/realtime/config');
  assert.equal(res.status, 401);
});
