// Idempotent publishing: POST /v2/realtime/publish with an Idempotency-Key. A retry with the same
// key (the producer never saw the first answer) gets the original offset with 200 and
// "duplicate": true, and subscribers get the event once — also when the first attempt was
// acknowledged just before the server was killed.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { subscribed, closeAll } from './support/stream.mjs';

afterEach(async () => { await closeAll(); });

function publisher(srv) {
  const token = srv.token({ org: 1, user: 900, role: 'service' });
  return async (body, key) => {
    const res = await srv.fetch('/v2/realtime/publish', {
      method: 'POST', token, headers: key === undefined ? {} : { 'idempotency-key': key },
      json: { orgId: 1, service: 'finance', type: 'revenue_created', data: {}, ...body },
    });
    return { status: res.status, replayed: res.headers.get('idempotent-replayed'), body: await res.json() };
  };
}

test('a retried publish with the same Idempotency-Key is stored and delivered once', async () => {
  const srv = await startServer();
  try {
    const pub = publisher(srv);
    const { c } = await subscribed(srv, srv.token({ org: 1, user: 1, role: 'owner' }), ['finance']);
    const first = await pub({ data: { n: 1 } }, 'order-17:revenue');
    assert.equal(first.status, 201);
    const again = await pub({ data: { n: 1 } }, 'order-17:revenue');
    assert.equal(again.status, 200);
    assert.equal(again.replayed, 'true');
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.offset, first.body.offset);
    assert.equal(again.body.epoch, first.body.epoch);
    // Another key, and no key, are new events.
    const other = await pub({ data: { n: 2 } }, 'order-18:revenue');
    assert.equal(other.status, 201);
    assert.equal(other.body.offset, first.body.offset + 1);
    const plain = await pub({ data: { n: 3 } });
    assert.equal(plain.body.offset, first.body.offset + 2);
    // The subscriber sees three events, offsets consecutive: the retry made none.
    const evs = await c.takeEvents(3, { service: 'finance' });
    assert.deepEqual(evs.map((e) => e.offset), [1, 2, 3].map((k) => first.body.offset + k - 1));
    assert.deepEqual(evs.map((e) => e.data.n), [1, 2, 3]);
    // Keys are per stream: the same key on another service is a new event there.
    const tasks = await pub({ service: 'tasks', type: 'task_created' }, 'order-17:revenue');
    assert.equal(tasks.status, 201);
  } finally {
    await srv.stop();
  }
});

test('Idempotency-Key: a malformed key is 400 invalid_field and nothing is published', async () => {
  const srv = await startServer();
  try {
    const pub = publisher(srv);
    for (const k of ['has space', 'x'.repeat(65), 'é']) {
      const r = await pub({}, k);
      assert.equal(r.status, 400, k);
      assert.equal(r.body.error.code, 'invalid_field');
      assert.match(r.body.error.message, /Idempotency-Key/);
    }
    assert.equal((await pub({})).body.offset, 1, 'the refused publishes took no offset');
  } finally {
    await srv.stop();
  }
});

test('kill -9 after the publish was stored: the retry on the restarted server is recognised', async () => {
  const s1 = await startServer();
  const dataDir = s1.dataDir;
  let s2;
  try {
    const first = await publisher(s1)({ data: { n: 1 } }, 'lost-answer-1');
    assert.equal(first.status, 201);
    await s1.kill();
    s2 = await startServer({ dataDir });
    const retry = await publisher(s2)({ data: { n: 1 } }, 'lost-answer-1');
    assert.equal(retry.status, 200);
    assert.equal(retry.body.duplicate, true);
    assert.equal(retry.body.offset, first.body.offset);
    const next = await publisher(s2)({ data: { n: 2 } }, 'lost-answer-2');
    assert.equal(next.status, 201);
    assert.equal(next.body.offset, first.body.offset + 1);
  } finally {
    await s1.kill();
    await s2?.stop();
  }
});
