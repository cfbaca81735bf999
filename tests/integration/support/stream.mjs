// Helpers for black-box tests of the unified realtime stream (GET /v2/realtime/stream).
//
//   const c = await openStream(srv, { token });          // resolves once the upgrade succeeded
//   const ack = await c.handshake(['finance']);           // sends it, waits for the first message
//   const m = await c.next((m) => m.type === 'events');   // first matching message, bounded wait
//   const evs = await c.takeEvents(3, { service: 'finance' });
//   const { code, reason } = await c.waitClose();
//   c.assertSeqs();                                       // seq 0, 1, 2, ... on every message so far
//
// Clients register themselves; call closeAll() in afterEach so no test leaks a connection.
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { waitFor } from './server.mjs';

export const STREAM_PATH = '/v2/realtime/stream';
export const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
export const EPOCH_RE = /^[0-9a-f]{16}$/;

const open = new Set();

export function streamUrl(srv, query = '') {
  return `ws://127.0.0.1:${srv.port}${STREAM_PATH}${query}`;
}

/** A WebSocket client that queues every JSON message it receives. */
export class StreamClient {
  constructor(ws) {
    this.ws = ws;
    this.all = []; // every message, parsed, in arrival order
    this.queue = []; // messages not yet taken by next()
    this.waiters = [];
    this.pings = 0;
    this.pingWaiters = [];
    this.seqErrors = [];
    this.nonJson = [];
    this.expectSeq = 0;
    this.closeInfo = null;
    this.closed = new Promise((res) => { this._resolveClosed = res; });
    ws.on('message', (data, isBinary) => this._onMessage(data, isBinary));
    ws.on('ping', () => {
      this.pings++;
      for (const w of this.pingWaiters.splice(0)) w();
    });
    ws.on('error', (err) => { this.error = err; });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: String(reason) };
      open.delete(this);
      this._resolveClosed(this.closeInfo);
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`connection closed (${code} ${String(reason)}) while waiting for ${w.what}; ` +
          `received: ${JSON.stringify(this.all).slice(-1500)}`));
      }
    });
    open.add(this);
  }

  _onMessage(data, isBinary) {
    let msg;
    try {
      msg = JSON.parse(String(data));
    } catch {
      this.nonJson.push({ data: String(data), isBinary });
      return;
    }
    this.all.push(msg);
    if (msg.seq !== this.expectSeq) this.seqErrors.push(`expected seq ${this.expectSeq}, got ${JSON.stringify(msg).slice(0, 200)}`);
    this.expectSeq = (Number.isInteger(msg.seq) ? msg.seq : this.expectSeq) + 1;
    const i = this.waiters.findIndex((w) => w.pred(msg));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(msg);
    } else {
      this.queue.push(msg);
    }
  }

  /** The first not-yet-taken message matching pred (it is taken); rejects after timeoutMs or on close. */
  next(pred = () => true, timeoutMs = 3000, what = 'a matching message') {
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.closeInfo) {
      return Promise.reject(new Error(`connection already closed (${this.closeInfo.code}) before ${what}; ` +
        `received: ${JSON.stringify(this.all).slice(-1500)}`));
    }
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, reject, what };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ` +
          `${JSON.stringify(this.all).slice(-1500)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  nextType(type, timeoutMs = 3000) {
    return this.next((m) => m.type === type, timeoutMs, `a "${type}" message`);
  }

  /** Takes "events" messages (of service, if given) until at least n events arrived; returns the events. */
  async takeEvents(n, { service, timeoutMs = 5000 } = {}) {
    const end = Date.now() + timeoutMs;
    const out = [];
    while (out.length < n) {
      const m = await this.next((x) => x.type === 'events' && (!service || x.service === service),
        Math.max(1, end - Date.now()), `${n} ${service || ''} events (have ${out.length})`);
      out.push(...m.events);
    }
    return out;
  }

  /** Waits until an event matching pred arrives (in an "events" message); returns that event. */
  async waitEvent(pred, timeoutMs = 5000, what = 'a matching event') {
    const m = await this.next((x) => x.type === 'events' && x.events.some(pred), timeoutMs, what);
    return m.events.find(pred);
  }

  /** Every event received so far (of service, if given), in arrival order. */
  events(service) {
    return this.all.filter((m) => m.type === 'events' && (!service || m.service === service))
      .flatMap((m) => m.events);
  }

  send(msg) {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  /** Sends a handshake and returns the first message (the ack, or an error). */
  async handshake(services, { resume, version = 1, extra = {}, timeoutMs = 3000 } = {}) {
    const h = { services, version, ...extra };
    if (resume) h.resume = resume;
    this.send(h);
    return this.next(() => true, timeoutMs, 'the handshake answer');
  }

  waitPing(timeoutMs = 3000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no WebSocket ping within ${timeoutMs} ms`)), timeoutMs);
      this.pingWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  async waitClose(timeoutMs = 3000) {
    let t;
    const timeout = new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`connection not closed within ${timeoutMs} ms; received: ` +
        `${JSON.stringify(this.all).slice(-1500)}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  assertSeqs() {
    assert.deepEqual(this.seqErrors, [], 'every server message carries the next seq (0, 1, 2, ...)');
    assert.deepEqual(this.nonJson, [], 'every server message is JSON');
  }

  close() {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    this.ws.close();
    return this.waitClose().catch(() => { this.ws.terminate(); });
  }
}

/**
 * Opens a stream connection. token goes in the Authorization header unless `via` is 'query' or
 * 'cookie' (or null for none). Rejects with err.status set when the upgrade is refused.
 */
export function openStream(srv, { token, via = 'header', headers = {}, origin, autoPong = true, query = '', timeoutMs = 5000 } = {}) {
  const h = { ...headers };
  let q = query;
  if (token && via === 'header') h.authorization = `Bearer ${token}`;
  if (token && via === 'cookie') h.cookie = `bellhop_token=${token}`;
  if (token && via === 'query') q = `${q ? `${q}&` : '?'}access_token=${encodeURIComponent(token)}`;
  const opts = { headers: h, autoPong, handshakeTimeout: timeoutMs };
  if (origin) opts.origin = origin;
  const ws = new WebSocket(streamUrl(srv, q), opts);
  const client = new StreamClient(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const err = new Error(`upgrade refused: HTTP ${res.statusCode} ${body}`);
        err.status = res.statusCode;
        err.headers = res.headers;
        err.body = body;
        try { err.json = JSON.parse(body); } catch { /* not JSON */ }
        req.destroy();
        open.delete(client);
        reject(err);
      });
    });
    ws.once('error', (err) => { open.delete(client); reject(err); });
  });
}

