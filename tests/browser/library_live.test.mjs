// The client library (web/lib) in Node against the real binary, with the `ws` package as its
// WebSocket: the flag-driven fallback to long-polling and back, reset on a stale epoch, retry-safe
// chat sends across a server restart, and an upload that survives a restart mid-way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Blob } from 'node:buffer';
import { WebSocket } from 'ws';
import { startServer, waitFor } from '../integration/support/server.mjs';
import { makeFile, sha256, checkinGuest } from '../integration/support/upload.mjs';
import { RealtimeClient } from '../../web/lib/realtime.js';
import { ChatClient } from '../../web/lib/chat.js';
import { DocumentUpload } from '../../web/lib/upload.js';
import { MemoryStorage } from './support/fakes.mjs';

let srv;
let owner;
const dataDir = mkdtempSync(join(tmpdir(), 'bellhop-lib-'));
const clients = [];

before(async () => {
  srv = await startServer({ dataDir, args: ['--demo'] });
  owner = srv.token({ org: 1, user: 1, role: 'owner' });
});

after(async () => {
  for (const c of clients) c.stop?.() ?? c.close?.();
  await srv?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const flags = async (f) => {
  const res = await srv.fetch('/feature-flags', { method: 'POST', token: owner, json: f });
  assert.equal(res.status, 200, await res.text());
};
const publish = async (service, type = 'revenue_created') => {
  const res = await srv.fetch('/v2/realtime/publish', { method: 'POST', token: owner, json: { service, type, data: {} } });
  assert.equal(res.status, 201);
  return (await res.json()).offset;
};

function realtime(opts = {}) {
  const got = [];
  const rt = new RealtimeClient({ baseUrl: srv.base, token: owner, services: ['finance', 'tasks'], WebSocket, target: null,
    configCheckMs: 150, pollTimeoutS: 1, backoff: { initialMs: 50, maxMs: 400 }, ...opts });
  rt.on('events', (service, events, source) => { for (const e of events) got.push({ service, offset: e.offset, source }); });
  clients.push(rt);
  return { rt, got };
}

test('realtime: a service forced to v1 long-polls, then streams again once the flag is cleared; nothing lost or repeated', async () => {
  const { rt, got } = realtime();
  rt.start();
  await waitFor(() => rt.status === 'open', { what: 'open' });
  const a = await publish('finance');
  await waitFor(() => got.some((g) => g.offset === a && g.source === 'websocket'), { what: 'a streamed event' });
  await flags({ FINANCE_REALTIME_V1: true });
  await waitFor(() => rt.transports.finance === 'polling', { what: 'finance on polling' });
  const b = await publish('finance');
  await waitFor(() => got.some((g) => g.offset === b && g.source === 'polling'), { what: 'a polled event' });
  const t = await publish('tasks', 'task_created');
  await waitFor(() => got.some((g) => g.service === 'tasks' && g.offset === t && g.source === 'websocket'), { what: 'tasks still streamed' });
  await flags({ FINANCE_REALTIME_V1: false });
  await waitFor(() => rt.transports.finance === 'websocket', { timeout: 5000, what: 'finance back on the stream' });
  const c = await publish('finance');
  await waitFor(() => got.some((g) => g.offset === c && g.source === 'websocket'), { what: 'streamed again' });
  const fin = got.filter((g) => g.service === 'finance').map((g) => g.offset);
  assert.deepEqual(fin, [...new Set(fin)].sort((x, y) => x - y), 'in order, each once');
  assert.ok(fin.includes(a) && fin.includes(b) && fin.includes(c));
  rt.stop();
});

test('realtime: streaming switched off (close 4503) polls everything; switched on, it reconnects', async () => {
  const { rt, got } = realtime();
  rt.start();
  await waitFor(() => rt.status === 'open', { what: 'open' });
  await flags({ REALTIME_STREAMING_V2: false });
  try {
    await waitFor(() => rt.status === 'polling', { what: 'polling after 4503' });
    const a = await publish('finance');
    await waitFor(() => got.some((g) => g.offset === a && g.source === 'polling'), { what: 'a polled event' });
  } finally {
    await flags({ REALTIME_STREAMING_V2: true });
  }
  await waitFor(() => rt.status === 'open' && rt.transports.finance === 'websocket', { timeout: 5000, what: 'streaming again' });
  const b = await publish('finance');
  await waitFor(() => got.some((g) => g.offset === b && g.source === 'websocket'), { what: 'streamed again' });
  rt.stop();
});

test('realtime: a stale epoch in storage is answered with reset, reported, and the stream continues', async () => {
  const storage = new MemoryStorage();
  storage.setItem('bellhop.realtime.positions', JSON.stringify({ finance: { offset: 1, epoch: '0123456789abcdef' } }));
  const resets = [];
  const { rt, got } = realtime({ storage, onReset: (r) => resets.push(r) });
  rt.start();
  await waitFor(() => resets.length === 1, { what: 'a reset' });
  assert.equal(resets[0].service, 'finance');
  assert.equal(resets[0].reason, 'epoch_changed');
  assert.notEqual(rt.positions.finance.epoch, '0123456789abcdef');
  const a = await publish('finance');
  await waitFor(() => got.some((g) => g.offset === a), { what: 'an event after the reset' });
  assert.equal(JSON.parse(storage.getItem('bellhop.realtime.positions')).finance.offset, a, 'stored');
  rt.stop();
});

test('chat: a message sent while the server restarts is delivered once, with its clientMsgId, after the reconnect', async () => {
  const mk = (user, name) => {
    const c = new ChatClient({ baseUrl: srv.base, getToken: () => srv.token({ org: 1, user, role: 'manager', name }), WebSocket, backoff: { initialMs: 50, maxMs: 300 } });
    clients.push(c);
    return c;
  };
  const a = mk(1, 'Asha');
  const b = mk(2, 'Ravi');
  await Promise.all([a.connect(), b.connect()]);
  await a.join('org');
  await b.join('org');
  const seen = [];
  b.on('message', (m) => seen.push(m.message));
  b.on('joined', (j) => seen.push(...j.messages)); // a rejoin brings what was stored before it
  const first = await a.send('org', 'before');
  assert.equal(first.duplicate, false);

  const port = srv.port;
  await srv.stop({ keepData: true });
  await waitFor(() => a.status === 'reconnecting', { what: 'a notices' });
  const pending = a.send('org', 'during the restart', { clientMsgId: 'restart-1' });
  srv = await startServer({ dataDir, args: ['--port', String(port), '--demo'] });
  const ack = await pending;
  assert.equal(ack.clientMsgId, 'restart-1');
  await waitFor(() => seen.some((m) => m.clientMsgId === 'restart-1'), { what: 'b gets it, live or in its rejoin' });
  // A retry with the same id stores nothing new.
  const again = await a.send('org', 'during the restart', { clientMsgId: 'restart-1' });
  assert.equal(again.duplicate, true);
  assert.equal(again.id, ack.id);
  const hist = await b.history('org', { limit: 10 });
  assert.equal(hist.messages.filter((m) => m.clientMsgId === 'restart-1').length, 1);
  a.close();
  b.close();
});

test('upload: a restart mid-upload is resumed by the client from the durable offset, and the SHA-256 matches', async () => {
  const token = srv.token({ org: 1, user: 1, role: 'owner' });
  const guest = await checkinGuest(srv, token, { propertyId: 1 });
  const bytes = makeFile('png', 2 * 1024 * 1024 + 5);
  const states = [];
  const up = new DocumentUpload({ baseUrl: srv.base, token, file: new Blob([bytes]), fileName: 'scan.png', documentType: 'image',
    guestId: guest.id, propertyId: 1, WebSocket, chunkSize: 64 * 1024, maxBytesPerSecond: 1024 * 1024,
    backoff: { initialMs: 100, maxMs: 500 }, onStatus: (s) => states.push(s) });
  const done = up.start();
  await waitFor(() => up.sent >= 512 * 1024, { timeout: 10000, what: 'a quarter sent' });
  const port = srv.port;
  await srv.stop({ keepData: true });
  srv = await startServer({ dataDir, args: ['--port', String(port), '--demo'] });
  const doc = await done;
  assert.ok(states.includes('reconnecting'), states.join(','));
  assert.equal(doc.sha256, sha256(bytes));
  assert.equal(doc.size, bytes.length);
  assert.equal(doc.mimeType, 'image/png');
});
