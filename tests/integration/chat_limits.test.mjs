// Chat limits from the configuration, each a typed error that leaves the connection up: the
// message rate per user (token bucket, across tabs), the message length, rooms per connection,
// and the history size of a join.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { closeAll } from './support/stream.mjs';
import { openChat, join, say, demoTokens } from './support/chat.mjs';

let srv;
let tok;
before(async () => {
  srv = await startServer({
    args: ['--demo', '--chat-rate', '4', '--chat-burst', '3', '--chat-max-length', '10',
      '--chat-max-rooms', '2', '--chat-history', '5'],
  });
  tok = demoTokens(srv);
});
after(async () => { await srv.stop(); });
afterEach(async () => { await closeAll(); });

test('ready announces the configured limits', async () => {
  const a = await openChat(srv, { token: tok.owner });
  assert.deepEqual(
    { ...a.ready.limits, typingTimeoutMs: 0, awayAfterMs: 0, offlineGraceMs: 0 },
    { historySize: 5, maxMessageLength: 10, ratePerSecond: 4, burst: 3, maxRooms: 2, typingTimeoutMs: 0, awayAfterMs: 0, offlineGraceMs: 0 },
  );
});

test('the message rate: a burst, then rate_limited, then recovered', async () => {
  const a = await openChat(srv, { token: tok.manager });
  await join(a, 'property-1');
  const acks = await Promise.all([1, 2, 3].map((i) => say(a, 'property-1', `r${i}`)));
  assert.deepEqual(acks.map((x) => x.type), ['ack', 'ack', 'ack']);
  const limited = await say(a, 'property-1', 'too fast');
  assert.equal(limited.type, 'error');
  assert.equal(limited.code, 'rate_limited');
  assert.ok(limited.retryAfterMs > 0 && limited.retryAfterMs <= 250, JSON.stringify(limited));
  // The limit is the user's, not the connection's.
  const tab2 = await openChat(srv, { token: tok.manager });
  await join(tab2, 'property-1');
  assert.equal((await say(tab2, 'property-1', 'me too')).code, 'rate_limited');
  // Another user is not affected.
  const b = await openChat(srv, { token: tok.frontdesk });
  await join(b, 'property-1');
  assert.equal((await say(b, 'property-1', 'hi')).type, 'ack');
  // Waiting as told is enough.
  await new Promise((r) => setTimeout(r, limited.retryAfterMs + 20));
  assert.equal((await say(a, 'property-1', 'ok now')).type, 'ack');
  const m = await (await srv.fetch('/v2/collaboration/metrics', { token: tok.owner })).json();
  assert.ok(m.rateLimited >= 2);
  a.assertSeqs();
});

test('message length is counted in characters', async () => {
  const a = await openChat(srv, { token: tok.staff });
  await join(a, 'property-2');
  const e = await say(a, 'property-2', '12345678901');
  assert.equal(e.code, 'message_too_long');
  assert.equal(e.maxLength, 10);
  await new Promise((r) => setTimeout(r, 300)); // a token back
  const ok = await say(a, 'property-2', 'éééééééééé'); // 10 characters, 20 bytes
  assert.equal(ok.type, 'ack', JSON.stringify(ok));
  assert.equal(ok.message.text, 'éééééééééé');
  await new Promise((r) => setTimeout(r, 300));
  a.send({ type: 'edit', roomId: 'property-2', messageId: ok.id, text: 'x'.repeat(11) });
  assert.equal((await a.nextType('error')).code, 'message_too_long');
});

test('rooms per connection', async () => {
  const a = await openChat(srv, { token: tok.owner });
  assert.equal((await join(a, 'property-1')).type, 'joined');
  assert.equal((await join(a, 'property-2')).type, 'joined');
  const e = await join(a, 'property-3');
  assert.equal(e.code, 'too_many_rooms');
  assert.equal(e.maxRooms, 2);
  // Another connection has its own allowance; leaving frees a place.
  const a2 = await openChat(srv, { token: tok.owner });
  assert.equal((await join(a2, 'property-3')).type, 'joined');
  a.send({ type: 'leave', roomId: 'property-1' });
  await a.nextType('left');
  assert.equal((await join(a, 'property-3')).type, 'joined');
});

test('the history size of a join', async () => {
  const a = await openChat(srv, { token: tok.admin });
  await join(a, 'org');
  const ids = [];
  for (let i = 0; i < 8; i++) {
    const ack = await say(a, 'org', `h${i}`);
    if (ack.code === 'rate_limited') {
      await new Promise((r) => setTimeout(r, ack.retryAfterMs + 10));
      i--;
      continue;
    }
    ids.push(ack.id);
  }
  const b = await openChat(srv, { token: tok.owner });
  const j = await join(b, 'org');
  assert.deepEqual(j.messages.map((m) => m.id), ids.slice(3));
  assert.equal(j.hasMore, true);
  assert.equal(j.nextBefore, ids[3]);
});
