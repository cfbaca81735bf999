// Crash safety under load: kill -9 while events are published, chat messages sent and a document
// uploaded, then restart on the same data dir. Clients resume and count: every acknowledged event,
// chat message and upload byte is there after the restart, and nobody gets anything twice.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, waitFor } from './support/server.mjs';
import { subscribed, closeAll } from './support/stream.mjs';
import { openChat, join, demoTokens } from './support/chat.mjs';
import { openUpload, closeUploads, checkinGuest, makeFile, startMsg, sha256 } from './support/upload.mjs';

const KIB = 1024;
// Message rates out of the way: this test is about durability, not flood control.
const ARGS = ['--demo', '--chat-rate', '100000', '--chat-burst', '100000', '--ws-msg-rate', '0', '--upload-ack-bytes', String(128 * KIB)];
const dirs = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
afterEach(async () => { await closeAll(); await closeUploads(); });

async function roomMessages(srv, token, room) {
  const out = [];
  let before = '';
  for (;;) {
    const res = await srv.fetch(`/v2/collaboration/rooms/${room}/messages?limit=200${before}`, { token });
    assert.equal(res.status, 200);
    const page = await res.json();
    out.push(...page.items);
    if (page.nextBefore === null) return out.reverse();
    before = `&before=${page.nextBefore}`;
  }
}

/** Publishes in a loop until stopped; records the offsets the server acknowledged (201). */
function publishLoop(srv, token, n) {
  const acked = [];
  let stop = false;
  const runs = Array.from({ length: n }, async (_, k) => {
    for (let i = 0; !stop; i++) {
      try {
        const res = await srv.fetch('/v2/realtime/publish', { method: 'POST', token, json: { orgId: 1, service: 'finance', type: 'revenue_created', data: { k, i } } });
        const body = await res.json();
        if (res.status === 201) acked.push(body.offset);
      } catch { return; } // the server died mid-request: not acknowledged
    }
  });
  return { acked, stop: async () => { stop = true; await Promise.all(runs); } };
}

