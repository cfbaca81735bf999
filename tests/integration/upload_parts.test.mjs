// Big chunks on the upload stream taken in parts as they arrive: each binary frame (>= 64 KiB) is
// written to a raw socket in pieces, each read by the server before the next. Odd sizes at
// unaligned offsets complete byte for byte (also when the upload buffer fills mid-chunk); a wrong
// chunk is answered on its first part and the rest of it dropped; a connection cut mid-chunk keeps
// what arrived; uploads with BELLHOP_UPLOAD_DIRECT_IO on and off, with pause/resume and resumes
// at unaligned offsets, store the same bytes.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serverHasRead, rawConnect, waitFor } from './support/server.mjs';
import {
  UPLOAD_PATH, startUploadServer, makeFile, startMsg, download, sha256, chunkFrame,
} from './support/upload.mjs';

const MIB = 1024 * 1024;
const CHUNK = MIB + 7; // chunk data: offsets after the first are never 4 KiB-aligned
const SIZE = 3 * MIB + 12345;
let srv;
let owner;
let guest;

before(async () => {
  srv = await startUploadServer({ args: ['--demo', '--upload-ack-bytes', String(MIB)] });
  ({ owner, guest } = srv);
});
afterEach(() => { for (const c of RawUpload.open) c.close(); });
after(async () => { await srv?.stop(); });

/** A masked client frame; headerLen tells where its payload starts. */
function wsFrame(opcode, payload) {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const h = Buffer.alloc(2 + ext + 4);
  h[0] = 0x80 | opcode;
  if (ext === 0) h[1] = 0x80 | n;
  else if (ext === 2) { h[1] = 0x80 | 126; h.writeUInt16BE(n, 2); } else { h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(n), 2); }
  const mask = randomBytes(4);
  mask.copy(h, 2 + ext);
  const body = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) body[i] = payload[i] ^ mask[i & 3];
  return { bytes: Buffer.concat([h, body]), headerLen: h.length };
}

