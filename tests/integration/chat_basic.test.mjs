// Chat stream: two users chatting (order, ids, the sender's other tabs), idempotent retries,
// history paging, edits and deletes, the REST views, and errors that keep the connection.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { closeAll, ISO_RE } from './support/stream.mjs';
import { openChat, join, say, nextMessage, cid, quiet, demoTokens, CHAT_PATH } from './support/chat.mjs';

let srv;
let tok;
before(async () => {
  // A generous rate: the limits have their own tests (chat_limits).
  srv = await startServer({ args: ['--demo', '--chat-rate', '10000', '--chat-burst', '10000'] });
  tok = demoTokens(srv);
});
after(async () => { await srv.stop(); });
afterEach(async () => { await closeAll(); });

test('ready tells the connection, the user and the limits', async () => {
  const a = await openChat(srv, { token: tok.manager });
  assert.equal(a.ready.seq, 0);
  assert.equal(a.ready.userId, 3);
  assert.equal(a.ready.orgId, 1);
  assert.equal(a.ready.userName, 'Meera Manager');
  assert.match(a.ready.connectionId, /^c\d+-\d+$/);
  assert.deepEqual(Object.keys(a.ready.limits).sort(), ['awayAfterMs', 'burst', 'historySize',
    'maxMessageLength', 'maxRooms', 'offlineGraceMs', 'ratePerSecond', 'typingTimeoutMs']);
  const b = await openChat(srv, { token: tok.frontdesk, via: 'query' }); // browsers: the query
  assert.equal(b.ready.userId, 5);
});

test('two users chat: both see every message, in order, with ids and timestamps', async () => {
  const a = await openChat(srv, { token: tok.manager });
  const b = await openChat(srv, { token: tok.frontdesk });
  const ja = await join(a, 'property-1');
  assert.equal(ja.type, 'joined', JSON.stringify(ja));
  assert.deepEqual(ja.room, { kind: 'property', propertyId: 1, taskId: null });
  assert.equal((await join(b, 'property-1')).type, 'joined');
  const texts = [];
  for (let i = 0; i < 10; i++) texts.push(`${i % 2 ? 'b' : 'a'} says ${i}`);
  // Interleaved senders, without waiting between them.
  const acks = await Promise.all(texts.map((t, i) => say(i % 2 ? b : a, 'property-1', t)));
  for (const ack of acks) {
    assert.equal(ack.type, 'ack', JSON.stringify(ack));
    assert.equal(ack.duplicate, false);
    assert.ok(Number.isInteger(ack.id) && ack.id > 0);
    assert.match(ack.timestamp, ISO_RE);
    assert.equal(ack.message.id, ack.id);
  }
  // Each side sees the other's messages as "message" and its own as "ack", and the two together
  // are the room's order: ids strictly increasing.
  const seen = (c) => c.all.filter((m) => (m.type === 'message' || m.type === 'ack') && m.roomId === 'property-1')
    .map((m) => (m.type === 'ack' ? m.message : m.message));
  for (const c of [a, b]) {
    const deadline = Date.now() + 3000;
    while (seen(c).length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const ids = seen(c).map((m) => m.id);
    assert.equal(ids.length, 10);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'delivered in id order');
    assert.deepEqual(new Set(seen(c).map((m) => m.text)), new Set(texts));
  }
  const m = b.all.find((x) => x.type === 'message' && x.message.text === 'a says 0').message;
  assert.equal(m.userId, 3);
  assert.equal(m.userName, 'Meera Manager');
  assert.equal(m.roomId, 'property-1');
  assert.equal(m.edited, false);
  assert.equal(m.deleted, false);
  a.assertSeqs();
  b.assertSeqs();
});

