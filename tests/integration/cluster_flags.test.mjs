// Several nodes on one Redis: a feature-flag change made through POST /feature-flags on one node
// reaches the streams and the config of every node within about a second (the node that stored
// it says so on the broker bus; the others reload the flags from the shared store), and a change
// made while Redis was away is picked up once the nodes reconnect.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './support/server.mjs';
import { subscribed, closeAll, publisher } from './support/stream.mjs';
import { redisAvailable, startRedis, startCluster, stopCluster, health } from './support/cluster.mjs';

const HAVE_REDIS = redisAvailable();
let redis;
let nodes;
let svcToken;

before(async () => {
  if (!HAVE_REDIS) return;
  redis = await startRedis();
  nodes = await startCluster(3, { redis, env: { REALTIME_STREAMING_V2: 'true', REALTIME_ROLLOUT_PERCENT: '100' } });
  svcToken = nodes[0].token({ org: 1, user: 900, role: 'service' });
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await stopCluster(nodes);
  await redis?.stop();
});

const skip = HAVE_REDIS ? false : 'redis-server is not installed (make test installs it)';
// A bounded wait for what must arrive "within about a second" (room for sanitizer builds).
const PROPAGATION_MS = 5000;

async function setFlags(node, body) {
  const res = await node.fetch('/feature-flags', { method: 'POST', token: svcToken, json: body });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

async function config(node, token) {
  const res = await node.fetch('/v2/realtime/config', { token });
  assert.equal(res.status, 200);
  return res.json();
}

const financeOn = (node, token, transport) => async () => (await config(node, token)).services.finance.transport === transport;

test('FINANCE_REALTIME_V1 set on A: streams on B fall back (4503 / `fallback`), config on C follows, and back', { skip }, async () => {
  const [a, b, c] = nodes;
  const org = 41;
  const tok = a.token({ org, user: 1, role: 'owner' });
  const pub = publisher(a, { org });
  try {
    const { c: onlyFinance } = await subscribed(b, tok, ['finance']);
    const { c: both } = await subscribed(b, a.token({ org, user: 2, role: 'owner' }), ['finance', 'tasks']);
    for (let i = 1; i <= 3; i++) await pub({ orgId: org, data: { n: i } });
    await onlyFinance.waitEvent((e) => e.service === 'finance' && e.offset === 3);
    await both.waitEvent((e) => e.service === 'finance' && e.offset === 3);
    assert.equal((await config(c, tok)).services.finance.transport, 'websocket');

    const ans = await setFlags(a, { FINANCE_REALTIME_V1: true });
    assert.deepEqual(ans.changed, ['FINANCE_REALTIME_V1']);

    // B: as on one node: the finance-only connection closes with 4503 and the fallback offsets;
    // the other gets a `fallback` message for finance and stays open.
    const started = Date.now();
    assert.equal((await onlyFinance.waitClose(PROPAGATION_MS)).code, 4503);
    const err = onlyFinance.all[onlyFinance.all.length - 1];
    assert.equal(err.code, 'fallback_to_polling');
    assert.equal(err.closeCode, 4503);
    assert.deepEqual(Object.keys(err.fallback), ['finance']);
    assert.equal(err.fallback.finance.offset, 3);
    assert.equal(err.fallback.finance.transport, 'polling');
    const fbMsg = await both.nextType('fallback', PROPAGATION_MS);
    assert.deepEqual(Object.keys(fbMsg.services), ['finance']);
    assert.equal(fbMsg.services.finance.offset, 3);
    assert.equal(fbMsg.services.finance.url, '/v1/realtime/finance/poll');
    assert.equal(both.closeInfo, null, 'the connection with tasks stays open');
    const took = Date.now() - started;

    // C: the config follows, and a new finance stream there is refused with the fallback.
    await waitFor(financeOn(c, tok, 'polling'), { timeout: PROPAGATION_MS, what: 'finance on polling in C\'s config' });
    const cfg = await config(c, tok);
    assert.deepEqual(cfg.services.finance, { transport: 'polling', url: '/v1/realtime/finance/poll' });
    assert.deepEqual(cfg.services.tasks, { transport: 'websocket', url: '/v2/realtime/stream' });
    const { c: onC, ack: ackC } = await subscribed(c, tok, ['finance', 'tasks']);
    assert.deepEqual(ackC.services, ['tasks']);
    assert.deepEqual(Object.keys(ackC.fallback), ['finance']);
    await onC.close();

    // Back to v2 through A: C accepts a new finance stream, and it gets events.
    await setFlags(a, { FINANCE_REALTIME_V1: false });
    await waitFor(financeOn(c, tok, 'websocket'), { timeout: PROPAGATION_MS, what: 'finance on websocket in C\'s config' });
    await waitFor(financeOn(b, tok, 'websocket'), { timeout: PROPAGATION_MS, what: 'finance on websocket in B\'s config' });
    const { c: again, ack } = await subscribed(c, tok, ['finance']);
    assert.deepEqual(ack.services, ['finance']);
    assert.equal(ack.fallback, undefined);
    const four = await pub({ orgId: org, data: { n: 4 } });
    await again.waitEvent((e) => e.service === 'finance' && e.offset === four.offset);
    assert.ok(took < PROPAGATION_MS, `B fell back after ${took} ms`);
  } finally {
    await setFlags(a, { FINANCE_REALTIME_V1: false });
  }
});

test('a change made while Redis is down reaches the other nodes once they reconnect', { skip }, async () => {
  const [a, b, c] = nodes;
  const tok = a.token({ org: 42, user: 1, role: 'owner' });
  try {
    await redis.kill();
    await waitFor(async () => (await health(a)).body.status === 'degraded', { timeout: 5000, what: 'A degraded' });
    // The store is shared and up: A stores and applies the change, but cannot tell the others.
    await setFlags(a, { FINANCE_REALTIME_V1: true });
    assert.equal((await config(a, tok)).services.finance.transport, 'polling');
    assert.equal((await config(b, tok)).services.finance.transport, 'websocket', 'B has not heard of it yet');

    await redis.start();
    for (const n of nodes)
      await waitFor(async () => (await health(n)).body.status === 'ok', { timeout: 15000, what: 'health ok again' });
    await waitFor(financeOn(b, tok, 'polling'), { timeout: PROPAGATION_MS, what: 'finance on polling in B\'s config' });
    await waitFor(financeOn(c, tok, 'polling'), { timeout: PROPAGATION_MS, what: 'finance on polling in C\'s config' });

    // And the bus works again afterwards.
    await setFlags(a, { FINANCE_REALTIME_V1: false });
    await waitFor(financeOn(b, tok, 'websocket'), { timeout: PROPAGATION_MS, what: 'finance back on websocket on B' });
    await waitFor(financeOn(c, tok, 'websocket'), { timeout: PROPAGATION_MS, what: 'finance back on websocket on C' });
  } finally {
    if (redis.child?.exitCode !== null || redis.child?.signalCode !== null) await redis.start();
    await setFlags(a, { FINANCE_REALTIME_V1: false });
  }
});
