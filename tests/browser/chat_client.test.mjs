// Unit tests of web/lib/chat.js in Node: fake WebSocket and clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, canonicalRoomId } from '../../web/lib/chat.js';
import { FakeClock, fakeWebSocketClass, flush } from './support/fakes.mjs';

const limits = { historySize: 50, maxMessageLength: 10, typingTimeoutMs: 5000 };

function setup() {
  const clock = new FakeClock();
  const WS = fakeWebSocketClass();
  const chat = new ChatClient({ baseUrl: 'http://127.0.0.1:4000', token: 'tok', WebSocket: WS, timers: clock, now: clock.now, random: () => 0 });
  return { clock, WS, chat };
}

async function ready(WS, seq = 0) {
  await flush();
  const ws = WS.last();
  ws.open();
  ws.serverSend({ seq, type: 'ready', connectionId: 'c0-1', userId: 3, orgId: 1, userName: 'Meera', heartbeatMs: 25000, limits });
  return ws;
}

test('room ids are validated and direct rooms canonicalised', () => {
  assert.equal(canonicalRoomId('dm-7-3'), 'dm-3-7');
  assert.equal(canonicalRoomId('property-1'), 'property-1');
  for (const bad of ['', 'dm-0-1', 'room-1', 'property-01', 'org ', 7]) assert.throws(() => canonicalRoomId(bad), TypeError);
});

test('join, send with an ack, read receipts, typing and presence update the room state', async () => {
  const { WS, chat } = setup();
  const connected = chat.connect();
  const ws = await ready(WS);
  assert.equal((await connected).userId, 3);
  assert.equal(ws.url, 'ws://127.0.0.1:4000/v2/collaboration/chat/stream?access_token=tok');
  const joining = chat.join('dm-5-3');
  assert.deepEqual(ws.sent.at(-1), { type: 'join', roomId: 'dm-3-5' });
  ws.serverSend({ seq: 1, type: 'joined', roomId: 'dm-3-5', messages: [], members: [{ userId: 5, userName: 'Priya', status: 'offline', lastReadId: 0 }], lastReadId: 0 });
  assert.equal((await joining).roomId, 'dm-3-5');
  assert.throws(() => chat.send('dm-3-5', '   '), /text/);
  assert.throws(() => chat.send('dm-3-5', 'x'.repeat(11)), /at most 10/, 'the limit from ready');
  const sending = chat.send('dm-3-5', 'hello');
  const m = ws.sent.at(-1);
  assert.equal(m.type, 'message');
  assert.match(m.clientMsgId, /^[\x21-\x7e]{1,64}$/);
  ws.serverSend({ seq: 2, type: 'ack', roomId: 'dm-3-5', clientMsgId: m.clientMsgId, id: 41, duplicate: false, message: { id: 41 } });
  assert.equal((await sending).id, 41);
  ws.serverSend({ seq: 3, type: 'presence', userId: 5, userName: 'Priya', status: 'online', roomId: 'dm-3-5' });
  ws.serverSend({ seq: 4, type: 'typing', roomId: 'dm-3-5', userId: 5, userName: 'Priya', state: 'start' });
  ws.serverSend({ seq: 5, type: 'read', roomId: 'dm-3-5', userId: 5, messageId: 41 });
  const room = chat.rooms.get('dm-3-5');
  assert.equal(room.members.get(5).status, 'online');
  assert.equal(room.members.get(5).lastReadId, 41);
  assert.deepEqual([...room.typing], [[5, 'Priya']]);
  const reading = chat.markRead('dm-3-5', 41);
  ws.serverSend({ seq: 6, type: 'read', roomId: 'dm-3-5', userId: 3, messageId: 41 });
  assert.equal((await reading).messageId, 41);
  chat.close();
});

test('after a drop it rejoins and resends unacknowledged messages with the same clientMsgId', async () => {
  const { WS, clock, chat } = setup();
  chat.connect();
  const ws = await ready(WS);
  chat.join('property-1');
  ws.serverSend({ seq: 1, type: 'joined', roomId: 'property-1', messages: [], members: [] });
  await flush();
  const sending = chat.send('property-1', 'hi');
  const cid = ws.sent.at(-1).clientMsgId;
  const statuses = [];
  chat.on('status', (s) => statuses.push(s.status));
  ws.serverClose(1001);
  await flush();
  assert.deepEqual(statuses, ['reconnecting']);
  assert.deepEqual(clock.pending(), [500]);
  await clock.advance(500);
  const ws2 = await ready(WS);
  assert.deepEqual(ws2.sent.map((x) => [x.type, x.roomId]), [['join', 'property-1']], 'the room first');
  ws2.serverSend({ seq: 1, type: 'joined', roomId: 'property-1', messages: [], members: [] });
  assert.deepEqual(ws2.sent.map((x) => [x.type, x.roomId, x.clientMsgId]), [['join', 'property-1', undefined], ['message', 'property-1', cid]],
    'the message again, same clientMsgId, once the server has the room joined');
  ws2.serverSend({ seq: 2, type: 'ack', roomId: 'property-1', clientMsgId: cid, id: 9, duplicate: true, message: { id: 9 } });
  assert.equal((await sending).duplicate, true);
  chat.close();
  assert.deepEqual(clock.pending(), []);
});

test('typingStart is throttled below the server timeout and stops by itself', async () => {
  const { WS, clock, chat } = setup();
  chat.connect();
  const ws = await ready(WS);
  chat.typingStart('org');
  await clock.advance(1000);
  chat.typingStart('org');
  await clock.advance(2500);
  chat.typingStart('org'); // 3.5 s after the first: a refresh (period 3 s)
  assert.deepEqual(ws.sentOfType('typing').map((t) => t.state), ['start', 'start']);
  await clock.advance(3000);
  assert.deepEqual(ws.sentOfType('typing').map((t) => t.state), ['start', 'start', 'stop']);
  chat.close();
});

test('a join refused with an error rejects, and a fatal close fails', async () => {
  const { WS, clock, chat } = setup();
  chat.connect();
  const ws = await ready(WS);
  const j = chat.join('task-99');
  ws.serverSend({ seq: 1, type: 'error', code: 'unknown_room', roomId: 'task-99', message: 'no such room' });
  await assert.rejects(j, /unknown_room/);
  ws.serverClose(1009);
  await flush();
  assert.equal(chat.status, 'failed');
  assert.deepEqual(clock.pending(), []);
});