test("the sender's other tabs get the message; the sending tab gets the ack only", async () => {
  const tab1 = await openChat(srv, { token: tok.owner });
  const tab2 = await openChat(srv, { token: tok.owner });
  await join(tab1, 'org');
  await join(tab2, 'org');
  const ack = await say(tab1, 'org', 'from tab 1');
  const m = await nextMessage(tab2, 'org', (x) => x.id === ack.id);
  assert.equal(m.text, 'from tab 1');
  assert.ok(await quiet(tab1, (x) => x.type === 'message' && x.message.id === ack.id, 200));
});

test('a retried clientMsgId is acknowledged again, never stored twice', async () => {
  const a = await openChat(srv, { token: tok.manager });
  const b = await openChat(srv, { token: tok.staff });
  await join(a, 'property-2');
  await join(b, 'property-2');
  const id = cid('retry');
  const first = await say(a, 'property-2', 'only once', id);
  assert.equal(first.duplicate, false);
  const again = await say(a, 'property-2', 'only once', id);
  assert.equal(again.type, 'ack');
  assert.equal(again.duplicate, true);
  assert.equal(again.id, first.id);
  assert.equal(again.timestamp, first.timestamp);
  // Even from another connection of the same user.
  const a2 = await openChat(srv, { token: tok.manager });
  await join(a2, 'property-2');
  const third = await say(a2, 'property-2', 'only once', id);
  assert.equal(third.id, first.id);
  assert.equal(third.duplicate, true);
  await nextMessage(b, 'property-2', (x) => x.id === first.id);
  assert.ok(await quiet(b, (x) => x.type === 'message' && x.message.clientMsgId === id, 300));
  const res = await srv.fetch('/v2/collaboration/rooms/property-2/messages?limit=200', { token: tok.manager });
  const body = await res.json();
  assert.equal(body.items.filter((x) => x.clientMsgId === id).length, 1);
  // The same clientMsgId from another user is another message.
  const other = await say(b, 'property-2', 'mine', id);
  assert.equal(other.duplicate, false);
  assert.notEqual(other.id, first.id);
});

test('join returns recent history; history pages backwards with before/limit', async () => {
  const a = await openChat(srv, { token: tok.owner });
  await join(a, 'property-3');
  const ids = [];
  for (let i = 0; i < 60; i++) ids.push((await say(a, 'property-3', `h${i}`)).id);
  const b = await openChat(srv, { token: tok.admin });
  const j = await join(b, 'property-3');
  assert.equal(j.messages.length, 50, 'the default history size');
  assert.deepEqual(j.messages.map((m) => m.id), ids.slice(10), 'oldest first, the newest 50');
  assert.equal(j.hasMore, true);
  assert.equal(j.nextBefore, ids[10]);
  b.send({ type: 'history', roomId: 'property-3', before: j.nextBefore, limit: 7 });
  const h1 = await b.nextType('history');
  assert.deepEqual(h1.messages.map((m) => m.id), ids.slice(3, 10));
  assert.equal(h1.hasMore, true);
  b.send({ type: 'history', roomId: 'property-3', before: h1.nextBefore, limit: 7 });
  const h2 = await b.nextType('history');
  assert.deepEqual(h2.messages.map((m) => m.id), ids.slice(0, 3));
  assert.equal(h2.hasMore, false);
  assert.equal(h2.nextBefore, null);
  // REST: newest first, with nextBefore.
  const r1 = await (await srv.fetch('/v2/collaboration/rooms/property-3/messages?limit=25', { token: tok.admin })).json();
  assert.deepEqual(r1.items.map((m) => m.id), ids.slice(35).reverse());
  assert.equal(r1.nextBefore, ids[35]);
  const r2 = await (await srv.fetch(`/v2/collaboration/rooms/property-3/messages?limit=200&before=${r1.nextBefore}`, { token: tok.admin })).json();
  assert.deepEqual(r2.items.map((m) => m.id), ids.slice(0, 35).reverse());
  assert.equal(r2.nextBefore, null);
  // Errors of the history request keep the connection.
  b.send({ type: 'history', roomId: 'property-3', limit: 0 });
  assert.equal((await b.nextType('error')).code, 'invalid_message');
  b.send({ type: 'history', roomId: 'property-1' });
  assert.equal((await b.nextType('error')).code, 'not_joined');
  b.send({ type: 'ping' });
  assert.equal((await b.nextType('pong')).type, 'pong');
});

