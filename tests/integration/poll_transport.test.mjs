// Long-polling next to the stream: switching transports both ways by offset without loss, a
// thousand held polls on one server woken by one publish, and held polls at shutdown (503).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer } from './support/server.mjs';
import { subscribed, closeAll, publisher } from './support/stream.mjs';

let srv;

before(async () => {
  srv = await startServer();
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await srv?.stop();
});

/** One poll with fetch; bounded by the requested timeout plus 5 s. */
async function poll(s, token, service, { since, timeout, epoch } = {}) {
  const q = new URLSearchParams();
  if (since !== undefined) q.set('since', String(since));
  if (timeout !== undefined) q.set('timeout', String(timeout));
  if (epoch !== undefined) q.set('epoch', epoch);
  const res = await s.fetch(`/v1/realtime/${service}/poll?${q}`, {
    token, signal: AbortSignal.timeout((timeout ?? 25) * 1000 + 5000),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/**
 * A GET with node:http through `agent`: {req, answer}, answer resolving {status, headers, body,
 * text, afterPublish: flag() when the answer ended}; rejects on error or after `bound` ms.
 */
function httpGet(s, agent, path, token, bound, flag = () => undefined) {
  let req;
  const answer = new Promise((resolve, reject) => {
    req = http.get({ host: '127.0.0.1', port: s.port, path, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let body;
        try { body = JSON.parse(text); } catch { body = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body, text, afterPublish: flag() });
      });
      res.on('error', reject);
    });
    req.setTimeout(bound, () => req.destroy(new Error(`no answer within ${bound} ms for ${path}`)));
    req.on('error', reject);
  });
  return { req, answer };
}

/** Resolves once every request has been written to its socket. */
function flushed(reqs) {
  return Promise.all(reqs.map((r) => (r.writableFinished ? null : new Promise((res, rej) => {
    r.once('finish', res);
    r.once('error', rej);
  }))));
}

const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('poll, then stream with resume {offset from the poll, epoch}: the rest, nothing lost or repeated', async () => {
  const pub = publisher(srv, { org: 21 });
  const owner = srv.token({ org: 21, user: 1, role: 'owner' });
  for (let i = 1; i <= 3; i++) await pub({ orgId: 21, data: { n: i } });
  const p = await poll(srv, owner, 'finance', { since: 0, timeout: 0 });
  assert.deepEqual(p.body.events.map((e) => e.offset), [1, 2, 3]);
  for (let i = 4; i <= 6; i++) await pub({ orgId: 21, data: { n: i } });

  const { c, ack } = await subscribed(srv, owner, ['finance'], {
    resume: { finance: { offset: p.body.offset, epoch: p.body.epoch } },
  });
  assert.deepEqual(ack.positions.finance, { offset: 6, epoch: p.body.epoch });
  const live = await pub({ orgId: 21, data: { n: 7 } });
  const streamed = await c.takeEvents(4, { service: 'finance' });
  assert.deepEqual(streamed.map((e) => e.offset), [4, 5, 6, live.offset]);
  const union = [...p.body.events, ...streamed].map((e) => e.offset);
  assert.deepEqual(union, range(1, 7), 'exactly 1..7 across both transports');
  // The same event objects on both transports.
  const again = await poll(srv, owner, 'finance', { since: 3, timeout: 0 });
  assert.deepEqual(again.body.events, streamed.slice(0, 4));
  c.assertSeqs();
});

test('stream, then poll from the stream\'s last offset and epoch: the rest, nothing lost or repeated', async () => {
  const pub = publisher(srv, { org: 22 });
  const owner = srv.token({ org: 22, user: 1, role: 'owner' });
  const { c } = await subscribed(srv, owner, ['finance']);
  for (let i = 1; i <= 3; i++) await pub({ orgId: 22, data: { n: i } });
  const streamed = await c.takeEvents(3, { service: 'finance' });
  await c.close();
  const last = streamed[streamed.length - 1];
  const epoch = last.id.split('-')[0];
  for (let i = 4; i <= 5; i++) await pub({ orgId: 22, data: { n: i } });

  const p = await poll(srv, owner, 'finance', { since: last.offset, epoch, timeout: 20 });
  assert.equal(p.status, 200);
  assert.equal(p.body.epoch, epoch);
  assert.deepEqual(p.body.events.map((e) => e.offset), [4, 5]);
  // And continue by polling: held until the next event.
  const held = poll(srv, owner, 'finance', { since: p.body.offset, epoch, timeout: 20 });
  assert.equal((await srv.fetch('/health')).status, 200);
  const six = await pub({ orgId: 22, data: { n: 6 } });
  const q = await held;
  assert.deepEqual(q.body.events.map((e) => e.offset), [six.offset]);
  const union = [...streamed, ...p.body.events, ...q.body.events].map((e) => e.offset);
  assert.deepEqual(union, range(1, 6));
  assert.deepEqual([...streamed, ...p.body.events, ...q.body.events].map((e) => e.data.n), range(1, 6));
});

