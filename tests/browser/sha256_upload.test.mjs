// Unit tests of web/lib/sha256.js (against node:crypto) and of the upload client's framing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Blob } from 'node:buffer';
import { Sha256, sha256Hex, sha256Blob } from '../../web/lib/sha256.js';
import { DocumentUpload } from '../../web/lib/upload.js';
import { FakeClock, fakeWebSocketClass, MemoryStorage, flush } from './support/fakes.mjs';

const ref = (b) => createHash('sha256').update(b).digest('hex');

test('sha256: known answers and every length around the block boundaries', () => {
  assert.equal(sha256Hex(new Uint8Array(0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(sha256Hex(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  for (let n = 0; n <= 200; n++) {
    const b = randomBytes(n);
    assert.equal(sha256Hex(b), ref(b), `length ${n}`);
  }
});

test('sha256: incremental updates in every split give the one-shot digest', () => {
  const b = randomBytes(1000);
  for (const step of [1, 3, 63, 64, 65, 127, 999]) {
    const h = new Sha256();
    for (let i = 0; i < b.length; i += step) h.update(b.subarray(i, i + step));
    assert.equal(h.hex(), ref(b), `step ${step}`);
  }
  const h = new Sha256();
  h.digest();
  assert.throws(() => h.update(new Uint8Array(1)), /after digest/);
  assert.throws(() => new Sha256().update('text'), TypeError);
});

test('sha256Blob hashes a Blob slice by slice', async () => {
  const b = randomBytes(3 * 1024 * 1024 + 17);
  const seen = [];
  assert.equal(await sha256Blob(new Blob([b]), { chunkSize: 1 << 20, onProgress: (n) => seen.push(n) }), ref(b));
  assert.deepEqual(seen, [1 << 20, 2 << 20, 3 << 20, b.length]);
});

test('upload: validates, sends start with the SHA-256, frames chunks with their offset, remembers the upload', async () => {
  const base = { baseUrl: 'http://127.0.0.1:1', token: 't', documentType: 'passport', guestId: 1, propertyId: 1 };
  assert.throws(() => new DocumentUpload({ ...base, file: new Blob([]) }), /file/);
  assert.throws(() => new DocumentUpload({ ...base, file: new Blob(['x']), documentType: 'x' }), /documentType/);
  assert.throws(() => new DocumentUpload({ ...base, file: new Blob(['x']), guestId: 0 }), /guestId/);
  assert.throws(() => new DocumentUpload({ ...base, file: new Blob(['x']), chunkSize: 5 << 20 }), /chunkSize/);
  const clock = new FakeClock();
  const WS = fakeWebSocketClass();
  const storage = new MemoryStorage();
  const bytes = randomBytes(2500);
  const progress = [];
  const up = new DocumentUpload({ ...base, file: new Blob([bytes]), fileName: 'p.pdf', mimeType: 'application/pdf', chunkSize: 1000, documentNumber: 'K1234567',
    WebSocket: WS, timers: clock, storage, onProgress: (p, info) => { if (info.phase === 'upload') progress.push(p); } });
  const done = up.start();
  await flush();
  const ws = WS.last();
  ws.open();
  assert.deepEqual(ws.sent[0], { type: 'start', documentType: 'passport', guestId: 1, propertyId: 1, fileName: 'p.pdf',
    mimeType: 'application/pdf', documentNumber: 'K1234567', size: 2500, sha256: ref(bytes) });
  const id = 'a'.repeat(32);
  ws.serverSend({ type: 'ready', uploadId: id, offset: 0, size: 2500, percent: 0 });
  await flush();
  assert.equal(DocumentUpload.pending(storage)[0].uploadId, id, 'remembered for a reload');
  assert.ok(![...storage.m.values()].join('').includes('K1234567'), 'never the document number');
  const chunks = ws.sent.slice(1);
  assert.equal(chunks.length, 3);
  const offsets = chunks.map((c) => Number(new DataView(c.buffer, c.byteOffset).getBigUint64(0)));
  assert.deepEqual(offsets, [0, 1000, 2000]);
  assert.deepEqual(Buffer.concat(chunks.map((c) => Buffer.from(c.subarray(8)))), bytes);
  ws.serverSend({ type: 'completed', uploadId: id, document: { id: 17, sha256: ref(bytes) } });
  assert.equal((await done).id, 17);
  assert.equal(progress.at(-1), 100);
  assert.deepEqual(DocumentUpload.pending(storage), [], 'forgotten once complete');
});

test('upload: a remembered upload resumes from the server offset, and refuses another file', async () => {
  const WS = fakeWebSocketClass();
  const clock = new FakeClock();
  const bytes = randomBytes(3000);
  const base = { baseUrl: 'http://127.0.0.1:1', token: 't', documentType: 'passport', guestId: 1, propertyId: 1, WebSocket: WS, timers: clock, chunkSize: 1000 };
  const other = new DocumentUpload({ ...base, file: new Blob([randomBytes(3000)]), uploadId: 'b'.repeat(32), sha256: ref(bytes) });
  await assert.rejects(other.start(), /not the file/);
  const up = new DocumentUpload({ ...base, file: new Blob([bytes]), uploadId: 'b'.repeat(32), sha256: ref(bytes) });
  const done = up.start();
  await flush();
  const ws = WS.last();
  ws.open();
  assert.deepEqual(ws.sent[0], { type: 'resume', uploadId: 'b'.repeat(32) });
  ws.serverSend({ type: 'ready', uploadId: 'b'.repeat(32), offset: 2000, size: 3000 });
  await flush();
  const offs = ws.sent.slice(1).map((c) => Number(new DataView(c.buffer, c.byteOffset).getBigUint64(0)));
  assert.deepEqual(offs, [2000]);
  ws.serverSend({ type: 'completed', uploadId: 'b'.repeat(32), document: { id: 2 } });
  assert.equal((await done).id, 2);
});