/** Sends chat messages, at most `window` unacknowledged at a time; records sent and acked ids. */
function chatLoop(c, room, window = 16) {
  const sent = [];
  const acked = new Map(); // clientMsgId -> id
  let stop = false;
  let n = 0;
  c.ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.type === 'ack') acked.set(m.clientMsgId, m.id);
  });
  const run = (async () => {
    while (!stop && !c.closeInfo) {
      if (sent.length - acked.size < window) {
        const id = `k9-${n++}`;
        sent.push(id);
        try { c.send({ type: 'message', roomId: room, clientMsgId: id, text: `crash ${id}` }); } catch { return; }
      } else {
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  })();
  return { sent, acked, stop: async () => { stop = true; await run; } };
}

// Killed at two points: early (little acknowledged, the writers' first batches in flight) and
// later (a longer history, the upload past several syncs).
for (const at of [20, 150]) test(`kill -9 under load (after ${at} acks each), restart: no acknowledged event, chat message or upload byte lost; nothing delivered twice`, async () => {
  let srv = await startServer({ args: ARGS });
  const dataDir = srv.dataDir;
  dirs.push(dataDir);
  let tok = demoTokens(srv);
  const pubToken = srv.token({ org: 1, user: 90, role: 'service' });

  // Consumers: a stream subscriber and a chat member who only listens.
  const { c: sub, ack } = await subscribed(srv, tok.owner, ['finance']);
  const epoch = ack.positions.finance.epoch;
  const listener = await openChat(srv, { token: tok.admin });
  await join(listener, 'org');
  // Producers: publishers, a chat sender, an upload.
  const sender = await openChat(srv, { token: tok.manager });
  await join(sender, 'org');
  const guest = await checkinGuest(srv, tok.owner);
  const file = makeFile('pdf', 3 * 1024 * KIB + 11);
  const up = await openUpload(srv, { token: tok.owner });
  const ready = await up.request(startMsg(guest, file, { sha256: sha256(file) }));
  assert.equal(ready.type, 'ready', JSON.stringify(ready));

  const pubs = publishLoop(srv, pubToken, 4);
  const chat = chatLoop(sender, 'org');
  const uploading = up.sendChunks(file, 0, { chunk: 32 * KIB, to: 2 * 1024 * KIB }).catch(() => {});
  await waitFor(() => pubs.acked.length >= at && chat.acked.size >= at && up.all.some((m) => m.type === 'progress'),
    { timeout: 20000, what: 'load on every stream' });

  await srv.kill(); // SIGKILL: no drain, no flush
  await Promise.all([pubs.stop(), chat.stop(), uploading]);
  await Promise.all([sub.closed, listener.closed, sender.closed, up.closed]);
  const durable = Math.max(0, ...up.all.filter((m) => m.type === 'progress').map((m) => m.offset));
  const seen = sub.events('finance').map((e) => e.offset);
  const heard = listener.all.filter((m) => m.type === 'message' && m.roomId === 'org').map((m) => m.message.id);

  srv = await startServer({ args: ARGS, dataDir });
  tok = demoTokens(srv);

  // Events: resume from the last offset seen; the rest arrive, each once, in order.
  const last = seen.length ? seen[seen.length - 1] : ack.positions.finance.offset;
  const { c: sub2, ack: ack2 } = await subscribed(srv, tok.owner, ['finance'], { resume: { finance: { offset: last, epoch } } });
  assert.equal(ack2.positions.finance.epoch, epoch, 'the history survived the crash (same epoch)');
  const head = ack2.positions.finance.offset;
  const rest = await sub2.takeEvents(head - last, { timeoutMs: 15000 });
  assert.ok(!sub2.all.some((m) => m.type === 'reset'), 'no reset after the crash');
  const all = [...seen, ...rest.map((e) => e.offset)];
  const first = ack.positions.finance.offset;
  assert.deepEqual(all, Array.from({ length: head - first }, (_, i) => first + 1 + i), 'every stored event once, in order');
  for (const o of pubs.acked) assert.ok(o <= head, `acknowledged event ${o} survived (head ${head})`);

  // Chat: every acknowledged message is stored, once; a retry of everything sent stores only the
  // ones that were not, and answers the others as duplicates.
  let stored = await roomMessages(srv, tok.owner, 'org');
  const byCid = new Map();
  for (const m of stored) {
    assert.ok(!byCid.has(m.clientMsgId), `message ${m.clientMsgId} stored once`);
    byCid.set(m.clientMsgId, m.id);
  }
  for (const [cidv, id] of chat.acked) assert.equal(byCid.get(cidv), id, `acknowledged ${cidv} stored with its id`);
  const sender2 = await openChat(srv, { token: tok.manager });
  await join(sender2, 'org');
  const unacked = chat.sent.filter((x) => !chat.acked.has(x));
  for (const x of chat.sent) sender2.send({ type: 'message', roomId: 'org', clientMsgId: x, text: `crash ${x}` });
  const answers = [];
  for (let i = 0; i < chat.sent.length; i++) answers.push(await sender2.next((m) => m.type === 'ack', 10000));
  for (const a of answers) {
    if (chat.acked.has(a.clientMsgId)) assert.equal(a.duplicate, true, `${a.clientMsgId} was already stored`);
  }
  stored = await roomMessages(srv, tok.owner, 'org');
  assert.equal(stored.length, chat.sent.length, `every message sent is stored exactly once (${unacked.length} retried)`);
  assert.equal(new Set(stored.map((m) => m.clientMsgId)).size, chat.sent.length);
  // The listener catches up from the last id it heard: nothing twice, nothing missing.
  const lastHeard = heard.length ? heard[heard.length - 1] : 0;
  const caughtUp = stored.filter((m) => m.id > lastHeard).map((m) => m.id);
  assert.deepEqual([...heard, ...caughtUp], stored.map((m) => m.id), 'live + caught up = stored, in order');

  // Upload: resume from the durable offset (at least what was acknowledged) and finish.
  const up2 = await openUpload(srv, { token: tok.owner });
  const again = await up2.requestRetry({ type: 'resume', uploadId: ready.uploadId });
  assert.equal(again.type, 'ready', JSON.stringify(again));
  assert.ok(again.offset >= durable, `acknowledged ${durable} bytes, resumed at ${again.offset}`);
  await up2.sendChunks(file, again.offset, { chunk: 256 * KIB });
  const done = await up2.nextType('completed', 15000);
  assert.equal(done.document.sha256, sha256(file));
  assert.equal(done.document.size, file.length);

  await closeAll();
  await closeUploads();
  await srv.stop();
});