test('1,000 held polls are cheap: /health stays fast and ONE publish wakes all of them', async () => {
  const N = 1000;
  const pub = publisher(srv, { org: 23 });
  const owner = srv.token({ org: 23, user: 1, role: 'owner' });
  const scoped = srv.token({ org: 23, user: 2, role: 'manager', properties: [1] });
  const start = await pub({ orgId: 23, data: { n: 0 } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: N + 10 });
  let published = false;
  const reqs = [];
  const answers = [];
  try {
    for (let i = 0; i < N; i++) {
      // Half unscoped, half limited to property 1 (the event is for property 1: both see it).
      const tok = i % 2 ? owner : scoped;
      const { req, answer } = httpGet(srv, agent, `/v1/realtime/finance/poll?since=${start.offset}&timeout=30`, tok, 40000, () => published);
      answer.catch(() => {}); // awaited below; destroyed in finally if the test fails first
      reqs.push(req);
      answers.push(answer);
    }
    await flushed(reqs);
    // While they are held the server answers other requests at once.
    const t0 = Date.now();
    const h = await srv.fetch('/health', { signal: AbortSignal.timeout(3000) });
    assert.equal(h.status, 200);
    const healthMs = Date.now() - t0;
    assert.ok(healthMs < 1000, `/health took ${healthMs} ms with ${N} held polls`);
    // Other polls are still answered at once too.
    const quick = await poll(srv, owner, 'finance', { since: 0, timeout: 0 });
    assert.deepEqual(quick.body.events.map((e) => e.offset), [start.offset]);

    published = true;
    const t1 = Date.now();
    const ev = await pub({ orgId: 23, propertyId: 1, data: { n: 1 } });
    const all = await Promise.all(answers);
    const wakeMs = Date.now() - t1;
    let woken = 0;
    for (const a of all) {
      assert.equal(a.status, 200, a.text);
      assert.ok(a.afterPublish, 'no poll answered before the publish');
      const body = JSON.parse(a.text);
      assert.deepEqual(body.events.map((e) => [e.offset, e.data.n]), [[ev.offset, 1]], a.text.slice(0, 300));
      assert.equal(body.offset, ev.offset);
      woken++;
    }
    assert.equal(woken, N);
    assert.ok(wakeMs < 10000, `all ${N} woken within 10 s (took ${wakeMs} ms)`);
  } finally {
    for (const r of reqs) r.destroy();
    agent.destroy();
  }
});

test('SIGTERM with held polls: they get 503 with Retry-After: 1 and the server exits cleanly', async () => {
  const s = await startServer();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
  try {
    const pub = publisher(s, { org: 1 });
    const owner = s.token({ org: 1, user: 1, role: 'owner' });
    const head = await pub({});
    const polls = [];
    for (let i = 0; i < 6; i++) {
      polls.push(httpGet(s, agent, `/v1/realtime/${i % 2 ? 'finance' : 'tasks'}/poll?since=${i % 2 ? head.offset : 0}&timeout=30`, owner, 10000));
    }
    const pending = polls.map((p) => p.answer);
    for (const p of pending) p.catch(() => {}); // awaited below
    // Barrier: every poll is on the wire and the server has answered other requests since.
    await flushed(polls.map((p) => p.req));
    for (let i = 0; i < 4; i++) assert.equal((await s.fetch('/health')).status, 200);
    const t0 = Date.now();
    const stopped = s.stop(); // SIGTERM; asserts exit code 0 and no sanitizer report
    const answers = await Promise.all(pending);
    for (const a of answers) {
      assert.equal(a.status, 503, a.text);
      assert.equal(a.headers['retry-after'], '1');
      assert.equal(a.body.error.code, 'unavailable');
    }
    await stopped;
    assert.ok(Date.now() - t0 < 10000, 'the server did not wait for the 30 s poll timeout to exit');
  } finally {
    agent.destroy();
    await s.kill();
  }
});
