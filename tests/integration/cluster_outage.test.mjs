// Redis trouble: a node that loses Redis keeps serving its clients, says so in /health and the
// metrics, answers publishes with a typed 503, reconnects with backoff, and fills the gap from the
// Redis history, so that its subscribers get every acknowledged event, once, in offset order.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitFor } from './support/server.mjs';
import { subscribed, closeAll, publisher, metrics } from './support/stream.mjs';
import {
  redisAvailable, startRedis, startCluster, stopCluster, health, publishRetrying, startProxy,
} from './support/cluster.mjs';

const HAVE_REDIS = redisAvailable();
const skip = HAVE_REDIS ? false : 'redis-server is not installed (make test installs it)';
const FAST = { BELLHOP_REDIS_TIMEOUT_MS: '600', BELLHOP_REDIS_RECONNECT_MAX_MS: '300' };
let redis;
let nodes;

before(async () => {
  if (!HAVE_REDIS) return;
  redis = await startRedis();
  nodes = await startCluster(2, { redis, env: FAST });
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await stopCluster(nodes);
  await redis?.stop();
});

/** Checks that evs are offsets first..first+n-1 exactly once, and contain every acked payload. */
function assertComplete(evs, acked, what) {
  const offs = evs.map((e) => e.offset);
  for (let i = 1; i < offs.length; i++) assert.equal(offs[i], offs[i - 1] + 1, `${what}: contiguous offsets, none twice (${offs.join(',')})`);
  const got = new Set(evs.map((e) => e.data.i));
  for (const i of acked) assert.ok(got.has(i), `${what}: acknowledged event ${i} delivered`);
}

test('Redis killed and restarted mid-stream: publishes get 503 broker_unavailable meanwhile, no acknowledged event is lost', { skip }, async () => {
  const [a, b] = nodes;
  const owner = a.token({ org: 1, user: 1, role: 'owner' });
  const { c: sa } = await subscribed(a, owner, ['finance']);
  const { c: sb } = await subscribed(b, owner, ['finance']);
  const pubToken = publisher(b).token;
  const acked = [];
  for (let i = 0; i < 20; i++) { await publishRetrying(b, pubToken, { data: { i } }); acked.push(i); }
  await sa.takeEvents(20, { service: 'finance' });

  await redis.kill();
  // While Redis is away: a typed, retryable refusal, and /health says degraded, why, and since when.
  await waitFor(async () => (await health(a)).body.status === 'degraded', { timeout: 5000, what: 'degraded health' });
  const h = await health(a);
  assert.equal(h.status, 200, 'local clients are still served');
  assert.notEqual(h.body.broker.state, 'up');
  assert.ok(h.body.broker.reason.length > 0, JSON.stringify(h.body));
  const res = await b.fetch('/v2/realtime/publish', { method: 'POST', token: pubToken,
    json: { orgId: 1, type: 'revenue_created', service: 'finance', data: { i: -1 } } });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '1');
  assert.equal((await res.json()).error.code, 'broker_unavailable');
  assert.equal(sa.closeInfo, null, 'the stream stays open');

  // A producer keeps retrying through the outage; Redis comes back under it.
  const producing = (async () => {
    for (let i = 20; i < 40; i++) { await publishRetrying(b, pubToken, { data: { i } }); acked.push(i); }
  })();
  await new Promise((r) => setTimeout(r, 300));
  await redis.start();
  await producing;
  for (let i = 40; i < 50; i++) { await publishRetrying(a, pubToken, { data: { i } }); acked.push(i); }

  await waitFor(() => sa.events('finance').some((e) => e.data.i === 49) && sb.events('finance').some((e) => e.data.i === 49),
    { timeout: 10000, what: 'the last event on both nodes' });
  assertComplete(sa.events('finance'), acked, 'node A');
  assertComplete(sb.events('finance'), acked, 'node B');
  sa.assertSeqs();
  for (const n of nodes) {
    await waitFor(async () => (await health(n)).body.status === 'ok', { what: 'ok health again' });
    const m = await metrics(n, owner);
    assert.ok(m.broker.reconnects >= 1, JSON.stringify(m.broker));
  }
  const prom = await (await a.fetch('/metrics')).text();
  assert.match(prom, /bellhop_broker_reconnects_total [1-9]/);
});

