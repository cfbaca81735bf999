// Long-polling, GET /v1/realtime/{service}/poll: immediate answers, held polls woken by a publish,
// timeouts, `more` paging, isolation (org, property, role), reset answers and bad parameters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { publisher, EPOCH_RE } from './support/stream.mjs';

let srv;
let small; // BELLHOP_HISTORY_MAX_EVENTS=5

before(async () => {
  [srv, small] = await Promise.all([
    startServer(),
    startServer({ env: { BELLHOP_HISTORY_MAX_EVENTS: '5' } }),
  ]);
});
after(async () => {
  await Promise.all([srv?.stop(), small?.stop()]);
});

/**
 * One poll; resolves with {status, body, ms, headers}. Bounded: aborts after `bound` ms (default:
 * the requested timeout, else 25 s, plus 5 s), so a poll that is never answered fails the test.
 */
async function poll(s, token, service, { since, timeout, epoch, bound } = {}) {
  const q = new URLSearchParams();
  if (since !== undefined) q.set('since', String(since));
  if (timeout !== undefined) q.set('timeout', String(timeout));
  if (epoch !== undefined) q.set('epoch', epoch);
  bound = bound ?? (typeof timeout === 'number' ? timeout : 25) * 1000 + 5000;
  const t0 = Date.now();
  const res = await s.fetch(`/v1/realtime/${service}/poll?${q}`, { token, signal: AbortSignal.timeout(bound) });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body, ms: Date.now() - t0, headers: res.headers };
}

/** Publishes `count` events with at most `width` requests in flight; returns the answers by offset. */
async function publishMany(pub, count, width, body = () => ({})) {
  const out = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      out.push(await pub({ data: { i }, ...body(i) }));
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return out.sort((a, b) => a.offset - b.offset);
}

const offsets = (evs) => evs.map((e) => e.offset);

test('events after `since` are answered at once: exactly those events, offset = the last', async () => {
  const pub = publisher(srv, { org: 11 });
  const owner = srv.token({ org: 11, user: 1, role: 'owner' });
  const sent = [];
  for (let i = 1; i <= 4; i++) sent.push(await pub({ orgId: 11, data: { n: i } }));
  assert.deepEqual(sent.map((p) => p.offset), [1, 2, 3, 4]);
  const { epoch } = sent[0];

  // A long timeout: an immediate answer proves the poll was not held.
  const r = await poll(srv, owner, 'finance', { since: 1, timeout: 20, bound: 5000 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.ms < 3000, `answered at once, not after the timeout (${r.ms} ms)`);
  assert.match(r.headers.get('content-type'), /application\/json/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.deepEqual(Object.keys(r.body).sort(), ['epoch', 'events', 'more', 'offset', 'service']);
  assert.equal(r.body.service, 'finance');
  assert.equal(r.body.epoch, epoch);
  assert.match(r.body.epoch, EPOCH_RE);
  assert.equal(r.body.more, false);
  assert.equal(r.body.offset, 4);
  assert.deepEqual(offsets(r.body.events), [2, 3, 4]);
  assert.deepEqual(r.body.events.map((e) => e.data.n), [2, 3, 4]);
  for (const e of r.body.events) {
    // The same event objects the stream sends.
    assert.equal(e.id, `${epoch}-${e.offset}`);
    assert.equal(e.service, 'finance');
    assert.equal(e.type, 'revenue_created');
    assert.equal(e.orgId, 11);
  }
  // since = 0 gives everything; the right epoch changes nothing.
  const all = await poll(srv, owner, 'finance', { since: 0, epoch, timeout: 20, bound: 5000 });
  assert.deepEqual(offsets(all.body.events), [1, 2, 3, 4]);
  assert.equal(all.body.offset, 4);
});

test('a poll with nothing new is held, then woken by a publish with exactly that event', async () => {
  const pub = publisher(srv, { org: 12 });
  const owner = srv.token({ org: 12, user: 1, role: 'owner' });
  const first = await pub({ orgId: 12, data: { n: 1 } });
  let published = false;
  const held = poll(srv, owner, 'finance', { since: first.offset, timeout: 20 })
    .then((r) => ({ ...r, afterPublish: published }));
  // A round trip on another connection first, so the poll has most likely been read and parked.
  assert.equal((await srv.fetch('/health')).status, 200);
  published = true;
  const t0 = Date.now();
  const second = await pub({ orgId: 12, data: { n: 2 } });
  const r = await held;
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.afterPublish, 'the poll answered only after the publish started');
  assert.deepEqual(offsets(r.body.events), [second.offset], 'the woken poll carries the new event');
  assert.equal(r.body.events[0].data.n, 2);
  assert.equal(r.body.offset, second.offset);
  assert.equal(r.body.more, false);
  assert.ok(Date.now() - t0 < 3000, 'woken by the publish, not by the 20 s timeout');

  // Without `since` a poll starts from now: it is held and gets only what comes next.
  published = false;
  const fromNow = poll(srv, owner, 'finance', { timeout: 20 }).then((r2) => ({ ...r2, afterPublish: published }));
  assert.equal((await srv.fetch('/health')).status, 200);
  published = true;
  const third = await pub({ orgId: 12, data: { n: 3 } });
  const r2 = await fromNow;
  assert.ok(r2.afterPublish);
  assert.deepEqual(offsets(r2.body.events), [third.offset]);
});

test('timeout with no events: 200, events [] and offset = since after about the timeout; timeout=0 answers at once', async () => {
  const pub = publisher(srv, { org: 13 });
  const owner = srv.token({ org: 13, user: 1, role: 'owner' });
  const p = await pub({ orgId: 13 });
  const r = await poll(srv, owner, 'finance', { since: p.offset, timeout: 1 });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { service: 'finance', epoch: p.epoch, offset: p.offset, more: false, events: [] });
  assert.ok(r.ms >= 900, `held for the timeout (${r.ms} ms)`);
  assert.ok(r.ms < 4000, `answered soon after the 1 s timeout (${r.ms} ms)`);

  const z = await poll(srv, owner, 'finance', { since: p.offset, timeout: 0 });
  assert.equal(z.status, 200);
  assert.deepEqual(z.body, { service: 'finance', epoch: p.epoch, offset: p.offset, more: false, events: [] });
  assert.ok(z.ms < 500, `timeout=0 answers at once (${z.ms} ms)`);

  // A stream nobody ever published to: offset 0, empty, answered at once with timeout=0.
  const empty = await poll(srv, owner, 'tasks', { since: 0, timeout: 0 });
  assert.equal(empty.status, 200);
  assert.equal(empty.body.offset, 0);
  assert.deepEqual(empty.body.events, []);
});

