// Helpers for black-box tests of guest document uploads: the WebSocket upload stream
// (GET /v2/documents/upload/stream), tus (/v2/documents/uploads/) and the documents API.
//
//   const guest = await checkinGuest(srv, token, { propertyId: 1 });
//   const c = await openUpload(srv, { token });
//   const ready = await c.request({ type: 'start', documentType: 'passport', ... });
//   await c.sendChunks(bytes, ready.offset, { chunk: 256 * 1024 });
//   const done = await c.nextType('completed');
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { startServer } from './server.mjs';

export const UPLOAD_PATH = '/v2/documents/upload/stream';
export const TUS_PATH = '/v2/documents/uploads/';
const open = new Set();

export const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** Bytes of a file of the given kind: its magic number, then size - magic pseudo-random bytes. */
export function makeFile(kind, size) {
  const magic = {
    pdf: Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'),
    png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]),
    heic: Buffer.from([0, 0, 0, 24, ...Buffer.from('ftypheic'), 0, 0, 0, 0, ...Buffer.from('mif1heic')]),
    exe: Buffer.from('MZ\x90\x00', 'latin1'),
  }[kind];
  if (kind === 'csv') {
    const lines = ['id,name,room'];
    let n = lines[0].length + 1;
    for (let i = 1; n < size; i++) { const l = `${i},Guest ${i},${100 + (i % 400)}`; lines.push(l); n += l.length + 1; }
    return Buffer.from(lines.join('\n') + '\n').subarray(0, size);
  }
  if (kind === 'xlsx') return makeXlsx();
  assert.ok(magic, `unknown kind ${kind}`);
  const b = Buffer.alloc(Math.max(size, magic.length));
  // Pseudo-random but cheap: random 64 KiB repeated with a counter, so big files are fast to make.
  const block = randomBytes(65536);
  for (let o = 0; o < b.length; o += 65536) { block.copy(b, o); if (o + 4 <= b.length) b.writeUInt32LE(o >>> 16, o); }
  magic.copy(b, 0);
  return b;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; t[n] = c >>> 0; }
  return t;
})();
function crc32(b) { let c = 0xffffffff; for (const x of b) c = CRC_TABLE[(c ^ x) & 255] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; }

