// A resume position keeps its epoch when a service falls back to polling: a client whose epoch
// is stale must be told to reset by the poll, not continue silently in another history.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { openStream, closeAll, publisher } from './support/stream.mjs';

let srv;

before(async () => {
  srv = await startServer({ env: { FINANCE_REALTIME_V1: 'true' } });
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await srv?.stop();
});

test('a stale resume epoch in the ack fallback leads the poll to an epoch_changed reset', async () => {
  const owner = srv.token({ org: 1, user: 1, role: 'owner' });
  const pub = publisher(srv, { org: 1 });
  await pub({ service: 'finance', data: { n: 1 } });
  await pub({ service: 'finance', data: { n: 2 } });
  const c = await openStream(srv, { token: owner });
  c.send({ services: ['finance', 'tasks'], version: 1, resume: { finance: { offset: 1, epoch: '0000000000000000' } } });
  const ack = await c.next((m) => m.type === 'ack');
  assert.deepEqual(ack.services, ['tasks']);
  const fb = ack.fallback.finance;
  assert.equal(fb.offset, 1);
  assert.equal(fb.epoch, '0000000000000000', 'the client keeps its own epoch');
  const res = await srv.fetch(`${fb.url}?since=${fb.offset}&epoch=${fb.epoch}&timeout=0`, { token: owner });
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.equal(body.reset, true);
  assert.equal(body.reason, 'epoch_changed');
  assert.equal(body.offset, 2);
  assert.deepEqual(body.events, []);
});