test('more: true when over 500 events are pending; the next poll gets the rest', async () => {
  const pub = publisher(srv, { org: 14 });
  const owner = srv.token({ org: 14, user: 1, role: 'owner' });
  const sent = await publishMany(pub, 510, 16, () => ({ orgId: 14 }));
  assert.deepEqual(sent.map((x) => x.offset), Array.from({ length: 510 }, (_, i) => i + 1));
  const a = await poll(srv, owner, 'finance', { since: 0, timeout: 20, bound: 5000 });
  assert.equal(a.status, 200);
  assert.equal(a.body.more, true);
  assert.equal(a.body.events.length, 500);
  assert.deepEqual(offsets(a.body.events), Array.from({ length: 500 }, (_, i) => i + 1));
  assert.equal(a.body.offset, 500);
  const b = await poll(srv, owner, 'finance', { since: a.body.offset, timeout: 20, bound: 5000 });
  assert.equal(b.body.more, false);
  assert.deepEqual(offsets(b.body.events), Array.from({ length: 10 }, (_, i) => 501 + i));
  assert.equal(b.body.offset, 510);
  // Exactly 500 pending: no `more`.
  const c = await poll(srv, owner, 'finance', { since: 10, timeout: 20, bound: 5000 });
  assert.equal(c.body.events.length, 500);
  assert.equal(c.body.more, false);
  assert.equal(c.body.offset, 510);
});