test('one node cut off from Redis while others publish: on reconnect it fills the gap from the history', { skip }, async () => {
  const proxy = await startProxy(redis.port);
  const lonely = await startServer({ dataDir: nodes.dataDir, env: { ...nodes.env, BELLHOP_REDIS_URL: proxy.url } });
  try {
    const owner = lonely.token({ org: 1, user: 1, role: 'owner' });
    const { c } = await subscribed(lonely, owner, ['tasks']);
    const pub = publisher(nodes[0]);
    const offs = [];
    for (let i = 0; i < 5; i++) offs.push((await pub({ service: 'tasks', type: 'task_created', data: { i } })).offset);
    await c.takeEvents(5, { service: 'tasks' });
    const m0 = await metrics(lonely, owner);

    await proxy.cut();
    await waitFor(async () => (await health(lonely)).body.status === 'degraded', { timeout: 5000, what: 'the cut node degraded' });
    for (let i = 5; i < 25; i++) offs.push((await pub({ service: 'tasks', type: 'task_created', data: { i } })).offset);
    // A resume on the cut node is served from its cache, up to what it has.
    const { c: r } = await subscribed(lonely, owner, ['tasks'], { resume: { tasks: { offset: offs[2], epoch: c.all[0].positions.tasks.epoch } } });
    await r.takeEvents(2, { service: 'tasks' });
    assert.equal(c.events('tasks').length, 5, 'nothing arrives while cut off');

    await proxy.restore();
    const evs = await c.takeEvents(20, { service: 'tasks', timeoutMs: 10000 });
    assert.deepEqual(evs.map((e) => e.data.i), Array.from({ length: 20 }, (_, k) => k + 5), 'the gap, filled in order');
    assert.deepEqual([...c.events('tasks')].map((e) => e.offset), offs);
    const rest = await r.takeEvents(20, { service: 'tasks', timeoutMs: 10000 });
    assert.deepEqual(rest.map((e) => e.data.i), Array.from({ length: 20 }, (_, k) => k + 5));
    // Live again after the fill.
    offs.push((await pub({ service: 'tasks', type: 'task_created', data: { i: 25 } })).offset);
    assert.deepEqual((await c.takeEvents(1, { service: 'tasks' })).map((e) => e.offset), [offs.at(-1)]);
    const m1 = await metrics(lonely, owner);
    assert.ok(m1.broker.filled >= m0.broker.filled + 20, JSON.stringify(m1.broker));
    assert.ok(m1.broker.reconnects >= 1);
    c.assertSeqs();
  } finally {
    await closeAll();
    await lonely.stop({ keepData: true });
    await proxy.stop();
  }
});

test('a node started while Redis is unreachable serves degraded, then catches up when Redis is back', { skip }, async () => {
  const proxy = await startProxy(redis.port);
  await proxy.cut();
  // It waits (bounded) for a first sync that cannot happen, then serves anyway.
  const late = await startServer({ dataDir: nodes.dataDir, env: { ...nodes.env, BELLHOP_REDIS_URL: proxy.url } });
  try {
    const h = await health(late);
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'degraded');
    assert.equal(h.body.broker.synced, false);
    const owner = late.token({ org: 1, user: 1, role: 'owner' });
    const { c } = await subscribed(late, owner, ['guest']);
    const pubToken = publisher(nodes[0]).token;
    const res = await late.fetch('/v2/realtime/publish', { method: 'POST', token: pubToken,
      json: { orgId: 1, type: 'guest_updated', service: 'guest', data: { i: -1 } } });
    assert.equal(res.status, 503);
    assert.equal((await res.json()).error.code, 'broker_unavailable');
    const pub = publisher(nodes[0]);
    const offs = [];
    for (let i = 0; i < 3; i++) offs.push((await pub({ service: 'guest', type: 'guest_updated', data: { i } })).offset);

    await proxy.restore();
    await waitFor(async () => (await health(late)).body.status === 'ok', { timeout: 10000, what: 'the late node up' });
    const evs = await c.takeEvents(3, { service: 'guest', timeoutMs: 10000 });
    assert.deepEqual(evs.map((e) => e.offset), offs, 'what was published meanwhile, in order');
    offs.push((await publisher(late)({ service: 'guest', type: 'guest_updated', data: { i: 3 } })).offset);
    assert.deepEqual((await c.takeEvents(1, { service: 'guest' })).map((e) => e.data.i), [3]);
    // Its positions now agree with the other nodes'.
    const mine = (await subscribed(late, owner, ['guest'])).ack.positions.guest;
    const theirs = (await subscribed(nodes[1], owner, ['guest'])).ack.positions.guest;
    assert.deepEqual(mine, theirs);
    c.assertSeqs();
  } finally {
    await closeAll();
    await late.stop({ keepData: true });
    await proxy.stop();
  }
});
