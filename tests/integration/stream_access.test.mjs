// The realtime stream: who sees what. Org isolation, property scoping, and the service/role policy
// (defaults and BELLHOP_SERVICE_ROLES).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { openStream, subscribed, closeAll, publisher } from './support/stream.mjs';

let srv;
let custom; // BELLHOP_SERVICE_ROLES=tasks=owner

before(async () => {
  [srv, custom] = await Promise.all([
    startServer({ args: ['--demo'] }),
    startServer({ env: { BELLHOP_SERVICE_ROLES: 'tasks=owner' } }),
  ]);
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await Promise.all([srv?.stop(), custom?.stop()]);
});

test('org isolation: events of org 2 never reach org 1 subscribers, and vice versa', async () => {
  const pub1 = publisher(srv, { org: 1 });
  const pub2 = publisher(srv, { org: 2 });
  const { c: a } = await subscribed(srv, srv.token({ org: 1, user: 1, role: 'owner' }), ['finance']);
  const { c: b, ack: ackB } = await subscribed(srv, srv.token({ org: 2, user: 2, role: 'owner' }), ['finance']);
  const { c: svcClient } = await subscribed(srv, srv.token({ org: 2, user: 901, role: 'service' }), ['finance']);

  const p1 = await pub1({ data: { secret: 'org1-a' } });
  const p2 = await pub2({ data: { secret: 'org2-a' } });
  assert.equal(p2.orgId, 2);
  assert.equal(p2.offset, ackB.positions.finance.offset + 1, 'org 2 numbers its own stream');
  // Markers published after, in the opposite order: once a client has its own marker, any
  // misrouted event (published before it) would have arrived already.
  const m2 = await pub2({ data: { marker: 'org2-end' } });
  const m1 = await pub1({ data: { marker: 'org1-end' } });

  await a.waitEvent((e) => e.offset === m1.offset && e.data.marker === 'org1-end');
  await b.waitEvent((e) => e.offset === m2.offset && e.data.marker === 'org2-end');
  await svcClient.waitEvent((e) => e.offset === m2.offset && e.data.marker === 'org2-end');

  assert.deepEqual(a.events().map((e) => [e.orgId, e.offset]), [[1, p1.offset], [1, m1.offset]]);
  assert.deepEqual(b.events().map((e) => [e.orgId, e.offset]), [[2, p2.offset], [2, m2.offset]]);
  assert.deepEqual(svcClient.events().map((e) => e.orgId), [2, 2], 'a service token is bound to its org too');
  assert.ok(!JSON.stringify(a.all).includes('org2-'), 'nothing of org 2 on the org 1 connection');
  assert.ok(!JSON.stringify(b.all).includes('org1-'), 'nothing of org 1 on the org 2 connection');
  a.assertSeqs();
  b.assertSeqs();
});

test('property scoping: a token for property 1 gets property 1 and property-less events, never property 2', async () => {
  const pub = publisher(srv, { org: 1 });
  const { c: scoped } = await subscribed(srv, srv.token({ org: 1, user: 3, role: 'manager', properties: [1] }), ['finance']);
  const { c: scoped2 } = await subscribed(srv, srv.token({ org: 1, user: 4, role: 'manager', properties: [2, 3] }), ['finance']);
  const { c: all } = await subscribed(srv, srv.token({ org: 1, user: 1, role: 'owner' }), ['finance']);

  const e1 = await pub({ propertyId: 1, data: { k: 'p1' } });
  const e2 = await pub({ propertyId: 2, data: { k: 'p2' } });
  const e0 = await pub({ data: { k: 'none' } });
  const e3 = await pub({ propertyId: 3, data: { k: 'p3' } });
  const end = await pub({ propertyId: 1, data: { k: 'end1' } });
  const end2 = await pub({ propertyId: 2, data: { k: 'end2' } });

  await scoped.waitEvent((e) => e.offset === end.offset);
  await scoped2.waitEvent((e) => e.offset === end2.offset);
  await all.waitEvent((e) => e.offset === end2.offset);

  assert.deepEqual(scoped.events().map((e) => e.data.k), ['p1', 'none', 'end1']);
  assert.deepEqual(scoped.events().map((e) => e.offset), [e1.offset, e0.offset, end.offset]);
  assert.deepEqual(scoped2.events().map((e) => e.data.k), ['p2', 'none', 'p3', 'end2']);
  assert.deepEqual(all.events().map((e) => e.offset),
    [e1.offset, e2.offset, e0.offset, e3.offset, end.offset, end2.offset], 'no propertyIds claim: every property');
  // Now bound the [1] client's wait on a later event that it may see, so a late p2 copy would show.
  const last = await pub({ data: { k: 'last' } });
  await scoped.waitEvent((e) => e.offset === last.offset);
  assert.ok(!scoped.events().some((e) => e.propertyId === 2 || e.propertyId === 3), 'never another property');
  scoped.assertSeqs();
  scoped2.assertSeqs();
  all.assertSeqs();
});

