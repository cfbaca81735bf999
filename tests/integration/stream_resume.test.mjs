// The realtime stream: resume with exact replay, resets (window, epoch, ahead), and history that
// survives a restart.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, waitFor } from './support/server.mjs';
import { subscribed, closeAll, publisher, metrics, EPOCH_RE } from './support/stream.mjs';

let srv;
let small; // BELLHOP_HISTORY_MAX_EVENTS=5
let young; // BELLHOP_HISTORY_MAX_AGE_S=1

before(async () => {
  [srv, small, young] = await Promise.all([
    startServer({ args: ['--demo'] }),
    startServer({ env: { BELLHOP_HISTORY_MAX_EVENTS: '5' } }),
    startServer({ env: { BELLHOP_HISTORY_MAX_AGE_S: '1' } }),
  ]);
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await Promise.all([srv?.stop(), small?.stop(), young?.stop()]);
});

test('resume replays exactly the missed events, in order, without duplicates, before live ones', async () => {
  const pub = publisher(srv);
  const owner = srv.token({ org: 1, user: 1, role: 'owner' });
  const { c: a, ack } = await subscribed(srv, owner, ['finance', 'tasks']);
  const base = ack.positions.finance.offset;
  const epoch = ack.positions.finance.epoch;
  for (let i = 1; i <= 3; i++) await pub({ data: { n: i } });
  const got = await a.takeEvents(3, { service: 'finance' });
  assert.deepEqual(got.map((e) => e.offset), [base + 1, base + 2, base + 3]);
  const last = got[2];
  await a.close();

  for (let i = 4; i <= 8; i++) await pub({ data: { n: i } });
  const m0 = await metrics(srv, owner);

  const { c: b, ack: ack2 } = await subscribed(srv, owner, ['finance', 'tasks'], {
    resume: { finance: { offset: last.offset, epoch } },
  });
  assert.deepEqual(ack2.positions.finance, { offset: base + 8, epoch }, 'the ack shows the head');
  const live = await pub({ data: { n: 9 } });
  assert.equal(live.offset, base + 9);

  const evs = await b.takeEvents(6, { service: 'finance' });
  assert.deepEqual(evs.map((e) => e.offset), [4, 5, 6, 7, 8, 9].map((k) => base + k));
  assert.deepEqual(evs.map((e) => e.data.n), [4, 5, 6, 7, 8, 9]);
  for (const e of evs) assert.equal(e.id, `${epoch}-${e.offset}`);
  // The replay came right after the ack, before the live event, and nothing else came.
  const types = b.all.map((m) => m.type);
  assert.equal(types[0], 'ack');
  assert.ok(types.slice(1).every((t) => t === 'events'), JSON.stringify(types));
  assert.equal(b.events('tasks').length, 0, 'no resume for tasks: live only, nothing replayed');
  b.assertSeqs();
  const m1 = await metrics(srv, owner);
  assert.equal(m1.resumes, m0.resumes + 1);

  // Resuming at the head replays nothing; the next live event is the first message after the ack.
  const { c: d } = await subscribed(srv, owner, ['finance'], { resume: { finance: { offset: live.offset, epoch } } });
  const next = await pub({ data: { n: 10 } });
  const evs2 = await d.takeEvents(1, { service: 'finance' });
  assert.deepEqual(evs2.map((e) => e.offset), [next.offset]);
  d.assertSeqs();
});

test('reset: history_window_exceeded, epoch_changed, offset_ahead; in-window resume still replays', async () => {
  const pub = publisher(small);
  const owner = small.token({ org: 1, user: 1, role: 'owner' });
  let head;
  for (let i = 1; i <= 20; i++) head = await pub({ data: { n: i } });
  assert.equal(head.offset, 20);
  const { epoch } = head;
  assert.match(epoch, EPOCH_RE);

  const resetFor = async (resume, reason) => {
    const { c, ack } = await subscribed(small, owner, ['finance'], { resume: { finance: resume } });
    assert.deepEqual(ack.positions.finance, { offset: 20, epoch });
    const r = await c.next(() => true, 3000, 'the reset');
    assert.deepEqual(r, { type: 'reset', seq: 1, service: 'finance', epoch, offset: 20, reason });
    return c;
  };
  const c1 = await resetFor({ offset: 2, epoch }, 'history_window_exceeded');
  const wrong = epoch === 'ffffffffffffffff' ? 'eeeeeeeeeeeeeeee' : 'ffffffffffffffff';
  const c2 = await resetFor({ offset: 18, epoch: wrong }, 'epoch_changed');
  const c3 = await resetFor({ offset: 25, epoch }, 'offset_ahead');

  // In the window: exactly the missed events.
  const { c: ok } = await subscribed(small, owner, ['finance'], { resume: { finance: { offset: 17, epoch } } });
  const replay = await ok.takeEvents(3);
  assert.deepEqual(replay.map((e) => e.offset), [18, 19, 20]);

  // After a reset the subscription continues live from the head, with no replay.
  const live = await pub({ data: { n: 21 } });
  for (const c of [c1, c2, c3]) {
    const evs = await c.takeEvents(1);
    assert.deepEqual(evs.map((e) => e.offset), [live.offset]);
    assert.deepEqual(c.all.map((m) => m.type), ['ack', 'reset', 'events']);
    c.assertSeqs();
  }
  assert.deepEqual((await ok.takeEvents(1)).map((e) => e.offset), [21]);
  ok.assertSeqs();
});

