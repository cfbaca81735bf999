// The WebSocket upload stream (GET /v2/documents/upload/stream) with a real `ws` client: chunked
// upload with progress, pause and resume on the same connection, a resume on a new connection
// from the server's durable offset, cancel, the event on the guest stream, downloads byte for
// byte, a kill -9 mid-upload, and expiry.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor } from './support/server.mjs';
import { subscribed, closeAll } from './support/stream.mjs';
import {
  openUpload, startUploadServer, checkinGuest, makeFile, startMsg, download, sha256, closeUploads, chunkFrame,
} from './support/upload.mjs';

const MIB = 1024 * 1024;
let srv;
let owner;
let guest;

before(async () => {
  srv = await startUploadServer({ args: ['--demo', '--upload-ack-bytes', String(MIB)] });
  ({ owner, guest } = srv);
});
afterEach(async () => { await closeUploads(); await closeAll(); });
after(async () => { await srv?.stop(); });

const partials = (s = srv) => {
  const d = join(s.dataDir, 'uploads', 'partial');
  return existsSync(d) ? readdirSync(d) : [];
};

test('a multi-megabyte upload in chunks, paused, dropped, resumed on a new connection, completes byte for byte', async () => {
  const data = makeFile('pdf', 6 * MIB + 12345);
  const c1 = await openUpload(srv, { token: owner });
  const ready = await c1.request(startMsg(guest, data, { sha256: sha256(data), fileName: 'Passport scan.pdf' }));
  assert.equal(ready.type, 'ready', JSON.stringify(ready));
  assert.match(ready.uploadId, /^[0-9a-f]{32}$/);
  assert.equal(ready.offset, 0);
  assert.equal(ready.size, data.length);

  // First 2.5 MiB, then pause: the answer carries the durable offset, which is all of it.
  const first = 2.5 * MIB;
  await c1.sendChunks(data, 0, { chunk: 256 * 1024, to: first });
  const paused = await c1.request({ type: 'pause' });
  assert.equal(paused.type, 'paused', JSON.stringify(paused));
  assert.equal(paused.offset, first);
  // Progress came at the cadence (a sync whenever a write crosses a MiB), increasing, with a
  // percentage. Writes coalesce what arrived meanwhile, so offsets are not exact multiples.
  const progress = c1.all.filter((m) => m.type === 'progress');
  assert.ok(progress.length >= 1 && progress.length <= 2, JSON.stringify(progress));
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].offset > progress[i - 1].offset);
  assert.ok(progress.at(-1).offset >= 2 * MIB && progress.at(-1).offset <= first);
  const p0 = progress[0];
  assert.equal(p0.percent, Math.floor((p0.offset * 1000) / data.length) / 10);
  // A chunk while paused is refused and changes nothing.
  c1.send(chunkFrame(first, data.subarray(first, first + 1000)));
  assert.equal((await c1.answer()).code, 'paused');
  // Resume on the same connection, a little more, then drop the connection without a goodbye.
  assert.equal((await c1.request({ type: 'resume' })).type, 'resumed');
  await c1.sendChunks(data, first, { chunk: 256 * 1024, to: 3 * MIB });
  await c1.kill();

  // A new connection resumes from what the server holds on disk.
  const c2 = await openUpload(srv, { token: owner });
  const again = await c2.requestRetry({ type: 'resume', uploadId: ready.uploadId });
  assert.equal(again.type, 'ready', JSON.stringify(again));
  assert.ok(again.offset >= first && again.offset <= 3 * MIB, `resume offset ${again.offset}`);
  await c2.sendChunks(data, again.offset, { chunk: 300 * 1000 });
  const done = await c2.nextType('completed');
  assert.equal(done.uploadId, ready.uploadId);
  assert.equal(done.document.sha256, sha256(data));
  assert.equal(done.document.mimeType, 'application/pdf');
  assert.equal(done.document.fileName, 'Passport scan.pdf');
  assert.equal(done.document.guestId, guest.id);

  const d = await download(srv, owner, done.document.id);
  assert.equal(d.status, 200);
  assert.equal(d.headers.get('content-type'), 'application/pdf');
  assert.equal(d.headers.get('content-disposition'), 'attachment; filename="Passport scan.pdf"; filename*=UTF-8\'\'Passport%20scan.pdf');
  assert.equal(Number(d.headers.get('content-length')), data.length);
  assert.equal(sha256(d.body), sha256(data));
  assert.deepEqual(partials(), [], 'no partial file is left');
  assert.ok(existsSync(join(srv.dataDir, 'documents', '1', ready.uploadId)), 'stored under documents/<org>/<uploadId>');
  // A completed upload cannot be resumed again.
  const c3 = await openUpload(srv, { token: owner });
  const late = await c3.request({ type: 'resume', uploadId: ready.uploadId });
  assert.equal(late.code, 'already_completed');
});