/** Bytes this side of a loopback connection has not had acknowledged (/proc/net/tcp tx_queue). */
function unacked(localPort) {
  const hex = `:${localPort.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const col = line.trim().split(/\s+/);
    if (col.length > 4 && col[3] === '01' && col[1].endsWith(hex)) return parseInt(col[4].split(':')[0], 16);
  }
  return 0;
}

/** The upload stream over a raw socket, so that a frame can be written in pieces. */
class RawUpload {
  static open = new Set();

  static async connect(server, token) {
    const c = await rawConnect(server.port);
    const key = randomBytes(16).toString('base64');
    c.write(`GET ${UPLOAD_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      `Authorization: Bearer ${token}\r\n\r\n`);
    await c.waitData(/\r\n\r\n/);
    const end = c.data.indexOf('\r\n\r\n');
    const head = c.data.slice(0, end);
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    assert.match(head, /^HTTP\/1\.1 101 /, head);
    assert.ok(head.toLowerCase().includes(`\r\nsec-websocket-accept: ${accept.toLowerCase()}`), head);
    return new RawUpload(server, c, end + 4);
  }

  constructor(server, c, pos) {
    this.server = server;
    this.c = c;
    this.pos = pos; // parse position in c.data (latin1)
    this.msgs = []; // parsed, not yet taken
    this.all = [];
    this.closeCode = null;
    RawUpload.open.add(this);
  }

  /** Parses the server frames received so far. */
  poll() {
    const d = this.c.data;
    for (;;) {
      if (d.length - this.pos < 2) return;
      const b0 = d.charCodeAt(this.pos);
      let len = d.charCodeAt(this.pos + 1) & 0x7f;
      let at = this.pos + 2;
      if (len === 126) {
        if (d.length - at < 2) return;
        len = Buffer.from(d.slice(at, at + 2), 'latin1').readUInt16BE(0);
        at += 2;
      } else if (len === 127) {
        if (d.length - at < 8) return;
        len = Number(Buffer.from(d.slice(at, at + 8), 'latin1').readBigUInt64BE(0));
        at += 8;
      }
      if (d.length - at < len) return;
      const payload = Buffer.from(d.slice(at, at + len), 'latin1');
      this.pos = at + len;
      const op = b0 & 0x0f;
      if (op === 1) {
        const m = JSON.parse(payload.toString('utf8'));
        this.msgs.push(m);
        this.all.push(m);
      } else if (op === 8) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      } else if (op === 9) {
        this.c.write(wsFrame(10, payload).bytes);
      } else if (op !== 10) {
        throw new Error(`unexpected server frame opcode ${op}`);
      }
    }
  }

  /** The next message matching pred; an unexpected error or the connection's end fails at once. */
  next(pred, what = 'a message', timeout = 10000) {
    return waitFor(() => {
      this.poll();
      const i = this.msgs.findIndex(pred);
      if (i >= 0) return this.msgs.splice(i, 1)[0];
      const err = this.msgs.find((m) => m.type === 'error');
      if (err || this.closeCode !== null || this.c.ended) {
        throw new Error(`waiting for ${what}: got ${JSON.stringify(this.all).slice(-800)}` +
          `${this.closeCode !== null ? `, close ${this.closeCode}` : ''}${this.c.ended ? ', connection ended' : ''}`);
      }
      return null;
    }, { timeout, what });
  }

  nextType(type, timeout) { return this.next((m) => m.type === type, `a "${type}" message`, timeout); }
  /** The next message that is not a progress report. */
  answer() { return this.next((m) => m.type !== 'progress', 'an answer'); }
  send(obj) { this.c.write(wsFrame(1, Buffer.from(JSON.stringify(obj))).bytes); }
  request(obj) { this.send(obj); return this.answer(); }

  /** request(), again while the answer is upload_busy (the previous connection lets go). */
  async requestRetry(obj, timeoutMs = 5000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const a = await this.request(obj);
      if (a.code !== 'upload_busy' || Date.now() > end) return a;
      this.msgs = [];
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves once the server has read every byte written so far (nothing queued on either side). */
  settled() {
    const s = this.c.socket;
    return waitFor(() => s.writableLength === 0 && unacked(s.localPort) === 0 && serverHasRead(this.server.port),
      { timeout: 15000, what: 'the server to read what was sent' });
  }

  /** Writes bytes[0..cuts[0]), [cuts[0]..cuts[1]), ... one piece at a time, each read by the
   * server before the next. */
  async writePieces(bytes, cuts) {
    let from = 0;
    for (const to of [...cuts, bytes.length]) {
      if (to <= from) continue;
      this.c.write(bytes.subarray(from, to));
      await this.settled();
      from = to;
    }
  }

  /** Sends data[from..to) as chunks of `chunk` bytes, each frame in at least three pieces, cut in
   * turn three ways: header + 100 bytes | middle | its last 1000 bytes with the next frame's
   * first piece; header + 100 | middle | rest; 5 bytes of header | header + 30 (short of a first
   * part) | middle | rest. */
  async sendChunks(data, from, to, chunk = CHUNK) {
    const frames = [];
    for (let o = from; o < to; o += chunk) frames.push(wsFrame(2, chunkFrame(o, data.subarray(o, Math.min(o + chunk, to)))));
    const bytes = Buffer.concat(frames.map((f) => f.bytes));
    const cuts = [];
    let s = 0;
    frames.forEach((f, i) => {
      const h = f.headerLen;
      const e = s + f.bytes.length;
      const mid = s + h + Math.floor((f.bytes.length - h) / 2) + 1;
      if (i % 3 === 0) cuts.push(s + h + 100, mid, i === frames.length - 1 ? e : e - 1000);
      else if (i % 3 === 1) cuts.push(s + h + 100, mid, e);
      else cuts.push(s + 5, s + h + 30, mid, e);
      s = e;
    });
    await this.writePieces(bytes, cuts);
  }

  close() { RawUpload.open.delete(this); this.c.close(); }
}

/** Asserts the document holds exactly data. */
async function assertStored(server, done, data) {
  assert.equal(done.type, 'completed', JSON.stringify(done));
  assert.equal(done.document.size, data.length);
  assert.equal(done.document.sha256, sha256(data));
  const d = await download(server, server.owner, done.document.id);
  assert.equal(d.status, 200);
  assert.equal(d.body.length, data.length);
  assert.ok(d.body.equals(data), 'the download returns the bytes uploaded');
}

