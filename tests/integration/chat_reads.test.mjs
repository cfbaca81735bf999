// Read receipts: a user's read position per room moves only forwards, is stored and broadcast,
// and drives unread counts (join answer and REST); positions survive a restart.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer } from './support/server.mjs';
import { closeAll } from './support/stream.mjs';
import { openChat, join, say, quiet, demoTokens } from './support/chat.mjs';

let dataDir;
after(() => { if (dataDir) rmSync(dataDir, { recursive: true, force: true }); });
afterEach(async () => { await closeAll(); });

const isRead = (userId) => (m) => m.type === 'read' && m.userId === userId;

async function unreadOf(srv, token, roomId) {
  const res = await srv.fetch('/v2/collaboration/rooms', { token });
  assert.equal(res.status, 200);
  return (await res.json()).items.find((r) => r.roomId === roomId);
}

test('read positions move only forwards, are broadcast, and survive a restart', async () => {
  let srv = await startServer({ args: ['--demo'] });
  dataDir = srv.dataDir;
  let tok = demoTokens(srv);
  const a = await openChat(srv, { token: tok.manager });
  const b = await openChat(srv, { token: tok.frontdesk });
  await join(a, 'property-1');
  await join(b, 'property-1');
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push((await say(a, 'property-1', `m${i}`)).id);
  let room = await unreadOf(srv, tok.frontdesk, 'property-1');
  assert.equal(room.unreadCount, 4);
  assert.equal(room.lastReadId, 0);
  assert.equal(room.lastMessageId, ids[3]);
  // The author's own messages are never unread.
  assert.equal((await unreadOf(srv, tok.manager, 'property-1')).unreadCount, 0);

  b.send({ type: 'read', roomId: 'property-1', messageId: ids[2] });
  const seenByA = await a.next(isRead(5));
  assert.deepEqual(seenByA, { seq: seenByA.seq, type: 'read', roomId: 'property-1', userId: 5, messageId: ids[2] });
  assert.equal((await b.next(isRead(5))).messageId, ids[2]); // the reader hears it too
  room = await unreadOf(srv, tok.frontdesk, 'property-1');
  assert.equal(room.unreadCount, 1);
  assert.equal(room.lastReadId, ids[2]);

  // Backwards: the position stays, the reader is told where it is, the room hears nothing.
  b.send({ type: 'read', roomId: 'property-1', messageId: ids[0] });
  assert.equal((await b.next(isRead(5))).messageId, ids[2]);
  assert.ok(await quiet(a, isRead(5), 200));
  // From another connection of the same user (which has not seen the position yet): same.
  const b2 = await openChat(srv, { token: tok.frontdesk });
  const j2 = await join(b2, 'property-1');
  assert.equal(j2.lastReadId, ids[2]);
  assert.equal(j2.unreadCount, 1);
  b2.send({ type: 'read', roomId: 'property-1', messageId: ids[1] });
  assert.equal((await b2.next(isRead(5))).messageId, ids[2]);
  assert.ok(await quiet(a, isRead(5), 200));
  // Unknown message ids are refused.
  b.send({ type: 'read', roomId: 'property-1', messageId: 999999 });
  const e = await b.nextType('error');
  assert.equal(e.code, 'message_not_found');
  assert.equal(e.messageId, 999999);
  // A join lists each member's position.
  const c = await openChat(srv, { token: tok.owner });
  const jc = await join(c, 'property-1');
  assert.equal(jc.members.find((m) => m.userId === 5).lastReadId, ids[2]);
  assert.equal(jc.members.find((m) => m.userId === 3).lastReadId, 0);
  await closeAll();

  // Restart on the same data.
  await srv.stop({ keepData: true });
  srv = await startServer({ args: ['--demo'], dataDir });
  tok = demoTokens(srv);
  room = await unreadOf(srv, tok.frontdesk, 'property-1');
  assert.equal(room.lastReadId, ids[2]);
  assert.equal(room.unreadCount, 1);
  const b3 = await openChat(srv, { token: tok.frontdesk });
  const j3 = await join(b3, 'property-1');
  assert.equal(j3.lastReadId, ids[2]);
  assert.equal(j3.unreadCount, 1);
  b3.send({ type: 'read', roomId: 'property-1', messageId: ids[1] });
  assert.equal((await b3.next(isRead(5))).messageId, ids[2], 'still forwards only');
  b3.send({ type: 'read', roomId: 'property-1', messageId: ids[3] });
  assert.equal((await b3.next(isRead(5))).messageId, ids[3]);
  assert.equal((await unreadOf(srv, tok.frontdesk, 'property-1')).unreadCount, 0);
  await closeAll();
  await srv.stop();
});
