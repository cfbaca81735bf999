// Typing indicators: broadcast to the room (not persisted), expiring on their own after the
// configured timeout unless refreshed, and ending on a message, an explicit stop, or a disconnect.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { closeAll } from './support/stream.mjs';
import { openChat, join, say, quiet, demoTokens } from './support/chat.mjs';

const TYPING_MS = 300;
let srv;
let tok;
before(async () => {
  srv = await startServer({ args: ['--demo', '--chat-typing-timeout', String(TYPING_MS)] });
  tok = demoTokens(srv);
});
after(async () => { await srv.stop(); });
afterEach(async () => { await closeAll(); });

const typing = (c, userId, state, timeoutMs = 3000) =>
  c.next((m) => m.type === 'typing' && m.userId === userId && m.state === state, timeoutMs,
    `typing ${state} of user ${userId}`);

async function pair() {
  const a = await openChat(srv, { token: tok.manager });
  const b = await openChat(srv, { token: tok.frontdesk });
  await join(a, 'property-1');
  await join(b, 'property-1');
  return { a, b };
}

test('typing start reaches the others, and expires on its own after the timeout', async () => {
  const { a, b } = await pair();
  assert.equal(a.ready.limits.typingTimeoutMs, TYPING_MS);
  a.send({ type: 'typing', roomId: 'property-1', state: 'start' });
  const t0 = Date.now();
  const start = await typing(b, 3, 'start');
  assert.equal(start.roomId, 'property-1');
  assert.equal(start.userName, 'Meera Manager');
  await typing(b, 3, 'stop', 3000);
  const waited = Date.now() - t0;
  assert.ok(waited >= TYPING_MS - 20, `expired after ${waited} ms, not before the timeout`);
  assert.ok(waited < TYPING_MS + 1000, `expired after ${waited} ms`);
  // The typist does not hear about itself.
  assert.ok(await quiet(a, (m) => m.type === 'typing', 50));
});

test('refreshing keeps it alive without repeating start', async () => {
  const { a, b } = await pair();
  a.send({ type: 'typing', roomId: 'property-1', state: 'start' });
  await typing(b, 3, 'start');
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, TYPING_MS / 2));
    a.send({ type: 'typing', roomId: 'property-1', state: 'start' });
  }
  const t0 = Date.now();
  assert.equal(b.all.filter((m) => m.type === 'typing').length, 1, 'one start, no stop while refreshed');
  await typing(b, 3, 'stop');
  assert.ok(Date.now() - t0 >= TYPING_MS - 50 - 20);
});

test('a message ends the typing, before the message itself', async () => {
  const { a, b } = await pair();
  a.send({ type: 'typing', roomId: 'property-1', state: 'start' });
  await typing(b, 3, 'start');
  const ack = await say(a, 'property-1', 'done typing');
  await typing(b, 3, 'stop', 200); // well before the timeout
  const iStop = b.all.findIndex((m) => m.type === 'typing' && m.state === 'stop');
  await b.next((m) => m.type === 'message' && m.message.id === ack.id);
  const iMsg = b.all.findIndex((m) => m.type === 'message' && m.message.id === ack.id);
  assert.ok(iStop < iMsg, 'stop, then the message');
});

test('an explicit stop, and a disconnect, end it', async () => {
  const { a, b } = await pair();
  a.send({ type: 'typing', roomId: 'property-1', state: 'start' });
  await typing(b, 3, 'start');
  a.send({ type: 'typing', roomId: 'property-1', state: 'stop' });
  await typing(b, 3, 'stop', 200);
  a.send({ type: 'typing', roomId: 'property-1', state: 'stop' }); // not typing: nothing
  assert.ok(await quiet(b, (m) => m.type === 'typing', 100));
  a.send({ type: 'typing', roomId: 'property-1', state: 'start' });
  await typing(b, 3, 'start');
  a.ws.terminate(); // no close handshake: the server still notices
  await typing(b, 3, 'stop', 2000);
});

test('typing is never stored', async () => {
  const { a, b } = await pair();
  const count = async () => (await (await srv.fetch('/v2/collaboration/rooms/property-1/messages?limit=200',
    { token: tok.manager })).json()).items.length;
  const n0 = await count();
  a.send({ type: 'typing', roomId: 'property-1', state: 'start' });
  await typing(b, 3, 'start');
  a.send({ type: 'typing', roomId: 'property-1', state: 'stop' });
  await typing(b, 3, 'stop');
  assert.equal(await count(), n0);
  // And it is not in a join's history either.
  const c = await openChat(srv, { token: tok.owner });
  const j = await join(c, 'property-1');
  assert.equal(j.messages.length, n0);
});