test('edits and deletes of one’s own messages are broadcast; admins delete anything', async () => {
  const a = await openChat(srv, { token: tok.manager });
  const b = await openChat(srv, { token: tok.frontdesk });
  const adm = await openChat(srv, { token: tok.admin });
  for (const c of [a, b, adm]) await join(c, 'property-1');
  const ack = await say(a, 'property-1', 'typo hre');
  a.send({ type: 'edit', roomId: 'property-1', messageId: ack.id, text: 'typo here' });
  const ed = await b.next((m) => m.type === 'message_edited' && m.message.id === ack.id);
  assert.equal(ed.message.text, 'typo here');
  assert.equal(ed.message.edited, true);
  assert.match(ed.message.editedAt, ISO_RE);
  await a.next((m) => m.type === 'message_edited' && m.message.id === ack.id); // the author too
  // Not someone else's.
  b.send({ type: 'edit', roomId: 'property-1', messageId: ack.id, text: 'hijack' });
  let err = await b.nextType('error');
  assert.equal(err.code, 'forbidden');
  assert.equal(err.messageId, ack.id);
  b.send({ type: 'delete', roomId: 'property-1', messageId: ack.id });
  assert.equal((await b.nextType('error')).code, 'forbidden');
  // Unknown ids.
  a.send({ type: 'edit', roomId: 'property-1', messageId: 999999, text: 'x' });
  assert.equal((await a.nextType('error')).code, 'message_not_found');
  // The author deletes.
  a.send({ type: 'delete', roomId: 'property-1', messageId: ack.id });
  const del = await b.next((m) => m.type === 'message_deleted' && m.message.id === ack.id);
  assert.equal(del.message.deleted, true);
  assert.equal(del.message.text, null);
  a.send({ type: 'edit', roomId: 'property-1', messageId: ack.id, text: 'back' });
  assert.equal((await a.nextType('error')).code, 'message_not_found');
  // An admin deletes another user's message.
  const ack2 = await say(b, 'property-1', 'rude words');
  adm.send({ type: 'delete', roomId: 'property-1', messageId: ack2.id });
  const del2 = await a.next((m) => m.type === 'message_deleted' && m.message.id === ack2.id);
  assert.equal(del2.message.deleted, true);
  const hist = await (await srv.fetch('/v2/collaboration/rooms/property-1/messages', { token: tok.manager })).json();
  const stored = hist.items.find((m) => m.id === ack2.id);
  assert.equal(stored.deleted, true);
  assert.equal(stored.text, null);
});

