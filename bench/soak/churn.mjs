// The soak's load: for SOAK_SECONDS, against a running bellhop (BASE, DATA_DIR for tokens), keeps
// every kind of connection coming and going: stream subscribers (clean closes, abrupt drops,
// drops mid-handshake, resumes), a steady publisher, chat users joining, talking, typing and
// leaving, WebSocket uploads (completed, cancelled, dropped and resumed), tus uploads, plain HTTP,
// and malformed input. Prints one line of counters every 10 s and a summary at the end. Exits
// non-zero if the server stops answering.
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../../tests/integration/package.json'));
const WebSocket = require('ws');
const { makeFile, sha256, chunkFrame } = await import('../../tests/integration/support/upload.mjs');

const BASE = process.env.BASE;
const PORT = Number(new URL(BASE).port);
const BIN = process.env.BELLHOP_BIN;
const DATA = process.env.DATA_DIR;
const SECONDS = Number(process.env.SOAK_SECONDS || 300);
const end = Date.now() + SECONDS * 1000;
const token = (org, user, role, extra = []) =>
  execFileSync(BIN, ['token', '--org', String(org), '--user', String(user), '--role', role, '--data-dir', DATA, ...extra],
    { encoding: 'utf8', env: { ...process.env, BELLHOP_LOG_LEVEL: 'off', ASAN_OPTIONS: 'detect_leaks=0' } }).trim();

