// The realtime stream at its edges: upgrade errors, a handshake that arrives with the upgrade,
// errors that keep the connection open, mid-stream subscribe refusals, frame-level closes,
// batching, and the replay limit.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import {
  openStream, subscribed, closeAll, publisher, rawStream, upgradeRequest, wsFrame, upgradeRefusal,
} from './support/stream.mjs';

let srv; // small max message, replay max 10
let sameHost; // BELLHOP_ALLOWED_ORIGINS empty: same host only
let owner;

before(async () => {
  [srv, sameHost] = await Promise.all([
    startServer({ env: { BELLHOP_WS_MAX_MESSAGE: '1024', BELLHOP_REPLAY_MAX: '10' } }),
    startServer({ env: { BELLHOP_ALLOWED_ORIGINS: '' } }),
  ]);
  owner = srv.token({ org: 1, user: 1, role: 'owner' });
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await Promise.all([srv?.stop(), sameHost?.stop()]);
});

test('upgrade errors: 426 upgrade_required, 426 unsupported_websocket_version, 400 bad_upgrade', async () => {
  const res = await srv.fetch('/v2/realtime/stream', { token: owner });
  assert.equal(res.status, 426);
  assert.equal((await res.json()).error.code, 'upgrade_required');

  const v = await rawStream(srv, upgradeRequest(srv, { token: owner, headers: { 'Sec-WebSocket-Version': '8' } }));
  await v.waitFor((r) => r.status && r.body?.includes('}'), 3000, 'the 426 answer');
  assert.equal(v.status, 426);
  assert.match(v.head, /\r\nSec-WebSocket-Version: 13(\r\n|$)/i);
  assert.equal(JSON.parse(v.body).error.code, 'unsupported_websocket_version');
  v.close();

  const k = await rawStream(srv, upgradeRequest(srv, { token: owner, headers: { 'Sec-WebSocket-Key': 'short' } }));
  await k.waitFor((r) => r.status && r.body?.includes('}'), 3000, 'the 400 answer');
  assert.equal(k.status, 400);
  assert.equal(JSON.parse(k.body).error.code, 'bad_upgrade');
  k.close();
});

test('BELLHOP_ALLOWED_ORIGINS empty: only the same host may connect from a browser', async () => {
  const tok = sameHost.token({ org: 1, user: 1, role: 'owner' });
  const r = await upgradeRefusal(sameHost, { token: tok, origin: 'https://elsewhere.example' });
  assert.equal(r.status, 403);
  assert.equal(r.json?.error?.code, 'origin_not_allowed');
  const { ack } = await subscribed(sameHost, tok, ['tasks'], { origin: `http://127.0.0.1:${sameHost.port}` });
  assert.equal(ack.type, 'ack');
  const { ack: ack2 } = await subscribed(sameHost, tok, ['tasks']);
  assert.equal(ack2.type, 'ack');
});