test('events older than BELLHOP_HISTORY_MAX_AGE_S leave the window: history_window_exceeded', async () => {
  const pub = publisher(young);
  const owner = young.token({ org: 1, user: 1, role: 'owner' });
  const t0 = Date.now();
  let last;
  for (let i = 1; i <= 3; i++) last = await pub({ data: { n: i } });
  const resume = { finance: { offset: 1, epoch: last.epoch } };
  // Young enough: replayed.
  const { c } = await subscribed(young, owner, ['finance'], { resume });
  const first = await c.next(() => true, 3000, 'the replay');
  if (Date.now() - t0 < 900) {
    assert.equal(first.type, 'events', JSON.stringify(first));
    assert.deepEqual(first.events.map((e) => e.offset), [2, 3]);
  }
  await c.close();
  // Once they are older than a second: a reset. Poll (bounded) rather than sleep a fixed time.
  let answer;
  await waitFor(async () => {
    const { c: r } = await subscribed(young, owner, ['finance'], { resume });
    answer = await r.next(() => true, 3000, 'the replay or reset');
    await r.close();
    return answer.type === 'reset';
  }, { timeout: 6000, every: 150, what: 'a reset once the events aged out' });
  assert.ok(Date.now() - t0 >= 1000, 'not before the events were a second old');
  assert.deepEqual(answer, { type: 'reset', seq: 1, service: 'finance', epoch: last.epoch, offset: 3, reason: 'history_window_exceeded' });
  // A new event is young again: resuming just before it replays it.
  const fresh = await pub({ data: { n: 4 } });
  const { c: d } = await subscribed(young, owner, ['finance'], { resume: { finance: { offset: 3, epoch: last.epoch } } });
  assert.deepEqual((await d.takeEvents(1)).map((e) => e.offset), [fresh.offset]);
});

test('history survives a restart: same epoch, replay from offset 1, offsets continue', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bellhop-stream-restart-'));
  let s1;
  let s2;
  try {
    s1 = await startServer({ dataDir });
    const pub1 = publisher(s1);
    const answers = [];
    for (let i = 1; i <= 3; i++) answers.push(await pub1({ propertyId: 2, data: { n: i } }));
    assert.deepEqual(answers.map((a) => a.offset), [1, 2, 3]);
    const { epoch } = answers[0];
    await s1.stop({ keepData: true });
    s1 = null;

    s2 = await startServer({ dataDir });
    const owner = s2.token({ org: 1, user: 1, role: 'owner' });
    const { c, ack } = await subscribed(s2, owner, ['finance'], { resume: { finance: { offset: 1, epoch } } });
    assert.deepEqual(ack.positions.finance, { offset: 3, epoch }, 'head and epoch kept across the restart');
    const replay = await c.takeEvents(2);
    assert.deepEqual(replay.map((e) => [e.offset, e.id, e.data.n, e.propertyId]),
      [[2, `${epoch}-2`, 2, 2], [3, `${epoch}-3`, 3, 2]]);

    const pub2 = publisher(s2);
    const a4 = await pub2({ data: { n: 4 } });
    const a5 = await pub2({ data: { n: 5 } });
    assert.deepEqual([a4.offset, a5.offset], [4, 5]);
    assert.equal(a4.epoch, epoch);
    const live = await c.takeEvents(2);
    assert.deepEqual(live.map((e) => e.offset), [4, 5]);
    c.assertSeqs();
    await c.close();
  } finally {
    await closeAll();
    if (s1) await s1.stop({ keepData: true });
    if (s2) await s2.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});