async function refusedService(server, token, services) {
  const c = await openStream(server, { token });
  const m = await c.handshake(services);
  assert.equal(m.type, 'error', JSON.stringify(m));
  assert.equal(m.code, 'service_forbidden');
  assert.equal(m.closeCode, 4403);
  assert.equal((await c.waitClose()).code, 4403);
}

test('default role policy: finance is refused to staff and housekeeping, tasks open to every role', async () => {
  const tok = (role, user = 10) => srv.token({ org: 1, user, role });
  await refusedService(srv, tok('staff'), ['finance']);
  await refusedService(srv, tok('staff'), ['tasks', 'finance']);
  await refusedService(srv, tok('front_desk'), ['finance']);
  await refusedService(srv, tok('housekeeping'), ['guest']);
  await refusedService(srv, tok('manager'), ['users']);
  for (const role of ['owner', 'admin', 'manager', 'finance', 'front_desk', 'housekeeping', 'staff', 'service']) {
    const { ack } = await subscribed(srv, tok(role), ['tasks']);
    assert.deepEqual(ack.services, ['tasks'], role);
  }
  for (const role of ['owner', 'admin', 'manager', 'finance', 'service']) {
    const { ack } = await subscribed(srv, tok(role), ['finance']);
    assert.deepEqual(ack.services, ['finance'], role);
  }
  const { ack } = await subscribed(srv, tok('front_desk'), ['guest']);
  assert.deepEqual(ack.services, ['guest']);

  // The staff tasks subscription actually delivers.
  const { c } = await subscribed(srv, tok('staff'), ['tasks']);
  const p = await publisher(srv)({ service: 'tasks', type: 'task_created', data: { t: 1 } });
  await c.waitEvent((e) => e.service === 'tasks' && e.offset === p.offset);
});

test('BELLHOP_SERVICE_ROLES="tasks=owner" restricts tasks: staff gets 4403, owner is accepted', async () => {
  await refusedService(custom, custom.token({ org: 1, user: 10, role: 'staff' }), ['tasks']);
  await refusedService(custom, custom.token({ org: 1, user: 11, role: 'manager' }), ['tasks']);
  const { ack } = await subscribed(custom, custom.token({ org: 1, user: 1, role: 'owner' }), ['tasks']);
  assert.deepEqual(ack.services, ['tasks']);
  // Services not named in the override keep their defaults.
  const { ack: a2 } = await subscribed(custom, custom.token({ org: 1, user: 10, role: 'staff' }), ['properties']);
  assert.deepEqual(a2.services, ['properties']);
  await refusedService(custom, custom.token({ org: 1, user: 10, role: 'staff' }), ['finance']);
});

test('property scoping under batching: ten differently scoped clients each get exactly their events, in order', async () => {
  const org = 31;
  const pub = publisher(srv, { org });
  const scopes = [[1], [2], [3], [4], [1, 2], [1, 3], [2, 3], [1, 2, 3], [5], null];
  const clients = [];
  let base;
  for (const [i, props] of scopes.entries()) {
    const tok = srv.token({ org, user: 100 + i, role: 'manager', ...(props ? { properties: props } : {}) });
    const { c, ack } = await subscribed(srv, tok, ['finance']);
    base = ack.positions.finance.offset;
    clients.push(c);
  }
  const cycle = [1, 2, 3, 4, null];
  // Published concurrently, so they reach the workers together and leave in shared batches.
  const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => pub({ propertyId: cycle[i % 5], data: { i } })));
  const byOffset = new Map(answers.map((a, i) => [a.offset, cycle[i % 5]]));
  const offsets = [...byOffset.keys()].sort((x, y) => x - y);
  assert.deepEqual(offsets, Array.from({ length: 150 }, (_, i) => base + 1 + i));
  for (const [i, props] of scopes.entries()) {
    const want = offsets.filter((o) => byOffset.get(o) === null || !props || props.includes(byOffset.get(o)));
    const got = await clients[i].takeEvents(want.length);
    assert.deepEqual(got.map((e) => e.offset), want, `scope ${JSON.stringify(props)}`);
    for (const e of got) assert.equal(e.propertyId ?? null, byOffset.get(e.offset));
    clients[i].assertSeqs();
  }
  // A last event for everyone bounds the wait: nothing else arrived before it.
  const end = await pub({ data: { end: true } });
  for (const [i, props] of scopes.entries()) {
    const got = await clients[i].takeEvents(1);
    assert.deepEqual(got.map((e) => e.offset), [end.offset], `scope ${JSON.stringify(props)}: nothing extra`);
  }
});