test('a handshake sent in the same packet as the upgrade request is answered', async () => {
  const hs = wsFrame(1, JSON.stringify({ type: 'handshake', services: ['finance'], version: 1 }));
  const ping = wsFrame(1, JSON.stringify({ type: 'ping' }));
  const r = await rawStream(srv, Buffer.concat([upgradeRequest(srv, { token: owner }), hs, ping]));
  await r.waitFor((x) => x.messages.length >= 2 || x.ended, 3000, 'the ack and the pong');
  assert.equal(r.status, 101, r.head);
  assert.match(r.head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
  assert.equal(r.messages[0].type, 'ack', JSON.stringify(r.messages));
  assert.equal(r.messages[0].seq, 0);
  assert.deepEqual(r.messages[1].type, 'pong');
  assert.equal(r.messages[1].seq, 1);
  const p = await publisher(srv)({ data: { raw: true } });
  await r.waitFor((x) => x.messages.some((m) => m.type === 'events'), 3000, 'the event');
  assert.equal(r.messages[2].events[0].offset, p.offset);
  r.write(wsFrame(8, Buffer.from([0x03, 0xe8])));
  await r.waitFor((x) => x.closeCode !== null, 3000, 'the close echo');
  assert.equal(r.closeCode, 1000);
  r.close();
});

test('a handshake fragmented over several frames works', async () => {
  const text = JSON.stringify({ services: ['tasks'], version: 1 });
  const r = await rawStream(srv, Buffer.concat([
    upgradeRequest(srv, { token: owner }),
    wsFrame(1, text.slice(0, 10), { fin: false }),
    wsFrame(9, 'hi'), // a control frame between fragments is allowed
    wsFrame(0, text.slice(10, 20), { fin: false }),
    wsFrame(0, text.slice(20)),
  ]));
  await r.waitFor((x) => x.messages.length >= 1 || x.ended, 3000, 'the ack');
  assert.equal(r.messages[0]?.type, 'ack', JSON.stringify(r.messages));
  assert.ok(r.frames.some((f) => f.opcode === 10 && f.payload.toString() === 'hi'), 'the ping was answered');
  r.close();
});

test('errors after the handshake keep the connection open: invalid_message, unknown_type, unknown_service', async () => {
  const { c } = await subscribed(srv, owner, ['finance']);
  c.send('not json');
  const e1 = await c.nextType('error');
  assert.equal(e1.code, 'invalid_message');
  assert.equal(e1.closeCode, undefined);
  c.send({ services: ['tasks'] });
  assert.equal((await c.nextType('error')).code, 'invalid_message');
  c.send({ type: 'dance' });
  assert.equal((await c.nextType('error')).code, 'unknown_type');
  c.send({ type: 'unsubscribe', services: ['nope'] });
  assert.equal((await c.nextType('error')).code, 'unknown_service');
  c.send({ type: 'ping' });
  await c.nextType('pong');
  const p = await publisher(srv)({ data: { still: 'subscribed' } });
  await c.waitEvent((e) => e.offset === p.offset);
  assert.equal(c.closeInfo, null);
  c.assertSeqs();
});

test('a mid-stream subscribe to a forbidden or unknown service closes like a bad handshake', async () => {
  const staff = srv.token({ org: 1, user: 7, role: 'staff' });
  const { c } = await subscribed(srv, staff, ['tasks']);
  c.send({ type: 'subscribe', services: ['finance'] });
  const e = await c.nextType('error');
  assert.equal(e.code, 'service_forbidden');
  assert.equal(e.closeCode, 4403);
  assert.equal(e.seq, 1);
  assert.equal((await c.waitClose()).code, 4403);

  const { c: c2 } = await subscribed(srv, owner, ['tasks']);
  c2.send({ type: 'subscribe', services: ['tasks', 'weather'] });
  const e2 = await c2.nextType('error');
  assert.equal(e2.code, 'unknown_service');
  assert.equal(e2.closeCode, 4404);
  assert.equal((await c2.waitClose()).code, 4404);
});

test('frame-level closes: message over BELLHOP_WS_MAX_MESSAGE -> 1009, invalid UTF-8 -> 1007', async () => {
  const { c } = await subscribed(srv, owner, ['tasks']);
  c.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(2000) }));
  assert.equal((await c.waitClose()).code, 1009);

  const { c: c2 } = await subscribed(srv, owner, ['tasks']);
  c2.ws._socket.write(wsFrame(1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])));
  assert.equal((await c2.waitClose()).code, 1007);

  const r = await rawStream(srv, Buffer.concat([upgradeRequest(srv, { token: owner }), wsFrame(1, '{"services":["tasks"],"version":1}', { mask: false })]));
  await r.waitFor((x) => x.closeCode !== null || x.ended, 3000, 'a close');
  assert.equal(r.closeCode, 1002, 'an unmasked client frame is a protocol error');
  r.close();
});

test('events published together are batched per service, at most 64 per message, in offset order', async () => {
  const pub = publisher(srv, { org: 21 });
  const { c, ack } = await subscribed(srv, srv.token({ org: 21, user: 1, role: 'owner' }), ['finance']);
  const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => pub({ data: { i } })));
  const offsets = answers.map((a) => a.offset).sort((x, y) => x - y);
  assert.deepEqual(offsets, Array.from({ length: 150 }, (_, i) => ack.positions.finance.offset + 1 + i));
  const evs = await c.takeEvents(150);
  assert.deepEqual(evs.map((e) => e.offset), offsets);
  const sizes = c.all.filter((m) => m.type === 'events').map((m) => m.events.length);
  assert.ok(sizes.every((n) => n >= 1 && n <= 64), `batch sizes ${sizes}`);
  c.assertSeqs();
});

test('a gap larger than BELLHOP_REPLAY_MAX is a reset (history_window_exceeded); within it, a replay', async () => {
  const pub = publisher(srv, { org: 22 });
  const tok = srv.token({ org: 22, user: 1, role: 'owner' });
  let last;
  for (let i = 0; i < 15; i++) last = await pub({ data: { i } });
  const { epoch } = last;
  const { c } = await subscribed(srv, tok, ['finance'], { resume: { finance: { offset: 2, epoch } } });
  const r = await c.nextType('reset');
  assert.equal(r.reason, 'history_window_exceeded');
  assert.equal(r.offset, 15);
  const { c: c2 } = await subscribed(srv, tok, ['finance'], { resume: { finance: { offset: 5, epoch } } });
  const evs = await c2.takeEvents(10);
  assert.deepEqual(evs.map((e) => e.offset), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
});