test('the completion publishes guest/document_uploaded on the realtime stream', async () => {
  const { c: stream } = await subscribed(srv, owner, ['guest']);
  const data = makeFile('jpeg', 200 * 1000);
  const c = await openUpload(srv, { token: owner });
  const ready = await c.request(startMsg(guest, data, { documentType: 'image', fileName: 'face.jpg', mimeType: 'image/jpeg' }));
  await c.sendChunks(data, 0, { chunk: 64 * 1024 });
  const done = await c.nextType('completed');
  const ev = await stream.waitEvent((e) => e.type === 'document_uploaded');
  assert.equal(ev.service, 'guest');
  assert.equal(ev.propertyId, guest.propertyId);
  assert.equal(ev.data.id, done.document.id);
  assert.equal(ev.data.sha256, sha256(data));
  assert.equal(ready.uploadId, done.uploadId);
});

test('document numbers are validated and only ever shown masked', async () => {
  const data = makeFile('png', 5000);
  const c = await openUpload(srv, { token: owner });
  const ready = await c.request(startMsg(guest, data, { documentType: 'aadhaar', fileName: 'a.png', mimeType: 'image/png', documentNumber: '2345 6789 0124' }));
  assert.equal(ready.type, 'ready', JSON.stringify(ready));
  await c.sendChunks(data, 0);
  const done = await c.nextType('completed');
  assert.equal(done.document.documentNumber, 'XXXXXXXX0124');
  const got = await (await srv.fetch(`/v2/documents/${done.document.id}`, { token: owner })).json();
  assert.equal(got.document.documentNumber, 'XXXXXXXX0124');
  assert.ok(!srv.stderr.includes('234567890124') && !srv.stderr.includes('2345 6789 0124'), 'never logged');
  const pan = await c.request(startMsg(guest, data, { documentType: 'pan_card', fileName: 'p.png', mimeType: 'image/png', documentNumber: 'abcpe1234f' }));
  assert.equal(pan.type, 'ready');
  await c.sendChunks(data, 0);
  assert.equal((await c.nextType('completed')).document.documentNumber, 'XXXXXX234F');
});

test('cancel deletes the partial data; the id is then unknown', async () => {
  const data = makeFile('pdf', 2 * MIB);
  const c = await openUpload(srv, { token: owner });
  const ready = await c.request(startMsg(guest, data));
  await c.sendChunks(data, 0, { to: MIB });
  assert.ok(partials().includes(ready.uploadId));
  const gone = await c.request({ type: 'cancel' });
  assert.deepEqual([gone.type, gone.uploadId], ['cancelled', ready.uploadId]);
  assert.ok(!partials().includes(ready.uploadId));
  const r = await c.request({ type: 'resume', uploadId: ready.uploadId });
  assert.equal(r.code, 'not_found');
  // And a cancel by id, from a connection that never had the upload.
  const other = await c.request(startMsg(guest, data));
  await c.sendChunks(data, 0, { to: 1000 });
  await c.request({ type: 'pause' });
  const c2 = await openUpload(srv, { token: owner });
  const busy = await c2.request({ type: 'cancel', uploadId: other.uploadId });
  assert.equal(busy.code, 'upload_busy', 'another connection holds it');
  await c.close();
  await waitFor(async () => (await c2.request({ type: 'cancel', uploadId: other.uploadId })).type === 'cancelled', { what: 'the cancel' });
  assert.ok(!partials().includes(other.uploadId));
});

