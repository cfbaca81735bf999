// Chat rooms and who may enter them: property access, tasks, direct rooms, other organisations
// (refused exactly like rooms that do not exist), and the REST reads under the same rules.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { closeAll } from './support/stream.mjs';
import { openChat, join, say, demoTokens } from './support/chat.mjs';

let srv;
let tok;
let other; // a user of organisation 2
let taskOnP2;
before(async () => {
  srv = await startServer({ args: ['--demo'] });
  tok = demoTokens(srv);
  other = srv.token({ org: 2, user: 50, role: 'owner', name: 'Other Org' });
  const res = await srv.fetch('/tasks', { method: 'POST', token: tok.owner, json: { propertyId: 2, title: 'Fix the lift' } });
  assert.equal(res.status, 201);
  taskOnP2 = (await res.json()).task.id;
});
after(async () => { await srv.stop(); });
afterEach(async () => { await closeAll(); });

test('property rooms need access to the property', async () => {
  const fd = await openChat(srv, { token: tok.frontdesk }); // property 1 only
  assert.equal((await join(fd, 'property-1')).type, 'joined');
  const e = await join(fd, 'property-2');
  assert.equal(e.type, 'error');
  assert.equal(e.code, 'room_forbidden');
  // Property 99 does not exist: unknown, not forbidden.
  assert.equal((await join(fd, 'property-99')).code, 'unknown_room');
  // The connection stays, and the refused room was not joined.
  fd.send({ type: 'message', roomId: 'property-2', clientMsgId: 'x1', text: 'hi' });
  assert.equal((await fd.nextType('error')).code, 'not_joined');
  assert.equal((await say(fd, 'property-1', 'still here')).type, 'ack');
});

test('task rooms need the task in the organisation and access to its property', async () => {
  const fd = await openChat(srv, { token: tok.frontdesk });
  const mgr = await openChat(srv, { token: tok.manager });
  const st = await openChat(srv, { token: tok.staff });
  assert.equal((await join(fd, `task-${taskOnP2}`)).code, 'room_forbidden');
  const j = await join(mgr, `task-${taskOnP2}`);
  assert.equal(j.type, 'joined');
  assert.deepEqual(j.room, { kind: 'task', propertyId: 2, taskId: taskOnP2 });
  assert.equal((await join(st, `task-${taskOnP2}`)).type, 'joined');
  assert.equal((await join(mgr, 'task-424242')).code, 'unknown_room');
});

test('direct rooms: the two parties of one organisation, in either order', async () => {
  const mgr = await openChat(srv, { token: tok.manager });
  const st = await openChat(srv, { token: tok.staff });
  // Either order names the same room; the answer uses the canonical id (lower user id first).
  mgr.send({ type: 'join', roomId: 'dm-7-3' });
  const ok = await mgr.nextType('joined');
  assert.equal(ok.roomId, 'dm-3-7');
  assert.equal(ok.room.kind, 'dm');
  assert.equal((await join(st, 'dm-3-7')).type, 'joined');
  const ack = await say(st, 'dm-3-7', 'psst');
  const m = await mgr.next((x) => x.type === 'message' && x.message.id === ack.id);
  assert.equal(m.message.text, 'psst');
  // Somebody else's conversation.
  const fd = await openChat(srv, { token: tok.frontdesk });
  assert.equal((await join(fd, 'dm-3-7')).code, 'room_forbidden');
  // A user who is not in the organisation (or does not exist), and oneself.
  assert.equal((await join(fd, 'dm-5-50')).code, 'unknown_room');
  assert.equal((await join(fd, 'dm-5-5')).code, 'unknown_room');
});

test('another organisation’s rooms are refused like unknown rooms', async () => {
  const o = await openChat(srv, { token: other });
  for (const room of ['property-1', `task-${taskOnP2}`, 'dm-3-50', 'org']) {
    const e = await join(o, room);
    assert.equal(e.type, 'error', room);
    assert.equal(e.code, 'unknown_room', `${room}: ${JSON.stringify(e)}`);
  }
  // Messages of organisation 1 never reach it.
  const mgr = await openChat(srv, { token: tok.manager });
  await join(mgr, 'property-1');
  await say(mgr, 'property-1', 'org 1 only');
  const r = await srv.fetch('/v2/collaboration/rooms/property-1/messages', { token: other });
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, 'not_found');
  const rooms = await (await srv.fetch('/v2/collaboration/rooms', { token: other })).json();
  assert.deepEqual(rooms.items, []);
});

test('REST reads follow the same rules', async () => {
  const mgr = await openChat(srv, { token: tok.manager });
  await join(mgr, 'property-2');
  await say(mgr, 'property-2', 'for property 2');
  let r = await srv.fetch('/v2/collaboration/rooms/property-2/messages', { token: tok.frontdesk });
  assert.equal(r.status, 403);
  assert.equal((await r.json()).error.code, 'room_forbidden');
  r = await srv.fetch('/v2/collaboration/rooms/property-2/messages', { token: tok.staff });
  assert.equal(r.status, 200);
  assert.ok((await r.json()).items.some((m) => m.text === 'for property 2'));
  // A room nobody joined yet: empty, not an error.
  r = await srv.fetch('/v2/collaboration/rooms/property-3/messages', { token: tok.owner });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { items: [], nextBefore: null });
  r = await srv.fetch('/v2/collaboration/rooms/property-2/messages?limit=0', { token: tok.staff });
  assert.equal(r.status, 400);
  // A property room the caller lost access to is not listed (the token says property 1 only).
  const narrowed = srv.token({ org: 1, user: 3, role: 'manager', properties: [1] });
  const rooms = (await (await srv.fetch('/v2/collaboration/rooms', { token: narrowed })).json()).items;
  assert.ok(!rooms.some((x) => x.roomId === 'property-2'), JSON.stringify(rooms));
});