test('isolation: another organisation\'s events never appear in a poll', async () => {
  const pubA = publisher(srv, { org: 15 });
  const pubB = publisher(srv, { org: 16 });
  const ownerA = srv.token({ org: 15, user: 1, role: 'owner' });
  const a0 = await pubA({ orgId: 15, data: { who: 'a0' } });
  let published = false;
  const held = poll(srv, ownerA, 'finance', { since: a0.offset, timeout: 20 }).then((r) => ({ ...r, afterPublish: published }));
  assert.equal((await srv.fetch('/health')).status, 200);
  published = true;
  // Org 16's stream has its own offsets (1, 2, ...): the same numbers must not leak into org 15.
  await pubB({ orgId: 16, data: { who: 'b1' } });
  await pubB({ orgId: 16, data: { who: 'b2' } });
  const a1 = await pubA({ orgId: 15, data: { who: 'a1' } });
  const r = await held;
  assert.ok(r.afterPublish);
  assert.deepEqual(r.body.events.map((e) => [e.orgId, e.offset, e.data.who]), [[15, a1.offset, 'a1']]);
  // An immediate poll from 0 shows only org 15's events.
  const all = await poll(srv, ownerA, 'finance', { since: 0, timeout: 0 });
  assert.deepEqual(all.body.events.map((e) => e.data.who), ['a0', 'a1']);
  assert.ok(all.body.events.every((e) => e.orgId === 15 && !String(e.data.who).startsWith('b')),
    'nothing of org 16');
  // A service token is bound to its org as well.
  const svcB = srv.token({ org: 16, user: 901, role: 'service' });
  const b = await poll(srv, svcB, 'finance', { since: 0, timeout: 0 });
  assert.deepEqual(b.body.events.map((e) => [e.orgId, e.data.who]), [[16, 'b1'], [16, 'b2']]);
});

test('property scoping: only the token\'s properties, and the offset moves past filtered events', async () => {
  const pub = publisher(srv, { org: 17 });
  const scoped = srv.token({ org: 17, user: 3, role: 'manager', properties: [1] });
  const e1 = await pub({ orgId: 17, propertyId: 1, data: { k: 'p1' } });
  const e2 = await pub({ orgId: 17, propertyId: 2, data: { k: 'p2' } });
  const e0 = await pub({ orgId: 17, data: { k: 'none' } });
  const e3 = await pub({ orgId: 17, propertyId: 2, data: { k: 'p2-late' } });

  const r = await poll(srv, scoped, 'finance', { since: 0, timeout: 0 });
  assert.deepEqual(r.body.events.map((e) => e.data.k), ['p1', 'none'], 'property 1 and property-less events only');
  assert.deepEqual(offsets(r.body.events), [e1.offset, e0.offset]);
  assert.equal(r.body.offset, e3.offset, 'the offset moves past the filtered property-2 event at the end');

  // Only invisible events after since: nothing returned at once (timeout=0), but the offset advances.
  const z = await poll(srv, scoped, 'finance', { since: e0.offset, timeout: 0 });
  assert.deepEqual(z.body.events, []);
  assert.equal(z.body.offset, e3.offset);

  // A held poll is not woken by an invisible event; it is by a visible one, and returns only that.
  let visiblePublished = false;
  const held = poll(srv, scoped, 'finance', { since: e3.offset, timeout: 20 }).then((x) => ({ ...x, afterVisible: visiblePublished }));
  assert.equal((await srv.fetch('/health')).status, 200);
  const hidden = await pub({ orgId: 17, propertyId: 2, data: { k: 'p2-held' } });
  visiblePublished = true;
  const shown = await pub({ orgId: 17, propertyId: 1, data: { k: 'p1-held' } });
  const h = await held;
  assert.ok(h.afterVisible, 'the invisible event did not answer the poll');
  assert.deepEqual(h.body.events.map((e) => e.data.k), ['p1-held']);
  assert.equal(h.body.offset, shown.offset);
  assert.ok(hidden.offset < shown.offset);

  // A held poll that only ever sees invisible events times out with the offset past them.
  const lonely = poll(srv, scoped, 'finance', { since: shown.offset, timeout: 1 });
  assert.equal((await srv.fetch('/health')).status, 200);
  const hidden2 = await pub({ orgId: 17, propertyId: 2, data: { k: 'p2-lonely' } });
  const l = await lonely;
  assert.deepEqual(l.body.events, []);
  assert.ok(l.ms >= 900, `held until the timeout (${l.ms} ms)`);
  assert.equal(l.body.offset, hidden2.offset, 'the timeout answer moved past the filtered event');

  // An unscoped owner sees everything.
  const owner = srv.token({ org: 17, user: 1, role: 'owner' });
  const all = await poll(srv, owner, 'finance', { since: 0, timeout: 0 });
  assert.deepEqual(all.body.events.map((e) => e.data.k), ['p1', 'p2', 'none', 'p2-late', 'p2-held', 'p1-held', 'p2-lonely']);
  assert.equal(all.body.events[1].offset, e2.offset);
});