/** Bytes of the file in the page cache (fincore), and whether its filesystem is tmpfs (memory). */
function cached(path) {
  const tmpfs = execFileSync('stat', ['-f', '-c', '%T', path], { encoding: 'utf8' }).trim() === 'tmpfs';
  return { res: Number(execFileSync('fincore', ['-b', '-n', '-o', 'RES', path], { encoding: 'utf8' }).trim()), tmpfs };
}

test('big chunks of odd sizes at unaligned offsets, each arriving in pieces, complete byte for byte', async () => {
  const data = makeFile('pdf', SIZE);
  const c = await RawUpload.connect(srv, owner);
  const ready = await c.request(startMsg(guest, data, { sha256: sha256(data) }));
  assert.equal(ready.type, 'ready', JSON.stringify(ready));
  await c.sendChunks(data, 0, data.length);
  await assertStored(srv, await c.nextType('completed'), data);
  assert.deepEqual(c.all.filter((m) => !['ready', 'progress', 'completed'].includes(m.type)), []);

  // The same with a 64 KiB upload buffer: the server stops reading in the middle of a part.
  const tight = await startUploadServer({ args: ['--demo', '--upload-buffer', String(64 * 1024)] });
  try {
    const c2 = await RawUpload.connect(tight, tight.owner);
    assert.equal((await c2.request(startMsg(tight.guest, data, { sha256: sha256(data) }))).type, 'ready');
    await c2.sendChunks(data, 0, data.length);
    await assertStored(tight, await c2.nextType('completed'), data);
    c2.close();
  } finally {
    await tight.stop();
  }
});

test('a big chunk that is refused is answered on its first part; the rest of it is dropped', async () => {
  const data = makeFile('pdf', 2 * MIB + 333);
  const c = await RawUpload.connect(srv, owner);
  const ready = await c.request(startMsg(guest, data, { sha256: sha256(data) }));
  assert.equal(ready.type, 'ready', JSON.stringify(ready));
  const at = 700001;
  await c.sendChunks(data, 0, at, at);

  const garbage = randomBytes(200000);
  const cases = [
    { why: 'overlap', offset: at - 4093, data: garbage, code: 'offset_mismatch' },
    { why: 'gap', offset: at + 10, data: garbage, code: 'offset_mismatch' },
    { why: 'negative', offset: -1, data: garbage, code: 'invalid_offset' },
    { why: 'past the size', offset: at, data: randomBytes(data.length - at + 1), code: 'too_large' },
    { why: 'paused', offset: at, data: data.subarray(at, at + 200000), code: 'paused', paused: true },
  ];
  for (const k of cases) {
    if (k.paused) assert.equal((await c.request({ type: 'pause' })).offset, at);
    const f = wsFrame(2, chunkFrame(k.offset, k.data));
    // The first part alone brings the answer: the server checks the chunk before the rest comes.
    await c.writePieces(f.bytes.subarray(0, f.headerLen + 100), []);
    const err = await c.next((m) => m.type === 'error', `the ${k.code} error (${k.why})`);
    assert.equal(err.code, k.code, `${k.why}: ${JSON.stringify(err)}`);
    if (k.code !== 'paused') assert.equal(err.expectedOffset, at, `${k.why}: ${JSON.stringify(err)}`);
    // The rest is read and dropped: no answer, no close, nothing taken.
    await c.writePieces(f.bytes.subarray(f.headerLen + 100), [150001]);
    const st = await c.request(k.paused ? { type: 'resume' } : { type: 'pause' });
    assert.deepEqual([st.type, st.offset], [k.paused ? 'resumed' : 'paused', at], `${k.why}: ${JSON.stringify(c.all.slice(-3))}`);
    if (!k.paused) assert.equal((await c.request({ type: 'resume' })).type, 'resumed');
  }
  assert.equal(c.c.ended, false);
  await c.sendChunks(data, at, data.length);
  await assertStored(srv, await c.nextType('completed'), data);
});