test('errors keep the connection up; a binary frame closes it with 1003', async () => {
  const a = await openChat(srv, { token: tok.manager });
  a.send('not json');
  assert.equal((await a.nextType('error')).code, 'invalid_message');
  a.send({ no: 'type' });
  assert.equal((await a.nextType('error')).code, 'invalid_message');
  a.send({ type: 'dance' });
  assert.equal((await a.nextType('error')).code, 'unknown_type');
  a.send({ type: 'message', roomId: 'property-1', clientMsgId: 'x', text: 'hi' });
  let e = await a.nextType('error');
  assert.equal(e.code, 'not_joined');
  assert.equal(e.roomId, 'property-1');
  a.send({ type: 'join', roomId: 'lobby' });
  e = await a.nextType('error');
  assert.equal(e.code, 'unknown_room');
  await join(a, 'property-1');
  for (const bad of [{ text: 'x' }, { clientMsgId: '', text: 'x' }, { clientMsgId: 'has space', text: 'x' },
    { clientMsgId: 'x'.repeat(65), text: 'x' }, { clientMsgId: 'ok', text: '   ' }, { clientMsgId: 'ok', text: 7 },
    { clientMsgId: 'ok', text: 'bell\u0007' }]) {
    a.send({ type: 'message', roomId: 'property-1', ...bad });
    assert.equal((await a.nextType('error')).code, 'invalid_message', JSON.stringify(bad));
  }
  a.send({ type: 'typing', roomId: 'property-1', state: 'maybe' });
  assert.equal((await a.nextType('error')).code, 'invalid_message');
  a.send({ type: 'presence', status: 'busy' });
  assert.equal((await a.nextType('error')).code, 'invalid_message');
  a.send({ type: 'leave', roomId: 'property-1' });
  assert.equal((await a.nextType('left')).roomId, 'property-1');
  a.send({ type: 'leave', roomId: 'property-1' });
  assert.equal((await a.nextType('error')).code, 'not_joined');
  // Still up:
  assert.equal((await say(a, 'org', 'x')).code, 'not_joined');
  a.assertSeqs();
  a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  const err = await a.nextType('error');
  assert.equal(err.code, 'binary_not_supported');
  assert.equal(err.closeCode, 1003);
  assert.equal((await a.waitClose()).code, 1003);
});

test('left rooms stop delivery', async () => {
  const a = await openChat(srv, { token: tok.manager });
  const b = await openChat(srv, { token: tok.staff });
  await join(a, 'property-2');
  await join(b, 'property-2');
  a.send({ type: 'leave', roomId: 'property-2' });
  await a.nextType('left');
  const ack = await say(b, 'property-2', 'anyone?');
  assert.ok(await quiet(a, (m) => m.type === 'message' && m.message.id === ack.id, 300));
});

test('REST rooms lists the caller’s rooms with unread counts', async () => {
  const a = await openChat(srv, { token: tok.staff });
  await join(a, 'dm-3-7');
  const m = await openChat(srv, { token: tok.manager });
  // The manager never opened the dm, and still sees it, with what is unread.
  await say(a, 'dm-3-7', 'hello manager');
  await say(a, 'dm-3-7', 'are you there?');
  const res = await srv.fetch('/v2/collaboration/rooms', { token: tok.manager });
  assert.equal(res.status, 200);
  const rooms = (await res.json()).items;
  const dm = rooms.find((r) => r.roomId === 'dm-3-7');
  assert.ok(dm, JSON.stringify(rooms));
  assert.equal(dm.kind, 'dm');
  assert.equal(dm.unreadCount, 2);
  const j = await join(m, 'dm-3-7');
  assert.equal(j.unreadCount, 2);
  assert.equal(j.messages.length, 2);
  assert.deepEqual(j.members.map((x) => x.userId).sort(), [3, 7]);
  assert.equal((await srv.fetch('/v2/collaboration/rooms')).status, 401);
  assert.equal((await srv.fetch('/v2/collaboration/rooms/lobby/messages', { token: tok.manager })).status, 404);
});

test('the upgrade needs a token', async () => {
  await assert.rejects(openChat(srv, {}), (err) => err.status === 401);
  await assert.rejects(openChat(srv, { token: 'nope' }), (err) => err.status === 401);
  const res = await srv.fetch(CHAT_PATH, { token: tok.owner });
  assert.equal(res.status, 426);
});

test('metrics count the chat', async () => {
  const res = await srv.fetch('/v2/collaboration/metrics', { token: tok.owner });
  assert.equal(res.status, 200);
  const m = await res.json();
  assert.ok(m.messagesStored > 0);
  assert.ok(m.deliveries > 0);
  assert.ok(m.writerBatches > 0 && m.writerOps >= m.messagesStored);
  assert.ok(m.latencyMs.p99 >= 0);
  assert.equal((await srv.fetch('/v2/collaboration/metrics', { token: tok.staff })).status, 403);
});