/** Resolves with the refusal of an upgrade (status, headers, body, json); fails if it was accepted. */
export async function upgradeRefusal(srv, opts) {
  let c;
  try {
    c = await openStream(srv, opts);
  } catch (err) {
    if (err.status) return err;
    throw err;
  }
  await c.close();
  assert.fail('the upgrade was accepted');
}

/** openStream + handshake; asserts the ack. */
export async function subscribed(srv, token, services, { resume, ...opts } = {}) {
  const c = await openStream(srv, { token, ...opts });
  const ack = await c.handshake(services, { resume });
  assert.equal(ack.type, 'ack', `handshake refused: ${JSON.stringify(ack)}`);
  return { c, ack };
}

export async function closeAll() {
  await Promise.all([...open].map((c) => c.close()));
}

/** A publisher with a service-role token: publish(body) asserts 201 and returns the answer. */
export function publisher(srv, { org = 1 } = {}) {
  const token = srv.token({ org, user: 900, role: 'service' });
  const publish = async (body) => {
    const res = await srv.fetch('/v2/realtime/publish', { method: 'POST', token, json: { orgId: org, type: 'revenue_created', service: 'finance', data: {}, ...body } });
    const text = await res.text();
    assert.equal(res.status, 201, `publish ${JSON.stringify(body).slice(0, 200)} -> ${res.status} ${text}`);
    return JSON.parse(text);
  };
  publish.token = token;
  return publish;
}

export async function metrics(srv, token) {
  const res = await srv.fetch('/v2/realtime/metrics', { token });
  assert.equal(res.status, 200);
  return res.json();
}

// ---------------------------------------------------------------- raw WebSocket, for exact bytes

/** A masked client frame (fin set unless fin === false). */
export function wsFrame(opcode, payload = Buffer.alloc(0), { fin = true, mask = true } = {}) {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = p.length;
  const head = [(fin ? 0x80 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 255);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), p]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = p[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

export function upgradeRequest(srv, { token, path = STREAM_PATH, headers = {} } = {}) {
  const h = {
    Host: `127.0.0.1:${srv.port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...(token ? { Authorization: `Bearer ${token}` } : {}),
    ...headers,
  };
  const lines = Object.entries(h).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}`);
  return Buffer.from(`GET ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
}

/**
 * A raw TCP client: writes `first` (bytes) on connect, parses the HTTP response head and then the
 * server's WebSocket frames: frames [{opcode, payload}], messages (parsed text frames), closeCode.
 */
export function rawStream(srv, first) {
  return new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const r = {
      socket: s, head: null, status: null, frames: [], messages: [], closeCode: null, ended: false,
      write: (b) => s.write(b),
      async waitFor(pred, timeout = 3000, what = 'condition') {
        return waitFor(() => pred(r), { timeout, what });
      },
      close: () => s.destroy(),
    };
    const parse = () => {
      if (r.head === null) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        r.head = buf.subarray(0, i).toString('latin1');
        r.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(r.head)?.[1]);
        buf = buf.subarray(i + 4);
        if (r.status !== 101) { r.body = buf.toString('utf8'); buf = Buffer.alloc(0); return; }
      }
      if (r.status !== 101) { r.body += buf.toString('utf8'); buf = Buffer.alloc(0); return; }
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1] & 127;
        let off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        if (buf.length < off + len) return;
        const opcode = buf[0] & 15;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        r.frames.push({ opcode, payload });
        if (opcode === 1) {
          try { r.messages.push(JSON.parse(payload.toString('utf8'))); } catch { r.messages.push(payload.toString('utf8')); }
        }
        if (opcode === 8) r.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      }
    };
    s.on('data', (d) => { buf = Buffer.concat([buf, d]); parse(); });
    s.on('end', () => { r.ended = true; });
    s.on('close', () => { r.ended = true; });
    s.on('error', () => { r.ended = true; });
    s.once('connect', () => { if (first) s.write(first); resolve(r); });
    s.once('error', reject);
  });
}