const T = {
  owner: token(1, 1, 'owner'),
  manager: token(1, 3, 'manager', ['--properties', '1,2']),
  admin: token(1, 2, 'admin'),
  svc: token(1, 90, 'service'),
};
const n = { streams: 0, events: 0, resumes: 0, published: 0, chats: 0, said: 0, uploads: 0, completed: 0, cancelled: 0, resumedUploads: 0, tus: 0, http: 0, bad: 0, limited: 0, errors: 0 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rnd = (k) => Math.floor(Math.random() * k);
const alive = () => Date.now() < end;

function wsOpen(path, tok) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${PORT}${path}`, { headers: { authorization: `Bearer ${tok}` } });
    const q = [];
    const waiters = [];
    ws.on('message', (d, bin) => {
      const m = bin ? { binary: true } : JSON.parse(String(d));
      const i = waiters.findIndex((w) => w.pred(m));
      if (i >= 0) waiters.splice(i, 1)[0].res(m); else { q.push(m); if (q.length > 500) q.shift(); }
    });
    ws.next = (pred, ms = 10000) => {
      const i = q.findIndex(pred);
      if (i >= 0) return Promise.resolve(q.splice(i, 1)[0]);
      return new Promise((res, rej) => {
        const w = { pred, res };
        waiters.push(w);
        setTimeout(() => { const k = waiters.indexOf(w); if (k >= 0) { waiters.splice(k, 1); rej(new Error('timeout')); } }, ms);
      });
    };
    ws.sendAsync = (data) => new Promise((res, rej) => ws.send(data, (e) => (e ? rej(e) : res())));
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => { req.destroy(); reject(new Error(`HTTP ${res.statusCode}`)); });
    ws.once('error', reject);
  });
}

async function guarded(name, fn) {
  while (alive()) {
    try { await fn(); } catch (e) {
      // A 429 is the handshake limit doing its job under this churn: counted apart from errors.
      if (e.message === 'HTTP 429') n.limited++; else n.errors++;
      if (process.env.SOAK_VERBOSE) console.error(name, e.message);
      await sleep(50);
    }
  }
}

// Stream subscribers: connect, handshake (sometimes resuming), take a few events, leave in one of
// several ways.
async function streamChurn() {
  let last = null;
  await guarded('stream', async () => {
    const ws = await wsOpen('/v2/realtime/stream', T.owner);
    n.streams++;
    const how = rnd(5);
    if (how === 0) { ws.terminate(); return; } // gone before the handshake
    const hs = { services: ['finance', 'tasks', 'guest'], version: 1 };
    if (last && rnd(2)) { hs.resume = { finance: last }; n.resumes++; }
    ws.send(JSON.stringify(hs));
    const ack = await ws.next((m) => m.type === 'ack');
    last = { offset: ack.positions.finance.offset, epoch: ack.positions.finance.epoch };
    const until = Date.now() + 200 + rnd(800);
    while (Date.now() < until) {
      try { const m = await ws.next((x) => x.type === 'events', until - Date.now() + 1); n.events += m.events.length; } catch { break; }
    }
    if (how === 1) ws.terminate(); else ws.close();
    await sleep(rnd(50));
  });
}

async function publisher() {
  await guarded('publish', async () => {
    const res = await fetch(`${BASE}/v2/realtime/publish`, { method: 'POST', headers: { authorization: `Bearer ${T.svc}`, 'content-type': 'application/json' }, body: JSON.stringify({ orgId: 1, service: 'finance', type: 'revenue_created', data: { at: Date.now(), pad: 'x'.repeat(rnd(2000)) } }) });
    await res.arrayBuffer();
    if (res.status === 201) n.published++;
    await sleep(20);
  });
}

async function chatChurn(tok) {
  await guarded('chat', async () => {
    const ws = await wsOpen('/v2/collaboration/chat/stream', tok);
    n.chats++;
    await ws.next((m) => m.type === 'ready');
    const room = ['org', 'property-1', 'property-2'][rnd(3)];
    ws.send(JSON.stringify({ type: 'join', roomId: room }));
    await ws.next((m) => m.type === 'joined' || m.type === 'error');
    for (let i = 0, k = 1 + rnd(6); i < k; i++) {
      const cid = `soak-${process.pid}-${n.said}-${rnd(1e9)}`;
      ws.send(JSON.stringify({ type: 'typing', roomId: room, state: 'start' }));
      ws.send(JSON.stringify({ type: 'message', roomId: room, clientMsgId: cid, text: `soak ${i}` }));
      const a = await ws.next((m) => (m.type === 'ack' || m.type === 'error') && m.clientMsgId === cid);
      if (a.type === 'ack') {
        n.said++;
        if (rnd(3) === 0) ws.send(JSON.stringify({ type: 'read', roomId: room, messageId: a.id }));
        if (rnd(5) === 0) ws.send(JSON.stringify({ type: 'edit', roomId: room, messageId: a.id, text: 'edited' }));
      }
    }
    if (rnd(3) === 0) ws.send(JSON.stringify({ type: 'history', roomId: room, limit: 20 }));
    if (rnd(2)) ws.send(JSON.stringify({ type: 'leave', roomId: room }));
    await sleep(rnd(200));
    if (rnd(3) === 0) ws.terminate(); else ws.close();
  });
}

let guest = null;
async function uploadChurn() {
  await guarded('upload', async () => {
    if (!guest) {
      const res = await fetch(`${BASE}/guests/checkin`, { method: 'POST', headers: { authorization: `Bearer ${T.owner}`, 'content-type': 'application/json' }, body: JSON.stringify({ propertyId: 1, name: 'Soak Guest' }) });
      guest = (await res.json()).guest;
    }
    const data = makeFile('pdf', 64 * 1024 + rnd(700 * 1024));
    let ws = await wsOpen('/v2/documents/upload/stream', T.owner);
    n.uploads++;
    ws.send(JSON.stringify({ type: 'start', documentType: 'passport', guestId: guest.id, propertyId: guest.propertyId, fileName: 's.pdf', size: data.length, mimeType: 'application/pdf', sha256: sha256(data) }));
    const ready = await ws.next((m) => m.type !== 'progress');
    if (ready.type !== 'ready') { ws.close(); await sleep(100); return; }
    let finished = false; // completed or cancelled: nothing left to clean up
    try {
    const fate = rnd(4);
    const cut = fate >= 2 ? rnd(data.length) : data.length;
    for (let o = 0; o < cut; o += 32 * 1024) await ws.sendAsync(chunkFrame(o, data.subarray(o, Math.min(o + 32 * 1024, cut))));
    if (fate === 2) { // cancel
      ws.send(JSON.stringify({ type: 'cancel', uploadId: ready.uploadId }));
      await ws.next((m) => m.type === 'cancelled' || m.type === 'error');
      n.cancelled++;
      finished = true;
      ws.close();
      return;
    }
    if (fate === 3) { // drop, then resume on a new connection
      ws.terminate();
      await sleep(50);
      ws = await wsOpen('/v2/documents/upload/stream', T.owner);
      let again;
      for (let k = 0; k < 50; k++) {
        ws.send(JSON.stringify({ type: 'resume', uploadId: ready.uploadId }));
        again = await ws.next((m) => m.type !== 'progress');
        if (again.code !== 'upload_busy') break;
        await sleep(50);
      }
      if (again.type !== 'ready') { ws.close(); return; }
      n.resumedUploads++;
      for (let o = again.offset; o < data.length; o += 32 * 1024) await ws.sendAsync(chunkFrame(o, data.subarray(o, Math.min(o + 32 * 1024, data.length))));
    }
    const done = await ws.next((m) => m.type === 'completed' || m.type === 'error', 20000);
    if (done.type === 'completed') {
      n.completed++;
      finished = true;
      // Delete it again so the soak does not fill the disk.
      await (await fetch(`${BASE}/v2/documents/${done.document.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${T.owner}` } })).arrayBuffer();
    }
    ws.close();
    } finally {
      // An upload left incomplete (a failed resume, an error) counts against the user's
      // BELLHOP_UPLOAD_MAX_ACTIVE until it expires: delete it, as a real client would give up.
      if (!finished) {
        ws.terminate();
        for (let k = 0; k < 20; k++) {
          const r = await fetch(`${BASE}/v2/documents/uploads/${ready.uploadId}`, { method: 'DELETE', headers: { authorization: `Bearer ${T.owner}`, 'tus-resumable': '1.0.0' } });
          await r.arrayBuffer();
          if (r.status !== 423) break; // 423: its writer is still letting go
          await sleep(50);
        }
      }
    }
  });
}

async function tusChurn() {
  const meta = (o) => Object.entries(o).map(([k, v]) => `${k} ${Buffer.from(String(v)).toString('base64')}`).join(',');
  await guarded('tus', async () => {
    if (!guest) { await sleep(100); return; }
    const data = makeFile('pdf', 10000 + rnd(200000));
    const h = { authorization: `Bearer ${T.owner}`, 'tus-resumable': '1.0.0' };
    const c = await fetch(`${BASE}/v2/documents/uploads/`, { method: 'POST', headers: { ...h, 'upload-length': String(data.length), 'upload-metadata': meta({ documentType: 'passport', guestId: guest.id, propertyId: guest.propertyId, fileName: 't.pdf' }) } });
    await c.arrayBuffer();
    const loc = c.headers.get('location');
    if (!loc) { await sleep(100); return; }
    n.tus++;
    const p = await fetch(`${BASE}${loc}`, { method: 'PATCH', headers: { ...h, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' }, body: data });
    await p.arrayBuffer();
    const id = p.headers.get('x-document-id');
    if (id) await (await fetch(`${BASE}/v2/documents/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${T.owner}` } })).arrayBuffer();
    else await (await fetch(`${BASE}${loc}`, { method: 'DELETE', headers: h })).arrayBuffer();
    await sleep(100);
  });
}

async function httpAndGarbage() {
  const junk = [
    'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    'GARBAGE\r\n\r\n',
    'GET /v2/realtime/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n',
    'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"a":',
  ];
  await guarded('http', async () => {
    const r = await fetch(`${BASE}/${['health', 'v2/realtime/metrics', 'tasks', 'guests', 'metrics'][rnd(5)]}`, { headers: { authorization: `Bearer ${T.owner}` } });
    await r.arrayBuffer();
    n.http++;
    await new Promise((res) => {
      const s = net.connect(PORT, '127.0.0.1', () => s.write(junk[rnd(junk.length)]));
      s.on('data', () => {});
      s.on('close', res);
      s.on('error', res);
      setTimeout(() => s.destroy(), 500 + rnd(1500)); // sometimes before the answer
    });
    n.bad++;
    await sleep(20);
  });
}

const report = setInterval(() => console.log(`soak ${Math.round((SECONDS * 1000 - (end - Date.now())) / 1000)}s ${JSON.stringify(n)}`), 10000);
await Promise.all([
  ...Array.from({ length: 8 }, streamChurn),
  publisher(),
  chatChurn(T.owner), chatChurn(T.manager), chatChurn(T.admin),
  uploadChurn(), uploadChurn(),
  tusChurn(),
  httpAndGarbage(), httpAndGarbage(),
]);
clearInterval(report);
console.log(`soak done ${JSON.stringify(n)}`);
const res = await fetch(`${BASE}/health`).catch(() => null);
if (!res || res.status !== 200) { console.error('soak: the server no longer answers /health'); process.exit(1); }
