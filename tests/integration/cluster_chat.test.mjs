// Chat across nodes: users on different nodes talk in one room (messages stored once in the
// shared store, acked to the sender, delivered to members on every node), see each other type and
// read, and see one presence per user over all nodes, which expires when a node dies.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { closeAll, metrics } from './support/stream.mjs';
import { openChat, join, say, nextMessage, nextPresence, quiet, demoTokens } from './support/chat.mjs';
import { redisAvailable, startRedis, startCluster, stopCluster } from './support/cluster.mjs';

const HAVE_REDIS = redisAvailable();
const skip = HAVE_REDIS ? false : 'redis-server is not installed (make test installs it)';
const NODE_TTL_MS = 1500; // short for the test, still well above a loaded CI box's scheduling hiccups
const GRACE_MS = 300;
let redis;
let nodes;
let tok;

before(async () => {
  if (!HAVE_REDIS) return;
  redis = await startRedis();
  nodes = await startCluster(3, {
    redis, demo: true,
    env: { BELLHOP_REDIS_NODE_TTL_MS: String(NODE_TTL_MS), BELLHOP_CHAT_OFFLINE_GRACE_MS: String(GRACE_MS) },
  });
  tok = demoTokens(nodes[0]);
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await stopCluster(nodes);
  await redis?.stop();
});

const typing = (c, userId, state) => c.next((m) => m.type === 'typing' && m.userId === userId && m.state === state,
  3000, `typing ${state} of user ${userId}`);

test('messages, typing and read receipts between users on different nodes', { skip }, async () => {
  const [a, b, c] = nodes;
  const manager = await openChat(a, { token: tok.manager }); // user 3 on A
  const desk = await openChat(b, { token: tok.frontdesk });  // user 5 on B
  const owner = await openChat(c, { token: tok.owner });     // user 1 on C
  for (const x of [manager, desk, owner]) assert.equal((await join(x, 'property-1')).type, 'joined');

  manager.send({ type: 'typing', roomId: 'property-1', state: 'start' });
  await typing(desk, 3, 'start');
  await typing(owner, 3, 'start');
  const ack = await say(manager, 'property-1', 'hello from A');
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  await typing(desk, 3, 'stop'); // the message ends the typing, on every node
  const onB = await nextMessage(desk, 'property-1', (m) => m.text === 'hello from A');
  const onC = await nextMessage(owner, 'property-1', (m) => m.text === 'hello from A');
  assert.equal(onB.id, ack.messageId ?? ack.message?.id ?? onB.id);
  assert.deepEqual(onB, onC, 'the same bytes everywhere');
  assert.ok(await quiet(manager, (m) => m.type === 'message', 150), 'the sender gets its ack, not an echo');

  // Replies from B and C reach A, each once, in each sender's order.
  for (let i = 0; i < 5; i++) {
    assert.equal((await say(desk, 'property-1', `b${i}`)).type, 'ack');
    assert.equal((await say(owner, 'property-1', `c${i}`)).type, 'ack');
  }
  const seen = [];
  while (seen.length < 10) seen.push((await nextMessage(manager, 'property-1')).text);
  assert.deepEqual(seen.filter((t) => t[0] === 'b'), ['b0', 'b1', 'b2', 'b3', 'b4']);
  assert.deepEqual(seen.filter((t) => t[0] === 'c'), ['c0', 'c1', 'c2', 'c3', 'c4']);
  assert.ok(await quiet(manager, (m) => m.type === 'message', 150), 'no duplicates');

  // A read receipt from B is heard on A and C.
  desk.send({ type: 'read', roomId: 'property-1', messageId: onB.id });
  const r = await manager.next((m) => m.type === 'read' && m.userId === 5);
  assert.equal(r.messageId, onB.id);
  await owner.next((m) => m.type === 'read' && m.userId === 5);

  // Stored once, in the shared store: a fresh join on any node lists them in its history.
  const late = await openChat(c, { token: tok.admin });
  const j = await join(late, 'property-1');
  const texts = j.messages.map((m) => m.text);
  for (const t of ['hello from A', 'b4', 'c4']) assert.equal(texts.filter((x) => x === t).length, 1, `${t} stored once: ${texts}`);
  manager.assertSeqs();
  desk.assertSeqs();
  const m = await metrics(a, tok.owner);
  assert.ok(m.broker.busSent > 0 && m.broker.busReceived > 0, JSON.stringify(m.broker));
  assert.match(await (await a.fetch('/metrics')).text(), /bellhop_broker_bus_received_total [1-9]/);
});

test('presence is per user over all nodes: away on one node and online on another is online', { skip }, async () => {
  const [a, b, c] = nodes;
  const watcher = await openChat(c, { token: tok.owner });
  assert.equal((await join(watcher, 'org')).type, 'joined');
  const t1 = await openChat(a, { token: tok.staff }); // user 7 on A
  await nextPresence(watcher, 7, 'online');
  assert.equal((await join(t1, 'org')).type, 'joined'); // a member of the org room from now on
  await watcher.next((m) => m.type === 'presence' && m.userId === 7 && m.roomId === 'org', 3000, 'the arrival in org');
  const t2 = await openChat(b, { token: tok.staff }); // and on B
  // B's view of user 7 travels before B's announcement of the join (one connection, in order):
  // once C relays the arrival, C knows that user 7 is online on B.
  assert.equal((await join(t2, 'org')).type, 'joined');
  await watcher.next((m) => m.type === 'presence' && m.userId === 7 && m.roomId === 'org', 3000, 'the arrival on B');
  t1.send({ type: 'presence', status: 'away' });
  assert.ok(await quiet(watcher, (m) => m.type === 'presence' && m.userId === 7 && m.status !== 'online', 400),
    'away on A, online on B: online');
  t2.send({ type: 'presence', status: 'away' });
  await nextPresence(watcher, 7, 'away');
  t1.send({ type: 'presence', status: 'online' });
  await nextPresence(watcher, 7, 'online');
  // A newcomer's join answer lists the user as online although nobody on C holds them.
  const other = await openChat(c, { token: tok.manager });
  const j = await join(other, 'org');
  const member = j.members.find((m) => m.userId === 7);
  assert.equal(member?.status, 'online', JSON.stringify(j.members));
  await t1.close();
  assert.ok(await quiet(watcher, (m) => m.type === 'presence' && m.userId === 7 && m.status === 'offline', GRACE_MS + 400),
    'still connected on B: not offline');
  await t2.close();
  await nextPresence(watcher, 7, 'offline', GRACE_MS + 3000);
});

test('a node killed without goodbye: its users go offline on the other nodes once its heartbeat expires', { skip }, async () => {
  const victim = await startServer({ dataDir: nodes.dataDir, env: nodes.env });
  try {
    const watcher = await openChat(nodes[0], { token: tok.owner });
    assert.equal((await join(watcher, 'org')).type, 'joined');
    const gone = await openChat(victim, { token: tok.admin }); // user 2, only on the victim
    assert.equal((await join(gone, 'org')).type, 'joined');
    await nextPresence(watcher, 2, 'online');
    const t0 = Date.now();
    await victim.kill();
    const off = await nextPresence(watcher, 2, 'offline', NODE_TTL_MS * 3 + 3000);
    const took = Date.now() - t0;
    assert.ok(took >= NODE_TTL_MS / 2, `offline after ${took} ms: not before the TTL could run out`);
    assert.equal(off.userId, 2);
  } finally {
    await victim.kill();
  }
});