test('a connection cut in the middle of a big chunk keeps what arrived; a resume continues from there', async () => {
  const data = makeFile('pdf', SIZE);
  const c1 = await RawUpload.connect(srv, owner);
  const ready = await c1.request(startMsg(guest, data, { sha256: sha256(data) }));
  assert.equal(ready.type, 'ready', JSON.stringify(ready));
  await c1.sendChunks(data, 0, CHUNK);
  const f = wsFrame(2, chunkFrame(CHUNK, data.subarray(CHUNK, 2 * CHUNK)));
  const cut = f.headerLen + 100 + 400001;
  await c1.writePieces(f.bytes.subarray(0, cut), [f.headerLen + 100]);
  c1.close();
  const received = CHUNK + cut - f.headerLen - 8; // the chunk's data the server has read

  const c2 = await RawUpload.connect(srv, owner);
  const again = await c2.requestRetry({ type: 'resume', uploadId: ready.uploadId });
  assert.equal(again.type, 'ready', JSON.stringify(again));
  assert.ok(again.offset >= CHUNK && again.offset <= received, `resume offset ${again.offset}`);
  assert.equal(again.offset, received, 'every byte of the cut chunk that the server read is kept');
  await c2.sendChunks(data, again.offset, data.length);
  await assertStored(srv, await c2.nextType('completed'), data);
});

test('with and without O_DIRECT, an upload paused and resumed at unaligned offsets stores the same bytes', async () => {
  const data = makeFile('pdf', SIZE);
  const plain = await startUploadServer({ args: ['--demo', '--upload-ack-bytes', String(MIB)], env: { BELLHOP_UPLOAD_DIRECT_IO: 'false' } });
  const direct = srv; // the default: on
  try {
    const docs = [];
    for (const s of [plain, direct]) {
      const c = await RawUpload.connect(s, s.owner);
      const ready = await c.request(startMsg(s.guest, data, { sha256: sha256(data) }));
      assert.equal(ready.type, 'ready', JSON.stringify(ready));
      await c.sendChunks(data, 0, CHUNK);
      const paused = await c.request({ type: 'pause' });
      assert.deepEqual([paused.type, paused.offset], ['paused', CHUNK]);
      assert.deepEqual([(await c.request({ type: 'resume' })).offset], [CHUNK]);
      await c.sendChunks(data, CHUNK, data.length);
      const done = await c.nextType('completed');
      // Before any read-back: page-cache writes leave the whole file cached; O_DIRECT writes of
      // the aligned middles leave at least part of it out (unless the disk is memory).
      const file = cached(join(s.dataDir, 'documents', '1', done.uploadId));
      if (s === plain) assert.equal(file.res, Math.ceil(data.length / 4096) * 4096, 'direct I/O off: all written through the page cache');
      else if (!file.tmpfs) assert.ok(file.res < data.length, `direct I/O on: ${file.res} of ${data.length} bytes went through the page cache`);
      await assertStored(s, done, data);
      docs.push(done.document.sha256);
      c.close();
    }
    assert.deepEqual(docs, [sha256(data), sha256(data)]);

    // A new connection resumes the direct server's upload at an odd offset (after a whole
    // chunk of odd length), then at another one, mid-chunk.
    const c1 = await RawUpload.connect(direct, direct.owner);
    const ready = await c1.request(startMsg(direct.guest, data, { sha256: sha256(data) }));
    const first = MIB + 4099;
    await c1.sendChunks(data, 0, first, first);
    c1.close();
    const c2 = await RawUpload.connect(direct, direct.owner);
    const r2 = await c2.requestRetry({ type: 'resume', uploadId: ready.uploadId });
    assert.deepEqual([r2.type, r2.offset], ['ready', first], JSON.stringify(r2));
    const f = wsFrame(2, chunkFrame(first, data.subarray(first, first + CHUNK)));
    const cut = f.headerLen + 100 + 654321;
    await c2.writePieces(f.bytes.subarray(0, cut), [f.headerLen + 100]);
    c2.close();
    const c3 = await RawUpload.connect(direct, direct.owner);
    const r3 = await c3.requestRetry({ type: 'resume', uploadId: ready.uploadId });
    assert.deepEqual([r3.type, r3.offset], ['ready', first + cut - f.headerLen - 8], JSON.stringify(r3));
    await c3.sendChunks(data, r3.offset, data.length);
    await assertStored(direct, await c3.nextType('completed'), data);
  } finally {
    await plain.stop();
  }
});