/** A minimal real XLSX (stored ZIP with the parts Excel needs to name a workbook). */
export function makeXlsx(files = {
  '[Content_Types].xml': '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
  '_rels/.rels': '<?xml version="1.0"?><Relationships/>',
  'xl/workbook.xml': '<?xml version="1.0"?><workbook/>',
}) {
  const locals = []; const central = []; let off = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text); const nm = Buffer.from(name); const crc = crc32(data);
    const lh = Buffer.alloc(30); lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4);
    lh.writeUInt32LE(crc, 14); lh.writeUInt32LE(data.length, 18); lh.writeUInt32LE(data.length, 22); lh.writeUInt16LE(nm.length, 26);
    locals.push(lh, nm, data);
    const ch = Buffer.alloc(46); ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6);
    ch.writeUInt32LE(crc, 16); ch.writeUInt32LE(data.length, 20); ch.writeUInt32LE(data.length, 24); ch.writeUInt16LE(nm.length, 28); ch.writeUInt32LE(off, 42);
    central.push(ch, nm);
    off += 30 + nm.length + data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22); end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(central.length / 2, 8); end.writeUInt16LE(central.length / 2, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Checks a guest in (POST /guests/checkin) and returns it. */
/** Starts a server with a checked-in guest: server.owner (an owner's token), server.guest. */
export async function startUploadServer(opts) {
  const s = await startServer(opts);
  s.owner = s.token({ org: 1, user: 1, role: 'owner' });
  s.guest = await checkinGuest(s, s.owner);
  return s;
}

export async function checkinGuest(srv, token, { propertyId = 1, name = 'Document Guest' } = {}) {
  const res = await srv.fetch('/guests/checkin', { method: 'POST', token, json: { propertyId, name } });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.guest;
}

/** A binary chunk message: 8-byte big-endian offset, then the data. */
export function chunkFrame(offset, data) {
  const h = Buffer.alloc(8);
  h.writeBigInt64BE(BigInt(offset));
  return Buffer.concat([h, data]);
}

export class UploadClient {
  constructor(ws) {
    this.ws = ws;
    this.all = [];
    this.queue = [];
    this.waiters = [];
    this.closeInfo = null;
    this.closed = new Promise((res) => { this._closed = res; });
    ws.on('message', (data, isBinary) => {
      const m = isBinary ? { binary: data } : JSON.parse(String(data));
      this.all.push(m);
      const i = this.waiters.findIndex((w) => w.pred(m));
      if (i >= 0) { const [w] = this.waiters.splice(i, 1); clearTimeout(w.timer); w.resolve(m); } else this.queue.push(m);
    });
    ws.on('error', (e) => { this.error = e; });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: String(reason) };
      open.delete(this);
      this._closed(this.closeInfo);
      for (const w of this.waiters.splice(0)) { clearTimeout(w.timer); w.reject(new Error(`closed (${code}) while waiting for ${w.what}; got ${JSON.stringify(this.all).slice(-800)}`)); }
    });
    open.add(this);
  }

  next(pred = () => true, timeoutMs = 10000, what = 'a message') {
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.closeInfo) return Promise.reject(new Error(`closed (${this.closeInfo.code}) before ${what}; got ${JSON.stringify(this.all).slice(-800)}`));
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, reject, what };
      w.timer = setTimeout(() => { this.waiters.splice(this.waiters.indexOf(w), 1); reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.all).slice(-800)}`)); }, timeoutMs);
      this.waiters.push(w);
    });
  }

  nextType(type, timeoutMs) { return this.next((m) => m.type === type, timeoutMs, `a "${type}" message`); }
  /** The next message that is not a progress report. */
  answer(timeoutMs) { return this.next((m) => m.type !== 'progress', timeoutMs, 'an answer'); }
  send(msg) { this.ws.send(Buffer.isBuffer(msg) ? msg : JSON.stringify(msg)); }
  async request(msg, timeoutMs) { this.send(msg); return this.answer(timeoutMs); }
  /** request(), again while the answer is upload_busy (the previous connection's writer is still letting go). */
  async requestRetry(msg, timeoutMs = 5000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const a = await this.request(msg);
      if (a.code !== 'upload_busy' || Date.now() > end) return a;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends data[from..to) in chunks, each as its own binary message (waiting for the socket to drain). */
  async sendChunks(data, from, { chunk = 256 * 1024, to = data.length } = {}) {
    for (let o = from; o < to; o += chunk) {
      const end = Math.min(o + chunk, to);
      await new Promise((res, rej) => this.ws.send(chunkFrame(o, data.subarray(o, end)), (e) => (e ? rej(e) : res())));
    }
  }

  waitClose(timeoutMs = 5000) {
    let t;
    return Promise.race([this.closed, new Promise((_, rej) => { t = setTimeout(() => rej(new Error('not closed')), timeoutMs); })]).finally(() => clearTimeout(t));
  }

  close() {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    this.ws.close();
    return this.waitClose().catch(() => this.ws.terminate());
  }
  /** Drops the TCP connection without a close frame (a crash or a network cut). */
  kill() { this.ws.terminate(); return this.closed; }
}

/** Opens the upload stream; rejects with err.status when the upgrade is refused. */
export function openUpload(srv, { token, query = '' } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}${UPLOAD_PATH}${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const c = new UploadClient(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(c));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => { const e = new Error(`upgrade refused: ${res.statusCode} ${body}`); e.status = res.statusCode; try { e.json = JSON.parse(body); } catch { /* */ } open.delete(c); reject(e); });
    });
    ws.once('error', (e) => { open.delete(c); reject(e); });
  });
}

export async function closeUploads() { await Promise.all([...open].map((c) => c.close())); }

/** GET a document's content: { status, headers, body (Buffer) }. */
export async function download(srv, token, id) {
  const res = await srv.fetch(`/v2/documents/${id}/content`, { token });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Start metadata for a guest. */
export function startMsg(guest, data, extra = {}) {
  return { type: 'start', documentType: 'passport', guestId: guest.id, propertyId: guest.propertyId, fileName: 'passport.pdf', size: data.length, mimeType: 'application/pdf', ...extra };
}