test('kill -9 mid-upload: after the restart the upload resumes from the durable offset and loses nothing', async () => {
  const s1 = await startServer({ args: ['--demo', '--upload-ack-bytes', String(MIB)] });
  const dataDir = s1.dataDir;
  let s2;
  try {
    const token = s1.token({ org: 1, user: 1, role: 'owner' });
    const g = await checkinGuest(s1, token);
    const data = makeFile('pdf', 5 * MIB + 3);
    const c = await openUpload(s1, { token });
    const ready = await c.request(startMsg(g, data, { sha256: sha256(data) }));
    await c.sendChunks(data, 0, { chunk: 128 * 1024, to: 3 * MIB + 5000 });
    const acked = await c.next((m) => m.type === 'progress' && m.offset >= 2 * MIB);
    await s1.kill();
    s2 = await startServer({ dataDir, args: ['--upload-ack-bytes', String(MIB)] });
    const c2 = await openUpload(s2, { token });
    const again = await c2.requestRetry({ type: 'resume', uploadId: ready.uploadId });
    assert.equal(again.type, 'ready', JSON.stringify(again));
    assert.ok(again.offset >= acked.offset, `durable ${acked.offset} was acknowledged, resumed at ${again.offset}`);
    await c2.sendChunks(data, again.offset, { chunk: 200 * 1000 });
    const done = await c2.nextType('completed');
    assert.equal(done.document.sha256, sha256(data));
    const d = await download(s2, token, done.document.id);
    assert.equal(sha256(d.body), sha256(data));
    await closeUploads();
  } finally {
    await s1.kill();
    await s2?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('incomplete uploads expire: the sweep deletes the row and the partial file', async () => {
  const s = await startServer({ args: ['--demo', '--upload-expiry', '1', '--upload-sweep-interval', '100'] });
  try {
    const token = s.token({ org: 1, user: 1, role: 'owner' });
    const g = await checkinGuest(s, token);
    const data = makeFile('pdf', 100000);
    const c = await openUpload(s, { token });
    const ready = await c.request(startMsg(g, data));
    assert.ok(Date.parse(ready.expiresAt) - Date.now() <= 1500);
    await c.sendChunks(data, 0, { to: 5000 });
    await c.close();
    await waitFor(() => !partials(s).includes(ready.uploadId), { timeout: 8000, what: 'the partial file to be swept' });
    // The sweep unlinks the file, then deletes the row and lets go of the upload: until then a
    // resume is told upload_busy ("retry"), which a slower store (PostgreSQL) makes visible.
    const c2 = await openUpload(s, { token });
    assert.equal((await c2.requestRetry({ type: 'resume', uploadId: ready.uploadId })).code, 'not_found');
    await closeUploads();
  } finally {
    await s.stop();
  }
});

test('several uploads at once (over both workers) each complete byte for byte', async () => {
  const jobs = [];
  for (let i = 0; i < 5; i++) {
    jobs.push((async () => {
      const data = makeFile(i % 2 ? 'png' : 'pdf', MIB + i * 77777);
      const c = await openUpload(srv, { token: owner });
      const extra = i % 2 ? { documentType: 'image', mimeType: 'image/png', fileName: `p${i}.png` } : { fileName: `d${i}.pdf` };
      const ready = await c.request(startMsg(guest, data, { ...extra, sha256: sha256(data) }));
      assert.equal(ready.type, 'ready', JSON.stringify(ready));
      await c.sendChunks(data, 0, { chunk: 100000 + i * 1000 });
      const done = await c.nextType('completed');
      const d = await download(srv, owner, done.document.id);
      assert.equal(sha256(d.body), sha256(data));
    })());
  }
  await Promise.all(jobs);
});
