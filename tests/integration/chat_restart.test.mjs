// Durability: a message is acknowledged only once stored, so a restart (clean, or a crash right
// after the acks) loses none of the acknowledged messages, and ids keep increasing afterwards.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer } from './support/server.mjs';
import { closeAll } from './support/stream.mjs';
import { openChat, join, say, cid, demoTokens } from './support/chat.mjs';

const dirs = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
afterEach(async () => { await closeAll(); });

const ARGS = ['--demo', '--chat-rate', '100000', '--chat-burst', '100000'];

async function storedIds(srv, token, room) {
  const ids = [];
  let before = '';
  for (;;) {
    const res = await srv.fetch(`/v2/collaboration/rooms/${room}/messages?limit=200${before}`, { token });
    assert.equal(res.status, 200);
    const page = await res.json();
    ids.push(...page.items.map((m) => m.id));
    if (page.nextBefore === null) return ids.reverse();
    before = `&before=${page.nextBefore}`;
  }
}

for (const how of ['stop', 'kill']) {
  test(`a restart (${how === 'stop' ? 'SIGTERM' : 'SIGKILL'}) loses no acknowledged message`, async () => {
    let srv = await startServer({ args: ARGS });
    const dataDir = srv.dataDir;
    dirs.push(dataDir);
    let tok = demoTokens(srv);
    const a = await openChat(srv, { token: tok.manager });
    const b = await openChat(srv, { token: tok.frontdesk });
    await join(a, 'property-1');
    await join(b, 'property-1');
    // Many in flight at once from two users, so the writer batches them.
    const sent = [];
    for (let i = 0; i < 300; i++) sent.push(say(i % 2 ? b : a, 'property-1', `durable ${i}`, cid('d'), 10000));
    const acks = await Promise.all(sent);
    assert.ok(acks.every((x) => x.type === 'ack'), JSON.stringify(acks.find((x) => x.type !== 'ack')));
    const acked = acks.map((x) => x.id).sort((x, y) => x - y);
    assert.equal(new Set(acked).size, 300);
    if (how === 'stop') await srv.stop({ keepData: true });
    else await srv.kill();
    await closeAll();

    srv = await startServer({ args: ARGS, dataDir });
    tok = demoTokens(srv);
    const ids = await storedIds(srv, tok.manager, 'property-1');
    assert.deepEqual(ids, acked, 'every acknowledged message, and nothing else');
    // The room goes on where it was.
    const c = await openChat(srv, { token: tok.manager });
    const j = await join(c, 'property-1');
    assert.deepEqual(j.messages.map((m) => m.id), acked.slice(-50));
    const next = await say(c, 'property-1', 'after the restart');
    assert.ok(next.id > acked[acked.length - 1]);
    // A retry of a message acknowledged before the restart is still recognised.
    const again = await say(c, 'property-1', 'durable 0', acks[0].clientMsgId);
    assert.equal(again.duplicate, true);
    assert.equal(again.id, acks[0].id);
    await closeAll();
    await srv.stop();
  });
}

test('a shutdown with messages in flight is clean, and keeps whatever it acknowledged', async () => {
  let srv = await startServer({ args: ARGS });
  const dataDir = srv.dataDir;
  dirs.push(dataDir);
  let tok = demoTokens(srv);
  const clients = [];
  for (const t of [tok.manager, tok.frontdesk, tok.owner]) {
    const c = await openChat(srv, { token: t });
    await join(c, 'property-1');
    clients.push(c);
  }
  // Keep sending while the server stops: joins, messages, reads and typing all in flight.
  for (let i = 0; i < 600; i++) {
    const c = clients[i % 3];
    c.send({ type: 'message', roomId: 'property-1', clientMsgId: `f${i}`, text: `flood ${i}` });
    if (i % 50 === 0) c.send({ type: 'typing', roomId: 'property-1', state: 'start' });
  }
  await new Promise((r) => setTimeout(r, 20));
  await srv.stop({ keepData: true }); // asserts exit 0 and no sanitizer report
  const closes = await Promise.all(clients.map((c) => c.waitClose(5000)));
  assert.ok(closes.every((x) => x.code === 1001 || x.code === 1006), JSON.stringify(closes));
  const acked = clients.flatMap((c) => c.all.filter((m) => m.type === 'ack').map((m) => m.id));
  srv = await startServer({ args: ARGS, dataDir });
  tok = demoTokens(srv);
  const ids = new Set(await storedIds(srv, tok.owner, 'property-1'));
  for (const id of acked) assert.ok(ids.has(id), `acknowledged message ${id} is stored`);
  await srv.stop();
});
