// Idempotent publishing across nodes on Redis: a producer whose publish through node A got no
// answer retries through node B with the same Idempotency-Key; Redis recognises the key, B answers
// with the original offset, and subscribers on every node get the event once.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { subscribed, closeAll } from './support/stream.mjs';
import { redisAvailable, startRedis, startCluster, stopCluster } from './support/cluster.mjs';

const HAVE_REDIS = redisAvailable();
const skip = HAVE_REDIS ? false : 'redis-server is not installed (make test installs it)';
let redis;
let nodes;

before(async () => {
  if (!HAVE_REDIS) return;
  redis = await startRedis();
  nodes = await startCluster(2, { redis });
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await stopCluster(nodes);
  await redis?.stop();
});

async function publish(node, key, n) {
  const res = await node.fetch('/v2/realtime/publish', {
    method: 'POST', token: node.token({ org: 1, user: 900, role: 'service' }),
    headers: key ? { 'idempotency-key': key } : {},
    json: { orgId: 1, service: 'finance', type: 'revenue_created', data: { n } },
  });
  return { status: res.status, replayed: res.headers.get('idempotent-replayed'), body: await res.json() };
}

test('a retry through another node with the same Idempotency-Key gets the original offset; every node delivers once', { skip }, async () => {
  const [a, b] = nodes;
  const owner = a.token({ org: 1, user: 1, role: 'owner' });
  const subs = [(await subscribed(a, owner, ['finance'])).c, (await subscribed(b, owner, ['finance'])).c];
  const first = await publish(a, 'pay-991', 1);
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const retry = await publish(b, 'pay-991', 1);
  assert.equal(retry.status, 200, JSON.stringify(retry.body));
  assert.equal(retry.replayed, 'true');
  assert.equal(retry.body.duplicate, true);
  assert.equal(retry.body.offset, first.body.offset);
  assert.equal(retry.body.epoch, first.body.epoch);
  const next = await publish(b, 'pay-992', 2);
  assert.equal(next.status, 201);
  assert.equal(next.body.offset, first.body.offset + 1);
  for (const c of subs) {
    const evs = await c.takeEvents(2, { service: 'finance' });
    assert.deepEqual(evs.map((e) => e.data.n), [1, 2], 'the retry was not delivered');
  }
});
