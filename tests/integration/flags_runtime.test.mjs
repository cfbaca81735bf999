// Feature flags changed at run time through POST /feature-flags: open streams fall back to
// long-polling without losing events (kill switch, rollout to 0, one service to v1), the ack's
// `fallback`, per-user config, validation (all or nothing), roles, the audit trail, and stored
// values winning over the environment after a restart.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, waitFor } from './support/server.mjs';
import { openStream, subscribed, closeAll, publisher, ISO_RE, EPOCH_RE } from './support/stream.mjs';

let srv;
let svcToken;

before(async () => {
  srv = await startServer({ env: { REALTIME_STREAMING_V2: 'true', REALTIME_ROLLOUT_PERCENT: '100' } });
  svcToken = srv.token({ org: 1, user: 900, role: 'service' });
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await srv?.stop();
});

async function postFlags(s, token, body) {
  const res = await s.fetch('/feature-flags', { method: 'POST', token, json: body });
  return { status: res.status, body: await res.json() };
}

async function getFlags(s, token) {
  const res = await s.fetch('/feature-flags', { token });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  return res.json();
}

/** Sets flags (asserting 200) and returns the answer. */
async function setFlags(body, s = srv, token = svcToken) {
  const r = await postFlags(s, token, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const DEFAULTS = {
  REALTIME_STREAMING_V2: true, REALTIME_ROLLOUT_PERCENT: 100, REALTIME_WHITELIST_USERS: [], REALTIME_WHITELIST_ORGS: [],
};

/** Back to the start state, whatever a test changed. */
async function resetFlags(s = srv, token = svcToken) {
  const { flags } = await getFlags(s, token);
  const back = {};
  for (const [k, v] of Object.entries(flags)) {
    const want = k in DEFAULTS ? DEFAULTS[k] : false;
    if (JSON.stringify(v) !== JSON.stringify(want)) back[k] = want;
  }
  if (Object.keys(back).length) await setFlags(back, s, token);
}

/** Polls from `since` until the offset reaches `upTo` (bounded); returns every event received. */
async function pollUntil(s, token, service, since, upTo, epoch) {
  const got = [];
  let at = since;
  const end = Date.now() + 10000;
  while (at < upTo) {
    assert.ok(Date.now() < end, `polling ${service} did not reach offset ${upTo} (at ${at})`);
    const q = `since=${at}&timeout=5${epoch ? `&epoch=${epoch}` : ''}`;
    const res = await s.fetch(`/v1/realtime/${service}/poll?${q}`, { token, signal: AbortSignal.timeout(10000) });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.reset, undefined, `unexpected reset ${JSON.stringify(body)}`);
    got.push(...body.events);
    at = body.offset;
  }
  return got;
}

const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/**
 * A flag change that stops a streaming user: events 1..3 reach the stream, 4..5 are published
 * just before the change, 6..10 after. The stream closes with 4503 and the fallback offsets; polling
 * from them gives the rest. Returns the refusal message.
 */
async function flipAndContinueByPolling({ org, user, flip, tasks = true }) {
  const pub = publisher(srv, { org });
  const tok = srv.token({ org, user, role: 'owner' });
  const { c } = await subscribed(srv, tok, tasks ? ['finance', 'tasks'] : ['finance']);
  for (let i = 1; i <= 3; i++) await pub({ orgId: org, data: { n: i } });
  await c.waitEvent((e) => e.offset === 3, 5000, 'event 3 on the stream');
  if (tasks) await pub({ orgId: org, service: 'tasks', type: 'task_created', data: { t: 1 } });
  await Promise.all([4, 5].map((n) => pub({ orgId: org, data: { n } })));
  await setFlags(flip);
  const after = [];
  for (let i = 6; i <= 10; i++) after.push(await pub({ orgId: org, data: { n: i } }));
  if (tasks) await pub({ orgId: org, service: 'tasks', type: 'task_created', data: { t: 2 } });

  const { code } = await c.waitClose(5000);
  assert.equal(code, 4503);
  const err = c.all[c.all.length - 1];
  assert.equal(err.type, 'error');
  assert.equal(err.code, 'fallback_to_polling');
  assert.equal(err.closeCode, 4503);
  assert.deepEqual(Object.keys(err.fallback).sort(), tasks ? ['finance', 'tasks'] : ['finance']);
  const fb = err.fallback.finance;
  assert.equal(fb.transport, 'polling');
  assert.equal(fb.url, '/v1/realtime/finance/poll');
  assert.equal(fb.epoch, after[0].epoch);
  const streamed = c.events('finance').map((e) => e.offset);
  assert.ok(fb.offset >= 3 && fb.offset <= 10, `fallback offset ${fb.offset}`);
  assert.deepEqual(streamed, range(1, fb.offset), 'the stream delivered exactly up to the fallback offset');
  c.assertSeqs();

  const polled = await pollUntil(srv, tok, 'finance', fb.offset, 10, fb.epoch);
  const union = [...streamed, ...polled.map((e) => e.offset)];
  assert.deepEqual(union, range(1, 10), 'stream + poll = 1..10, no gap, no duplicate');
  assert.deepEqual(polled.map((e) => e.data.n), range(fb.offset + 1, 10));
  if (tasks) {
    const t = err.fallback.tasks;
    const tStreamed = c.events('tasks').map((e) => e.offset);
    assert.deepEqual(tStreamed, range(1, t.offset));
    const tPolled = await pollUntil(srv, tok, 'tasks', t.offset, 2, t.epoch);
    assert.deepEqual([...tStreamed, ...tPolled.map((e) => e.offset)], [1, 2]);
  }
  return err;
}

test('kill switch flipped at run time: open streams close with 4503 and fallback offsets; polling from them loses nothing', async () => {
  try {
    const a = await setFlags({ REALTIME_STREAMING_V2: false });
    assert.deepEqual(a.changed, ['REALTIME_STREAMING_V2']);
    await setFlags({ REALTIME_STREAMING_V2: true });
    // And now for real, with a stream open and events around the change.
    await flipAndContinueByPolling({ org: 31, user: 1, flip: { REALTIME_STREAMING_V2: false } });
    // New streams are refused too, whitelisted users included.
    await setFlags({ REALTIME_WHITELIST_USERS: [2], REALTIME_WHITELIST_ORGS: [31] });
    const c = await openStream(srv, { token: srv.token({ org: 31, user: 2, role: 'owner' }) });
    const first = await c.handshake(['finance']);
    assert.equal(first.code, 'fallback_to_polling');
    assert.equal((await c.waitClose()).code, 4503);
  } finally {
    await resetFlags();
  }
});

test('rollout lowered to 0 at run time: non-whitelisted streams close with 4503 and continue by polling; whitelisted ones stay', async () => {
  try {
    await setFlags({ REALTIME_WHITELIST_USERS: [7], REALTIME_WHITELIST_ORGS: [33] });
    const pub33 = publisher(srv, { org: 33 });
    const { c: keptUser } = await subscribed(srv, srv.token({ org: 32, user: 7, role: 'owner' }), ['finance']);
    const { c: keptOrg } = await subscribed(srv, srv.token({ org: 33, user: 8, role: 'owner' }), ['finance']);
    await flipAndContinueByPolling({ org: 32, user: 1, flip: { REALTIME_ROLLOUT_PERCENT: 0 }, tasks: false });
    // The whitelisted user (org 32) and the whitelisted org's user stay connected and keep streaming.
    const tail = await publisher(srv, { org: 32 })({ orgId: 32, data: { n: 11 } });
    const tail33 = await pub33({ orgId: 33, data: { n: 1 } });
    await keptUser.waitEvent((e) => e.offset === tail.offset);
    await keptOrg.waitEvent((e) => e.offset === tail33.offset);
    assert.deepEqual(keptUser.events().map((e) => e.offset), range(1, 11), 'the whitelisted user got every event');
    assert.equal(keptUser.closeInfo, null);
    assert.equal(keptOrg.closeInfo, null);
    assert.ok(!keptUser.all.some((m) => m.type === 'error' || m.type === 'fallback'));
  } finally {
    await resetFlags();
  }
});

test('<SERVICE>_REALTIME_V1 at run time: a `fallback` message for that service, the others keep streaming, polling gets the rest', async () => {
  const org = 34;
  const pub = publisher(srv, { org });
  const tok = srv.token({ org, user: 1, role: 'owner' });
  try {
    const { c } = await subscribed(srv, tok, ['finance', 'tasks']);
    const { c: onlyFinance } = await subscribed(srv, srv.token({ org, user: 2, role: 'owner' }), ['finance']);
    for (let i = 1; i <= 3; i++) await pub({ orgId: org, data: { n: i } });
    await pub({ orgId: org, service: 'tasks', type: 'task_created', data: { t: 1 } });
    await c.waitEvent((e) => e.service === 'tasks' && e.offset === 1);
    await c.waitEvent((e) => e.service === 'finance' && e.offset === 3);

    const ans = await setFlags({ FINANCE_REALTIME_V1: true });
    assert.deepEqual(ans.changed, ['FINANCE_REALTIME_V1']);
    assert.equal(ans.flags.FINANCE_REALTIME_V1, true);
    const fbMsg = await c.nextType('fallback', 5000);
    const epoch = (await pub({ orgId: org, data: { n: 4 } })).epoch;
    for (let i = 5; i <= 6; i++) await pub({ orgId: org, data: { n: i } });
    const t2 = await pub({ orgId: org, service: 'tasks', type: 'task_created', data: { t: 2 } });

    assert.deepEqual(Object.keys(fbMsg).sort(), ['seq', 'services', 'type']);
    assert.deepEqual(fbMsg.services, { finance: { transport: 'polling', url: '/v1/realtime/finance/poll', offset: 3, epoch } },
      'finance falls back from the offset this connection had');
    // Tasks continue on the stream; no finance event comes after the fallback message.
    await c.waitEvent((e) => e.service === 'tasks' && e.offset === t2.offset);
    const i = c.all.indexOf(fbMsg);
    assert.ok(!c.all.slice(i + 1).some((m) => m.type === 'events' && m.service === 'finance'), 'finance stopped on the stream');
    assert.deepEqual(c.events('finance').map((e) => e.offset), [1, 2, 3]);
    assert.deepEqual(c.events('tasks').map((e) => e.offset), [1, 2]);
    assert.equal(c.closeInfo, null, 'the connection stays open');
    c.assertSeqs();
    const polled = await pollUntil(srv, tok, 'finance', fbMsg.services.finance.offset, 6, epoch);
    assert.deepEqual(polled.map((e) => e.offset), [4, 5, 6]);

    // A connection that had only finance has nothing left: 4503 with the fallback.
    assert.equal((await onlyFinance.waitClose()).code, 4503);
    const err = onlyFinance.all[onlyFinance.all.length - 1];
    assert.equal(err.code, 'fallback_to_polling');
    assert.equal(err.closeCode, 4503);
    assert.deepEqual(Object.keys(err.fallback), ['finance']);
    assert.equal(err.fallback.finance.offset, 3);

    // Config for this user: finance polls, tasks streams; the user as a whole still streams.
    const cfg = await (await srv.fetch('/v2/realtime/config', { token: tok })).json();
    assert.equal(cfg.streaming, true);
    assert.deepEqual(cfg.services.finance, { transport: 'polling', url: '/v1/realtime/finance/poll' });
    assert.deepEqual(cfg.services.tasks, { transport: 'websocket', url: '/v2/realtime/stream' });
    assert.deepEqual(cfg.services.guest, { transport: 'websocket', url: '/v2/realtime/stream' });

    // Back to v2: a new subscribe on the same connection streams finance again, resumable.
    await setFlags({ FINANCE_REALTIME_V1: false });
    c.send({ type: 'subscribe', services: ['finance'], resume: { finance: { offset: 6, epoch } } });
    const sub = await c.nextType('subscribed');
    assert.deepEqual(sub.services, ['finance']);
    const seven = await pub({ orgId: org, data: { n: 7 } });
    await c.waitEvent((e) => e.service === 'finance' && e.offset === seven.offset);
  } finally {
    await resetFlags();
  }
});

test('at the handshake, services on v1 are left out of `services` and listed in the ack\'s `fallback`', async () => {
  const org = 35;
  const pub = publisher(srv, { org });
  const tok = srv.token({ org, user: 1, role: 'owner' });
  let f;
  for (let i = 1; i <= 4; i++) f = await pub({ orgId: org, data: { n: i } });
  const g = await pub({ orgId: org, service: 'guest', type: 'guest_checked_in' });
  try {
    await setFlags({ FINANCE_REALTIME_V1: true, GUEST_REALTIME_V1: true });
    const { c, ack } = await subscribed(srv, tok, ['finance', 'tasks', 'guest'], {
      resume: { finance: { offset: 2, epoch: f.epoch } },
    });
    assert.deepEqual(ack.services, ['tasks']);
    assert.deepEqual(Object.keys(ack.positions), ['tasks']);
    assert.deepEqual(Object.keys(ack.fallback).sort(), ['finance', 'guest']);
    assert.equal(ack.fallback.finance.transport, 'polling');
    assert.equal(ack.fallback.finance.url, '/v1/realtime/finance/poll');
    assert.equal(ack.fallback.finance.offset, 2, 'a resumed service falls back from the resume offset');
    assert.equal(ack.fallback.finance.epoch, f.epoch);
    assert.match(f.epoch, EPOCH_RE);
    assert.deepEqual(ack.fallback.guest, { transport: 'polling', url: '/v1/realtime/guest/poll', offset: g.offset, epoch: g.epoch },
      'no resume: from the head');
    // Finance events do not come on this stream; tasks events do; polling finance from 2 gets 3..6.
    await pub({ orgId: org, data: { n: 5 } });
    await pub({ orgId: org, data: { n: 6 } });
    const t = await pub({ orgId: org, service: 'tasks', type: 'task_created' });
    await c.waitEvent((e) => e.service === 'tasks' && e.offset === t.offset);
    assert.deepEqual(c.events('finance'), []);
    const polled = await pollUntil(srv, tok, 'finance', 2, 6, ack.fallback.finance.epoch);
    assert.deepEqual(polled.map((e) => e.data.n), [3, 4, 5, 6]);

    // Nothing left to stream: the handshake is refused with 4503 and the fallback.
    const r = await openStream(srv, { token: tok });
    const first = await r.handshake(['finance', 'guest']);
    assert.equal(first.type, 'error');
    assert.equal(first.code, 'fallback_to_polling');
    assert.equal(first.closeCode, 4503);
    assert.deepEqual(Object.keys(first.fallback).sort(), ['finance', 'guest']);
    assert.equal((await r.waitClose()).code, 4503);
  } finally {
    await resetFlags();
  }
});

test('invalid flag names and values: 400 invalid_flag naming them, and nothing changes', async () => {
  await resetFlags();
  await setFlags({ REALTIME_ROLLOUT_PERCENT: 70, REALTIME_WHITELIST_USERS: [3] });
  try {
    const before = await getFlags(srv, svcToken);
    const bad = [
      [{ NOPE: true }, 'NOPE'],
      [{ realtime_rollout_percent: 10 }, 'realtime_rollout_percent'],
      [{ CHAT_REALTIME_V1: true }, 'CHAT_REALTIME_V1'],
      [{ REALTIME_ROLLOUT_PERCENT: 101 }, 'REALTIME_ROLLOUT_PERCENT'],
      [{ REALTIME_ROLLOUT_PERCENT: -1 }, 'REALTIME_ROLLOUT_PERCENT'],
      [{ REALTIME_ROLLOUT_PERCENT: '10' }, 'REALTIME_ROLLOUT_PERCENT'],
      [{ REALTIME_ROLLOUT_PERCENT: 10.5 }, 'REALTIME_ROLLOUT_PERCENT'],
      [{ REALTIME_ROLLOUT_PERCENT: null }, 'REALTIME_ROLLOUT_PERCENT'],
      [{ REALTIME_STREAMING_V2: 'false' }, 'REALTIME_STREAMING_V2'],
      [{ REALTIME_STREAMING_V2: 0 }, 'REALTIME_STREAMING_V2'],
      [{ FINANCE_REALTIME_V1: 'true' }, 'FINANCE_REALTIME_V1'],
      [{ REALTIME_WHITELIST_USERS: [1, '2'] }, 'REALTIME_WHITELIST_USERS'],
      [{ REALTIME_WHITELIST_USERS: [1.5] }, 'REALTIME_WHITELIST_USERS'],
      [{ REALTIME_WHITELIST_USERS: '12,40' }, 'REALTIME_WHITELIST_USERS'],
      [{ REALTIME_WHITELIST_USERS: [0] }, 'REALTIME_WHITELIST_USERS'],
      [{ REALTIME_WHITELIST_ORGS: ['a'] }, 'REALTIME_WHITELIST_ORGS'],
      [{ REALTIME_WHITELIST_ORGS: [-3] }, 'REALTIME_WHITELIST_ORGS'],
      // All or nothing: a good change next to a bad one is not applied either.
      [{ REALTIME_ROLLOUT_PERCENT: 5, FINANCE_REALTIME_V1: true, NOPE: 1 }, 'NOPE'],
      [{ REALTIME_STREAMING_V2: false, REALTIME_ROLLOUT_PERCENT: 200 }, 'REALTIME_ROLLOUT_PERCENT'],
    ];
    for (const [body, name] of bad) {
      const r = await postFlags(srv, svcToken, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'invalid_flag', JSON.stringify(body));
      assert.ok(r.body.error.message.includes(name), `the message names ${name}: ${r.body.error.message}`);
    }
    const afterAll = await getFlags(srv, svcToken);
    assert.deepEqual(afterAll.flags, before.flags, 'no flag changed');
    assert.deepEqual(afterAll.history, before.history, 'no change was recorded');
    assert.equal(afterAll.flags.REALTIME_ROLLOUT_PERCENT, 70);
    // Not a JSON object at all.
    const arr = await srv.fetch('/feature-flags', { method: 'POST', token: svcToken, headers: { 'content-type': 'application/json' }, body: '[1]' });
    assert.equal(arr.status, 400);
    const txt = await srv.fetch('/feature-flags', { method: 'POST', token: svcToken, headers: { 'content-type': 'text/plain' }, body: 'REALTIME_STREAMING_V2=false' });
    assert.equal(txt.status, 415);
    assert.deepEqual((await getFlags(srv, svcToken)).flags, before.flags);
  } finally {
    await resetFlags();
  }
});

test('roles: owner, admin and service may read and change flags; staff, manager and finance may not (403)', async () => {
  const before = await getFlags(srv, svcToken);
  for (const role of ['staff', 'manager', 'finance', 'front_desk']) {
    const tok = srv.token({ org: 1, user: 50, role });
    const g = await srv.fetch('/feature-flags', { token: tok });
    assert.equal(g.status, 403, `${role} GET`);
    assert.equal((await g.json()).error.code, 'forbidden');
    const p = await postFlags(srv, tok, { REALTIME_STREAMING_V2: false });
    assert.equal(p.status, 403, `${role} POST`);
    assert.equal(p.body.error.code, 'forbidden');
  }
  const anon = await srv.fetch('/feature-flags', { method: 'POST', json: { REALTIME_STREAMING_V2: false } });
  assert.equal(anon.status, 401);
  assert.deepEqual((await getFlags(srv, svcToken)).flags, before.flags, 'refused changes changed nothing');
  try {
    for (const role of ['owner', 'admin', 'service']) {
      const tok = srv.token({ org: 1, user: 51, role });
      const { flags } = await getFlags(srv, tok);
      assert.equal(typeof flags.REALTIME_STREAMING_V2, 'boolean', role);
      const r = await setFlags({ TASKS_REALTIME_V1: role !== 'service' }, srv, tok);
      assert.equal(r.flags.TASKS_REALTIME_V1, role !== 'service');
    }
  } finally {
    await resetFlags();
  }
});

test('audit trail: GET /feature-flags history has who changed what, newest first; the change is logged', async () => {
  await resetFlags();
  const owner = srv.token({ org: 3, user: 7, role: 'owner' });
  const t0 = Date.now();
  const r = await setFlags({ REALTIME_ROLLOUT_PERCENT: 42, GUEST_REALTIME_V1: true }, srv, owner);
  assert.deepEqual([...r.changed].sort(), ['GUEST_REALTIME_V1', 'REALTIME_ROLLOUT_PERCENT']);
  assert.equal(r.flags.REALTIME_ROLLOUT_PERCENT, 42);
  assert.equal(r.flags.GUEST_REALTIME_V1, true);
  await setFlags({ REALTIME_ROLLOUT_PERCENT: 100, REALTIME_WHITELIST_ORGS: [3, 4] });

  const { flags, history } = await getFlags(srv, svcToken);
  assert.equal(flags.REALTIME_ROLLOUT_PERCENT, 100);
  assert.deepEqual(flags.REALTIME_WHITELIST_ORGS, [3, 4]);
  assert.ok(history.length <= 20);
  const [h0, h1, h2, h3] = history;
  // The service's change (newest), then the owner's.
  const byName = (hs, n) => hs.find((h) => h.name === n);
  const svcChanges = [h0, h1];
  const ownerChanges = [h2, h3];
  assert.deepEqual(byName(svcChanges, 'REALTIME_ROLLOUT_PERCENT'), {
    ...byName(svcChanges, 'REALTIME_ROLLOUT_PERCENT'), oldValue: 42, newValue: 100, changedBy: 900, changedByOrg: 1, changedByRole: 'service',
  });
  assert.deepEqual(byName(svcChanges, 'REALTIME_WHITELIST_ORGS').oldValue, []);
  assert.deepEqual(byName(svcChanges, 'REALTIME_WHITELIST_ORGS').newValue, [3, 4]);
  const pct = byName(ownerChanges, 'REALTIME_ROLLOUT_PERCENT');
  assert.ok(pct, JSON.stringify(history.slice(0, 4)));
  assert.deepEqual(Object.keys(pct).sort(), ['changedAt', 'changedBy', 'changedByOrg', 'changedByRole', 'name', 'newValue', 'oldValue']);
  assert.equal(pct.oldValue, 100);
  assert.equal(pct.newValue, 42);
  assert.equal(pct.changedBy, 7);
  assert.equal(pct.changedByOrg, 3);
  assert.equal(pct.changedByRole, 'owner');
  assert.match(pct.changedAt, ISO_RE);
  assert.ok(Math.abs(Date.parse(pct.changedAt) - t0) < 60000);
  const guest = byName(ownerChanges, 'GUEST_REALTIME_V1');
  assert.deepEqual([guest.oldValue, guest.newValue, guest.changedBy, guest.changedByRole], [false, true, 7, 'owner']);
  assert.ok(Date.parse(h0.changedAt) >= Date.parse(h3.changedAt), 'newest first');
  // Logged with who did it.
  await waitFor(() => /msg=flags_changed by_user=7 by_org=3 by_role=owner/.test(srv.stderr), { what: 'the flags_changed log line' });
  await resetFlags();
});

test('stored flag values win over the environment after a restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bellhop-flags-restart-'));
  const env = { REALTIME_STREAMING_V2: 'true', REALTIME_ROLLOUT_PERCENT: '100', REALTIME_WHITELIST_USERS: '', FINANCE_REALTIME_V1: 'false' };
  let s1;
  let s2;
  try {
    s1 = await startServer({ dataDir, env });
    const tok1 = s1.token({ org: 1, user: 900, role: 'service' });
    assert.equal((await getFlags(s1, tok1)).flags.REALTIME_ROLLOUT_PERCENT, 100, 'env value at first start');
    await setFlags({ REALTIME_ROLLOUT_PERCENT: 0, FINANCE_REALTIME_V1: true, REALTIME_WHITELIST_USERS: [5] }, s1, tok1);
    await s1.stop({ keepData: true });
    s1 = null;

    // The environment still says 100 % and finance on v2, and now also GUEST on v1 (not stored).
    s2 = await startServer({ dataDir, env: { ...env, GUEST_REALTIME_V1: 'true' } });
    const tok2 = s2.token({ org: 1, user: 900, role: 'service' });
    const { flags, history } = await getFlags(s2, tok2);
    assert.equal(flags.REALTIME_ROLLOUT_PERCENT, 0, 'the stored rollback survives the restart');
    assert.equal(flags.FINANCE_REALTIME_V1, true);
    assert.deepEqual(flags.REALTIME_WHITELIST_USERS, [5]);
    assert.equal(flags.GUEST_REALTIME_V1, true, 'flags never set through the API still come from the env');
    assert.equal(flags.REALTIME_STREAMING_V2, true);
    assert.ok(history.some((h) => h.name === 'REALTIME_ROLLOUT_PERCENT' && h.newValue === 0), 'the history survives too');
    // And it is in force: user 6 polls, whitelisted user 5 streams tasks but not finance.
    const cfg6 = await (await s2.fetch('/v2/realtime/config', { token: s2.token({ org: 1, user: 6, role: 'owner' }) })).json();
    assert.equal(cfg6.streaming, false);
    assert.equal(cfg6.rollout.percent, 0);
    const { ack } = await subscribed(s2, s2.token({ org: 1, user: 5, role: 'owner' }), ['finance', 'tasks']);
    assert.deepEqual(ack.services, ['tasks']);
    assert.deepEqual(Object.keys(ack.fallback), ['finance']);
    await closeAll();
  } finally {
    await closeAll();
    await s1?.stop({ keepData: true });
    await s2?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