test('role policy: staff may not poll finance (403 service_forbidden) but may poll tasks', async () => {
  const staff = srv.token({ org: 18, user: 5, role: 'staff' });
  const r = await poll(srv, staff, 'finance', { since: 0, timeout: 0 });
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, 'service_forbidden');
  const g = await poll(srv, srv.token({ org: 18, user: 6, role: 'housekeeping' }), 'guest', { since: 0, timeout: 0 });
  assert.equal(g.status, 403);
  assert.equal(g.body.error.code, 'service_forbidden');
  const t = await poll(srv, staff, 'tasks', { since: 0, timeout: 0 });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  // No token: 401.
  const res = await srv.fetch('/v1/realtime/tasks/poll?since=0&timeout=0');
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error.code, 'unauthorized');
});

test('reset answers: epoch_changed, offset_ahead, history_window_exceeded; in the window still replays', async () => {
  const pub = publisher(small);
  const owner = small.token({ org: 1, user: 1, role: 'owner' });
  let head;
  for (let i = 1; i <= 20; i++) head = await pub({ data: { n: i } });
  assert.equal(head.offset, 20);
  const { epoch } = head;
  const reset = (reason) => ({ service: 'finance', epoch, offset: 20, reset: true, reason, events: [] });
  const wrong = epoch === 'ffffffffffffffff' ? 'eeeeeeeeeeeeeeee' : 'ffffffffffffffff';

  const a = await poll(small, owner, 'finance', { since: 18, epoch: wrong, timeout: 20, bound: 5000 });
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, reset('epoch_changed'));
  const b = await poll(small, owner, 'finance', { since: 25, epoch, timeout: 20, bound: 5000 });
  assert.deepEqual(b.body, reset('offset_ahead'));
  const b2 = await poll(small, owner, 'finance', { since: 21, timeout: 20, bound: 5000 });
  assert.deepEqual(b2.body, reset('offset_ahead'), 'without an epoch too');
  const c = await poll(small, owner, 'finance', { since: 2, epoch, timeout: 20, bound: 5000 });
  assert.deepEqual(c.body, reset('history_window_exceeded'));
  // The window holds the last 5: since=15 is served, since=14 is not.
  const ok = await poll(small, owner, 'finance', { since: 15, epoch, timeout: 20, bound: 5000 });
  assert.deepEqual(offsets(ok.body.events), [16, 17, 18, 19, 20]);
  assert.equal(ok.body.reset, undefined);
  const tooOld = await poll(small, owner, 'finance', { since: 14, epoch, timeout: 20, bound: 5000 });
  assert.equal(tooOld.body.reason, 'history_window_exceeded');
  // Continuing from the reset's offset works: held, then woken by the next event.
  const held = poll(small, owner, 'finance', { since: c.body.offset, epoch, timeout: 20 });
  assert.equal((await small.fetch('/health')).status, 200);
  const next = await pub({ data: { n: 21 } });
  assert.deepEqual(offsets((await held).body.events), [next.offset]);
});

test('bad parameters: 400 invalid_field; unknown service: 404 unknown_service', async () => {
  const owner = srv.token({ org: 19, user: 1, role: 'owner' });
  const bad = [
    'since=-1', 'since=abc', 'since=', 'since=1.5', 'timeout=999', 'timeout=61', 'timeout=-1',
    'timeout=abc', 'epoch=abc',
  ];
  for (const q of bad) {
    const res = await srv.fetch(`/v1/realtime/finance/poll?${q}`, { token: owner, signal: AbortSignal.timeout(5000) });
    const body = await res.json();
    assert.equal(res.status, 400, `${q} -> ${res.status} ${JSON.stringify(body)}`);
    assert.equal(body.error.code, 'invalid_field', q);
  }
  // The maximum itself is allowed (with an event pending, so it answers at once).
  const pub = publisher(srv, { org: 19 });
  await pub({ orgId: 19 });
  const max = await poll(srv, owner, 'finance', { since: 0, timeout: 60, bound: 5000 });
  assert.equal(max.status, 200);
  assert.equal(max.body.events.length, 1);

  for (const svc of ['nope', 'FINANCE', 'finance2']) {
    const res = await srv.fetch(`/v1/realtime/${svc}/poll?since=0&timeout=0`, { token: owner });
    assert.equal(res.status, 404, svc);
    assert.equal((await res.json()).error.code, 'unknown_service', svc);
  }
});
